#!/bin/bash
# make bench (not in CI): the DCO storm (debian/tests/dco-storm) at several N, repeated, for
#   stock  the archive's openvpn 2.6.14-1+deb13u3 (trixie kernel, ovpn-dco-v2 via DKMS)
#   fixed  our 2.6.14-1+deb13u4 from out/ (same image)
#   bpo    trixie-backports' openvpn 2.7.x on trixie-backports' kernel (in-tree ovpn module):
#          upstream's native fix, an anchor for the fixed behaviour
# One VM boot per variant runs every N and repetition, each storm with a fresh server and
# fresh clients. Writes out/bench/bench.csv, bench.png (stale instances, drain time and server
# CPU per deletion against N) and bench.md (a table for the README).
#
# Environment: BENCH_N ("32 64 128 256"), BENCH_REPEAT (2), BENCH_VARIANTS ("stock fixed bpo"),
#   BENCH_STRESS (stress-ng CPU workers during the storm, 0), VM_RAM (6144), VM_CPUS (2), VM_ACCEL;
#   BENCH_REUSE=1 re-summarises existing out/bench/<variant>.log files instead of running storms;
#   BENCH_DIR (out/bench) where logs and results go.
# Measurement: see the header of debian/tests/dco-storm. cpu_ms_per_deletion = server CPU time
# from the first to the last reap (cpu_reap_s), divided by the number of instances reaped (N - stale).
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/vm-lib.sh
. "$(dirname "$0")/vm-lib.sh"

BENCH_N=${BENCH_N:-32 64 128 256}
BENCH_REPEAT=${BENCH_REPEAT:-2}
BENCH_VARIANTS=${BENCH_VARIANTS:-stock fixed bpo}
BENCH_STRESS=${BENCH_STRESS:-0}
export VM_RAM=${VM_RAM:-6144}
B=${BENCH_DIR:-$OUT/bench}
mkdir -p "$B"
[ "$(id -u)" = 0 ] || die "run as root"
vm_need
need gnuplot
T0=$(date +%s)

CSV=$B/bench.csv
echo "variant,version,kernel,module,accel,cpus,n,round,stale,stale_file,nclients_after,drain_s,first_reap_s,cpu_s,cpu_reap_s,reap_span_s,reaped,cpu_ms_per_deletion,reconnected,reconnect_s,rejected,connect_s,stress,result" > "$CSV"

bench_variant() {
    local v=$1 flavour=trixie debs=() img accel rc=0
    if [ -n "${BENCH_REUSE:-}" ] && [ -s "$B/$v.log" ]; then
        info "$v: BENCH_REUSE set, summarising the existing $B/$v.log"
        accel=$(grep -ao 'accel [a-z]*' "$B/$v.log" | head -n1 | cut -d' ' -f2 || true); accel=${accel:-tcg}
        bench_csv "$v" "$accel"
        return 0
    fi
    case $v in
        stock) mapfile -t debs < <(archive_debs "trixie trixie-security" "openvpn=$BASE_VERSION") ;;
        fixed) mapfile -t debs < <(fixed_debs)
               [ -n "${debs[0]:-}" ] || { info "fixed: no openvpn_${NEW_VERSION}_amd64.deb in $OUT, skipped"; return 0; } ;;
        bpo)   flavour=bpo; mapfile -t debs < <(archive_debs "trixie-backports" "openvpn/trixie-backports") ;;
        *) die "unknown variant $v" ;;
    esac
    step "bench $v: image ($flavour)"
    "$TOP/scripts/vm-image.sh" --flavour "$flavour"
    img=$("$TOP/scripts/vm-image.sh" --flavour "$flavour" --print-dir)
    accel=$(vm_accel "$img")
    step_done
    step "bench $v: N in {$BENCH_N} x $BENCH_REPEAT storms, ${debs[*]##*/}"
    export TREE_DROP_DEPS=; [ "$v" != bpo ] || TREE_DROP_DEPS=openvpn-dco-dkms
    run_storm "$v" "$img" "$B/$v" "DCO_STORM_CLIENTS=$BENCH_N" "DCO_STORM_REPEAT=$BENCH_REPEAT" \
        "DCO_STORM_STRESS=$BENCH_STRESS" -- "${debs[@]}" || rc=$?
    info "autopkgtest exit status $rc (4 = some storm failed, expected for stock)"
    echo "accel $accel" >> "$B/$v.log"
    bench_csv "$v" "$accel"
    step_done
}

