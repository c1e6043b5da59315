SUMMARY = "weir: edge IoT ingestion agent with a crash-safe on-device log"
DESCRIPTION = "weir takes sensor readings from the local MQTT broker, detects defects in them \
over time windows on the gateway, keeps every reading in a crash-safe, compressed on-device log \
(SQLite + zstd) and forwards that log upstream over MQTT, in order and with retry."
HOMEPAGE = "https://example.org/weir"
SECTION = "net"
# No licence has been chosen for weir yet (packaging/debian/copyright): all rights reserved.
LICENSE = "CLOSED"

# The source: a board integrator points WEIR_GIT_URI at the repository the image is built from
# and pins WEIR_SRCREV to a commit (README.md, "Variables"). destsuffix=${BP} keeps S at its
# default on scarthgap (${WORKDIR}/${BP}) and on walnascar and later (${UNPACKDIR}/${BP}).
WEIR_GIT_URI ?= "git://example.org/weir.git;protocol=https;branch=main"
WEIR_SRCREV ?= "dc4688d333c7737786f84133db48434b6718cf9d"
SRC_URI = "${WEIR_GIT_URI};destsuffix=${BP} \
           file://run-ptest \
          "
SRCREV = "${WEIR_SRCREV}"
PV = "0.1.0+git"

DEPENDS = "paho-mqtt-cpp paho-mqtt-c openssl sqlite3 zstd protobuf protobuf-native \
           nlohmann-json cli11"
DEPENDS:append = "${@bb.utils.contains('PTEST_ENABLED', '1', ' googletest', '', d)}"

inherit cmake pkgconfig python3native systemd useradd ptest

# protoc: protobuf's CMake config names the target's protoc, which Yocto stages with the wrong
# architecture; WEIR_PROTOC points code generation at protobuf-native's. Python (python3native)
# generates weir.json(5) from agent/config/README.md; CMake's search would not look in the native
# sysroot, so it is named. Only variables the CMake reads go here: the cmake class turns
# "Manually-specified variables were not used" into a QA error (unknown-configure-option).
EXTRA_OECMAKE = "-DWEIR_BUILD_BENCHMARKS=OFF \
                 -DWEIR_INSTALL_SYSTEM_FILES=ON \
                 -DWEIR_SYSTEMD_UNIT_DIR=${systemd_system_unitdir} \
                 -DWEIR_PROTOC=${STAGING_BINDIR_NATIVE}/protoc \
                 -DPython3_EXECUTABLE=${PYTHON} \
                "
EXTRA_OECMAKE:append = "${@bb.utils.contains('PTEST_ENABLED', '1', \
    ' -DWEIR_BUILD_TESTS=ON -DWEIR_INSTALL_PTEST=ON -DWEIR_PTEST_DIR=${PTEST_PATH}', \
    ' -DWEIR_BUILD_TESTS=OFF', d)}"

# Optional parts. local-broker: recommend mosquitto (meta-networking) on the same image, as the
# Debian package does.
PACKAGECONFIG ??= ""
PACKAGECONFIG[local-broker] = ",,,,mosquitto"

# What a board integrator sets (README.md, "Variables"):
#   WEIR_STATE_DIR      the log, status and journal; put it on the data partition
#   WEIR_ENV_FILE       systemd EnvironmentFile= read at start (WEIR_DEVICE_ID=..., any WEIR_<KEY>)
#   WEIR_DEVICE_ID      a fixed device id baked into weir.json (empty: none, see WEIR_ENV_FILE)
#   WEIR_UPSTREAM_URL   the upstream broker baked into weir.json (empty: none)
#   WEIR_QUOTA_BYTES    store.quota_bytes (empty: the agent's default, 1 GiB)
WEIR_STATE_DIR ?= "${localstatedir}/lib/weir"
WEIR_ENV_FILE ?= "${sysconfdir}/default/weir"
WEIR_DEVICE_ID ?= ""
WEIR_UPSTREAM_URL ?= ""
WEIR_QUOTA_BYTES ?= ""

# The same user as the Debian package: system user and group weir, home = the state directory.
USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --user-group --home-dir ${WEIR_STATE_DIR} --no-create-home \
                       --shell ${base_sbindir}/nologin weir"

SYSTEMD_SERVICE:${PN} = "weir.service"
# Like the Debian package: enabled, and it starts at boot once the config is complete.
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install:append() {
    # The state directory, owned by weir (the unit's StateDirectory= also keeps /var/lib/weir).
    install -d -m 0750 -o weir -g weir ${D}${WEIR_STATE_DIR}
    # A drop-in: the environment file and, when the state lives elsewhere, its path.
    install -d ${D}${systemd_system_unitdir}/weir.service.d
    dropin=${D}${systemd_system_unitdir}/weir.service.d/10-yocto.conf
    printf '# Written by the weir recipe (meta-weir).\n' > $dropin
    printf '[Unit]\nRequiresMountsFor=%s\n\n' '${WEIR_STATE_DIR}' >> $dropin
    printf '[Service]\nEnvironmentFile=-%s\nReadWritePaths=%s\n' \
        '${WEIR_ENV_FILE}' '${WEIR_STATE_DIR}' >> $dropin
}

# Writes the integrator's values into the installed /etc/weir/weir.json.
python weir_config_values() {
    import json
    path = d.expand('${D}${sysconfdir}/weir/weir.json')
    with open(path) as f:
        config = json.load(f)
    config.setdefault('store', {})['state_dir'] = d.getVar('WEIR_STATE_DIR')
    if d.getVar('WEIR_DEVICE_ID'):
        config['device_id'] = d.getVar('WEIR_DEVICE_ID')
    if d.getVar('WEIR_UPSTREAM_URL'):
        config.setdefault('upstream', {}).setdefault('broker', {})['url'] = d.getVar('WEIR_UPSTREAM_URL')
    if d.getVar('WEIR_QUOTA_BYTES'):
        config['store']['quota_bytes'] = int(d.getVar('WEIR_QUOTA_BYTES'))
    with open(path, 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
}
do_install[postfuncs] += "weir_config_values"
do_install[vardeps] += "WEIR_STATE_DIR WEIR_ENV_FILE WEIR_DEVICE_ID WEIR_UPSTREAM_URL WEIR_QUOTA_BYTES"

CONFFILES:${PN} = "${sysconfdir}/weir/weir.json"
FILES:${PN} += "${systemd_system_unitdir}/weir.service.d ${WEIR_STATE_DIR}"

# ptest: CMake (WEIR_INSTALL_PTEST) installs the unit-test programs to ${PTEST_PATH}/tests; the
# ptest class installs run-ptest (POSIX sh, one PASS:/FAIL:/SKIP: line per test case).
# The test programs carry paths of the build tree as defaults for data they look up (the NAB
# corpus, agent/config/README.md, the build directory); on the target those tests skip, or
# run-ptest leaves them out, so the paths are inert.
INSANE_SKIP:${PN}-ptest += "buildpaths"
