# Target trixie (Debian 13, stable): the default. Sourced by scripts/lib.sh.
# shellcheck shell=bash disable=SC2034  # used by the scripts that source lib.sh
SUITE=trixie
BASE_VERSION=2.6.14-1+deb13u3
NEW_VERSION=2.6.14-1+deb13u4
# the archive's deb13u3 source files (sha256, checked after every download and on reuse)
PIN_DSC=f444abce116aebaedf421f74f4948680669b1f20624783d02499f1d0b8d55712
PIN_ORIG=9eb6a6618352f9e7b771a9d38ae1631b5edfeed6d40233e243e602ddf2195e7a
PIN_DEBIAN=7ecf77655c6e21033ac21110146d6fc1797dfc55ce428d0f054cde9ea04fc0cd
# library names the .deb must depend on (the 64-bit time_t transition renamed them in trixie)
DEB_LIBS="libssl3t64 libpkcs11-helper1t64"
# outputs, the patched tree and cached downloads/environments keep their pre-target paths
TARGET_OUT=out
TARGET_BUILD=build
RESULT_PREFIX=
CACHE_SUFFIX=
