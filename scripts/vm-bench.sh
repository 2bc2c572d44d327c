#!/bin/bash
# make bench (not in CI): the DCO storm (debian/tests/dco-storm) at scale, three builds side by side:
#   stock  the archive's openvpn 2.6.14-1+deb13u3 (trixie kernel, ovpn-dco-v2 via DKMS)
#   fixed  our 2.6.14-1+deb13u4 from out/ (same image)
#   bpo    trixie-backports' openvpn 2.7.x on trixie-backports' kernel (in-tree ovpn module):
#          upstream's native fix, an anchor for the fixed behaviour
#
# The matrix (issue 9): one VM boot per line (RUN LABEL VARIANT SCENARIO N ROUNDS STRESS CYCLES);
# a round is a fresh server with fresh clients, a cycle one storm + reconnect on that server:
#   <v>           N in BENCH_N (128 256 512 1024), stress-ng with BENCH_STRESS (2) CPU workers during
#                 each storm, BENCH_REPEAT (3) storms per N: for stock as fresh servers (a leaking
#                 server keeps its stale instances, so a second storm on it would test fewer
#                 clients), for fixed and bpo as cycles on one server (after the full reconnect the
#                 server is where a fresh one is, and one bring-up at N=1024 costs ~15 min under
#                 TCG); fixed at the largest N: BENCH_REPEAT_FIXED_MAX (10) storms. For the builds
#                 in BENCH_SOAK_VARIANTS (fixed) at N in BENCH_SOAK_N (256) and at the largest N the
#                 line runs as the soak (scenario soak, at least BENCH_SOAK_CYCLES (10) cycles):
#                 the server's RSS and open fds per cycle.
#   <v>-nostress  the largest N without stress-ng, BENCH_REPEAT storms
#   <v>-distinct  per-client certificates, no --duplicate-cn, clients reconnecting while the
#                 kernel's deletions are processed (multi_delete_dup), largest N, one storm
#                 (dco-storm's distinct phase 1; DCO_STORM_SIGNALS=0), stress as above, with
#                 BENCH_DISTINCT_ENV ("DCO_STORM_TIMEOUT=60 DCO_STORM_LIFT=62"): under TCG 1024
#                 clients need over a minute to come back, so with keepalive 5 10 the kernel has
#                 expired nearly every old peer before they do (2 multi_delete_dup events seen);
#                 a 60 s timeout keeps the old instances alive while the clients reconnect
#                 (BENCH_DISTINCT_ENV= empty: none; BENCH_STORM_ENV comes after it and wins)
# for each variant v in BENCH_VARIANTS ("stock fixed bpo"); which configurations run is
# BENCH_CONFIGS ("storm nostress distinct"), distinct only for BENCH_DISTINCT_VARIANTS.
# A run whose log (out/bench/RUN.log) already holds all its storms is not run again: make bench
# resumes an interrupted matrix (BENCH_FRESH=1 starts over).
# The clients run on the host (BENCH_FARM=1, the default; scripts/storm-farm.sh): the guest's
# only NIC is a tap in a private host network namespace where the host's openvpn runs the N
# clients natively, started, frozen and thawed by the test through a control connection. Inside
# the guest under TCG each idle client process costs ~2 ms of CPU per second: 1024 of them
# saturated both vCPUs and the bring-up stalled near 900 connected, whatever the ping interval.
# BENCH_FARM=0 runs the clients in the guest's namespaces as make check does.
# Cheap clients at N=1024 under TCG (each documented in the header of debian/tests/dco-storm):
# DCO_STORM_FREEZE=1 (clients SIGSTOPped during the block, SIGCONT at the lift),
# DCO_STORM_CLIENT_DEV=null, DCO_STORM_START_BATCH=64, DCO_STORM_PLATEAU=60 (a leaking server's
# reconnect wait ends once the free slots are taken), DCO_STORM_NS_CLIENTS=16 (16 clients per
# network namespace, each on its own address), DCO_STORM_THAW_BATCH=64 (the frozen clients are
# thawed in batches after the lift: 512 at once drowned the guest in handshakes and retransmits),
# DCO_STORM_PING=5 (see below); BENCH_STORM_ENV adds
# or overrides DCO_STORM_* settings ("K=V K=V"). The server side: DCO, --max-clients N,
# keepalive 5 10, the kernel's default net.core.rmem_max, management polled once a second. The
# ping interval (2 in make check) only sets how often the idle clients wake up: at 2 s, 1024
# client processes took most of the guest's CPU and the connect slowed from 0.6 to 2.7 s per
# client; the expiry the storm measures is the timeout (10, doubled by the server: 20 s).
#
# Results in BENCH_DIR (out/bench): <run>.log (autopkgtest), bench.csv (one row per storm),
# then scripts/bench-report.sh: bench-mean.csv, bench.md (README tables), bench.png,
# bench-soak.png, scaling.txt.
#
# Smaller versions: BENCH_N="128 256" BENCH_REPEAT=1 BENCH_REPEAT_FIXED_MAX=1 BENCH_SOAK_CYCLES=3
#   BENCH_CONFIGS=storm BENCH_VARIANTS="stock fixed"; BENCH_QUICK=1 = N 32 64, one storm each,
#   soak with 3 cycles. BENCH_ESTIMATE=1 prints the matrix and its estimated wall time (model
#   measured on the 2-core TCG host, see estimate()) and exits. BENCH_REUSE=1 re-summarises
#   existing <run>.log files, also unfinished ones, instead of running storms.
# BENCH_PERF=1 (make bench-profile): profile the server with perf in each storm (DCO_STORM_PERF=1;
#   the image with linux-perf and strace, vm-image.sh --perf; ours with its debug symbols from the
#   -dbgsym .deb in out/); BENCH_PERF=strace counts its system calls instead (strace -c);
#   scripts/bench-profile-report.sh then says where the CPU per reaped instance goes. Both add
#   to the server's CPU: such runs are for attribution, not the tables.
# VM: VM_RAM (8192 MiB: ~3-4 MiB per client process at N=1024), VM_CPUS (2), VM_ACCEL,
#   VM_TEST_TIMEOUT (autopkgtest's per-test limit, 21600 s here: fixed-1024 is long).
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/vm-lib.sh
. "$(dirname "$0")/vm-lib.sh"

