#!/bin/bash
# mutant-1020.sh SRCDIR BUILDDIR: shows that the DCO unit test catches OpenVPN GitHub #1020.
# Upstream's first 2.6 backport (e78a8af2 without adece456) required OVPN_ATTR_IFINDEX on
# every message and stopped parsing (NL_STOP) without it; GET_PEER replies carry none, so byte
# counters stopped updating and a dump could wait forever for its DONE. This builds the test
# driver against a copy of the patched dco_linux.c with that behaviour put back and prints the
# driver's TAP output; the caller expects test_stats_reply_without_ifindex to fail.
set -euo pipefail
src=${1:?usage: mutant-1020.sh SRCDIR BUILDDIR} build=${2:?usage: mutant-1020.sh SRCDIR BUILDDIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# after the "bogus data" check of ovpn_handle_msg(): no ifindex -> NL_STOP, for every message
awk '
    /"received bogus data from ovpn-dco"/ { armed = 1 }
    { print }
    armed && /^    }$/ {
        print "    if (!attrs[OVPN_ATTR_IFINDEX])"
        print "    {"
        print "        return NL_STOP;"
        print "    }"
        armed = 0; done = 1
    }
    END { if (!done) exit 1 }
' "$src/src/openvpn/dco_linux.c" > "$work/dco_linux.c" || { echo "mutation point not found" >&2; exit 1; }
sed "s|#include \"dco_linux.c\"|#include \"$work/dco_linux.c\"|" \
    "$src/tests/unit_tests/openvpn/test_dco_linux.c" > "$work/test_dco_linux.c"

t=$src/tests/unit_tests/openvpn
libs=$(sed -n 's/^LIBS = //p' "$build/tests/unit_tests/openvpn/Makefile")
nl=$(pkg-config --cflags libnl-genl-3.0)
# shellcheck disable=SC2086  # $nl and $libs are lists of compiler/linker flags
gcc -DHAVE_CONFIG_H -I"$build" -I"$src/include" -I"$src/src/compat" -I"$src/src/openvpn" \
    $nl -o "$work/driver" "$work/test_dco_linux.c" \
    "$t/mock_msg.c" "$t/mock_get_random.c" "$src/src/openvpn/buffer.c" \
    "$src/src/openvpn/platform.c" "$src/src/openvpn/win32-util.c" -lcmocka $libs
CMOCKA_MESSAGE_OUTPUT=TAP timeout 60 "$work/driver" 2>/dev/null || true
