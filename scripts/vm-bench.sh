#!/bin/bash
# make bench (not in CI): the DCO storm (debian/tests/dco-storm) at scale, three builds side by side:
#   stock  the archive's openvpn 2.6.14-1+deb13u3 (trixie kernel, ovpn-dco-v2 via DKMS)
#   fixed  our 2.6.14-1+deb13u4 from out/ (same image)
#   bpo    trixie-backports' openvpn 2.7.x on trixie-backports' kernel (in-tree ovpn module):
#          upstream's native fix, an anchor for the fixed behaviour
#
# The matrix (issue 9), one VM boot per line, each storm with a fresh server and fresh clients
# unless it is a soak:
#   <v>           storm, N in BENCH_N (128 256 512 1024), BENCH_REPEAT (3) storms per N, stress-ng
#                 with BENCH_STRESS (2) CPU workers during each storm; fixed at the largest N:
#                 BENCH_REPEAT_FIXED_MAX (10) storms
#   <v>-nostress  storm at the largest N without stress-ng, BENCH_REPEAT storms
#   <v>-distinct  per-client certificates, no --duplicate-cn, clients reconnecting while the
#                 kernel's deletions are processed (multi_delete_dup), largest N, one storm
#                 (dco-storm's distinct phase 1; DCO_STORM_SIGNALS=0), stress as above
#   <v>-soak      10 storm/reconnect cycles (BENCH_SOAK_CYCLES) on ONE server at BENCH_SOAK_N
#                 (256), stress as above; per cycle the server's RSS and open fds
# for each variant v in BENCH_VARIANTS ("stock fixed bpo"); which of the four run is BENCH_CONFIGS
# ("storm nostress distinct soak"), the soak and distinct ones only for BENCH_SOAK_VARIANTS
# ("fixed") and BENCH_DISTINCT_VARIANTS ("stock fixed bpo").
#
# Cheap clients at N=1024 under TCG (each documented in the header of debian/tests/dco-storm):
# DCO_STORM_FREEZE=1 (clients SIGSTOPped during the block, SIGCONT at the lift),
# DCO_STORM_CLIENT_DEV=null, DCO_STORM_START_BATCH=64, DCO_STORM_PLATEAU=60 (a leaking server's
# reconnect wait ends once the free slots are taken); BENCH_STORM_ENV adds or overrides
# DCO_STORM_* settings ("K=V K=V"). The server side is unchanged: DCO, --max-clients N,
# keepalive 2 10, the kernel's default net.core.rmem_max, management polled once a second.
#
# Results in BENCH_DIR (out/bench): <label>.log (autopkgtest), bench.csv (one row per storm or
# soak cycle), then scripts/bench-report.sh: bench-mean.csv, bench.md (README tables), bench.png,
# bench-soak.png, scaling.txt.
#
# Smaller versions: BENCH_N="128 256" BENCH_REPEAT=1 BENCH_REPEAT_FIXED_MAX=1
#   BENCH_CONFIGS=storm BENCH_VARIANTS="stock fixed"; BENCH_QUICK=1 = N 32 64, one storm each,
#   soak at 32 with 3 cycles, distinct at 64. BENCH_ESTIMATE=1 prints the matrix and its
#   estimated wall time (model measured on the 2-core TCG host, see estimate()) and exits.
#   BENCH_REUSE=1 re-summarises existing <label>.log files instead of running storms.
# VM: VM_RAM (8192 MiB: ~3-4 MiB per client process at N=1024), VM_CPUS (2), VM_ACCEL,
#   VM_TEST_TIMEOUT (autopkgtest's per-test limit, 21600 s here: the fixed line at 1024 is long).
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
BENCH_CONFIGS=${BENCH_CONFIGS:-storm nostress distinct soak}
BENCH_SOAK_VARIANTS=${BENCH_SOAK_VARIANTS:-fixed}
BENCH_DISTINCT_VARIANTS=${BENCH_DISTINCT_VARIANTS:-stock fixed bpo}
BENCH_SOAK_N=${BENCH_SOAK_N:-256}
BENCH_SOAK_CYCLES=${BENCH_SOAK_CYCLES:-10}
BENCH_STRESS=${BENCH_STRESS:-2}
BENCH_STORM_ENV=${BENCH_STORM_ENV:-}
export VM_RAM=${VM_RAM:-8192} VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-21600}
B=${BENCH_DIR:-$OUT/bench}
BIG_N=$(tr ' ' '\n' <<<"$BENCH_N" | grep -E '^[0-9]+$' | sort -n | tail -n1)
[ -n "$BIG_N" ] || die "BENCH_N has no number"
COMMON_ENV=(DCO_STORM_FREEZE=1 DCO_STORM_CLIENT_DEV=null DCO_STORM_START_BATCH=64 DCO_STORM_PLATEAU=60
    DCO_STORM_RECONNECT_PER_N=1)