if [ -n "${BENCH_QUICK:-}" ]; then
    : "${BENCH_N:=32 64}" "${BENCH_REPEAT:=1}" "${BENCH_REPEAT_FIXED_MAX:=1}" "${BENCH_SOAK_N:=32}" "${BENCH_SOAK_CYCLES:=3}"
fi
BENCH_N=${BENCH_N:-128 256 512 1024}
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_REPEAT_FIXED_MAX=${BENCH_REPEAT_FIXED_MAX:-10}
BENCH_VARIANTS=${BENCH_VARIANTS:-stock fixed bpo}
BENCH_CONFIGS=${BENCH_CONFIGS:-storm nostress distinct}
BENCH_SOAK_VARIANTS=${BENCH_SOAK_VARIANTS:-fixed}
BENCH_DISTINCT_VARIANTS=${BENCH_DISTINCT_VARIANTS:-stock fixed bpo}
BENCH_SOAK_N=${BENCH_SOAK_N:-256}
BENCH_SOAK_CYCLES=${BENCH_SOAK_CYCLES:-10}
BENCH_STRESS=${BENCH_STRESS:-2}
BENCH_STORM_ENV=${BENCH_STORM_ENV:-}
BENCH_DISTINCT_ENV=${BENCH_DISTINCT_ENV-DCO_STORM_TIMEOUT=60 DCO_STORM_LIFT=62}
BENCH_FARM=${BENCH_FARM:-1}
# thaw batch: with the clients in the guest 64 (more drowned the TCG guest); on the farm the
# guest only runs the server, which takes 256 handshakes at a time as it takes 64 at bring-up
BENCH_THAW_BATCH=${BENCH_THAW_BATCH:-$([ "$BENCH_FARM" = 1 ] && echo 256 || echo 64)}
export VM_RAM=${VM_RAM:-8192} VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-21600}
B=${BENCH_DIR:-$OUT/bench}
BIG_N=$(tr ' ' '\n' <<<"$BENCH_N" | grep -E '^[0-9]+$' | sort -n | tail -n1)
[ -n "$BIG_N" ] || die "BENCH_N has no number"
COMMON_ENV=(DCO_STORM_FREEZE=1 DCO_STORM_CLIENT_DEV=null DCO_STORM_START_BATCH=64 DCO_STORM_PLATEAU=60
    DCO_STORM_RECONNECT_PER_N=1 DCO_STORM_NS_CLIENTS=16 DCO_STORM_PING=5 "DCO_STORM_THAW_BATCH=$BENCH_THAW_BATCH")