# bench_csv VARIANT ACCEL: the DCO-STORM-SUMMARY lines of out/bench/VARIANT.log as CSV rows.
bench_csv() {
    local v=$1 accel=$2
    grep -a '^DCO-STORM-SUMMARY ' "$B/$v.log" | sed 's/^DCO-STORM-SUMMARY //' | awk -v variant="$v" -v accel="${accel%%,*}" '
        { delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
          if (!("cpu_reap_s" in f)) { f["cpu_reap_s"] = "NA"; f["reap_span_s"] = "NA" }
          reaped = (f["stale"] ~ /^[0-9]+$/) ? f["n"] - f["stale"] : "NA"
          per = (f["cpu_reap_s"] ~ /^[0-9.]+$/ && reaped != "NA" && reaped > 0) ? sprintf("%.2f", 1000 * f["cpu_reap_s"] / reaped) : "NA"
          print variant "," f["version"] "," f["kernel"] "," f["module"] "," accel "," f["cpus"] "," f["n"] "," f["round"] "," \
                f["stale"] "," f["stale_file"] "," f["nclients_after"] "," f["drain_s"] "," f["first_reap_s"] "," \
                f["cpu_s"] "," f["cpu_reap_s"] "," f["reap_span_s"] "," reaped "," per "," f["reconnected"] "," \
                f["reconnect_s"] "," f["rejected"] "," f["connect_s"] "," f["stress"] "," f["result"] }' >> "$CSV"
}

for v in $BENCH_VARIANTS; do bench_variant "$v"; done

step "bench results"
column -s, -t < "$CSV" | sed 's/^/    /'

# Means per variant and N (NA values skipped) -> bench-mean.dat (gnuplot) and bench.md (README).
awk -F, 'NR > 1 { k = $1 SUBSEP $7; cnt[k]++; ver[k] = $2; acc[k] = $5
        if (!(k in seen)) { seen[k] = 1; order[++no] = k }
        s[k] += $9; if ($12 != "NA") { d[k] += $12; dn[k]++ } if ($14 != "NA") { c[k] += $14; cn[k]++ }
        if ($15 != "NA") { cr[k] += $15; crn[k]++ }
        if ($18 != "NA") { p[k] += $18; pn[k]++ } r[k] += $19; rj[k] += $21; if ($24 == "PASS") ok[k]++ }
    END {
        for (i = 1; i <= no; i++) { k = order[i]; split(k, a, SUBSEP)
            printf "%s %d %.1f %s %s %s %.1f %d %d/%d %s %s %s\n", a[1], a[2], s[k] / cnt[k],
                dn[k] ? sprintf("%.1f", d[k] / dn[k]) : "NaN", cn[k] ? sprintf("%.2f", c[k] / cn[k]) : "NaN",
                pn[k] ? sprintf("%.2f", p[k] / pn[k]) : "NaN", r[k] / cnt[k], rj[k] / cnt[k], ok[k] + 0, cnt[k], ver[k], acc[k],
                crn[k] ? sprintf("%.2f", cr[k] / crn[k]) : "NaN" } }' \
    "$CSV" > "$B/bench-mean.dat"
