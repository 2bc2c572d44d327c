#!/bin/bash
# Real-kernel proof (make vm-check; run by scripts/check.sh): the DCO peer-deletion storm
# autopkgtest (debian/tests/dco-storm) in a trixie VM with ovpn-dco-v2, via the standard runner
#   autopkgtest <tree>/ <debs> -- qemu --qemu-command=scripts/vm-qemu-wrapper ... disk.img
# - our deb13u4 binaries (out/): must PASS (stale=0, all N back);
# - the archive's stock 2.6.14-1+deb13u3: must FAIL with stale>0 (proof the test can fail).
# Further scenarios of the same test (DCO_STORM_SCENARIO, see debian/tests/dco-storm), one VM run
# and one result each:
# - fixed-overrun: netlink receive buffer capped (net.core.rmem_max), server frozen while the
#   kernel deletes every peer, so the DEL_PEER notifications overflow it; ours must survive
#   with stale=0 and all N back (vm-dco-storm-overrun-fixed);
# - stock-overrun: the archive's deb13u3 must die of it ("netlink out of memory error"):
#   recorded as PASS "stock fails, as expected" (vm-dco-storm-overrun-stock-fails);
# - fixed-distinct: one certificate per client, no --duplicate-cn, clients back while their old
#   instances exist (multi_delete_dup), then SIGHUP and SIGUSR1 mid-storm; ours must PASS
#   (vm-dco-storm-distinct-fixed).
# Results go to out/check/results.txt (lib.sh `result`); logs to out/vm/.
# Environment: DCO_STORM_CLIENTS (N, default 32), VM_ACCEL (default: probe KVM, else TCG),
#   VM_CPUS (2), VM_RAM (3072 MiB), VM_CHECK_ONLY="fixed stock fixed-overrun stock-overrun
#   fixed-distinct" (a subset of these runs; default all), VM_STORM_SOURCE=tree (test from the
#   working tree instead of out/'s source package).
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/vm-lib.sh
. "$(dirname "$0")/vm-lib.sh"

N=${DCO_STORM_CLIENTS:-32}
# The overrun runs: a 32 KiB receive buffer (rmem_max 16384, doubled by the kernel) still holds a
# request's reply and ack, so the server can work normally, but not 64 DEL_PEERs (768 bytes of
# truesize each: 42 fit). A smaller buffer makes every request overrun, which no server survives.
N_OVERRUN=${DCO_STORM_OVERRUN_CLIENTS:-64}
RMEM_OVERRUN=${DCO_STORM_RMEM_MAX:-16384}
ONLY=${VM_CHECK_ONLY:-}
T0=$(date +%s)

if [ "$(id -u)" != 0 ]; then
    result SKIP vm-dco-storm "needs root (mmdebstrap root mode, qemu)"; exit 0
fi
vm_need

# The test comes from our source package (out/*.dsc, with the appended debian/tests/control
# stanza) when the pipeline has built it, else from a tree with only the test (vm-lib test_tree).
mkdir -p "$OUT/vm"
# VM_STORM_SOURCE=tree forces the generated tree (e.g. to try a test edit before a rebuild).
STORM_SRC=
[ "${VM_STORM_SOURCE:-}" = tree ] || STORM_SRC=$(our_dsc)
export STORM_SRC
info "test source: ${STORM_SRC:-generated tree with debian/tests/dco-storm and control.append}"

mkdir -p "$OUT/vm"
# Two vm-checks at once would share out/vm/: take turns.
exec 8>"$OUT/vm/.lock"
flock -n 8 || { info "another vm-check is running; waiting for it"; flock 8; }

step "VM image (trixie kernel + ovpn-dco-v2 via DKMS)"
if ! "$TOP/scripts/vm-image.sh"; then
    result FAIL vm-dco-storm "building the VM image failed (scripts/vm-image.sh)"
    exit 1
fi
IMG=$("$TOP/scripts/vm-image.sh" --print-dir)
info "image $IMG, kernel $(cat "$IMG/kver"), accel $(vm_accel "$IMG")"
step_done
mkdir -p "$OUT/vm"

