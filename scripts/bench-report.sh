#!/bin/bash
# scripts/bench-report.sh [DIR]: the report of a `make bench` run from DIR/bench.csv (DIR: out/bench).
# Writes, next to it:
#   bench-mean.csv/.dat  means per label (build + configuration) and N; the first 12 columns keep
#                        the layout scripts/pu-request.sh reads (label N stale drain cpu per-reaped
#                        reconnected rejections passed version accel cpu-reap), then drain excess,
#                        stale max, netlink error lines, netlink drops max, survived, stress,
#                        scenario, variant, connect s, reconnect s, storms, kernel's last
#                        DEL_PEER after the block (s), server lag after it: upper and lower
#                        bound (s), all three over the storms that drained
#   bench.md             the README tables (machine, accel, date, command; storms; soak cycles)
#   bench.png            stale, drain excess and CPU per reaped instance against N, one line per build
#   bench-soak.png       the soak: server RSS and open fds per cycle
#   scaling.txt          per build: CPU per reaped instance at the smallest and largest N
# Run by scripts/vm-bench.sh at its end; on its own it regenerates the report of an earlier run.
# BENCH_WALL_S: the wall time of the make bench invocation, printed in bench.md when > 0.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

B=${1:-${BENCH_DIR:-$OUT/bench}}
CSV=$B/bench.csv
[ -s "$CSV" ] || die "$CSV missing: run make bench first"

# shellcheck disable=SC2016  # awk code, not shell expansions
# awk prologue: column numbers by header name (c["stale"] ...), NA-aware helpers.
AWK_COLS='BEGIN { FS = "," } NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
function v(k) { return $(c[k]) }
function num(x) { return x ~ /^-?[0-9]+([.][0-9]+)?$/ }'

# ---- means per label and N
awk "$AWK_COLS"'
    { k = v("label") SUBSEP v("n"); if (!(k in cnt)) order[++no] = k
      cnt[k]++; ver[k] = v("version"); acc[k] = v("accel"); st[k] = v("stress"); sc[k] = v("scenario"); va[k] = v("variant")
      if (num(v("stale"))) { s[k] += v("stale"); sn[k]++; if (!(k in smax) || v("stale") + 0 > smax[k]) smax[k] = v("stale") + 0 }
      if (num(v("drain_s"))) { d[k] += v("drain_s"); dn[k]++ }
      if (num(v("drain_excess_s"))) { de[k] += v("drain_excess_s"); den[k]++ }
      if (num(v("cpu_s"))) { cs[k] += v("cpu_s"); csn[k]++ }
      if (num(v("cpu_reap_s"))) { cr[k] += v("cpu_reap_s"); crn[k]++ }
      if (num(v("cpu_ms_per_reaped"))) { p[k] += v("cpu_ms_per_reaped"); pn[k]++ }
      if (num(v("reconnected"))) { r[k] += v("reconnected"); rn[k]++ }
      if (num(v("rejected"))) { rj[k] += v("rejected"); rjn[k]++ }
      if (num(v("nl_err_lines"))) ne[k] += v("nl_err_lines")
      if (num(v("nl_drops_max")) && (!(k in nd) || v("nl_drops_max") + 0 > nd[k])) nd[k] = v("nl_drops_max") + 0
      if (num(v("connect_s"))) { co[k] += v("connect_s"); con[k]++ }
      if (num(v("reconnect_s"))) { rc[k] += v("reconnect_s"); rcn[k]++ }
      if (num(v("server_lag_s")) && num(v("kdel_last_s"))) { kl[k] += v("kdel_last_s"); sl[k] += v("server_lag_s"); sln[k]++
          if (num(v("server_lag_min_s"))) { slm[k] += v("server_lag_min_s"); slmn[k]++ } }
      if (v("survived") != "no") sv[k]++
      if (v("result") == "PASS") ok[k]++ }
    function m(a, n, k, f) { return (n[k] ? sprintf(f, a[k] / n[k]) : "NaN") }
    END { for (i = 1; i <= no; i++) { k = order[i]; split(k, a, SUBSEP)
        print a[1], a[2], m(s, sn, k, "%.1f"), m(d, dn, k, "%.1f"), m(cs, csn, k, "%.2f"), m(p, pn, k, "%.2f"),
              m(r, rn, k, "%.1f"), m(rj, rjn, k, "%.1f"), (ok[k] + 0) "/" cnt[k], ver[k], acc[k], m(cr, crn, k, "%.2f"),
              m(de, den, k, "%.2f"), (k in smax ? smax[k] : "NaN"), ne[k] + 0, (k in nd ? nd[k] : "NaN"),
              (sv[k] + 0) "/" cnt[k], st[k], sc[k], va[k], m(co, con, k, "%.0f"), m(rc, rcn, k, "%.0f"), cnt[k],
              m(kl, sln, k, "%.1f"), m(sl, sln, k, "%.1f"), m(slm, slmn, k, "%.1f") } }' \
    "$CSV" > "$B/bench-mean.dat"
