#!/bin/bash
# mutant-backports.sh SRCDIR BUILDDIR: shows that the real-code DCO test (dco_server_testdriver)
# catches the loss of the two upstream backports that have no test upstream:
#   - 5b17c050 (dco-make-key-state-desync-recoverable.patch) undone: dco_install_key() records
#     the slot only while fewer than 2 keys are installed, and dco_update_keys() ASSERTs on a
#     key-state mismatch again (the mutant asserts where the fix returns false), so the process
#     aborts (test_key_desync_primary_not_installed, test_key_desync_swap and
#     test_key_install_with_two_installed must fail);
#   - fae4a9e3 (dco-repair-persist-tun-after-reconnection.patch) undone: io_wait_dowork() adds
#     the DCO socket only if c2.did_open_tun, false after a --persist-tun reconnect
#     (test_persist_tun_reconnect_dco_event must fail).
# BUILDDIR is a configured build of SRCDIR in which the driver has been built. The mutated
# sources are put into BUILDDIR/src/openvpn, where the VPATH build prefers them to SRCDIR's; they
# and the objects built from them are removed again on exit. Prints the driver's TAP output.
set -euo pipefail
src=${1:?usage: mutant-backports.sh SRCDIR BUILDDIR} build=${2:?usage: mutant-backports.sh SRCDIR BUILDDIR}
o=$build/src/openvpn
t=$build/tests/unit_tests/openvpn
cleanup() {
    rm -f "$o/dco.c" "$o/forward.c" "$o/dco_server_testdriver-dco.o" \
        "$o/dco_server_testdriver-forward.o" "$t/dco_server_testdriver"
}
trap cleanup EXIT
[[ -d $o && -d $t ]] || { echo "no build in $build" >&2; exit 1; }

awk '
    /^dco_install_key\(/ { f = 1 }
    f && /^    if \(ret == 0\)$/ { sub(/ret == 0/, "(ret == 0) \\&\\& (multi->dco_keys_installed < 2)"); n++ }
    f && /^}/ { f = 0 }
    /^dco_update_keys\(/ { g = 1 }
    g && /DCO key state mismatch/ { h = 1 }
    g && h && /return false;/ { sub(/return false;/, "ASSERT(false); /* mutant */"); h = 0; m++ }
    g && /^}/ { g = 0 }
    { print }
    END { if (n != 1 || m != 2) exit 1 }
' "$src/src/openvpn/dco.c" > "$o/dco.c" \
    || { echo "mutation point not found in dco.c" >&2; exit 1; }

sed 's|^    if (c->c1.tuntap)$|    if (socket \& EVENT_READ \&\& c->c2.did_open_tun) /* mutant */|' \
    "$src/src/openvpn/forward.c" > "$o/forward.c"
grep -q 'did_open_tun) /\* mutant' "$o/forward.c" || { echo "mutation point not found in forward.c" >&2; exit 1; }

make -C "$t" dco_server_testdriver >&2
(cd "$t" && CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 ./dco_server_testdriver 2>/dev/null) || true