in_list() { [[ " $2 " == *" $1 "* ]]; }

# matrix: one line per VM run: LABEL VARIANT SCENARIO NSPEC REPEAT STRESS CYCLES (NSPEC: N or
# N:R, comma-separated).
matrix() {
    local v nspec n
    for v in $BENCH_VARIANTS; do
        if in_list storm "$BENCH_CONFIGS"; then
            nspec=
            for n in $BENCH_N; do
                if [ "$v" = fixed ] && [ "$n" = "$BIG_N" ]; then nspec+=",$n:$BENCH_REPEAT_FIXED_MAX"; else nspec+=",$n"; fi
            done
            echo "$v $v storm ${nspec#,} $BENCH_REPEAT $BENCH_STRESS 1"
        fi
        if in_list nostress "$BENCH_CONFIGS" && [ "$BENCH_STRESS" != 0 ]; then
            echo "$v-nostress $v storm $BIG_N $BENCH_REPEAT 0 1"
        fi
        if in_list distinct "$BENCH_CONFIGS" && in_list "$v" "$BENCH_DISTINCT_VARIANTS"; then
            echo "$v-distinct $v distinct $BIG_N 1 $BENCH_STRESS 1"
        fi
        if in_list soak "$BENCH_CONFIGS" && in_list "$v" "$BENCH_SOAK_VARIANTS"; then
            for n in $BENCH_SOAK_N; do echo "$v-soak-$n $v soak $n 1 $BENCH_STRESS $BENCH_SOAK_CYCLES"; done
        fi
    done
}

