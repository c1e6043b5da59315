# Toolchain file: armhf (32-bit ARM, hard float) with a sysroot. Debian's armhf multiarch index
# has been unreliable on mirrors, so armhf builds against a sysroot made with mmdebstrap instead
# of `dpkg --add-architecture armhf` (see cross/README.md):
#   cross/make-armhf-sysroot.sh /opt/weir-armhf-sysroot
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cross/armhf-sysroot.cmake \
#         -DWEIR_SYSROOT=/opt/weir-armhf-sysroot
# Tests run under qemu-arm with the sysroot as its library root.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(WEIR_CROSS_TRIPLE arm-linux-gnueabihf)

if(NOT WEIR_SYSROOT)
  set(WEIR_SYSROOT "$ENV{WEIR_SYSROOT}")
endif()
# try_compile projects re-read this file: pass WEIR_SYSROOT on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES WEIR_SYSROOT)
if(NOT WEIR_SYSROOT)
  message(FATAL_ERROR "armhf: set -DWEIR_SYSROOT=<dir> (see cross/README.md)")
endif()
set(CMAKE_SYSROOT ${WEIR_SYSROOT})
set(CMAKE_C_COMPILER ${WEIR_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${WEIR_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${WEIR_CROSS_TRIPLE})
# GCC on 32-bit ARM notes, for every std::map iterator passed by value, that the ABI of such
# arguments changed in GCC 7.1; it concerns mixing objects built by GCC < 7, which never happens
# here, and buries real warnings.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
set(CMAKE_FIND_ROOT_PATH ${WEIR_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must look only inside the sysroot.
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${WEIR_SYSROOT})
set(ENV{PKG_CONFIG_LIBDIR}
    "${WEIR_SYSROOT}/usr/lib/${WEIR_CROSS_TRIPLE}/pkgconfig:${WEIR_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

find_program(WEIR_QEMU qemu-arm qemu-arm-static)
if(WEIR_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WEIR_QEMU} -L ${WEIR_SYSROOT})
endif()
