#!/bin/bash
# make bench-profile (not in CI): where the server's CPU per reaped instance goes, ours against
# 2.7.8 (issue 9, goal 4). The storm of make bench at N=1024 without stress-ng, one storm per
# build, with perf in the guest (vm-bench.sh BENCH_PERF=1: `perf record -e cpu-clock -g -p` the
# server over an idle window before the block and over the storm), then
# scripts/bench-profile-report.sh: per build, the storm's samples net of the idle rate, per dso
# and symbol, in ms per reaped instance.
#   BENCH_N (1024), BENCH_VARIANTS ("fixed bpo"), BENCH_REPEAT (1 storm), BENCH_DIR
#   (out/bench-profile; a finished run is not repeated: BENCH_FRESH=1 starts over), BENCH_PERF
#   (1: perf; strace: the server's system calls counted over the same windows, strace -c)
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

export BENCH_PERF=${BENCH_PERF:-1} BENCH_CONFIGS=nostress
export BENCH_DIR=${BENCH_DIR:-$OUT/bench-profile}
export BENCH_N=${BENCH_N:-1024} BENCH_VARIANTS=${BENCH_VARIANTS:-fixed bpo} BENCH_REPEAT=${BENCH_REPEAT:-1}
"$TOP/scripts/vm-bench.sh"
"$TOP/scripts/bench-profile-report.sh" "$BENCH_DIR"