tr ' ' ',' < "$B/bench-mean.dat" > "$B/bench-mean.csv"

accel=$(awk -F, 'NR == 2 { print $7 }' "$CSV")
cpus=$(awk -F, 'NR == 2 { print $8 }' "$CSV")
labels=$(awk '{ print $1 }' "$B/bench-mean.dat" | awk '!seen[$0]++' | tr '\n' ' ')
main_labels=$(awk '$1 == $20 && $19 != "distinct" { print $1 }' "$B/bench-mean.dat" | awk '!seen[$0]++' | tr '\n' ' ')
soak_labels=$(awk '$19 == "soak" { print $1 "-" $2 }' "$B/bench-mean.dat" | awk '!seen[$0]++' | tr '\n' ' ')
# the soak rows keyed by label-N (one server each): the soak plot's input
awk "$AWK_COLS"' v("scenario") == "soak" { print v("label") "-" v("n") "," v("cycle") "," v("rss_kb") "," v("fds") }' "$CSV" > "$B/soak.csv"

# knob NAME DEFAULT: DCO_STORM_NAME as make bench set it (settings.env), else dco-storm's default
knob() {
    local v
    v=$(sed -n "s/^DCO_STORM_$1=//p" "$B/settings.env" 2>/dev/null)
    echo "${v:-$2}"
}

# run_times: for each finished matrix line (its <run>.log has autopkgtest's result), its start
# and end (epoch s) from autopkgtest's log (<run>/log: the start's full date and UTC offset,
# then [HH:MM:SS] per line, same offset; a run is < 24 h).
run_times() {
    local run rest start last s e
    [ -s "$B/matrix.txt" ] || return 0
    while read -r run rest; do
        { [ -s "$B/$run/log" ] && grep -aqE '^dco-storm +(PASS|FAIL|SKIP)' "$B/$run.log" 2>/dev/null; } || continue
        start=$(sed -n 's/^autopkgtest \[[0-9:]*\]: starting date and time: //p' "$B/$run/log" | head -n1)
        last=$(grep -ao '^autopkgtest \[[0-9:]*\]' "$B/$run/log" | tail -n1 | tr -dc '0-9:' || true)
        { [ -n "$start" ] && [ -n "$last" ]; } || continue
        s=$(date -u -d "$start" +%s) || continue
        e=$(date -u -d "${start%% *} $last ${start##*[0-9]:[0-9][0-9]}" +%s) || continue
        [ "$e" -ge "$s" ] || e=$(( e + 86400 ))
        echo "$run $s $e"
    done < "$B/matrix.txt"
}

