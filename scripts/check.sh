#!/bin/bash
# check.sh: README command 2 (`make check`). Makes sure out/ holds the package for the current
# inputs (scripts/package.sh: quick when unchanged), then runs every check group in order,
# continuing after failures, and prints the summary as the last line:
#   N passed, N failed, N skipped
# Exit status: non-zero if any check failed or none ran.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

mkdir -p "$OUT/check"
: > "$RESULTS"
t0=$(date +%s)

step "package (built if out/ lacks it or inputs changed; log: out/check/package.log)"
if "$TOP/scripts/package.sh" 2>&1 | tee "$OUT/check/package.log" | grep --line-buffered '^==>' | sed -u 's/^/    /'; then
    result PASS package "out/ holds the $NEW_VERSION build ($(tail -n1 "$OUT/check/package.log" | sed 's/^ *//'))"
else
    tail -n 25 "$OUT/check/package.log"
    result FAIL package "scripts/package.sh failed; see out/check/package.log"
fi
step_done

# Check groups, in order; the ones owned by other work items run when their script exists.
groups=(check-pipeline.sh check-repo.sh piuparts.sh unit-tests.sh vm-check.sh vm-archive-tests.sh vm-upgrade.sh)
for g in "${groups[@]}"; do
    if [[ ! -x $TOP/scripts/$g ]]; then
        info "scripts/$g not present: group not run"
        continue
    fi
    step "check group scripts/$g"
    fails_before=$(grep -c '^FAIL' "$RESULTS" || true)
    rc=0
    "$TOP/scripts/$g" || rc=$?
    if [[ $rc -ne 0 && $(grep -c '^FAIL' "$RESULTS" || true) -eq $fails_before ]]; then
        result FAIL "$g" "exited $rc without recording a failed check"
    fi
    step_done
done

passed=$(grep -c '^PASS' "$RESULTS" || true)
failed=$(grep -c '^FAIL' "$RESULTS" || true)
skipped=$(grep -c '^SKIP' "$RESULTS" || true)
printf '\n==> results (%s, %ss):\n' "${RESULTS#"$TOP"/}" "$(( $(date +%s) - t0 ))"
column -t -s $'\t' "$RESULTS" 2>/dev/null | cut -c1-160 | sed 's/^/    /' || sed 's/^/    /' "$RESULTS"
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 && $((passed + skipped)) -gt 0 ]]
