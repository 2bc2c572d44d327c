#!/bin/bash
# mutant-server.sh SRCDIR BUILDDIR: shows that the real-code DCO server test
# (dco_server_testdriver) catches five regressions of the Debian-only changes:
#   - tunnel_server_tcp() no longer points top->multi at its multi_context, so DEL_PEER
#     notifications never reach a TCP server (test_tcp_server_wiring must fail);
#   - ovpn_handle_del_peer() stops parsing the datagram (NL_STOP) at a malformed DEL_PEER, so a
#     valid DEL_PEER behind it is lost (test_malformed_before_del_peer must fail);
#   - an ack ends the wait of any request, whatever its sequence number, so the late ack of a
#     request abandoned on an overrun is taken for the answer to the next request
#     (test_late_ack_of_abandoned_request and test_overrun_inside_request must fail);
#   - after an overrun the netlink socket is not replaced, so a socket the kernel keeps
#     overrunning never answers again (test_overrun_socket_stays_congested must fail; the
#     landed patch, which drained the socket instead, fails it the same way);
#   - a DEL_PEER for an instance whose peer is not marked installed yet is ignored without asking
#     the resync to check, so a peer deleted during its own NEW_PEER leaks its instance
#     (test_del_peer_during_new_peer must fail; so does the landed patch).
# BUILDDIR is a configured build of SRCDIR in which the driver has been built. The mutated
# sources are put into BUILDDIR/src/openvpn, where the VPATH build prefers them to SRCDIR's; they
# and the objects built from them are removed again on exit. Prints the driver's TAP output.
set -euo pipefail
src=${1:?usage: mutant-server.sh SRCDIR BUILDDIR} build=${2:?usage: mutant-server.sh SRCDIR BUILDDIR}
o=$build/src/openvpn
t=$build/tests/unit_tests/openvpn
cleanup() {
    rm -f "$o/mtcp.c" "$o/dco_linux.c" "$o/multi.c" "$o/dco_server_testdriver-mtcp.o" \
        "$o/dco_server_testdriver-dco_linux.o" "$o/dco_server_testdriver-multi.o" \
        "$t/dco_server_testdriver"
}
trap cleanup EXIT
[[ -d $o && -d $t ]] || { echo "no build in $build" >&2; exit 1; }

sed 's|^    top->multi = &multi;$|    /* mutant: top->multi not set */|' "$src/src/openvpn/mtcp.c" > "$o/mtcp.c"
grep -q 'mutant: top->multi' "$o/mtcp.c" || { echo "mutation point not found in mtcp.c" >&2; exit 1; }

awk '
    /^ovpn_handle_del_peer\(/ { f = 1 }
    f && /return NL_SKIP;/ { sub(/NL_SKIP/, "NL_STOP"); n++ }
    f && /^}/ { f = 0 }
    /^ovpn_nl_cb_finish\(/ { g = 1 }
    g && /nlmsg_seq == dco->request_seq/ { sub(/\(nlmsg_hdr.*request_seq\)/, "(true)"); m++ }
    g && /^}/ { g = 0 }
    /^        ovpn_nl_reopen\(dco\);$/ { $0 = "        /* mutant: the socket is not replaced */"; k++ }
    { print }
    END { if (!n || !m || !k) exit 1 }
' "$src/src/openvpn/dco_linux.c" > "$o/dco_linux.c" \
    || { echo "mutation point not found in dco_linux.c" >&2; exit 1; }

awk '
    /let the resync ask \*\/$/ { f = 1 }
    f && /^            dco->resync = true;$/ { $0 = "            /* mutant: no resync */"; f = 0; n++ }
    { print }
    END { if (n != 1) exit 1 }
' "$src/src/openvpn/multi.c" > "$o/multi.c" \
    || { echo "mutation point not found in multi.c" >&2; exit 1; }

make -C "$t" dco_server_testdriver >&2
(cd "$t" && CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 ./dco_server_testdriver 2>/dev/null) || true
