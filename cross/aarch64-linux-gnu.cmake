# Toolchain file: arm64 (aarch64) via Debian multiarch. No sysroot: the :arm64 -dev packages
# install into /usr/lib/aarch64-linux-gnu and CMake finds them there.
#   dpkg --add-architecture arm64
#   apt-get install crossbuild-essential-arm64 pkg-config:arm64 <lib>-dev:arm64 ... qemu-user
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cross/aarch64-linux-gnu.cmake
# Tests run under qemu-aarch64 through CMAKE_CROSSCOMPILING_EMULATOR (no binfmt needed).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(WEIR_CROSS_TRIPLE aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${WEIR_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${WEIR_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${WEIR_CROSS_TRIPLE})

# The target's pkg-config: without it FindOpenSSL and pkg_check_modules pick host libraries and
# the link fails with "file in wrong format".
set(PKG_CONFIG_EXECUTABLE /usr/bin/${WEIR_CROSS_TRIPLE}-pkg-config CACHE FILEPATH "")

# Search programs (protoc) on the host, libraries and headers for the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# qemu-user runs the target's test binaries. No -L: libc6:arm64 (multiarch) installs the loader at
# /lib/ld-linux-aarch64.so.1, and -L /usr/aarch64-linux-gnu would pair the cross toolchain's
# loader with multiarch's libc.so.6 — two glibc builds — which hangs at the first thread or fork.
find_program(WEIR_QEMU qemu-aarch64 qemu-aarch64-static)
if(WEIR_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WEIR_QEMU})
endif()
