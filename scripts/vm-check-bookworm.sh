#!/bin/bash
# Bookworm real-kernel proof (make vm-check-bookworm): the DCO peer-deletion storm autopkgtest
# (debian/tests/dco-storm) in a bookworm VM (bookworm-security's 6.1 kernel, ovpn-dco-v2 built by
# DKMS into the image from the module .deb under test: scripts/vm-image.sh --flavour bookworm),
# via the standard runner, as scripts/vm-check.sh does for trixie:
# - archive: the archive's pair, openvpn 2.6.14-0+deb12u2 + openvpn-dco-dkms
#   0.0+git20231103-1~deb12u1 (both downloaded and verified by vm-lib's archive_debs). Expected to
#   fail: stale instances (#1140745) and/or a kernel trace (#1140548: use-after-free in
#   ovpn_peer_delete_work). Recorded as PASS "fails as expected" when it does (stale > 0 or a
#   kernel BUG/Oops/WARNING/general protection fault), FAIL when it unexpectedly passes
#   (vm-bookworm-dco-storm-archive-fails).
# - fixed: ours, openvpn 2.6.14-0+deb12u3 (out/bookworm/, make package TARGET=bookworm) +
#   openvpn-dco-dkms 0.0+git20231103-1~deb12u2 (out/bookworm/dco-dkms/): DCO_STORM_REPEAT storms
#   (default 3) in one boot, each with a fresh server and N clients; every storm must PASS with
#   stale 0 and all N back, and the guest's kernel must log no BUG/Oops/WARNING/general
#   protection fault/Call Trace over the whole boot (vm-bookworm-dco-storm-fixed). SKIP when
#   out/bookworm has no such .deb yet.
# The test comes from a generated tree with the working tree's debian/tests/dco-storm (vm-lib
# test_tree), the same for both runs. The module in the image is checked against the expected
# version (the image's package list). The guest's kernel messages: the test's dmesg artifacts,
# saved after every storm (the last one covers the whole boot; the journal's kernel lines are the
# same); the lines that matter go to out/check/vm-bookworm-<run>-kernel.txt. A guest that hangs
# leaves only autopkgtest's log (the run is then not a PASS).
# Results: out/check/results.txt (lib.sh `result`); autopkgtest logs: out/vm-bookworm/.
# Environment: DCO_STORM_CLIENTS (N, default 32), DCO_STORM_REPEAT (storms per boot for the fixed
#   pair, default 3), VM_BW_ARCHIVE_REPEAT (archive pair, default 2), VM_BW_ONLY="archive fixed"
#   (a subset), VM_BW_DEBS_DIR (where our bookworm .debs are, default out/bookworm),
#   VM_BW_DCO_DEB (our module .deb, default VM_BW_DEBS_DIR/dco-dkms/openvpn-dco-dkms_<ours>_all.deb),
#   VM_TEST_TIMEOUT (default 1800 s: a hung guest must not hold the host for an hour), and
#   vm-lib's VM_ACCEL, VM_CPUS, VM_RAM, VM_BOOT_TIMEOUT.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/vm-lib.sh
. "$(dirname "$0")/vm-lib.sh"

BW_BASE=2.6.14-0+deb12u2
BW_NEW=2.6.14-0+deb12u3
DCO_BASE=0.0+git20231103-1~deb12u1
DCO_NEW=0.0+git20231103-1~deb12u2
N=${DCO_STORM_CLIENTS:-32}
REPEAT_FIXED=${DCO_STORM_REPEAT:-3}
REPEAT_ARCHIVE=${VM_BW_ARCHIVE_REPEAT:-2}
BW_DEBS=${VM_BW_DEBS_DIR:-$TOP/out/bookworm}
BW_DCO_DEB=${VM_BW_DCO_DEB:-$BW_DEBS/dco-dkms/openvpn-dco-dkms_${DCO_NEW}_all.deb}
export VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-1800}
VMOUT=$OUT/vm-bookworm
CHECKDIR=$(dirname "$RESULTS")
# Kernel lines that fail the fixed run / prove the archive module's bug.
KERNEL_BAD='BUG:|Oops|WARNING:|general protection fault|Call Trace|Kernel panic|KASAN|UBSAN|refcount_t:|list_(add|del) corruption|soft lockup|hung_task|blocked for more than'
T0=$(date +%s)

if [ "$(id -u)" != 0 ]; then
    result SKIP vm-bookworm-dco-storm "needs root (mmdebstrap root mode, qemu)"; exit 0
fi
vm_need
mkdir -p "$VMOUT" "$CHECKDIR"
exec 8>"$VMOUT/.lock"
flock -n 8 || { info "another vm-check-bookworm is running; waiting for it"; flock 8; }

# image DCO_DEB: builds (or reuses) the bookworm image for this module .deb; prints its directory.
# Without our lock's fd 8: mmdebstrap hands apt a pipe on the lowest free fd and the chroot's
# dash ("cat >&11": Bad fd number) cannot write to an fd above 9.
image() {
    "$TOP/scripts/vm-image.sh" --flavour bookworm --dco-deb "$1" >&2 8>&- || return 1
    "$TOP/scripts/vm-image.sh" --flavour bookworm --dco-deb "$1" --print-dir
}