check_fixed() {
    local deb rc=0 log=$OUT/vm/fixed-N$N
    deb=$(fixed_debs)
    if [ -z "$deb" ]; then
        result SKIP vm-dco-storm-fixed "no openvpn_${NEW_VERSION}_amd64.deb in $OUT yet (make package)"
        return 0
    fi
    step "dco-storm on our package ($(basename "$deb")), N=$N"
    run_storm fixed "$IMG" "$log" "DCO_STORM_CLIENTS=$N" -- "$deb" || rc=$?
    local version stale recon res
    version=$(summary_field "$log.log" version); stale=$(summary_field "$log.log" stale)
    recon=$(summary_field "$log.log" reconnected); res=$(summary_field "$log.log" result)
    local detail
    detail="autopkgtest rc=$rc, version=${version:-?}, N=$N, stale=${stale:-?}, reconnected=${recon:-?}/$N, drain_s=$(summary_field "$log.log" drain_s), cpu_s=$(summary_field "$log.log" cpu_s), rejected=$(summary_field "$log.log" rejected); log $log.log"
    if [ "$rc" = 0 ] && [ "$res" = PASS ] && [ "$stale" = 0 ] && [ "$recon" = "$N" ] && [ "$version" = "$NEW_VERSION" ]; then
        result PASS vm-dco-storm-fixed "$detail"
    else
        result FAIL vm-dco-storm-fixed "$detail"
    fi
    step_done
}

check_stock() {
    local deb rc=0 log=$OUT/vm/stock-N$N
    step "stock $BASE_VERSION from the archive"
    deb=$(archive_debs "trixie trixie-security" "openvpn=$BASE_VERSION") \
        || { result FAIL vm-dco-storm-stock-fails "could not download openvpn=$BASE_VERSION"; return 0; }
    info "$deb ($(sha256sum "$deb" | cut -c1-16)...)"
    step "dco-storm on the archive's $BASE_VERSION (must fail), N=$N"
    run_storm stock "$IMG" "$log" "DCO_STORM_CLIENTS=$N" -- "$deb" || rc=$?
    local version stale res
    version=$(summary_field "$log.log" version); stale=$(summary_field "$log.log" stale)
    res=$(summary_field "$log.log" result)
    local detail
    detail="autopkgtest rc=$rc, version=${version:-?}, N=$N, stale=${stale:-?}, reconnected=$(summary_field "$log.log" reconnected)/$N, rejected=$(summary_field "$log.log" rejected), drain_s=$(summary_field "$log.log" drain_s), cpu_s=$(summary_field "$log.log" cpu_s); log $log.log"
    if [ "$rc" = 4 ] && [ "$res" = FAIL ] && [[ $stale =~ ^[0-9]+$ ]] && [ "$stale" -gt 0 ] && [ "$version" = "$BASE_VERSION" ]; then
        result PASS vm-dco-storm-stock-fails "stock fails as expected: $detail"
    elif [ "$rc" = 0 ]; then
        result FAIL vm-dco-storm-stock-fails "stock $BASE_VERSION unexpectedly PASSED the storm test: $detail"
    else
        result FAIL vm-dco-storm-stock-fails "stock run did not fail the expected way: $detail"
    fi
    step_done
}

# overrun_detail LOG: the overrun scenario's numbers for a result line.
overrun_detail() {
    local f out=
    for f in version stale reconnected survived rcvbuf kernel_deleted_frozen nl_rmem nl_drops oom_lines overrun_lines recovered_lines drain_s; do
        out+="$f=$(summary_field "$1" "$f"), "
    done
    echo "${out%, }"
}

check_fixed_overrun() {
    local deb rc=0 log=$OUT/vm/fixed-overrun-N$N_OVERRUN
    deb=$(fixed_debs)
    if [ -z "$deb" ]; then
        result SKIP vm-dco-storm-overrun-fixed "no openvpn_${NEW_VERSION}_amd64.deb in $OUT yet (make package)"
        return 0
    fi
    step "dco-storm overrun scenario on our package ($(basename "$deb")), N=$N_OVERRUN, rmem_max=$RMEM_OVERRUN"
    run_storm fixed-overrun "$IMG" "$log" "DCO_STORM_CLIENTS=$N_OVERRUN" "DCO_STORM_RMEM_MAX=$RMEM_OVERRUN" DCO_STORM_SCENARIO=overrun -- "$deb" || rc=$?
    local detail drops
    detail="autopkgtest rc=$rc, N=$N_OVERRUN, rmem_max=$RMEM_OVERRUN, $(overrun_detail "$log.log"); log $log.log"
    drops=$(summary_field "$log.log" nl_drops)
    if [ "$rc" = 0 ] && [ "$(summary_field "$log.log" result)" = PASS ] \
        && [ "$(summary_field "$log.log" scenario)" = overrun ] \
        && [ "$(summary_field "$log.log" survived)" = yes ] \
        && [ "$(summary_field "$log.log" stale)" = 0 ] \
        && [ "$(summary_field "$log.log" reconnected)" = "$N_OVERRUN" ] \
        && [[ $drops =~ ^[0-9]+$ ]] && [ "$drops" -gt 0 ] \
        && [ "$(summary_field "$log.log" version)" = "$NEW_VERSION" ]; then
        result PASS vm-dco-storm-overrun-fixed "$detail"
    else
        result FAIL vm-dco-storm-overrun-fixed "$detail"
    fi
    step_done
}

