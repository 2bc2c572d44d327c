#!/bin/bash
# artefacts.sh DIR: release-team artefacts for the build in DIR: the source debdiff against the
# archive's $BASE_VERSION, the target release's lintian on our .dsc + .debs, the same lintian on the
# archive's $BASE_VERSION .dsc + .debs (baseline, cached) and the list of tags that are new compared with it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

dir=${1:?usage: artefacts.sh DIR}
need debdiff
step "debdiff $BASE_VERSION -> $NEW_VERSION"
rc=0
debdiff "$SRC_CACHE/$BASE_DSC" "$dir/$NEW_DSC" > "$dir/$DEBDIFF_NAME" || rc=$?
[[ $rc -le 1 ]] || die "debdiff failed (exit $rc)"   # 1 = differences found, as expected
info "$DEBDIFF_NAME: $(diffstat -s "$dir/$DEBDIFF_NAME" 2>/dev/null || wc -l < "$dir/$DEBDIFF_NAME")"
step_done

baseline=$SRC_CACHE/lintian-baseline.txt
if [[ ! -s $baseline ]]; then
    step "lintian baseline: $SUITE's lintian on the archive's $BASE_VERSION .dsc + .debs"
    "$TOP/scripts/fetch.sh" --debs >/dev/null
    run_lintian "$baseline.new" "$SRC_CACHE/$BASE_DSC" "$SRC_CACHE/${PINNED_FILES[1]}" \
        "$SRC_CACHE/${PINNED_FILES[2]}" "$SRC_CACHE"/debs/*.deb
    mv "$baseline.new" "$baseline"
    step_done
fi
cp "$baseline" "$dir/lintian-$BASE_VERSION-baseline.txt"

step "lintian ($SUITE) on $NEW_VERSION .dsc + .debs"
run_lintian "$dir/lintian.txt" "$dir/$NEW_DSC" "$dir/$ORIG_TAR" \
    "$dir/${SRC_NAME}_${NEW_VERSION}.debian.tar.xz" "$dir"/*.deb
allow=$TOP/scripts/lintian-new-tags.allow
new=$dir/lintian-new-tags.txt
{
    echo "# lintian tags of $NEW_VERSION that $BASE_VERSION (archive) does not have"
    echo "# EXPLAINED = justified in scripts/lintian-new-tags.allow and README.md; UNEXPLAINED = needs a fix"
    comm -13 <(lintian_tags "$baseline") <(lintian_tags "$dir/lintian.txt") | while IFS= read -r t; do
        tag=${t##* }
        why=$(awk -v t="$tag" '$1 == t { $1 = ""; sub(/^ +/, ""); print; exit }' "$allow")
        if [[ -n $why ]]; then printf 'EXPLAINED\t%s\t%s\n' "$t" "$why"
        else printf 'UNEXPLAINED\t%s\n' "$t"; fi
    done
} > "$new"
info "$(grep -c '^[EWIPX]: ' "$dir/lintian.txt" || true) lintian lines; new tags: $(grep -cv '^#' "$new" || true), unexplained: $(grep -c '^UNEXPLAINED' "$new" || true)"
grep -v '^#' "$new" | sed 's/^/    /' || true
step_done
