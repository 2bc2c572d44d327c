#!/bin/bash
# refresh-patches.sh TREE: copy our patches (only those named in debian/patches/series.append)
# from the edited tree (make tree; quilt refresh) back into the repo: into the target's copy
# (targets/$TARGET/patches/) when it has one, else into the shared debian/patches/.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

tree=${1:?usage: refresh-patches.sh TREE}
[[ -f $tree/debian/patches/series ]] || die "$tree is not a materialised tree (run: make tree)"
changed=0
while read -r p; do
    [[ -z $p || $p == \#* ]] && continue
    src=$tree/debian/patches/$p
    [[ -f $src ]] || die "$src not found"
    dst=$(target_file "patches/$p")
    if cmp -s "$src" "$dst"; then
        info "unchanged  ${dst#"$TOP"/}"
    else
        cp "$src" "$dst"
        info "updated    ${dst#"$TOP"/}"
        changed=1
    fi
done < "$TOP/debian/patches/series.append"
# Patches added to the tree's series that are neither Debian's nor listed in series.append.
base_series=$(tar -xOJf "$SRC_CACHE/${PINNED_FILES[2]}" debian/patches/series)
while read -r p; do
    [[ -z $p || $p == \#* ]] && continue
    grep -qxF "$p" <<< "$base_series" && continue
    grep -qxF "$p" "$TOP/debian/patches/series.append" && continue
    info "NOTE: $p is in the tree's series but not in debian/patches/series.append: add it there to ship it"
done < "$tree/debian/patches/series"
if ((changed)); then info "review with: git diff debian/patches/ targets/"; fi