tr ' ' ',' < "$B/bench-mean.dat" > "$B/bench-mean.csv"
{
    echo "Machine: $(nproc)-core host ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), guest 2 vCPUs, accel $(awk '{print $11; exit}' "$B/bench-mean.dat"), VM RAM ${VM_RAM} MiB; $BENCH_REPEAT storms per N, means shown."
    echo "Command: \`BENCH_N=\"$BENCH_N\" BENCH_REPEAT=$BENCH_REPEAT make bench\` ($(date -u +%F))"
    echo
    echo "| variant | version | N | stale | drain (s) | server CPU, block..drain end (s) | CPU reaping (s) | CPU per reaped peer (ms) | reconnected | rejections | storms passed |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    awk '{ if ($4 == "NaN") $4 = "never"; for (i = 5; i <= NF; i++) if ($i == "NaN") $i = "n/a"
           printf "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $10, $2, $3, $4, $5, $12, $6, $7, $8, $9 }' "$B/bench-mean.dat"
    echo
    echo "How measured (debian/tests/dco-storm, inside the VM): N clients in their own network namespaces"
    echo "connect to a DCO server with --max-clients N, keepalive 2 10; the server's inbound UDP is then"
    echo "dropped (nftables) so the kernel deletes all N peers ~20 s later. stale = instances listed by"
    echo "management 'status 2' after 2x timeout + 20 s (the status file must agree); drain = block until"
    echo "load-stats nclients first reads 0 (includes the 20 s timeout; never = did not reach 0); CPU ="
    echo "server run time (/proc/PID/schedstat) from the block to the end of the drain window; CPU reaping ="
    echo "from the last 1 s sample before nclients first dropped to the sample at which it last changed,"
    echo "per reaped peer = that / (N - stale); reconnected = clients back in within 60 + N/2 s of"
    echo "lifting the block; rejections = 'would exceed maximum number of clients' lines after the lift."
} > "$B/bench.md"
cat "$B/bench.md"

# Where does a variant's CPU per deletion grow with N (i.e. total cost faster than linear)?
awk '$6 != "NaN" { if (!($1 in lo)) { lo[$1] = $6; ln[$1] = $2 } hi[$1] = $6; hn[$1] = $2 }
    END { for (v in lo) if (hn[v] > ln[v])
        printf "    %s: CPU per reaped instance %.2f ms at N=%d -> %.2f ms at N=%d (x%.1f for x%.1f N)%s\n", v, lo[v], ln[v], hi[v], hn[v],
            (lo[v] > 0 ? hi[v] / lo[v] : 0), hn[v] / ln[v], (lo[v] > 0 && hi[v] / lo[v] > 1.5 ? ": grows faster than linear" : ": about linear") }' \
    "$B/bench-mean.dat" | tee "$B/scaling.txt"

# Panels: stale, drain time, server CPU in the drain; CPU per reaped instance when measured.
# Points: each storm; lines: means per N (bench-mean.csv).
panels=3 per_panel=
if awk -F, 'NR > 1 && $18 ~ /^[0-9.]+$/ { found = 1 } END { exit !found }' "$CSV"; then
    panels=4
    per_panel="set title \"server CPU per reaped instance (first..last reap)\"
set ylabel \"ms CPU / reaped instance\"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$7 : NaN):(\$18) with points pt 7 lc i title word(V,i), \\
     for [i=1:words(V)] MEAN using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$6) with lines lc i notitle"
fi
gnuplot <<EOF || info "gnuplot failed; the CSV and table are still there"
set terminal pngcairo size $(( panels * 500 )),450 font ",10"
set output "$B/bench.png"
set multiplot layout 1,$panels title "DCO peer-deletion storm ($BENCH_REPEAT storms per N, 2 vCPUs, accel $(awk '{print $11; exit}' "$B/bench-mean.dat"); see bench.md)"
set datafile separator ","
V = "$BENCH_VARIANTS"
CSV = "$CSV"
MEAN = "$B/bench-mean.csv"
set key top left
set grid
set xlabel "N (clients = --max-clients)"
set logscale x 2
set title "stale client instances after the drain"
set ylabel "stale instances"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$7 : NaN):(\$9) with points pt 7 lc i title word(V,i), \
     for [i=1:words(V)] MEAN using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$3) with lines lc i notitle, \
     x with lines dt 2 lc rgb "gray" title "N (all leaked)"
set title "drain time (block -> 0 instances; stock never drains)"
set ylabel "seconds (incl. 20 s keepalive timeout)"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$7 : NaN):(\$12) with points pt 7 lc i title word(V,i), \
     for [i=1:words(V)] MEAN using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$4) with lines lc i notitle
set title "server CPU from the block to the end of the drain"
set ylabel "CPU seconds"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$7 : NaN):(\$14) with points pt 7 lc i title word(V,i), \
     for [i=1:words(V)] MEAN using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$5) with lines lc i notitle
$per_panel
unset multiplot
EOF
info "wrote $CSV, $B/bench.png, $B/bench.md ($(( $(date +%s) - T0 ))s in all)"