in_list() { [[ " $2 " == *" $1 "* ]]; }

# matrix: one line per VM boot: RUN LABEL VARIANT SCENARIO N ROUNDS STRESS CYCLES
matrix() {
    local v n scen cyc
    for v in $BENCH_VARIANTS; do
        if in_list storm "$BENCH_CONFIGS"; then
            for n in $BENCH_N; do
                if [ "$v" = stock ]; then
                    echo "$v-$n $v $v storm $n $BENCH_REPEAT $BENCH_STRESS 1"; continue
                fi
                scen=storm; cyc=$BENCH_REPEAT
                [ "$v" = fixed ] && [ "$n" = "$BIG_N" ] && cyc=$BENCH_REPEAT_FIXED_MAX
                if in_list "$v" "$BENCH_SOAK_VARIANTS" && { in_list "$n" "$BENCH_SOAK_N" || [ "$n" = "$BIG_N" ]; }; then
                    scen=soak; [ "$cyc" -ge "$BENCH_SOAK_CYCLES" ] || cyc=$BENCH_SOAK_CYCLES
                fi
                echo "$v-$n $v $v $scen $n 1 $BENCH_STRESS $cyc"
            done
        fi
        if in_list nostress "$BENCH_CONFIGS" && [ "$BENCH_STRESS" != 0 ]; then
            if [ "$v" = stock ]; then echo "$v-nostress-$BIG_N $v-nostress $v storm $BIG_N $BENCH_REPEAT 0 1"
            else echo "$v-nostress-$BIG_N $v-nostress $v storm $BIG_N 1 0 $BENCH_REPEAT"; fi
        fi
        if in_list distinct "$BENCH_CONFIGS" && in_list "$v" "$BENCH_DISTINCT_VARIANTS"; then
            echo "$v-distinct-$BIG_N $v-distinct $v distinct $BIG_N 1 $BENCH_STRESS 1"
        fi
    done
}

# estimate: wall time of the matrix from a per-phase model of this host (2-core, TCG, 2 vCPUs;
# measured in the runs listed in tests/storm/README.md "At scale"): per VM boot EST_BOOT s;
# per round (fresh server): namespaces + staggered client starts EST_UP s per client, growing
# with the clients already connected (+ EST_UP_GROW x N); per cycle the block, drain, checks
# EST_CYCLE s, then the reconnect EST_RECON s per client (a leaking server: its free slots,
# then the 60 s plateau); distinct adds per-client certificates (0.15 s per client) and its 62 s
# block (BENCH_DISTINCT_ENV's default). Two sets of defaults: clients in the guest (BENCH_FARM=0) and on the client farm
# (measured 2026-11-28 at N=1024: boot 110 s, 1024 connected in 62 s, block to drained and
# checked ~70 s, 1024 back in 104 s with thaw batches of 256).
estimate() {
    local f=0; [ "$BENCH_FARM" = 1 ] && f=1
    awk -v boot="${EST_BOOT:-$((f ? 120 : 240))}" -v up="${EST_UP:-$((f ? 6 : 45))e-2}" \
        -v grow="${EST_UP_GROW:-$((f ? 0 : 2))e-4}" -v cyc="${EST_CYCLE:-$((f ? 75 : 70))}" \
        -v recon="${EST_RECON:-$((f ? 10 : 45))e-2}" '
        { n = $5; per_up = (up + grow * n) * n + 20
          rc = ($3 == "stock") ? 0.1 * n + 60 : recon * n
          if ($4 == "distinct") t = boot + $6 * (0.15 * n + per_up + 90 + rc)
          else t = boot + $6 * (per_up + $8 * (cyc + rc))
          printf "  %-22s %-6s %-8s N=%-5s rounds %s cycles %-2s stress %s  ~%4d min\n", $1, $3, $4, n, $6, $8, $7, t / 60
          total += t }
        END { printf "  estimated wall time: ~%.1f h (%d min)\n", total / 3600, total / 60 }'
}

mkdir -p "$B"
if [ -n "${BENCH_ESTIMATE:-}" ]; then
    info "matrix (one VM boot per line) and estimated wall time on this 2-core TCG host:"
    matrix | estimate
    exit 0