check_stock_overrun() {
    local deb rc=0 log=$OUT/vm/stock-overrun-N$N_OVERRUN
    step "stock $BASE_VERSION from the archive"
    deb=$(archive_debs "trixie trixie-security" "openvpn=$BASE_VERSION") \
        || { result FAIL vm-dco-storm-overrun-stock-fails "could not download openvpn=$BASE_VERSION"; return 0; }
    step "dco-storm overrun scenario on the archive's $BASE_VERSION (must die of ENOBUFS), N=$N_OVERRUN, rmem_max=$RMEM_OVERRUN"
    run_storm stock-overrun "$IMG" "$log" "DCO_STORM_CLIENTS=$N_OVERRUN" "DCO_STORM_RMEM_MAX=$RMEM_OVERRUN" DCO_STORM_SCENARIO=overrun -- "$deb" || rc=$?
    local detail drops oom
    detail="autopkgtest rc=$rc, N=$N_OVERRUN, rmem_max=$RMEM_OVERRUN, $(overrun_detail "$log.log"); log $log.log"
    drops=$(summary_field "$log.log" nl_drops); oom=$(summary_field "$log.log" oom_lines)
    if [ "$rc" = 4 ] && [ "$(summary_field "$log.log" result)" = FAIL ] \
        && [ "$(summary_field "$log.log" scenario)" = overrun ] \
        && [ "$(summary_field "$log.log" survived)" = no ] \
        && [[ $drops =~ ^[0-9]+$ ]] && [ "$drops" -gt 0 ] \
        && [[ $oom =~ ^[0-9]+$ ]] && [ "$oom" -gt 0 ] \
        && [ "$(summary_field "$log.log" version)" = "$BASE_VERSION" ]; then
        result PASS vm-dco-storm-overrun-stock-fails "stock fails, as expected (the server exits on the netlink overrun): $detail"
    elif [ "$rc" = 0 ]; then
        result FAIL vm-dco-storm-overrun-stock-fails "stock $BASE_VERSION unexpectedly PASSED the overrun scenario: $detail"
    else
        result FAIL vm-dco-storm-overrun-stock-fails "stock run did not fail the expected way (server exit after a real overrun): $detail"
    fi
    step_done
}

check_fixed_distinct() {
    local deb rc=0 log=$OUT/vm/fixed-distinct-N$N
    deb=$(fixed_debs)
    if [ -z "$deb" ]; then
        result SKIP vm-dco-storm-distinct-fixed "no openvpn_${NEW_VERSION}_amd64.deb in $OUT yet (make package)"
        return 0
    fi
    step "dco-storm distinct-certificates + SIGHUP/SIGUSR1 scenario on our package ($(basename "$deb")), N=$N"
    run_storm fixed-distinct "$IMG" "$log" "DCO_STORM_CLIENTS=$N" DCO_STORM_SCENARIO=distinct -- "$deb" || rc=$?
    local f detail="autopkgtest rc=$rc, N=$N"
    for f in version stale reconnected dup_events p1_kernel_expired p1_old p1_dupcn hup_expired_at_signal hup_restarted hup_reconnected usr1_expired_at_signal usr1_restarted usr1_reconnected survived log_trouble kernel_trouble; do
        detail+=", $f=$(summary_field "$log.log" "$f")"
    done
    detail+="; log $log.log"
    if [ "$rc" = 0 ] && [ "$(summary_field "$log.log" result)" = PASS ] \
        && [ "$(summary_field "$log.log" scenario)" = distinct ] \
        && [ "$(summary_field "$log.log" stale)" = 0 ] \
        && [ "$(summary_field "$log.log" reconnected)" = "$N" ] \
        && [ "$(summary_field "$log.log" survived)" = yes ] \
        && [ "$(summary_field "$log.log" version)" = "$NEW_VERSION" ]; then
        result PASS vm-dco-storm-distinct-fixed "$detail"
    else
        result FAIL vm-dco-storm-distinct-fixed "$detail"
    fi
    step_done
}

CHECKS=${ONLY:-fixed stock fixed-overrun stock-overrun fixed-distinct}
info "runs: $CHECKS"
for c in $CHECKS; do
    t=$(date +%s)
    case $c in
        fixed) check_fixed ;;
        stock) check_stock ;;
        fixed-overrun) check_fixed_overrun ;;
        stock-overrun) check_stock_overrun ;;
        fixed-distinct) check_fixed_distinct ;;
        *) die "VM_CHECK_ONLY: unknown run '$c' (fixed stock fixed-overrun stock-overrun fixed-distinct)" ;;
    esac
    info "vm-check: run $c took $(( $(date +%s) - t ))s (total so far $(( $(date +%s) - T0 ))s)"
done
info "vm-check total $(( $(date +%s) - T0 ))s"