# estimate: wall time of the matrix from a per-phase model measured on this host (2-core, TCG,
# 2 vCPUs; tests/storm/README.md "At scale"): VM boot + testbed EST_BOOT s (140); per storm with a
# fresh server: namespaces + client starts + connect (EST_UP_PER_N + 0.00022 x N) x N + 20 s
# (0.57: 0.60 s per client at N=128 measured; the namespaces alone took 0.39 s per client at
# N=1024 against 0.19 at 128, hence the N-dependent term), block + drain
# + stale check + status file ~50 s, reconnect EST_RECON_PER_N x N s (0.53: all N restart at once)
# + byte checks ~16 s; stock reconnects only N - stale and then waits out the 60 s plateau; a soak
# cycle is a storm without the bring-up; distinct adds the per-client certificates (0.15 x N s).
estimate() {
    awk -v boot="${EST_BOOT:-140}" -v up0="${EST_UP_PER_N:-0.57}" -v recon="${EST_RECON_PER_N:-0.53}" '
        { split($4, ns, ","); t = boot
          for (i in ns) { split(ns[i], a, ":"); n = a[1]; r = (2 in a) ? a[2] : $5; up = up0 + 0.00022 * n
              if ($3 == "distinct") per = 0.15 * n + up * n + 20 + 12 + recon * n + 20
              else { cyc = 50 + 16 + (($2 == "stock") ? 0.1 * n + 60 : recon * n); per = up * n + 20 + $7 * cyc }
              t += r * per }
          printf "  %-16s %-6s %-8s N=%-20s repeat %-2s stress %s cycles %-2s ~%4d min\n", $1, $2, $3, $4, $5, $6, $7, t / 60
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
T0=$(date +%s)
matrix > "$B/matrix.txt"
info "matrix (one VM boot per line):"
estimate < "$B/matrix.txt"

CSV=$B/bench.csv
echo "label,variant,scenario,version,kernel,module,accel,cpus,n,round,cycle,stale,stale_file,nclients_after,drain_s,drain_excess_s,first_reap_s,cpu_s,cpu_reap_s,reap_span_s,reaped,cpu_ms_per_reaped,nl_err_lines,nl_resync_lines,nl_drops_max,sys_rmem_max,survived,reconnected,reconnect_s,rejected,connect_s,rss0_kb,fds0,rss_kb,fds,dup_events,stress,freeze,client_dev,plateau,result" > "$CSV"

bench_run() {
    local label=$1 v=$2 scenario=$3 nspec=$4 repeat=$5 stress=$6 cycles=$7 flavour=trixie debs=() img accel rc=0
    if [ -n "${BENCH_REUSE:-}" ] && [ -s "$B/$label.log" ]; then
        info "$label: BENCH_REUSE set, summarising the existing $B/$label.log"
        accel=$(grep -ao 'accel [a-z]*' "$B/$label.log" | tail -n1 | cut -d' ' -f2 || true); accel=${accel:-tcg}
        bench_csv "$label" "$v" "$accel"
        return 0
    fi
    case $v in
        stock) mapfile -t debs < <(archive_debs "trixie trixie-security" "openvpn=$BASE_VERSION") ;;
        fixed) mapfile -t debs < <(fixed_debs)
               [ -n "${debs[0]:-}" ] || { info "fixed: no openvpn_${NEW_VERSION}_amd64.deb in $OUT, skipped"; return 0; } ;;
        bpo)   flavour=bpo; mapfile -t debs < <(archive_debs "trixie-backports" "openvpn/trixie-backports") ;;
        *) die "unknown variant $v" ;;
    esac
    step "bench $label: image ($flavour)"
    "$TOP/scripts/vm-image.sh" --flavour "$flavour"
    img=$("$TOP/scripts/vm-image.sh" --flavour "$flavour" --print-dir)
    accel=$(vm_accel "$img")
    step_done
    step "bench $label: $scenario, N in {${nspec//,/ }} x $repeat, stress-ng --cpu $stress, $cycles cycle(s), ${debs[*]##*/}"
    export TREE_DROP_DEPS=; [ "$v" != bpo ] || TREE_DROP_DEPS=openvpn-dco-dkms
    local envs=("${COMMON_ENV[@]}" "DCO_STORM_SCENARIO=$scenario" "DCO_STORM_CLIENTS=${nspec//,/ }"
        "DCO_STORM_REPEAT=$repeat" "DCO_STORM_STRESS=$stress" "DCO_STORM_CYCLES=$cycles" DCO_STORM_SIGNALS=0)
    local kv
    for kv in $BENCH_STORM_ENV; do envs+=("$kv"); done
    run_storm "$label" "$img" "$B/$label" "${envs[@]}" -- "${debs[@]}" || rc=$?
    info "autopkgtest exit status $rc (4 = some storm failed, expected for stock)"
    echo "accel $accel" >> "$B/$label.log"
    bench_csv "$label" "$v" "$accel"
    step_done
}

# bench_csv LABEL VARIANT ACCEL: the DCO-STORM-SUMMARY lines of $B/LABEL.log as CSV rows.
bench_csv() {
    local label=$1 v=$2 accel=$3
    grep -a '^DCO-STORM-SUMMARY ' "$B/$label.log" | sed 's/^DCO-STORM-SUMMARY //' \
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
                g("dup_events") "," g("stress") "," g("freeze") "," g("client_dev") "," g("plateau") "," g("result") }' >> "$CSV"
}

while read -r label v scenario nspec repeat stress cycles; do
    bench_run "$label" "$v" "$scenario" "$nspec" "$repeat" "$stress" "$cycles"
done < "$B/matrix.txt"

BENCH_WALL_S=$(( $(date +%s) - T0 )) "$TOP/scripts/bench-report.sh" "$B"
info "wrote $CSV and the report in $B ($(( $(date +%s) - T0 ))s in all)"