fi
[ "$(id -u)" = 0 ] || die "run as root"
vm_need
need gnuplot
if [ "$BENCH_FARM" = 1 ]; then
    missing=()
    for c in socat openvpn; do command -v "$c" >/dev/null || missing+=("$c"); done
    if [ ${#missing[@]} -gt 0 ]; then
        step "client farm: installing ${missing[*]} on the host"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
            || die "could not install ${missing[*]} (the client farm needs them; BENCH_FARM=0 runs without)"
        step_done
    fi
    COMMON_ENV+=(DCO_STORM_FARM=10.201.0.2:7000)
    export VM_FARM_NETNS=dcostorm-farm
    trap '"$TOP/scripts/storm-farm.sh" down "$B/farm" >/dev/null 2>&1 || true' EXIT
fi
if [ -n "${BENCH_FRESH:-}" ]; then rm -rf "$B"; mkdir -p "$B"; fi
T0=$(date +%s)
matrix > "$B/matrix.txt"
printf '%s\n' "${COMMON_ENV[@]}" > "$B/settings.env"   # the client-side knobs, for bench-report.sh
info "matrix (one VM boot per line):"
estimate < "$B/matrix.txt"

CSV=$B/bench.csv
echo "label,variant,scenario,version,kernel,module,accel,cpus,n,round,cycle,stale,stale_file,nclients_after,drain_s,drain_excess_s,first_reap_s,cpu_s,cpu_reap_s,reap_span_s,reaped,cpu_ms_per_reaped,nl_err_lines,nl_resync_lines,nl_drops_max,sys_rmem_max,survived,reconnected,reconnect_s,rejected,connect_s,rss0_kb,fds0,rss_kb,fds,dup_events,stress,freeze,client_dev,plateau,kdel_first_s,kdel_last_s,server_lag_s,server_lag_min_s,result" > "$CSV"

# run_done RUN: its log ends with autopkgtest's result line (an interrupted run has none).
run_done() { [ -s "$B/$1.log" ] && grep -aqE '^dco-storm +(PASS|FAIL|SKIP)' "$B/$1.log"; }

bench_run() {
    local run=$1 label=$2 v=$3 scenario=$4 n=$5 rounds=$6 stress=$7 cycles=$8 flavour=trixie debs=() img accel rc=0
    if { [ -n "${BENCH_REUSE:-}" ] && [ -s "$B/$run.log" ]; } || run_done "$run"; then
        info "$run: done in an earlier make bench, summarising $B/$run.log"
        accel=$(grep -ao 'accel [a-z]*' "$B/$run.log" | tail -n1 | cut -d' ' -f2 || true); accel=${accel:-tcg}
        bench_csv "$run" "$label" "$v" "$accel"
        return 0
    fi
    case $v in
        stock) mapfile -t debs < <(archive_debs "trixie trixie-security" "openvpn=$BASE_VERSION") ;;
        fixed) mapfile -t debs < <(fixed_debs)
               [ -n "${debs[0]:-}" ] || { info "fixed: no openvpn_${NEW_VERSION}_amd64.deb in $OUT, skipped"; return 0; } ;;
        bpo)   flavour=bpo; mapfile -t debs < <(archive_debs "trixie-backports" "openvpn/trixie-backports") ;;
        *) die "unknown variant $v" ;;
    esac
    local perf=()
    [ -z "${BENCH_PERF:-}" ] || perf=(--perf)
    step "bench $run: image ($flavour${perf[*]:+, with perf})"
    "$TOP/scripts/vm-image.sh" --flavour "$flavour" "${perf[@]}"
    img=$("$TOP/scripts/vm-image.sh" --flavour "$flavour" "${perf[@]}" --print-dir)
    accel=$(vm_accel "$img")
    step_done
    step "bench $run: $scenario N=$n, $rounds round(s) x $cycles cycle(s), stress-ng --cpu $stress, ${debs[*]##*/}"
    export TREE_DROP_DEPS=; [ "$v" != bpo ] || TREE_DROP_DEPS=openvpn-dco-dkms
    local envs=("${COMMON_ENV[@]}" "DCO_STORM_SCENARIO=$scenario" "DCO_STORM_CLIENTS=$n"
        "DCO_STORM_REPEAT=$rounds" "DCO_STORM_STRESS=$stress" "DCO_STORM_CYCLES=$cycles" DCO_STORM_SIGNALS=0)
    export PERF_DEBUG_DEB=
    if [ -n "${BENCH_PERF:-}" ]; then
        envs+=("DCO_STORM_PERF=$BENCH_PERF")
        [ "$v" != fixed ] || [ "$BENCH_PERF" != 1 ] || PERF_DEBUG_DEB=$OUT/openvpn-dbgsym_${NEW_VERSION}_amd64.deb
        [ -z "$PERF_DEBUG_DEB" ] || [ -f "$PERF_DEBUG_DEB" ] || die "BENCH_PERF: no $PERF_DEBUG_DEB (make package builds it)"
    fi
    local kv
    if [ "$scenario" = distinct ]; then for kv in $BENCH_DISTINCT_ENV; do envs+=("$kv"); done; fi
    for kv in $BENCH_STORM_ENV; do envs+=("$kv"); done
    if [ "$BENCH_FARM" = 1 ]; then
        "$TOP/scripts/storm-farm.sh" down "$B/farm" 2>/dev/null || true   # a killed earlier bench
        rm -rf "$B/farm"; "$TOP/scripts/storm-farm.sh" up "$B/farm"
    fi
    run_storm "$run" "$img" "$B/$run" "${envs[@]}" -- "${debs[@]}" || rc=$?
    if [ "$BENCH_FARM" = 1 ]; then
        "$TOP/scripts/storm-farm.sh" down "$B/farm" || true
        rm -rf "$B/farm-$run"; mv "$B/farm" "$B/farm-$run"   # client logs, farm.log
    fi
    info "autopkgtest exit status $rc (4 = some storm failed, expected for stock)"
    echo "accel $accel" >> "$B/$run.log"
    bench_csv "$run" "$label" "$v" "$accel"
    step_done
}

