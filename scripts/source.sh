#!/bin/bash
# source.sh OUTDIR: build the source package openvpn_2.6.14-1+deb13u4 (.dsc, .debian.tar.xz,
# .orig.tar.gz) into OUTDIR from a freshly materialised tree. Unsigned; reproducible (dpkg-source
# clamps mtimes to the changelog date, and our changelog entry has a fixed date).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

outdir=${1:?usage: source.sh OUTDIR}
work=$BUILD/source
"$TOP/scripts/materialise.sh" "$work/$TREE_NAME"
step "building source package $NEW_DSC"
umask 022
cp "$SRC_CACHE/$ORIG_TAR" "$work/"
(cd "$work" && LC_ALL=C.UTF-8 dpkg-source -b "$TREE_NAME" >/dev/null) || die "dpkg-source -b failed"
mkdir -p "$outdir"
for f in "$NEW_DSC" "${SRC_NAME}_${NEW_VERSION}.debian.tar.xz" "$ORIG_TAR"; do
    mv "$work/$f" "$outdir/$f"
done
rm -rf "$work"
info "$(sha256sum "$outdir/$NEW_DSC" | cut -c1-64)  $NEW_DSC"
step_done
