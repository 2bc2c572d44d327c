#!/bin/bash
# repo.sh: `make repo`. A signed apt repository of the built trixie .debs in out/repo/, for
# installing deb13u4 on trixie servers with apt (README "Install on a trixie server"):
#   out/repo/dists/trixie/{InRelease,Release,Release.gpg}, dists/trixie/main/binary-amd64/Packages*
#   out/repo/pool/main/o/openvpn/*.deb
#   out/repo/openvpn-deb13u4.asc      the public key (apt's Signed-By takes an armored .asc)
#   out/repo/openvpn-deb13u4.sources  deb822 source, Signed-By /etc/apt/keyrings/openvpn-deb13u4.asc
#   out/repo/openvpn-deb13u4.pref     apt preferences: only package openvpn pinned to it (990)
# The signing key is generated on first use (ed25519, no passphrase) in $CACHE/repo-key, never in
# git. REPO_URI (default file:/srv/openvpn-deb13u4) is the URI written into the .sources file.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

REPO=${REPO:-$OUT/repo}
REPO_NAME=openvpn-deb13u4
REPO_URI=${REPO_URI:-file:/srv/$REPO_NAME}
REPO_ORIGIN=$REPO_NAME           # the Release Origin the .pref pins ("o=")
KEY_HOME=$CACHE/repo-key         # GNUPGHOME of the signing key
export GNUPGHOME=$KEY_HOME
need apt-ftparchive gpg gzip xz

shopt -s nullglob
debs=("$OUT"/*_"${NEW_VERSION}"_amd64.deb)
shopt -u nullglob
[[ -f $OUT/${SRC_NAME}_${NEW_VERSION}_amd64.deb ]] \
    || die "no $OUT/${SRC_NAME}_${NEW_VERSION}_amd64.deb: run make package first"

trap 'gpgconf --kill gpg-agent 2>/dev/null || true' EXIT

# The signing key: created once, reused (servers that trust it keep working across rebuilds).
if ! gpg --batch --list-secret-keys "$REPO_NAME" >/dev/null 2>&1; then
    step "generating the repository signing key in $KEY_HOME (ed25519, first use)"
    mkdir -p "$KEY_HOME" && chmod 700 "$KEY_HOME"
    gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
        --quick-gen-key "$REPO_NAME local repository (openvpn $NEW_VERSION test builds, $(hostname -s))" ed25519 sign never
    step_done
fi
fpr=$(gpg --batch --with-colons --list-secret-keys "$REPO_NAME" | awk -F: '$1 == "fpr" { print $10; exit }')
[[ -n $fpr ]] || die "no signing key found in $KEY_HOME"

step "apt repository $REPO (${#debs[@]} .debs, suite trixie, component main)"
rm -rf "$REPO.new"
pool=$REPO.new/pool/main/${SRC_NAME:0:1}/$SRC_NAME
bin=$REPO.new/dists/trixie/main/binary-amd64
mkdir -p "$pool" "$bin"
cp "${debs[@]}" "$pool/"
(cd "$REPO.new" && apt-ftparchive packages pool > "dists/trixie/main/binary-amd64/Packages")
gzip -9n -k "$bin/Packages"
xz -k "$bin/Packages"
(cd "$REPO.new/dists/trixie" && apt-ftparchive \
    -o APT::FTPArchive::Release::Origin="$REPO_ORIGIN" \
    -o APT::FTPArchive::Release::Label="openvpn $NEW_VERSION" \
    -o APT::FTPArchive::Release::Suite=trixie -o APT::FTPArchive::Release::Codename=trixie \
    -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
    -o APT::FTPArchive::Release::Description="openvpn $NEW_VERSION for trixie (DCO notification fix, #1140745)" \
    release . > Release.tmp && mv Release.tmp Release)
gpg --batch --quiet --yes --local-user "$fpr" --digest-algo SHA512 --clearsign -o "$REPO.new/dists/trixie/InRelease" "$REPO.new/dists/trixie/Release"
gpg --batch --quiet --yes --local-user "$fpr" --digest-algo SHA512 --armor --detach-sign -o "$REPO.new/dists/trixie/Release.gpg" "$REPO.new/dists/trixie/Release"
gpg --batch --armor --export "$fpr" > "$REPO.new/$REPO_NAME.asc"

cat > "$REPO.new/$REPO_NAME.sources" <<EOF
# openvpn $NEW_VERSION for trixie: copy to /etc/apt/sources.list.d/ (key: /etc/apt/keyrings/$REPO_NAME.asc).
# The repository directory (out/repo of \`make repo\`) is expected at the URI below; for another
# place or HTTP (e.g. \`python3 -m http.server\` in out/repo) change URIs.
Types: deb
URIs: $REPO_URI
Suites: trixie
Components: main
Architectures: amd64
Signed-By: /etc/apt/keyrings/$REPO_NAME.asc
EOF
cat > "$REPO.new/$REPO_NAME.pref" <<EOF
# Copy to /etc/apt/preferences.d/: package openvpn comes from the $REPO_NAME repository
# (Release Origin "$REPO_ORIGIN"), even when the archive has the same or a newer version;
# every other package keeps the normal priorities. Remove it to follow the archive again.
Package: openvpn
Pin: release o=$REPO_ORIGIN
Pin-Priority: 990
EOF
chmod -R a+rX "$REPO.new"
rm -rf "$REPO" && mv "$REPO.new" "$REPO"
info "signed by $fpr"
info "files: $(cd "$REPO" && find . -maxdepth 1 -type f -printf '%f ' ) dists/ pool/"
step_done