# kernel_report LABEL LOG: the guest's kernel lines that matter, from the test's dmesg artifacts,
# into $CHECKDIR/vm-bookworm-LABEL-kernel.txt; sets KBAD (the number of
# lines matching KERNEL_BAD, whole boot) and KFIRST (the first of them) and KFILE.
kernel_report() {
    local label=$1 log=$2 dm
    KFILE=$CHECKDIR/vm-bookworm-$label-kernel.txt
    dm=$(find "$log/artifacts" -name 'dmesg-*.txt' 2>/dev/null | sort -V | tail -n1)
    {
        echo "# guest kernel lines, run $label ($(date -u +%FT%TZ)); autopkgtest output $log"
        echo "# last dmesg artifact: ${dm:-none (the test did not get that far)}"
        if [ -n "$dm" ]; then
            echo "# 'deleting peer' lines (ovpn-dco): $(grep -c 'deleting peer' "$dm" || true)"
            echo "# lines matching /$KERNEL_BAD/, with 25 lines of context:"
            grep -aE -A25 "$KERNEL_BAD" "$dm" || echo "(none)"
            echo "# ovpn lines other than 'deleting peer' (first 40):"
            grep -aiE 'ovpn' "$dm" | grep -v 'deleting peer' | head -n 40 || true
        fi
    } > "$KFILE"
    KBAD=0 KFIRST=
    local all=
    [ -z "$dm" ] || all=$(grep -aE "$KERNEL_BAD" "$dm" | sed -E 's/^\[ *[0-9.]+\] //' | sort -u || true)
    if [ -n "$all" ]; then
        KBAD=$(wc -l <<< "$all")
        KFIRST=$(grep -aE 'BUG:|Oops|general protection fault|WARNING:|Kernel panic' <<< "$all" | head -n1 || true)
        [ -n "$KFIRST" ] || KFIRST=$(head -n1 <<< "$all")
    fi
}

# summaries: the DCO-STORM-SUMMARY lines of the run, one per storm (the test's artifact
# summary.txt; else its log). rounds_field KEY: KEY=... of each, joined by "/".
summaries() {
    if [ -s "$LOG/artifacts/summary.txt" ]; then cat "$LOG/artifacts/summary.txt"
    else grep -ao 'DCO-STORM-SUMMARY .*' "$LOG.log" || true; fi
}
rounds_field() {
    summaries | awk -v k="$1" '{ v = ""; for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) v = substr($i, length(k) + 2); print v }' | paste -sd/ - || true
}

# storm_run LABEL IMG REPEAT DEB: one boot, REPEAT storms of N; sets LOG, RC, SECS, and per-round
# values joined by "/": ROUNDS (summary lines), R_stale, R_reconnected, R_rejected, R_result,
# R_kernel_trouble, R_drain_s; VERSION; KBAD, KFIRST, KFILE (kernel_report).
storm_run() {
    local label=$1 img=$2 repeat=$3 deb=$4 t
    LOG=$VMOUT/$label-N$N
    RC=0
    t=$(date +%s)
    run_storm "$label" "$img" "$LOG" "DCO_STORM_CLIENTS=$N" "DCO_STORM_REPEAT=$repeat" -- "$deb" || RC=$?
    SECS=$(( $(date +%s) - t ))
    ROUNDS=$(summaries | grep -c . || true)
    R_stale=$(rounds_field stale); R_reconnected=$(rounds_field reconnected)
    R_rejected=$(rounds_field rejected); R_result=$(rounds_field result)
    R_kernel_trouble=$(rounds_field kernel_trouble); R_drain_s=$(rounds_field drain_s)
    VERSION=$(summary_field "$LOG.log" version)
    kernel_report "$label" "$LOG"
}

detail_line() {
    echo "autopkgtest rc=$RC, openvpn=${VERSION:-?}, openvpn-dco-dkms=$1 (image), kernel=$(cat "$2/kver"), N=$N, storms=$ROUNDS/$3, stale=${R_stale:-?}, reconnected=${R_reconnected:-?} of $N, rejected=${R_rejected:-?}, drain_s=${R_drain_s:-?}, test kernel_trouble=${R_kernel_trouble:-?}, kernel lines BUG/Oops/WARNING/GPF/Call Trace (whole boot)=$KBAD${KFIRST:+ (first: $KFIRST)}, ${SECS}s; log $LOG.log, kernel lines $KFILE"
}

# image_dco_version IMG: the openvpn-dco-dkms version installed in the image.
image_dco_version() { awk '$1 == "openvpn-dco-dkms" { print $2 }' "$1/packages.txt"; }

