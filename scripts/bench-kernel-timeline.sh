#!/bin/bash
# scripts/bench-kernel-timeline.sh RUNDIR...: who paces the drain of each storm, the kernel or
# the server. For every storm of a make bench run (RUNDIR = out/bench/<run>, the autopkgtest
# output directory) it reads the storm's saved kernel log (artifacts/dmesg-<tag>.txt) and the
# server's nclients samples (artifacts/drain-<tag>.csv: ms after the block, nclients, server CPU
# in us) and prints when the kernel sent its DEL_PEER notifications (ovpn-dco and ovpn log
# "deleting peer" as they send one) next to how fast the server's client count fell.
#   t0       the storm's "dco-storm: storm block" line in the kernel log, and the storm's
#            deletions the expiries (reason 2) up to 2 x timeout + margin s after it (the drain's
#            window: DCO_STORM_TIMEOUT/MARGIN of the run's settings.env, else 10 and 20); a log
#            from before that line existed has none: then the times count from the first
#            deletion ("t0=first") and the storm is the latest largest burst of expiries (no gap
#            over 30 s)
#   kernel   number of those lines, first and last (s after t0), how many within 3 s of the
#            first, the rate after that (per s), per-second histogram
#   server   nclients at each sample (s after the block; 1 s apart when idle, 2-6 s under
#            stress at N=1024), and (with the mark) the bounds of the server's lag after the
#            kernel's last notification: from the last sample above 0 to the first at 0; its CPU
#            (/proc/PID/schedstat, in the samples): the rate while idle before the first drop
#            (N instances, no traffic: per-second work over all of them), the reap window as
#            cpu_reap_s counts it, and per reaped instance gross and net of the idle rate
# Needs nothing but awk; a storm is listed for each kernel log its artifacts hold.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 RUNDIR... (out/bench/<run>)" >&2; exit 2; }

for run in "$@"; do
    run=${run%/}
    s=$(dirname "$run")/settings.env
    timeout=$(sed -n 's/^DCO_STORM_TIMEOUT=//p' "$s" 2>/dev/null || true)
    margin=$(sed -n 's/^DCO_STORM_MARGIN=//p' "$s" 2>/dev/null || true)
    window=$(( 2 * ${timeout:-10} + ${margin:-20} ))
    [ -d "$run/artifacts" ] || { echo "$run: no artifacts/ (not a make bench run directory)" >&2; continue; }
    found=
    while read -r d; do
        found=1
        tag=${d##*/dmesg-}; tag=${tag%.txt}
        echo "== ${run##*/} $tag"
        # the drain's samples: when nclients first read 0, and the last sample above 0 before it
        c=$run/artifacts/drain-$tag.csv
        read -r zero nonzero < <(awk -F, '$2 ~ /^[0-9]+$/ { if ($2 == 0) { z = $1 / 1000; exit } nz = $1 / 1000 }
            END { print (z == "" ? "NA" : z), (nz == "" ? "NA" : nz) }' "$c" 2>/dev/null || echo "NA NA")
        awk -v win="$window" -v zero="$zero" -v nonzero="$nonzero" '{ if (!match($0, /^\[ *[0-9]+\.[0-9]+\]/)) next; t = substr($0, 2, RLENGTH - 2) + 0 }
            /dco-storm: storm block/ { b = t; m = 0; next }
            /deleting peer.*reason 2$/ { all[++m] = t }
            END {
                # the storm: with the mark, the expiries within win s after it; without, the
                # largest burst (no gap over 30 s), so a later lone expiry is not taken for it
                n = 0
                if (b != "") { for (i = 1; i <= m; i++) if (all[i] - b <= win) ts[++n] = all[i] }
                else if (m > 0) {
                    bs = 1; best = 0
                    for (i = 2; i <= m + 1; i++) if (i > m || all[i] - all[i - 1] > 30) {
                        if (i - bs >= best) { best = i - bs; from = bs }
                        bs = i }
                    for (i = from; i < from + best; i++) ts[++n] = all[i]
                }
                if (n == 0) { print "  kernel: no expiry (reason 2) deleting-peer lines"; exit }
                first = ts[1]; last = ts[n]; z = (b != "") ? b : first
                burst = 0; for (i = 1; i <= n; i++) { if (ts[i] - first <= 3) burst++; h[int(ts[i] - z)]++ }
                rest = n - burst; dur = last - first - 3
                printf "  kernel: %d DEL_PEER (expired), first %.2f s, last %.2f s after t0=%s; %d within 3 s of the first, then %s\n",
                    n, first - z, last - z, (b != "") ? "block" : "first", burst, (dur > 0 ? sprintf("%.0f/s", rest / dur) : "nothing")
                printf "  kernel per second after t0:"
                for (s = int(first - z); s <= int(last - z); s++) printf " %d:%d", s, h[s] + 0
                printf "\n"
                # the server lag after the last notification lies between the samples around it
                if (b != "" && zero != "NA") {
                    lo = (nonzero == "NA") ? 0 : nonzero - (last - z); if (lo < 0) lo = 0
                    hi = zero - (last - z); if (hi < 0) hi = 0   # a mark written before the block
                    printf "  server: nclients 0 at %.1f s, last above 0 at %s s: lag after the kernel'"'"'s last %.1f-%.1f s\n",
                        zero, (nonzero == "NA") ? "none" : sprintf("%.1f", nonzero), lo, hi }
            }' "$d"
        if [ -s "$c" ]; then
            awk -F, '{ printf "%s%.1f:%s", (NR > 1 ? " " : "  server nclients at s after block: "), $1 / 1000, $2 } END { print "" }' "$c"
            # CPU: the idle rate (first sample to the last before nclients dropped) and the reap
            # window as dco-storm counts cpu_reap_s (that last sample to the one at which
            # nclients last changed), net of the idle rate
            awk -F, '$2 !~ /^[0-9]+$/ { next }
                !s++ { n = $2; t0 = $1; c0 = $3; pt = $1; pc = $3; last = $2; next }
                $2 < n && !d { d = 1; idle = (pt > t0) ? (pc - c0) / (pt - t0) : 0; ft = pt; fc = pc }
                d && $2 != last { lt = $1; lc = $3; ln = $2 }
                { pt = $1; pc = $3; last = $2 }
                END { if (!d || n - ln <= 0) { print "  server CPU: nothing reaped"; exit }
                      w = (lt - ft) / 1000; cpu = (lc - fc) / 1000; r = n - ln
                      printf "  server CPU: %.0f ms/s idle before the first drop; reap window %.1f s, %.0f ms: %.2f ms per reaped instance, %.2f net of the idle rate (%d reaped)\n",
                          idle, w, cpu, cpu / r, (cpu - idle * w) / r, r }' "$c"
        fi
    done < <(find "$run/artifacts" -maxdepth 1 -name 'dmesg-*.txt' | sort -V)
    [ -n "$found" ] || echo "$run: no kernel log in artifacts/"
done