# ---- README tables
{
    echo "Machine: $(nproc)-core host ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), guest ${cpus:-2} vCPUs, accel ${accel:-?}, VM RAM ${VM_RAM:-8192} MiB; $(date -u -r "$CSV" +%F)."
    echo "Command: \`make bench\`$( [ -s "$B/matrix.txt" ] && awk '{ s += $6 * $8 } END { printf " (%d VM boots, %d storms: out/bench/matrix.txt)", NR, s }' "$B/matrix.txt")$( [ "${BENCH_WALL_S:-0}" -le 0 ] || echo "; this invocation's wall time $(( BENCH_WALL_S / 60 )) min")."
    run_times | awk -v lines="$( [ -s "$B/matrix.txt" ] && wc -l < "$B/matrix.txt" || echo 0)" '
        { n++; t += $3 - $2; if (!lo || $2 < lo) lo = $2; if ($3 > hi) hi = $3 }
        END { if (n) printf "Runs: %d of the %d matrix lines, made between %s and %s UTC (make bench resumes an interrupted matrix); their VM time %d min in all (boot to end, each run'"'"'s autopkgtest log).\n",
                  n, lines, strftime("%F %H:%M", lo, 1), strftime("%F %H:%M", hi, 1), t / 60 }'
    echo "Builds: $(awk '!seen[$20]++ { printf "%s%s %s", (n++ ? ", " : ""), $20, $10 }' "$B/bench-mean.dat")."
    echo
    echo "| build / config | N | stress | storms | stale mean (max) | drain − timeout (s) | kernel's last DEL_PEER after the block / server lag after it (s) | CPU per reaped (ms) | netlink err lines / max drops | survived | reconnected | rejections | connect (s) | reconnect (s) | passed |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    awk '{ for (i = 1; i <= NF; i++) if ($i == "NaN") $i = "n/a"
        printf "| %s | %d | %s | %d | %s (%s) | %s | %s / %s | %s | %s / %s | %s | %s | %s | %s | %s | %s |\n",
            $1, $2, ($18 > 0 ? $18 " CPU" : "none"), $23, $3, $14, ($19 == "distinct" ? "n/a" : ($13 == "n/a" ? "never drained" : $13)),
            ($24 == "" ? "n/a" : $24), ($25 == "n/a" || $25 == "" ? "n/a" : (($26 == "" ? "n/a" : $26) "–" $25)), $6, $15, $16, $17, $7, $8, $21, $22, $9 }' \
        "$B/bench-mean.dat"
    if [ -n "$soak_labels" ]; then
        echo
        echo "Soak (one server, storm/reconnect cycles in a row):"
        echo
        echo "| soak | N | cycle | stale | drain − timeout (s) | CPU per reaped (ms) | reconnected | server RSS after (kB) | open fds after | result |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        awk "$AWK_COLS"' v("scenario") == "soak" {
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v("label"), v("n"), v("cycle"), v("stale"),
                v("drain_excess_s"), v("cpu_ms_per_reaped"), v("reconnected"), v("rss_kb"), v("fds"), v("result") }' "$CSV"
        echo
        awk "$AWK_COLS"' v("scenario") == "soak" && num(v("rss_kb")) { k = v("label") " N=" v("n")
            if (!(k in r1)) { r1[k] = v("rss_kb"); f1[k] = v("fds"); c1[k] = v("cycle") } rl[k] = v("rss_kb"); fl[k] = v("fds"); cl[k] = v("cycle") }
            END { for (k in r1) printf "%s: RSS %d kB after cycle %d, %d kB after cycle %d (%+.1f %%); open fds %d -> %d.\n",
                k, r1[k], c1[k], rl[k], cl[k], 100 * (rl[k] - r1[k]) / r1[k], f1[k], fl[k] }' "$CSV"
    fi
    echo
    if [ -n "$(knob FARM '')" ]; then
        echo "How measured (debian/tests/dco-storm in the VM, header of that file): N clients on the host's client"
        echo "farm (scripts/storm-farm.sh: the host's openvpn in a private network namespace, one tap to the guest),"
        echo "each on its own address (--disable-dco, --dev null, EC keys, started in batches of $(knob START_BATCH all))"
    else
        echo "How measured (debian/tests/dco-storm in the VM, header of that file): N clients, $(knob NS_CLIENTS 1) per network"
        echo "namespace on their own addresses (--disable-dco, --dev null, EC keys, started in batches of $(knob START_BATCH all))"
    fi
    echo "connect to a DCO server with --max-clients N, keepalive $(knob PING 2) $(knob TIMEOUT 10), the kernel's default net.core.rmem_max, management"
    echo "polled once a second; then the server's inbound UDP is dropped (nftables) and the clients are"
    echo "frozen (SIGSTOP), so the kernel deletes all N peers 15-20 s later; stress-ng --cpu W runs during"
    echo "the storm. stale = instances listed by management 'status 2' after 2 x timeout + 20 s (the status"
    echo "file must agree); drain − timeout = from the block until load-stats nclients first reads 0, minus"
    echo "the $(( 2 * $(knob TIMEOUT 10) )) s the kernel waits; kernel's last DEL_PEER = its last 'deleting peer' line after the"
    echo "block by the kernel log's clock (the module logs it as it sends the notification); server lag ="
    echo "what the server took beyond it, between the last nclients sample above 0 and the first at 0 (the"
    echo "samples come 1 s apart when idle, 2-6 s under stress at N=1024), means over the storms that drained; CPU per reaped = server CPU (/proc/PID/schedstat) from the last 1 s"
    echo "sample before nclients dropped to the sample at which it last changed, / (N − stale); netlink"
    echo "err lines = server log lines about netlink errors/ENOBUFS/overruns since the block, drops = the"
    echo "largest Drops counter of the server's netlink socket (/proc/net/netlink) during the drain. The"
    echo "block is then lifted and the clients thawed $(knob THAW_BATCH all) at a time: reconnected = clients back within 60 + N s (a"
    echo "leaking server: until N − stale are back and nothing changed for 60 s); rejections = 'would"
    echo "exceed maximum number of clients' lines after the lift. distinct: one certificate per client, no"
    echo "--duplicate-cn, keepalive timeout 60 s and the block lifted after 62 s (make bench's BENCH_DISTINCT_ENV:"
    echo "the clients restart after 60 s, the server's peers expire 120 s after their last packet), so the"
    echo "clients reconnect while their old instances exist (multi_delete_dup) and the kernel expires the"
    echo "rest; stale = old instances left; it also fails on a CN listed twice among the established"
    echo "instances, nclients unequal to them, or a half-open instance past the hand-window."
} > "$B/bench.md"
cat "$B/bench.md"

