#!/bin/bash
# package.sh: the main job, for the target TARGET (trixie, default; bookworm). Fetch + verify the
# archive's base source, materialise our overlay, build our source package, build the binaries in
# the target release (sbuild), debdiff + lintian; results in out/ (bookworm: out/bookworm/). Inputs unchanged since the last run (same .dsc, build scripts and environment): the
# binary build and artefacts are reused instead of redone.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

t0=$(date +%s)
trap 'echo "ERROR: scripts/package.sh failed (line $LINENO)" >&2' ERR
stage=$BUILD/stage

# Remove every package artefact from out/ (out/check/ is the test report, left alone).
clear_out() {
    mkdir -p "$OUT"
    find "$OUT" -maxdepth 1 -type f -delete
}

"$TOP/scripts/fetch.sh" --debs || { clear_out; die "fetch/verify failed: out/ emptied, nothing was built"; }

rm -rf "$stage"
"$TOP/scripts/source.sh" "$stage"

ensure_env    # create the target's tarball on first use, before it goes into the build key

# What the binary build depends on: the source package, the build scripts, the environment.
build_key=$( { sha256sum "$stage/$NEW_DSC" "$TOP/scripts/build.sh" "$TOP/scripts/pkg-lib.sh" | cut -c1-64
               if [[ -f $TARBALL ]]; then stat -c '%s %Y' "$TARBALL"; fi; } | sha256sum | cut -c1-64)
art_key=$( { echo "$build_key"; sha256sum "$TOP/scripts/artefacts.sh" "$TOP/scripts/lintian-new-tags.allow" | cut -c1-64; } \
           | sha256sum | cut -c1-64)

complete() {
    [[ -f $OUT/$NEW_DSC && -f $OUT/${SRC_NAME}_${NEW_VERSION}_amd64.deb && -f $OUT/${SRC_NAME}_${NEW_VERSION}_amd64.build
       && -f $OUT/$DEBDIFF_NAME && -f $OUT/lintian.txt && -f $OUT/lintian-new-tags.txt ]]
}
if complete && [[ $(cat "$OUT/.build-key" 2>/dev/null) == "$build_key" ]] \
        && cmp -s "$stage/$NEW_DSC" "$OUT/$NEW_DSC"; then
    if [[ $(cat "$OUT/.artefacts-key" 2>/dev/null) == "$art_key" ]]; then
        step "inputs unchanged since the last build: reusing out/ (identical $NEW_DSC)"
        rm -rf "$stage"
        step_done
        info "total $(( $(date +%s) - t0 ))s"
        exit 0
    fi
    step "binaries unchanged: reusing them, redoing debdiff + lintian"
    cp "$OUT"/*.deb "$OUT"/*.buildinfo "$OUT"/*.changes "$OUT/${SRC_NAME}_${NEW_VERSION}_amd64.build" "$stage/"
    step_done
else
    clear_out
    "$TOP/scripts/build.sh" "$stage"
fi
"$TOP/scripts/artefacts.sh" "$stage"

step "publishing results into $OUT"
clear_out
find "$stage" -maxdepth 1 -type f -exec mv -t "$OUT" {} +
echo "$build_key" > "$OUT/.build-key"
echo "$art_key" > "$OUT/.artefacts-key"
rmdir "$stage"
(cd "$OUT" && find . -maxdepth 1 -type f ! -name '.*' -printf '%f\n' | sort | sed 's/^/    /')
step_done
info "total $(( $(date +%s) - t0 ))s"
