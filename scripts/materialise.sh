#!/bin/bash
# materialise.sh DEST: unpack the target's verified base source (deb13u3 for trixie, deb12u2 for
# bookworm) into DEST (replacing it), lay our overlay on it (the target's changelog entry, patches +
# series lines, packaging.diff, autopkgtests; targets/$TARGET/ copies win over debian/ ones) and
# apply the whole quilt series: no fuzz anywhere, and no offset in our own patches.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

dest=${1:?usage: materialise.sh DEST_TREE}
need dpkg-source quilt patch
umask 022
export LC_ALL=C.UTF-8
verify_sources "$SRC_CACHE" >/dev/null 2>&1 || "$TOP/scripts/fetch.sh"
ours_text=$(our_patches)   # fails early when series.append names a missing patch
mapfile -t ours <<< "$ours_text"
[[ -n $ours_text ]] || ours=()
((${#ours[@]} > 0)) || info "note: debian/patches/series.append lists no patch"

placeholder_warning() {
    printf 'WARNING: no uploader identity (DEBFULLNAME and DEBEMAIL, as dch reads them, are not both\n' >&2
    printf 'WARNING: set): the changelog trailer carries the placeholder "%s".\n' "$PLACEHOLDER_UPLOADER" >&2
    printf 'WARNING: A package built from this tree must NOT be uploaded. For an upload, set them\n' >&2
    printf 'WARNING: (as for dch), e.g. DEBFULLNAME="Your Name" DEBEMAIL=you@debian.org, and rebuild.\n' >&2
}
placeholder=0
uploader_identity || placeholder=1

step "materialising $dest"
[[ $placeholder == 0 ]] || placeholder_warning
info "changelog trailer: $UPLOADER"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
dpkg-source --no-copy -x --skip-patches "$SRC_CACHE/$BASE_DSC" "$dest" >/dev/null
trap 'rm -rf "$dest"' ERR     # a failed overlay leaves no half-made tree behind
cd "$dest"

# changelog: our stanza on top of Debian's, its trailer's @UPLOADER@ replaced by the identity
# from DEBFULLNAME/DEBEMAIL (the date stays the entry's fixed one: reproducible .dsc bytes)
[[ $(grep -c '^ -- @UPLOADER@  ' "$CHANGELOG_ENTRY") == 1 ]] \
    || die "$CHANGELOG_ENTRY needs exactly one trailer ' -- @UPLOADER@  DATE'"
{
    while IFS= read -r line || [[ -n $line ]]; do
        printf '%s\n' "${line//@UPLOADER@/"$UPLOADER"}"
    done < "$CHANGELOG_ENTRY"
    echo
    cat debian/changelog
} > debian/changelog.new
mv debian/changelog.new debian/changelog
[[ $(dpkg-parsechangelog -SVersion) == "$NEW_VERSION" ]] || die "$CHANGELOG_ENTRY is not version $NEW_VERSION"

# our patches, appended to Debian's series
for p in "${ours[@]}"; do
    [[ ! -e debian/patches/$p ]] || die "our patch $p clashes with a Debian patch of that name"
    cp "$(target_file "patches/$p")" "debian/patches/$p"
    echo "$p" >> debian/patches/series
done

# debian/control + debian/rules changes (exact context: no fuzz)
packaging_diff=$(target_file packaging.diff)
patch -p1 --no-backup-if-mismatch -F0 --quiet < "$packaging_diff" \
    || die "${packaging_diff#"$TOP"/} does not apply cleanly"

# autopkgtests: stanzas appended to debian/tests/control, other files copied in
if [[ -d $TOP/debian/tests ]]; then
    for f in "$TOP"/debian/tests/*; do
        [[ -f $f ]] || continue
        case ${f##*/} in
            control.append) { echo; cat "$f"; } >> debian/tests/control ;;
            control) die "debian/tests/control must not be in the repo (use control.append)" ;;
            *) cp -p "$f" debian/tests/ ;;
        esac
    done
fi

# apply the series; judge every patch's output
quilt_push_checked "${ours[@]}" || die "the series does not apply exactly (see above); refresh our patches (make tree; make refresh-patches)"
trap - ERR
[[ $placeholder == 0 ]] || placeholder_warning
step_done
