#!/bin/bash
# scripts/bench-profile-report.sh DIR: where the server's CPU per reaped instance goes, from the
# perf profiles of a make bench-profile run (DIR = out/bench-profile). For each run directory
# DIR/<run>/artifacts and each storm (tag rR-cC) it reads perf's flat reports of the two windows
# dco-storm recorded (DCO_STORM_PERF=1, `perf record -e cpu-clock -F 499 -g -p PID`):
#   idle   DCO_STORM_PERF_IDLE s before the block: N instances, no traffic
#   storm  the block to the end of the drain (nclients 0)
# and prints, per dso and per symbol, the storm's CPU net of the idle window's rate, in ms per
# reaped instance:  net = storm_samples - idle_samples x storm_span / idle_span,
#   ms per reaped = net x 1000 / 499 / reaped   (reaped = N - stale, from DCO-STORM-SUMMARY).
# The idle work shrinks while the instances go, so "net" undercounts the reaping a little and
# symbols of the idle work can come out negative. One sample is ~2 ms of server CPU.
# Writes DIR/profile.txt and prints it.
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 DIR (out/bench-profile)" >&2; exit 2; }
d=${1%/}
top=${PROFILE_TOP:-25}
{
echo "perf profiles of the server in $d (cpu-clock, $(date -u '+%Y-%m-%d %H:%M UTC') report)"
echo "net = storm samples - idle samples x storm span / idle span; ms/reaped = net x 1000 / Hz / reaped"
found=
for log in "$d"/*.log; do
    run=$(basename "$log" .log)
    a=$d/$run/artifacts
    [ -d "$a" ] || continue
    while read -r line; do
        found=1
        # DCO-STORM-SUMMARY ... n=N round=R ... stale=S ... (cycle=C in the soak)
        read -r n round cycle stale version < <(tr ' ' '\n' <<<"$line" | awk -F= '
            { v[$1] = substr($0, index($0, "=") + 1) }
            END { print v["n"], v["round"], (v["cycle"] == "" ? 1 : v["cycle"]), v["stale"], v["version"] }')
        tag=r$round-c$cycle
        if ! { [ -s "$a/perf-$tag-storm-dso.txt" ] && [ -s "$a/perf-$tag-idle-dso.txt" ]; } \
            && ! { [ -s "$a/strace-$tag-storm.txt" ] && [ -s "$a/strace-$tag-idle.txt" ]; }; then
            echo "== $run $tag: no perf or strace reports"; continue
        fi
        win() { grep -a "^PERF-WINDOW name=$tag-$1 " "$log" | tail -n1 | sed -n "s/.* $2=\([0-9.]*\).*/\1/p"; }
        is=$(win idle span_s); ss=$(win storm span_s); hz=$(win storm hz)
        if ! [[ $stale =~ ^[0-9]+$ && $n =~ ^[0-9]+$ ]] || [ "$stale" -ge "$n" ]; then
            echo "== $run $tag: stale $stale of $n: nothing reaped to divide by"; continue
        fi
        if [ -z "$is" ] || [ -z "$ss" ] || [ "$is" = 0.000 ]; then
            echo "== $run $tag: a window is missing (no PERF-WINDOW line: perf did not ack?)"; continue
        fi
        reaped=$(( n - stale ))
        tool="$hz Hz"; [ -n "$hz" ] || tool="strace -c: schedstat and wake-ups inflated by strace's stops"
        echo
        echo "== $run $tag: openvpn $version, N=$n, reaped $reaped; idle window ${is}s, storm window ${ss}s, $tool"
        # the server's CPU by schedstat and its wake-ups (voluntary context switches), same windows
        awk -v is="$is" -v ss="$ss" -v ci="$(win idle schedstat_ms)" -v cs="$(win storm schedstat_ms)" \
            -v wi="$(win idle wakeups)" -v ws="$(win storm wakeups)" -v reaped="$reaped" 'BEGIN {
            r = ss / is
            if (ci != "" && cs != "")
                printf "  schedstat: idle %d ms (%.1f ms/s), storm %d ms; net %.3f ms per reaped\n", ci, ci / is, cs, (cs - ci * r) / reaped
            if (wi != "" && ws != "")
                printf "  wake-ups: idle %d (%.1f/s), storm %d; net %.2f per reaped\n", wi, wi / is, ws, (ws - wi * r) / reaped
        }'
        if [ -s "$a/strace-$tag-storm.txt" ]; then
            # strace -c: "% time  seconds  usecs/call  calls  [errors]  syscall"
            awk -v is="$is" -v ss="$ss" -v reaped="$reaped" '
                FNR == 1 { f++ }
                $1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { c[f, $NF] += $4; k[$NF] = 1 }
                END { r = ss / is
                    printf "  %-16s %8s %8s %10s\n", "system call", "storm", "idle", "net/reaped"
                    for (x in k) printf "  %-16s %8d %8d %10.2f\n", x, c[2, x], c[1, x], (c[2, x] - c[1, x] * r) / reaped | "sort -k4 -g -r"
                }' "$a/strace-$tag-idle.txt" "$a/strace-$tag-storm.txt"
        fi
        [ -s "$a/perf-$tag-storm-dso.txt" ] || continue
        for kind in dso sym; do
            awk -v is="$is" -v ss="$ss" -v hz="$hz" -v reaped="$reaped" -v kind="$kind" -v top="$top" '
                FNR == 1 { f++ }
                /^#/ || NF < 3 || $2 !~ /^[0-9]+$/ { next }
                { key = $3; if (kind == "sym") { key = $3 " " $4; for (i = 5; i <= NF; i++) key = key " " $i }
                  if (f == 1) idle[key] += $2; else storm[key] += $2; keys[key] = 1
                  if (f == 1) ti += $2; else ts += $2 }
                END {
                    r = ss / is
                    if (kind == "dso")
                        printf "  all: idle %d samples (%.1f ms/s), storm %d samples; net %.0f samples = %.3f ms per reaped\n",
                            ti, ti * 1000 / hz / is, ts, ts - ti * r, (ts - ti * r) * 1000 / hz / reaped
                    printf "  %-9s %8s %8s %9s  %s\n", "ms/reaped", "storm", "idle", "idle ms/s", (kind == "dso" ? "dso" : "dso [k/.] symbol")
                    for (k in keys) { net[k] = storm[k] - idle[k] * r }
                    n = 0
                    for (k in keys) order[++n] = k
                    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (net[order[j]] > net[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
                    for (i = 1; i <= n && i <= top; i++) { k = order[i]
                        printf "  %9.4f %8d %8d %9.2f  %s\n", net[k] * 1000 / hz / reaped, storm[k], idle[k], idle[k] * 1000 / hz / is, k }
                }' "$a/perf-$tag-idle-$kind.txt" "$a/perf-$tag-storm-$kind.txt"
        done
    done < <(grep -a '^DCO-STORM-SUMMARY ' "$log" || true)
done
[ -n "$found" ] || echo "no DCO-STORM-SUMMARY line in $d/*.log"
} | tee "$d/profile.txt"