# ---- where does the cost per reaped instance grow with N?
awk '$1 == $20 && $19 != "distinct" && $6 != "NaN" { if (!($1 in lo)) { lo[$1] = $6; ln[$1] = $2 } hi[$1] = $6; hn[$1] = $2 }
    END { for (v in lo) if (hn[v] > ln[v])
        printf "%s: CPU per reaped instance %.2f ms at N=%d -> %.2f ms at N=%d (x%.1f for x%.1f N)%s\n", v, lo[v], ln[v], hi[v], hn[v],
            (lo[v] > 0 ? hi[v] / lo[v] : 0), hn[v] / ln[v], (lo[v] > 0 && hi[v] / lo[v] > 1.5 ? ": grows faster than linear" : ": about linear") }' \
    "$B/bench-mean.dat" | sort | tee "$B/scaling.txt"

# ---- plots: points = storms, lines = means per N, one colour per build (main storm configuration)
if [ -n "$main_labels" ]; then
    gnuplot <<EOF || info "gnuplot failed; the CSV and tables are still there"
set terminal pngcairo size 1500,450 font ",10"
set output "$B/bench.png"
set multiplot layout 1,3 title "DCO peer-deletion storm, ${cpus:-2} vCPUs, accel ${accel:-?} (see bench.md)"
set datafile separator ","
V = "$main_labels"
CSV = "$CSV"
MEAN = "$B/bench-mean.csv"
set key top left
set grid
set xlabel "N (clients = --max-clients)"
set logscale x 2
set title "stale client instances after the drain"
set ylabel "stale instances"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$9 : NaN):(\$12) with points pt 7 lc i title word(V,i), \
     for [i=1:words(V)] MEAN using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$3) with lines lc i notitle, \
     x with lines dt 2 lc rgb "gray" title "N (all leaked)"
set title "drain excess: drain time - keepalive timeout (stock: never drains)"
set ylabel "seconds"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$9 : NaN):(\$16) with points pt 7 lc i title word(V,i), \
     for [i=1:words(V)] MEAN using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$13) with lines lc i notitle, \
     0 with lines dt 2 lc rgb "gray" title "drained at the timeout"
set title "server CPU per reaped instance"
set ylabel "ms CPU / reaped instance"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$9 : NaN):(\$22) with points pt 7 lc i title word(V,i), \
     for [i=1:words(V)] MEAN using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$6) with lines lc i notitle
unset multiplot
EOF
fi
if [ -n "$soak_labels" ]; then
    gnuplot <<EOF || info "gnuplot failed (soak plot)"
set terminal pngcairo size 1000,450 font ",10"
set output "$B/bench-soak.png"
set multiplot layout 1,2 title "soak: storm/reconnect cycles on one server"
set datafile separator ","
V = "$soak_labels"
CSV = "$B/soak.csv"
set key bottom right
set grid
set xlabel "cycle"
set yrange [0:*]
set title "server RSS after the reconnect"
set ylabel "kB"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$3) with linespoints pt 7 lc i title word(V,i)
set title "server open fds after the reconnect"
set ylabel "fds"
plot for [i=1:words(V)] CSV using (strcol(1) eq word(V,i) ? \$2 : NaN):(\$4) with linespoints pt 7 lc i title word(V,i)
unset multiplot
EOF
fi
info "report: $B/bench.md, bench-mean.csv, scaling.txt${main_labels:+, bench.png}${soak_labels:+, bench-soak.png} (labels: $labels)"
