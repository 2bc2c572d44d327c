#!/bin/bash
# Fetch the archive's openvpn $BASE_VERSION source of the target (trixie: 2.6.14-1+deb13u3,
# bookworm: 2.6.14-0+deb12u2) and, with --debs, its amd64 .debs for the lintian baseline, into
# $SRC_CACHE with a private apt configuration, then verify the pinned
# SHA256 of the three source files and the .dsc signature. Cached files are re-verified each run.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

mkdir -p "$SRC_CACHE"
missing=0
for f in "${PINNED_FILES[@]}"; do [[ -f $SRC_CACHE/$f ]] || missing=1; done
want_debs=0
[[ ${1:-} == --debs ]] && want_debs=1
if [[ $want_debs == 1 ]] && ! compgen -G "$SRC_CACHE/debs/${SRC_NAME}_${BASE_VERSION}_amd64.deb" >/dev/null; then
    missing=1
fi

if [[ $missing == 1 ]]; then
    need apt-get
    step "downloading $SRC_NAME $BASE_VERSION from the archive (private apt config in $APT_DIR)"
    apt_private update >/dev/null
    tmp=$(mktemp -d "$SRC_CACHE/.download.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt_private source --download-only "$SRC_NAME=$BASE_VERSION")
    for f in "${PINNED_FILES[@]}"; do
        [[ -f $SRC_CACHE/$f ]] || mv "$tmp/$f" "$SRC_CACHE/$f"
    done
    if [[ $want_debs == 1 ]]; then
        mkdir -p "$tmp/debs"
        (cd "$tmp/debs" && apt_private download "$SRC_NAME=$BASE_VERSION")
        mkdir -p "$SRC_CACHE/debs" && mv "$tmp"/debs/*.deb "$SRC_CACHE/debs/"
    fi
    step_done
fi

step "verifying pinned SHA256 of the $BASE_VERSION source"
verify_sources "$SRC_CACHE" || die "the cached $BASE_VERSION source does not match the pinned checksums"
for f in "${PINNED_FILES[@]}"; do info "OK  ${PINNED[$f]}  $f"; done
if [[ -f /usr/share/keyrings/debian-keyring.gpg ]] && command -v dscverify >/dev/null; then
    dscverify --no-conf --keyring /usr/share/keyrings/debian-keyring.gpg "$SRC_CACHE/$BASE_DSC" >/dev/null \
        || die "dscverify: bad or unknown signature on $SRC_CACHE/$BASE_DSC"
    info "OK  .dsc signature (debian-keyring)"
else
    info "debian-keyring not installed: .dsc signature not checked (the pinned SHA256 still is)"
fi
step_done
