# Target bookworm (Debian 12, LTS): an upload to bookworm-security. Sourced by scripts/lib.sh.
# Differs from trixie only by what this directory holds: this file, the changelog entry,
# packaging.diff (debhelper-compat 12 context) and refreshed copies of three patches
# (patches/: bookworm lacks trixie's fix-ftbfs-kernel-6.16.patch, so dco_linux.h lines move by 2).
# shellcheck shell=bash disable=SC2034  # used by the scripts that source lib.sh
SUITE=bookworm
BASE_VERSION=2.6.14-0+deb12u2
NEW_VERSION=2.6.14-0+deb12u3
# the archive's deb12u2 source files (bookworm and bookworm-security carry the same ones)
PIN_DSC=040bba014900f3ff5417c9e049a57b5d36a7e969d2f47933a9b1728e804c76a0
PIN_ORIG=9eb6a6618352f9e7b771a9d38ae1631b5edfeed6d40233e243e602ddf2195e7a
PIN_DEBIAN=8024bac4a098e54c9af32a4a818a1b8557954793973a618675e1cdd9fbcf387b
DEB_LIBS="libssl3 libpkcs11-helper1"
TARGET_OUT=out/bookworm
TARGET_BUILD=build/bookworm
RESULT_PREFIX=bookworm/
CACHE_SUFFIX=-bookworm