check_archive() {
    local name=vm-bookworm-dco-storm-archive-fails debs deb dco img
    step "archive pair: openvpn $BW_BASE + openvpn-dco-dkms $DCO_BASE (must fail), N=$N, $REPEAT_ARCHIVE storm(s)"
    debs=$(archive_debs "bookworm bookworm-security" "openvpn=$BW_BASE" "openvpn-dco-dkms=$DCO_BASE") \
        || { result FAIL "$name" "could not download openvpn=$BW_BASE / openvpn-dco-dkms=$DCO_BASE"; return 0; }
    deb=$(grep '/openvpn_' <<< "$debs"); dco=$(grep '/openvpn-dco-dkms_' <<< "$debs")
    info "$deb ($(sha256sum < "$deb" | cut -c1-16)...), $dco ($(sha256sum < "$dco" | cut -c1-16)...)"
    img=$(image "$dco") || { result FAIL "$name" "building the bookworm VM image with $DCO_BASE failed (scripts/vm-image.sh)"; return 0; }
    info "image $img, kernel $(cat "$img/kver"), module package $(image_dco_version "$img"), accel $(vm_accel "$img")"
    storm_run archive "$img" "$REPEAT_ARCHIVE" "$deb"
    local detail stale_any=no s
    detail=$(detail_line "$(image_dco_version "$img")" "$img" "$REPEAT_ARCHIVE")
    for s in ${R_stale//\// }; do [[ $s =~ ^[0-9]+$ ]] && [ "$s" -gt 0 ] && stale_any=yes; done
    if [ "$(image_dco_version "$img")" != "$DCO_BASE" ] || { [ -n "$VERSION" ] && [ "$VERSION" != "$BW_BASE" ]; }; then
        result FAIL "$name" "wrong versions under test: $detail"
    elif [ "$stale_any" = yes ] || [ "$KBAD" -gt 0 ]; then
        result PASS "$name" "archive pair fails as expected ($( [ "$stale_any" = yes ] && echo "stale instances" )$( [ "$stale_any" = yes ] && [ "$KBAD" -gt 0 ] && echo ", " )$( [ "$KBAD" -gt 0 ] && echo "kernel trace" )): $detail"
    elif [ "$RC" = 0 ]; then
        result FAIL "$name" "archive pair unexpectedly PASSED the storm test: $detail"
    else
        result FAIL "$name" "archive run did not fail the expected way (no stale instance, no kernel trace): $detail"
    fi
    step_done
}

check_fixed() {
    local name=vm-bookworm-dco-storm-fixed src=$BW_DEBS/openvpn_${BW_NEW}_amd64.deb deb dco img
    if [ ! -f "$src" ]; then
        result SKIP "$name" "no openvpn_${BW_NEW}_amd64.deb in $BW_DEBS yet (make package TARGET=bookworm)"
        return 0
    fi
    if [ ! -f "$BW_DCO_DEB" ]; then
        result SKIP "$name" "no openvpn-dco-dkms_${DCO_NEW}_all.deb at $BW_DCO_DEB yet (scripts/dco-dkms.sh)"
        return 0
    fi
    # Copies: a rebuild publishing into out/bookworm meanwhile cannot pull them away.
    mkdir -p "$VMOUT/debs"
    cp "$src" "$BW_DCO_DEB" "$VMOUT/debs/"
    deb=$VMOUT/debs/${src##*/}; dco=$VMOUT/debs/${BW_DCO_DEB##*/}
    step "our pair: openvpn $BW_NEW + openvpn-dco-dkms $DCO_NEW, N=$N, $REPEAT_FIXED storms in one boot"
    info "$deb ($(sha256sum < "$deb" | cut -c1-16)...), $dco ($(sha256sum < "$dco" | cut -c1-16)...)"
    img=$(image "$dco") || { result FAIL "$name" "building the bookworm VM image with our module failed (scripts/vm-image.sh)"; return 0; }
    info "image $img, kernel $(cat "$img/kver"), module package $(image_dco_version "$img"), accel $(vm_accel "$img")"
    storm_run fixed "$img" "$REPEAT_FIXED" "$deb"
    local detail ok=yes s
    detail=$(detail_line "$(image_dco_version "$img")" "$img" "$REPEAT_FIXED")
    [ "$RC" = 0 ] && [ "$ROUNDS" = "$REPEAT_FIXED" ] && [ "$VERSION" = "$BW_NEW" ] && [ "$KBAD" = 0 ] \
        && [ "$(image_dco_version "$img")" = "$DCO_NEW" ] || ok=no
    for s in ${R_stale//\// }; do [ "$s" = 0 ] || ok=no; done
    for s in ${R_reconnected//\// }; do [ "$s" = "$N" ] || ok=no; done
    for s in ${R_result//\// }; do [ "$s" = PASS ] || ok=no; done
    if [ "$ok" = yes ]; then
        result PASS "$name" "$detail"
    else
        result FAIL "$name" "$detail"
    fi
    step_done
}

CHECKS=${VM_BW_ONLY:-archive fixed}
info "runs: $CHECKS"
for c in $CHECKS; do
    t=$(date +%s)
    case $c in
        archive) check_archive ;;
        fixed) check_fixed ;;
        *) die "VM_BW_ONLY: unknown run '$c' (archive fixed)" ;;
    esac
    info "vm-check-bookworm: run $c took $(( $(date +%s) - t ))s (total so far $(( $(date +%s) - T0 ))s)"
done
info "vm-check-bookworm total $(( $(date +%s) - T0 ))s"
