#!/bin/bash
# Shared helpers for the scripts in this folder: paths, progress output, test results.
# Source it:  . "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2034  # the variables below are used by the scripts that source this file
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# What we build on top of (the archive's version) and what we produce.
BASE_VERSION=2.6.14-1+deb13u3
NEW_VERSION=2.6.14-1+deb13u4
UPSTREAM_VERSION=2.6.14
# Downloads, the trixie build environment and VM images live outside the checkout so that a
# fresh clone (CI) reuses them; everything in there is verified or keyed on its inputs.
CACHE=${CACHE:-/var/cache/openvpn-deb13u4}
OUT=${OUT:-$TOP/out}
BUILD=${BUILD:-$TOP/build}
RESULTS=${RESULTS:-$OUT/check/results.txt}

# step "what is running": prints a timestamped header; step_done prints how long it took.
_step_t0=0
step() { _step_t0=$(date +%s); printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
step_done() { printf '==> done in %ss\n' "$(( $(date +%s) - _step_t0 ))"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
need() { local t; for t in "$@"; do command -v "$t" >/dev/null 2>&1 || die "missing tool '$t' (run: make deps)"; done; }

# result PASS|FAIL|SKIP NAME [DETAIL]: one line per check, summarised by scripts/check.sh.
result() {
    local status=$1 name=$2; shift 2
    mkdir -p "$(dirname "$RESULTS")"
    printf '%s\t%s\t%s\n' "$status" "$name" "$*" >> "$RESULTS"
    printf -- '--- %s: %s%s\n' "$status" "$name" "${*:+ ($*)}"
}
