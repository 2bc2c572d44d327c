#!/bin/bash
# without-patch.sh SRCDIR BUILDDIR PATCH: runs the real-code DCO server test
# (dco_server_testdriver) on the code as it was before PATCH, one of our patches that changes
# only files under src/openvpn/ (e.g. one added after the series landed: its test case must fail
# on the landed code). The files PATCH changes are copied into BUILDDIR/src/openvpn, where the
# VPATH build prefers them to SRCDIR's, and PATCH is reverse-applied to the copies; the driver is
# rebuilt from them. The copies and the objects built from them are removed again on exit.
# Prints the driver's TAP output.
set -euo pipefail
src=${1:?usage: without-patch.sh SRCDIR BUILDDIR PATCH} build=${2:?usage: without-patch.sh SRCDIR BUILDDIR PATCH}
patch=${3:?usage: without-patch.sh SRCDIR BUILDDIR PATCH}
o=$build/src/openvpn
t=$build/tests/unit_tests/openvpn
[[ -d $o && -d $t ]] || { echo "no build in $build" >&2; exit 1; }
[[ -f $patch ]] || { echo "no patch $patch" >&2; exit 1; }

mapfile -t files < <(sed -n 's|^+++ b/||p' "$patch")
((${#files[@]} > 0)) || { echo "$patch changes no file" >&2; exit 1; }
cleanup() {
    local f
    for f in "${files[@]}"; do
        f=${f#src/openvpn/}
        rm -f "$o/$f" "$o/dco_server_testdriver-${f%.c}.o"
    done
    rm -f "$t/dco_server_testdriver"
}
trap cleanup EXIT
for f in "${files[@]}"; do
    [[ $f == src/openvpn/*.c ]] || { echo "$patch changes $f, not only src/openvpn/*.c" >&2; exit 1; }
    cp "$src/$f" "$o/${f#src/openvpn/}"
done
patch -d "$build" -p1 -R -s --no-backup-if-mismatch < "$patch" >&2 \
    || { echo "$patch does not reverse-apply to $src" >&2; exit 1; }

make -C "$t" dco_server_testdriver >&2
(cd "$t" && CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 ./dco_server_testdriver 2>/dev/null) || true