# bench_csv RUN LABEL VARIANT ACCEL: the DCO-STORM-SUMMARY lines of $B/RUN.log as CSV rows.
bench_csv() {
    local label=$2 v=$3 accel=$4
    { grep -a '^DCO-STORM-SUMMARY ' "$B/$1.log" || true; } | sed 's/^DCO-STORM-SUMMARY //' \
        | awk -v label="$label" -v variant="$v" -v accel="${accel%%,*}" '
        function g(k) { return (k in f && f[k] != "") ? f[k] : "NA" }
        { delete f; for (i = 1; i <= NF; i++) { j = index($i, "="); f[substr($i, 1, j - 1)] = substr($i, j + 1) }
          if (!("reconnect_s" in f) && ("p1_reconnect_s" in f)) f["reconnect_s"] = f["p1_reconnect_s"]
          reaped = (g("stale") ~ /^[0-9]+$/) ? f["n"] - f["stale"] : "NA"
          per = (g("cpu_reap_s") ~ /^[0-9.]+$/ && reaped != "NA" && reaped > 0) ? sprintf("%.2f", 1000 * f["cpu_reap_s"] / reaped) : "NA"
          print label "," variant "," g("scenario") "," g("version") "," g("kernel") "," g("module") "," accel "," g("cpus") "," \
                g("n") "," g("round") "," (g("cycle") == "NA" ? 1 : g("cycle")) "," g("stale") "," g("stale_file") "," \
                g("nclients_after") "," g("drain_s") "," g("drain_excess_s") "," g("first_reap_s") "," g("cpu_s") "," \
                g("cpu_reap_s") "," g("reap_span_s") "," reaped "," per "," g("nl_err_lines") "," g("nl_resync_lines") "," \
                g("nl_drops_max") "," g("sys_rmem_max") "," g("survived") "," g("reconnected") "," g("reconnect_s") "," \
                g("rejected") "," g("connect_s") "," g("rss0_kb") "," g("fds0") "," g("rss_kb") "," g("fds") "," \
                g("dup_events") "," g("stress") "," g("freeze") "," g("client_dev") "," g("plateau") "," \
                g("kdel_first_s") "," g("kdel_last_s") "," g("server_lag_s") "," g("server_lag_min_s") "," g("result") }' >> "$CSV"
}

while read -r run label v scenario n rounds stress cycles; do
    bench_run "$run" "$label" "$v" "$scenario" "$n" "$rounds" "$stress" "$cycles"
done < "$B/matrix.txt"

BENCH_WALL_S=$(( $(date +%s) - T0 )) "$TOP/scripts/bench-report.sh" "$B"
info "wrote $CSV and the report in $B ($(( $(date +%s) - T0 ))s in all)"
