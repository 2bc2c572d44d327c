#!/bin/bash
# dco-dkms.sh [all|source|build|dkms-check]: bookworm's kernel module package openvpn-dco-dkms
# 0.0+git20231103-1~deb12u2 (the archive's deb12u1 + the two upstream ovpn-dco fixes for #1140548
# that trixie's 0.0+git20241121-1+deb13u1 carries) into out/bookworm/dco-dkms/:
#   source      fetch with a private apt configuration and verify (pinned SHA256) the archive's
#               deb12u1 .dsc (+ signature), .orig.tar.gz, .debian.tar.xz and _all.deb, and trixie's
#               deb13u1 .debian.tar.xz; overlay targets/bookworm/dco-dkms/ (changelog entry, series,
#               DEP-3 fields; the two patch files are read from the verified trixie tarball: they
#               are Debian's and never stored in this repository); quilt push -a (no fuzz, no
#               offset); dpkg-source -b; debdiff deb12u1 -> deb12u2.
#   build       sbuild (unshare) in $CACHE/env/bookworm-amd64.tar.zst (TARGET=bookworm env.sh makes
#               it) in its own job directory; bookworm's lintian when its chroot exists.
#   dkms-check  a bookworm chroot (mmdebstrap, unshare) with bookworm-security's linux-headers-amd64,
#               dkms and the built .deb: dkms build for that kernel, modinfo of ovpn-dco-v2.ko.
#   all         the three (default).
# The orig tarball: the archive's (pinned) is tried first. When the mirror answers 404 for it
# (this one does), a reconstructed orig is made from the deb12u1 .deb's /usr/src tree (identical
# to upstream ovpn-dco 0613e718 for everything the package installs) and the .dsc is for TESTING
# ONLY (ORIG-RECONSTRUCTED.txt says why): rerun where the archive's orig is reachable for the
# upload .dsc. Results: lib.sh `result` lines (dco-dkms-*).
# Environment: HEAVY_LOCK=FILE runs sbuild/mmdebstrap under `flock FILE`; DKMS_OUT (default
# out/bookworm/dco-dkms); DEBFULLNAME/DEBEMAIL for the changelog trailer (as materialise.sh);
# MIRROR/SECURITY_MIRROR (else the host's apt sources).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

MODE=${1:-all}
case $MODE in all|source|build|dkms-check) ;; *) die "usage: dco-dkms.sh [all|source|build|dkms-check]" ;; esac

# ---- what we build, and the archive's files it starts from (sha256 from the signed indices) -----
D_SRC=openvpn-dco-dkms
D_UPSTREAM=0.0+git20231103
D_BASE=$D_UPSTREAM-1~deb12u1
D_NEW=$D_UPSTREAM-1~deb12u2
D_TRIXIE=0.0+git20241121-1+deb13u1
# deb12u1 went to "bookworm" (a point release, 2024). Bookworm is LTS now: no point releases, so
# ~deb12u2 goes to bookworm-security, like our openvpn 2.6.14-0+deb12u3 (targets/bookworm).
D_DIST=bookworm-security
D_MODULE=ovpn-dco            # dkms.conf PACKAGE_NAME; the built module is ovpn-dco-v2.ko
D_KO=ovpn-dco-v2

BASE_DSC_F=${D_SRC}_$D_BASE.dsc
BASE_DEBIAN_F=${D_SRC}_$D_BASE.debian.tar.xz
ORIG_F=${D_SRC}_$D_UPSTREAM.orig.tar.gz
TRIXIE_DEBIAN_F=${D_SRC}_$D_TRIXIE.debian.tar.xz
BASE_DEB_F=${D_SRC}_${D_BASE}_all.deb
NEW_DSC_F=${D_SRC}_$D_NEW.dsc
NEW_DEBIAN_F=${D_SRC}_$D_NEW.debian.tar.xz
NEW_DEB_F=${D_SRC}_${D_NEW}_all.deb
DEBDIFF_F=${D_SRC}_${D_BASE}_to_deb12u2.debdiff

declare -A D_PIN=(
    ["$BASE_DSC_F"]=ae0b3c7f8e220a4283ac95e3342f0dd28cdcbd5b9e647b0562e509b5d9839ee7
    ["$ORIG_F"]=b258b52669ebdbf345415a1cb1ce03a32e42bec2f5d857001e4ccf4eb8e93ed7
    ["$BASE_DEBIAN_F"]=d4cf1c35b24d6dcd41e5892a54d2c6fc20ef97ae385016ae595785c12a9b5f5e
    ["$TRIXIE_DEBIAN_F"]=fd2f8705e8912e86f74856929464fab9c8d404412ef8ee1547e3d6cdaf12cc60
    ["$BASE_DEB_F"]=8e84e1a7091a55b970019bfa3f5398965a2d18f45091b5ba9263a54b71ccd0a6
)
# Fetched and verified every run; the orig is handled on its own (it may be missing, see above).
D_FILES=("$BASE_DSC_F" "$BASE_DEBIAN_F" "$TRIXIE_DEBIAN_F" "$BASE_DEB_F")

OVERLAY=$TOP/targets/bookworm/dco-dkms
D_OUT=${DKMS_OUT:-$TOP/out/bookworm/dco-dkms}
D_BUILD=$TOP/build/bookworm/dco-dkms
D_CACHE=$CACHE/src-dco-dkms            # verified downloads only
D_APT=$CACHE/apt-dco-dkms              # private apt configuration (the host's /etc/apt is untouched)
D_TARBALL=$CACHE/env/bookworm-amd64.tar.zst
D_LINTIAN_ROOT=$CACHE/env/lintian-root-bookworm
D_JOB=$WORK/sbuild-dco-dkms            # our own: the openvpn builds use $WORK/sbuild*
TREE=$D_BUILD/$D_SRC-$D_UPSTREAM
RECON_NOTE=$D_OUT/ORIG-RECONSTRUCTED.txt

# heavy CMD...: CMD (a command or function) holding `flock $HEAVY_LOCK` when HEAVY_LOCK is set:
# one heavy job (sbuild, mmdebstrap, VM) at a time on the host.
heavy() {
    [[ -n ${HEAVY_LOCK:-} ]] || { "$@"; return; }
    local rc=0
    exec 9>>"$HEAVY_LOCK"
    flock -n 9 || { info "waiting for $HEAVY_LOCK"; flock 9; }
    "$@" 9>&- || rc=$?
    flock -u 9
    exec 9>&-
    return $rc
}

# publish FILE DEST: FILE copied to DEST atomically (helper-made VM images read the .deb from
# out/bookworm/dco-dkms/ at any time: it is replaced, never removed while a build runs).
publish() {
    cp "$1" "$2.tmp.$$"
    mv -f "$2.tmp.$$" "$2"
}

# ---- private apt ---------------------------------------------------------------------------------
d_apt_opts() {
    D_APT_OPTS=(-o Dir::Etc::SourceList="$D_APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
        -o Dir::State::Lists="$D_APT/lists" -o Dir::Cache="$D_APT/cache"
        -o Dir::State::status=/dev/null -o APT::Architectures=amd64 -o APT::Sandbox::User=root)
}

# d_apt ARGS...: apt-get with bookworm (deb, deb-src) and trixie (deb-src) from the host's mirror.
d_apt() {
    need_mirrors
    mkdir -p "$D_APT/lists/partial" "$D_APT/cache/archives/partial"
    local k='[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]'
    cat > "$D_APT/sources.list.$$" <<EOF
deb $k $MIRROR bookworm main
deb-src $k $MIRROR bookworm main
deb-src $k $MIRROR trixie main
EOF
    mv "$D_APT/sources.list.$$" "$D_APT/sources.list"
    d_apt_opts
    apt-get -q "${D_APT_OPTS[@]}" "$@"
}

# d_download URI FILE SHA256: apt-helper download (apt checks the hash) to FILE. Exit 0 = done,
# 4 = the mirror answered 404, anything else = another failure (its output on stderr).
d_download() {
    local uri=$1 file=$2 sha=$3 log rc=0
    d_apt_opts
    log=$(/usr/lib/apt/apt-helper "${D_APT_OPTS[@]}" download-file "$uri" "$file.part" "SHA256:$sha" 2>&1) || rc=$?
    if [[ $rc -eq 0 ]]; then mv "$file.part" "$file"; return 0; fi
    rm -f "$file.part"
    if grep -qE '(^|[[:space:]])404[[:space:]]+Not Found' <<< "$log"; then return 4; fi
    printf '%s\n' "$log" >&2
    return 1
}

# ---- 1. fetch + verify ---------------------------------------------------------------------------
ORIG_KIND=    # archive | reconstructed

fetch_sources() {
    mkdir -p "$D_CACHE"
    local f missing=0
    for f in "${D_FILES[@]}"; do
        verify_file "$D_CACHE/$f" "${D_PIN[$f]}" 2>/dev/null || { rm -f "$D_CACHE/$f"; missing=1; }
    done
    verify_file "$D_CACHE/$ORIG_F" "${D_PIN[$ORIG_F]}" 2>/dev/null || { rm -f "$D_CACHE/$ORIG_F"; missing=1; }
    if [[ $missing == 1 ]]; then
        need apt-get
        step "downloading $D_SRC $D_BASE (+ its .deb) and trixie's $D_TRIXIE debian.tar.xz (private apt config in $D_APT)"
        d_apt update >/dev/null
        local uris
        uris=$( (cd "$D_CACHE" && d_apt --print-uris source "$D_SRC=$D_BASE" "$D_SRC=$D_TRIXIE" 2>/dev/null \
                 && d_apt --print-uris download "$D_SRC=$D_BASE" 2>/dev/null) | grep "^'" ) \
            || die "apt does not know $D_SRC $D_BASE / $D_TRIXIE (mirror: $MIRROR)"
        local uri size sum rc
        for f in "${D_FILES[@]}" "$ORIG_F"; do
            [[ -f $D_CACHE/$f ]] && continue
            read -r uri _ size sum < <(awk -v n="$f" '$2 == n' <<< "$uris") || true
            [[ -n ${uri:-} ]] || die "apt's indices list no $f"
            uri=${uri//\'/}
            # the signed index must agree with our pin (else the archive changed: investigate)
            [[ $sum == "SHA256:${D_PIN[$f]}" ]] || die "the archive's index gives $f as $sum, we pin ${D_PIN[$f]}"
            rc=0
            d_download "$uri" "$D_CACHE/$f" "${D_PIN[$f]}" || rc=$?
            if [[ $rc -eq 4 && $f == "$ORIG_F" ]]; then
                info "!! the mirror answers 404 for $f ($size bytes, sha256 ${D_PIN[$f]})"
            elif [[ $rc -ne 0 ]]; then
                die "downloading $f failed (${uri})"
            else
                info "downloaded $f"
            fi
            uri='' size='' sum=''
        done
        step_done
    fi

    step "verifying pinned SHA256 of the $D_SRC files"
    for f in "${D_FILES[@]}"; do
        verify_file "$D_CACHE/$f" "${D_PIN[$f]}" || die "$f does not match its pinned checksum"
        info "OK  ${D_PIN[$f]}  $f"
    done
    if [[ -f /usr/share/keyrings/debian-keyring.gpg ]] && command -v gpgv >/dev/null; then
        gpgv --keyring /usr/share/keyrings/debian-keyring.gpg "$D_CACHE/$BASE_DSC_F" >/dev/null 2>&1 \
            || die "gpgv: bad or unknown signature on $D_CACHE/$BASE_DSC_F"
        info "OK  $BASE_DSC_F signature (debian-keyring)"
    else
        info "debian-keyring not installed: $BASE_DSC_F signature not checked (the pinned SHA256 still is)"
    fi
    # the .dsc must list the pinned orig and debian.tar.xz (it is what a full mirror unpacks)
    for f in "$ORIG_F" "$BASE_DEBIAN_F"; do
        grep -qE "^ ${D_PIN[$f]} [0-9]+ ${f//+/\\+}\$" "$D_CACHE/$BASE_DSC_F" || die "$BASE_DSC_F does not list $f with sha256 ${D_PIN[$f]}"
    done
    result PASS dco-dkms-sources "deb12u1 .dsc, .debian.tar.xz, _all.deb and trixie's deb13u1 .debian.tar.xz match their pinned SHA256"
    if verify_file "$D_CACHE/$ORIG_F" "${D_PIN[$ORIG_F]}" 2>/dev/null; then
        ORIG_KIND=archive
        info "OK  ${D_PIN[$ORIG_F]}  $ORIG_F (the archive's)"
    else
        ORIG_KIND=reconstructed
        info "!! $ORIG_F: the archive's is not reachable; a RECONSTRUCTED orig will be used (test only)"
    fi
    step_done
}

# ---- 2. the orig (the archive's, or reconstructed from the deb12u1 .deb) -------------------------
# The archive's orig (70601 B): one top directory openvpn-dco-dkms-0.0+git20231103/ holding the
# upstream tree itself (d/rules copies compat-include, drivers, include, ... from the top of the
# unpacked source; no d/watch; d/gbp.conf: made with gbp, whose default orig prefix is
# SOURCE-UPSTREAMVERSION/). The deb12u1 .deb's files carry the orig's mtime, 2023-11-11 21:20:11
# UTC (the gbp import, not upstream's 2023-11-03 commit). A `git archive` of upstream 0613e718's
# whole tree with that prefix, that mtime and a commit's pax header, through gzip -6, is 70602 B:
# so the orig most likely also holds README, .gitignore and tests/, which the package does not
# install and the reconstruction cannot have (its exact bytes need the unknown gbp commit id).
RECON_MTIME=2023-11-11T21:20:11Z

reconstruct_orig() {
    local dest=$1 tmp src top=$D_SRC-$D_UPSTREAM
    tmp=$(mktemp -d "$D_BUILD/.recon.XXXXXX")
    dpkg-deb -x "$D_CACHE/$BASE_DEB_F" "$tmp/deb"
    src=$tmp/deb/usr/src/ovpn-dco-$D_UPSTREAM
    [[ -d $src ]] || die "$BASE_DEB_F has no /usr/src/ovpn-dco-$D_UPSTREAM"
    mkdir "$tmp/$top"
    # exactly what d/rules installs; dkms.conf is generated by dh_dkms from debian/dkms
    local f
    for f in compat-include drivers include linux-compat.h Makefile gen-compat-autoconf.sh; do
        [[ -e $src/$f ]] || die "$BASE_DEB_F lacks /usr/src/ovpn-dco-$D_UPSTREAM/$f"
        cp -a "$src/$f" "$tmp/$top/"
    done
    local extra
    extra=$(cd "$src" && find . -mindepth 1 -maxdepth 1 ! -name dkms.conf ! -name compat-include ! -name drivers \
        ! -name include ! -name linux-compat.h ! -name Makefile ! -name gen-compat-autoconf.sh)
    [[ -z $extra ]] || die "$BASE_DEB_F's /usr/src tree has unexpected entries: $extra"
    (cd "$tmp" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$RECON_MTIME" \
        --format=ustar -cf - "$top") | gzip -n -9 > "$dest.new"
    mv "$dest.new" "$dest"
    rm -rf "$tmp"
}

write_recon_note() {
    local sha=$1
    cat > "$RECON_NOTE" <<EOF
THIS SOURCE PACKAGE IS FOR TESTING ONLY - DO NOT UPLOAD IT.

$ORIG_F here is RECONSTRUCTED: the archive's orig
(sha256 ${D_PIN[$ORIG_F]}, 70601 bytes, listed in the
signed $BASE_DSC_F) was not reachable: the mirror answered 404.

The reconstruction (sha256 $sha) holds the deb12u1 .deb's
/usr/src/ovpn-dco-$D_UPSTREAM tree without dkms.conf (= upstream ovpn-dco
0613e71884c92acbb964f36813a810104e525c7f for every file the package installs),
under openvpn-dco-dkms-$D_UPSTREAM/. The module's content is identical, but the bytes differ
from the archive's orig (which most likely also carries upstream's README, .gitignore and
tests/): the archive would reject $NEW_DSC_F as built here (an orig of the
same name with other bytes). The debdiff is against a local rebuild of $D_BASE
(the archive's verified debian.tar.xz) on the same reconstructed orig.

For the upload: run \`make dco-dkms\` (scripts/dco-dkms.sh) where the archive's orig is reachable
(a full mirror, or MIRROR=URI). The script always tries it first and then uses it: the .dsc made
there references the archive's orig and this file is not written.
EOF
}

# ---- 3. overlay, quilt, dpkg-source -b, debdiff ---------------------------------------------------
# dep3_patch PATCH DEP3FILE: PATCH (git format-patch output) with the fields of DEP3FILE added at
# the end of its mail header (after From:, Date:, Subject:, which stay upstream's), on stdout.
dep3_patch() {
    awk -v fields="$2" '
        !done && /^$/ { while ((getline l < fields) > 0) print l; done = 1 }
        { print }' "$1"
}

make_source() {
    need dpkg-source dpkg-parsechangelog quilt debdiff patch
    umask 022
    export LC_ALL=C.UTF-8
    rm -rf "$D_BUILD"
    mkdir -p "$D_BUILD" "$D_OUT"
    rm -f "$D_OUT/$DEBDIFF_F" "$RECON_NOTE"

    # the base source: the archive's deb12u1, or a local rebuild of it on the reconstructed orig
    local base=$D_BUILD/base base_dsc orig_sha
    mkdir -p "$base"
    if [[ $ORIG_KIND == archive ]]; then
        cp "$D_CACHE/$BASE_DSC_F" "$D_CACHE/$BASE_DEBIAN_F" "$D_CACHE/$ORIG_F" "$base/"
    else
        step "RECONSTRUCTING $ORIG_F from $BASE_DEB_F (the archive's orig is not reachable)"
        reconstruct_orig "$base/$ORIG_F"
        orig_sha=$(sha256sum < "$base/$ORIG_F" | cut -d' ' -f1)
        info "reconstructed $ORIG_F: $(stat -c %s "$base/$ORIG_F") bytes, sha256 $orig_sha"
        # local deb12u1: reconstructed orig + the archive's verified deb12u1 debian/ (for debdiff)
        mkdir "$base/src"
        cp "$base/$ORIG_F" "$base/src/"
        tar -xzf "$base/$ORIG_F" -C "$base/src"
        tar -xJf "$D_CACHE/$BASE_DEBIAN_F" -C "$base/src/$D_SRC-$D_UPSTREAM"
        (cd "$base/src" && dpkg-source -b "$D_SRC-$D_UPSTREAM" >/dev/null && mv "$BASE_DSC_F" "$BASE_DEBIAN_F" "$base/") \
            || die "dpkg-source -b of the local $D_BASE failed"
        rm -rf "$base/src"
        write_recon_note "$orig_sha"
        step_done
    fi
    base_dsc=$base/$BASE_DSC_F

    local placeholder=0
    uploader_identity || placeholder=1
    step "materialising $TREE ($D_NEW)"
    [[ $placeholder == 0 ]] || printf 'WARNING: no uploader identity (DEBFULLNAME/DEBEMAIL): the changelog trailer carries the placeholder; do NOT upload this build.\n' >&2
    info "changelog trailer: $UPLOADER"
    dpkg-source --no-check -x --skip-patches "$base_dsc" "$TREE" >/dev/null
    cd "$TREE" || die "cannot enter $TREE"

    local entry=$OVERLAY/changelog.entry line
    [[ $(grep -c '^ -- @UPLOADER@  ' "$entry") == 1 ]] || die "$entry needs exactly one trailer ' -- @UPLOADER@  DATE'"
    {
        while IFS= read -r line || [[ -n $line ]]; do
            printf '%s\n' "${line//@UPLOADER@/"$UPLOADER"}"
        done < "$entry"
        echo
        cat debian/changelog
    } > debian/changelog.new
    mv debian/changelog.new debian/changelog
    [[ $(dpkg-parsechangelog -SVersion) == "$D_NEW" ]] || die "$entry is not version $D_NEW"
    [[ $(dpkg-parsechangelog -SDistribution) == "$D_DIST" ]] || die "$entry is not for $D_DIST"

    # the patches: Debian's files from trixie's verified deb13u1 debian.tar.xz, DEP-3 fields added
    [[ ! -e debian/patches ]] || die "$D_BASE unexpectedly has debian/patches"
    mkdir -p debian/patches
    local p sha ours=()
    while read -r p; do
        [[ -z $p || $p == \#* ]] && continue
        ours+=("$p")
        [[ -f $OVERLAY/$p.dep3 ]] || die "$OVERLAY/$p.dep3 missing"
        tar -xJf "$D_CACHE/$TRIXIE_DEBIAN_F" -O "debian/patches/$p" > "$D_BUILD/$p.orig" \
            || die "trixie's $TRIXIE_DEBIAN_F has no debian/patches/$p"
        # the file must be the upstream commit the DEP-3 Origin names
        sha=$(sed -n 's|^Origin: upstream, https://github.com/OpenVPN/ovpn-dco/commit/\([0-9a-f]\{40\}\)$|\1|p' "$OVERLAY/$p.dep3")
        [[ -n $sha ]] || die "$OVERLAY/$p.dep3 has no 'Origin: upstream, <ovpn-dco commit URL>'"
        [[ $(head -n1 "$D_BUILD/$p.orig") == "From $sha "* ]] || die "trixie's $p is not ovpn-dco commit $sha"
        dep3_patch "$D_BUILD/$p.orig" "$OVERLAY/$p.dep3" > "debian/patches/$p"
        echo "$p" >> debian/patches/series
        info "$p: ovpn-dco $sha, DEP-3 fields added"
    done < "$OVERLAY/series"
    # trixie applies the same two, in the same order
    diff -q <(tar -xJf "$D_CACHE/$TRIXIE_DEBIAN_F" -O debian/patches/series | grep -v '^#') debian/patches/series >/dev/null \
        || die "trixie's $D_TRIXIE series differs from $OVERLAY/series"
    step_done

    step "quilt push -a --fuzz=0"
    local log
    log=$(quilt --quiltrc="$QUILTRC" push -a --fuzz=0 2>&1) || { echo "$log"; die "quilt push -a failed"; }
    printf '%s\n' "$log" | tee "$D_OUT/quilt-push.txt" | sed 's/^/    /'
    if grep -qiE 'fuzz|offset|hunk' <<< "$log"; then
        result FAIL dco-dkms-quilt "fuzz or offset in quilt push -a (see $D_OUT/quilt-push.txt)"
        die "the patches do not apply exactly"
    fi
    [[ $(grep -c '^Applying patch' <<< "$log") == "${#ours[@]}" ]] || die "quilt applied $(grep -c '^Applying patch' <<< "$log") patches, expected ${#ours[@]}"
    result PASS dco-dkms-quilt "${#ours[@]} patches, no fuzz, no offset"
    # the fixes are in the tree: notify before release; the NAPI mutex
    local peer=drivers/net/ovpn-dco/peer.c
    if grep -Pzq 'ovpn_netlink_notify_del_peer\(peer\);\n\tovpn_peer_release\(peer\);' "$peer" \
        && grep -q 'struct mutex napi_lock;' drivers/net/ovpn-dco/ovpnstruct.h; then
        info "patched tree: DEL_PEER notified before ovpn_peer_release(); napi_lock in ovpn_struct"
    else
        die "the patched tree does not carry both fixes"
    fi
    step_done

    step "dpkg-source -b ($NEW_DSC_F)"
    cp "$base/$ORIG_F" "$D_BUILD/"
    (cd "$D_BUILD" && dpkg-source -b "$D_SRC-$D_UPSTREAM" >/dev/null) || die "dpkg-source -b failed"
    for f in "$NEW_DSC_F" "$NEW_DEBIAN_F" "$ORIG_F"; do publish "$D_BUILD/$f" "$D_OUT/$f"; done
    for f in "$NEW_DSC_F" "$NEW_DEBIAN_F" "$ORIG_F"; do info "$(sha256sum "$D_OUT/$f" | cut -c1-64)  $f"; done
    step_done

    step "debdiff $D_BASE -> $D_NEW"
    local rc=0
    debdiff "$base_dsc" "$D_OUT/$NEW_DSC_F" > "$D_OUT/$DEBDIFF_F" || rc=$?
    [[ $rc -le 1 ]] || die "debdiff failed (exit $rc)"
    if [[ $ORIG_KIND == reconstructed ]]; then
        sed -i "1i # TEST ONLY: both sides unpacked on the RECONSTRUCTED orig (see ORIG-RECONSTRUCTED.txt);\n# $D_BASE here is the archive's verified debian.tar.xz on that orig, rebuilt locally." "$D_OUT/$DEBDIFF_F"
    fi
    info "$DEBDIFF_F: $(diffstat -s "$D_OUT/$DEBDIFF_F" 2>/dev/null || wc -l < "$D_OUT/$DEBDIFF_F")"
    # only debian/ may change
    if grep -E '^\+\+\+ ' "$D_OUT/$DEBDIFF_F" | grep -vqE '^\+\+\+ [^/]+/debian/'; then
        die "the debdiff touches files outside debian/"
    fi
    step_done
    cd "$TOP" || die "cannot enter $TOP"

    if [[ $ORIG_KIND == archive ]]; then
        result PASS dco-dkms-orig "the archive's orig (sha256 ${D_PIN[$ORIG_F]})"
    else
        result SKIP dco-dkms-orig "archive's orig not reachable (404): .dsc built on a RECONSTRUCTED orig, test only (ORIG-RECONSTRUCTED.txt)"
        loud_recon_warning
    fi
}

loud_recon_warning() {
    [[ -f $RECON_NOTE ]] || return 0
    printf '\n' >&2
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
    printf '!! %s: RECONSTRUCTED ORIG - TEST ONLY, DO NOT UPLOAD\n' "$NEW_DSC_F" >&2
    printf '!! %s\n' "$RECON_NOTE" >&2
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
}

# ---- 4. sbuild + lintian -------------------------------------------------------------------------
build_binary() {
    need sbuild
    [[ -f $D_OUT/$NEW_DSC_F ]] || die "$D_OUT/$NEW_DSC_F not found (run: scripts/dco-dkms.sh source)"
    [[ -s $D_TARBALL ]] || die "no bookworm build tarball $D_TARBALL (TARGET=bookworm scripts/env.sh creates it)"
    ensure_build_user
    rm -rf "$D_JOB"
    as_builder mkdir -p "$D_JOB/in" "$D_JOB/out"
    cp "$D_OUT/$NEW_DSC_F" "$D_OUT/$NEW_DEBIAN_F" "$D_OUT/$ORIG_F" "$D_JOB/in/"
    chmod a+rX -R "$D_JOB/in"

    step "sbuild: $D_SRC $D_NEW for bookworm (arch all; log: $D_JOB/out/)"
    local rc=0 t0 log
    t0=$(date +%s)
    heavy as_builder sbuild --chroot-mode=unshare --chroot="$D_TARBALL" --dist="$D_DIST" --arch=amd64 \
        --arch-all --no-arch-any --no-run-lintian --no-run-piuparts --no-run-autopkgtest \
        --no-source-only-changes --build-dir="$D_JOB/out" "$D_JOB/in/$NEW_DSC_F" > "$D_JOB/sbuild.out" 2>&1 || rc=$?
    log=$(find "$D_JOB/out" -maxdepth 1 -type f -name "${D_SRC}_${D_NEW}_*.build" | head -n1)
    [[ -z $log ]] || publish "$log" "$D_OUT/${D_SRC}_${D_NEW}_amd64.build"
    if [[ $rc -ne 0 ]]; then
        rm -f "$D_OUT/$NEW_DEB_F"   # an older build's .deb does not match this .dsc
        tail -n 30 "${log:-$D_JOB/sbuild.out}" >&2
        result FAIL dco-dkms-sbuild "sbuild failed (exit $rc)"
        die "sbuild failed (exit $rc); full log: ${log:-$D_JOB/sbuild.out}"
    fi
    local f
    [[ -f $D_JOB/out/$NEW_DEB_F ]] || die "sbuild produced no $NEW_DEB_F"
    for f in "$D_JOB"/out/*.deb "$D_JOB"/out/*.buildinfo "$D_JOB"/out/*.changes; do
        [[ -f $f ]] && publish "$f" "$D_OUT/${f##*/}"
    done
    info "$(sha256sum "$D_OUT/$NEW_DEB_F" | cut -c1-64)  $NEW_DEB_F"
    info "sbuild took $(( $(date +%s) - t0 ))s (with the lock wait); $(grep -m1 -E '^Build-Time' "$D_OUT/${D_SRC}_${D_NEW}_amd64.build" || true)"
    result PASS dco-dkms-sbuild "$NEW_DEB_F built in bookworm"
    step_done

    # binary debdiff against the archive's deb12u1 .deb (file list, control fields)
    if [[ -f $D_CACHE/$BASE_DEB_F ]]; then
        local brc=0 bdiff=$D_OUT/${D_SRC}_${D_BASE}_to_deb12u2_all.debdiff
        debdiff "$D_CACHE/$BASE_DEB_F" "$D_OUT/$NEW_DEB_F" > "$bdiff" || brc=$?
        [[ $brc -le 1 ]] || die "debdiff of the .debs failed (exit $brc)"
        info "${bdiff##*/}: $(head -n1 "$bdiff")"
    fi

    # the .deb installs the patched module source
    local x
    x=$(mktemp -d)
    dpkg-deb -x "$D_OUT/$NEW_DEB_F" "$x"
    local s=$x/usr/src/ovpn-dco-$D_UPSTREAM/drivers/net/ovpn-dco
    if grep -Pzq 'ovpn_netlink_notify_del_peer\(peer\);\n\tovpn_peer_release\(peer\);' "$s/peer.c" \
        && grep -q 'struct mutex napi_lock;' "$s/ovpnstruct.h" \
        && grep -q "^PACKAGE_VERSION=\"$D_UPSTREAM\"" "$x/usr/src/ovpn-dco-$D_UPSTREAM/dkms.conf"; then
        result PASS dco-dkms-deb-fixes "/usr/src/ovpn-dco-$D_UPSTREAM carries both #1140548 fixes"
    else
        result FAIL dco-dkms-deb-fixes "the .deb's module source lacks a #1140548 fix"
    fi
    rm -rf "$x"

    if [[ -f $D_LINTIAN_ROOT/.complete ]]; then
        step "lintian (bookworm) on $D_NEW .dsc + .deb"
        LINTIAN_ROOT=$D_LINTIAN_ROOT run_lintian "$D_OUT/lintian.txt" "$D_OUT/$NEW_DSC_F" "$D_OUT/$ORIG_F" \
            "$D_OUT/$NEW_DEBIAN_F" "$D_OUT/$NEW_DEB_F"
        info "$(grep -cE '^[EW]: ' "$D_OUT/lintian.txt" || true) E/W lines:"
        grep -E '^[EWIPX]: ' "$D_OUT/lintian.txt" | sed 's/^/    /' || true
        if grep -qE '^E: ' "$D_OUT/lintian.txt"; then
            result FAIL dco-dkms-lintian "lintian errors (out/bookworm/dco-dkms/lintian.txt)"
        else
            result PASS dco-dkms-lintian "no lintian error ($(grep -cE '^W: ' "$D_OUT/lintian.txt" || true) warnings)"
        fi
        step_done
    else
        info "no bookworm lintian chroot ($D_LINTIAN_ROOT): lintian skipped"
        result SKIP dco-dkms-lintian "no bookworm lintian chroot at $D_LINTIAN_ROOT"
    fi
}

# ---- 5. DKMS build check on bookworm's kernel ----------------------------------------------------
# The local .deb reaches apt inside the chroot through mmdebstrap's file-mirror-automount hooks
# (a path outside the chroot: dpkg, chrooted, could not open it).
# Customize hook (mmdebstrap runs it with the chroot's path as $1): dkms build of ovpn-dco for
# the newest kernel whose headers are installed, modinfo of the built module; everything into
# /root/dkms-check, which the next hook copies out.
# shellcheck disable=SC2016  # expanded by the hook's shell
DKMS_HOOK='set -u; r=$1; o=$r/root/dkms-check; mkdir -p "$o"
kver=$(ls -1 "$r/usr/src" | sed -n "s/^linux-headers-\(.*-amd64\)$/\1/p" | sort -V | tail -n1)
echo "$kver" > "$o/kver"
chroot "$r" dpkg-query -W dkms "linux-headers-$kver" openvpn-dco-dkms > "$o/packages.txt" 2>&1
chroot "$r" dkms status > "$o/status-before.txt" 2>&1
chroot "$r" dkms unbuild -m MODULE -v MVERSION -k "$kver" > "$o/unbuild.txt" 2>&1
rc=0; chroot "$r" dkms build -m MODULE -v MVERSION -k "$kver" > "$o/build.txt" 2>&1 || rc=$?
echo "$rc" > "$o/build.rc"
cp "$r/var/lib/dkms/MODULE/MVERSION/build/make.log" "$o/make.log" 2>/dev/null || true
ko=$(find "$r/var/lib/dkms/MODULE/MVERSION/$kver" -name "KO.ko*" 2>/dev/null | head -n1)
if [ -n "$ko" ]; then cp "$ko" "$o/"; chroot "$r" modinfo "${ko#"$r"}" > "$o/modinfo.txt" 2>&1; fi
chroot "$r" dkms status > "$o/status-after.txt" 2>&1; true'

dkms_check() {
    need mmdebstrap
    [[ -f $D_OUT/$NEW_DEB_F ]] || die "$D_OUT/$NEW_DEB_F not found (run: scripts/dco-dkms.sh build)"
    need_mirrors
    ensure_build_user
    local job=$WORK/dkms-check-dco-dkms res=$D_OUT/dkms-check
    rm -rf "$job" "$res"
    as_builder mkdir -p "$job/result"
    cp "$D_OUT/$NEW_DEB_F" "$job/"
    chmod a+rX -R "$job"
    local hook=${DKMS_HOOK//MODULE/$D_MODULE}
    hook=${hook//MVERSION/$D_UPSTREAM}
    hook=${hook//KO/$D_KO}
    step "DKMS build check: bookworm chroot (mmdebstrap unshare) + bookworm-security linux-headers-amd64 + dkms + $NEW_DEB_F"
    local rc=0 t0
    t0=$(date +%s)
    heavy as_builder mmdebstrap --mode=unshare --variant=apt --arch=amd64 \
        --include=dkms,linux-headers-amd64 --include="$job/$NEW_DEB_F" \
        --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
        --customize-hook="$hook" \
        --customize-hook="copy-out /root/dkms-check $job/result" \
        bookworm /dev/null \
        "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
        "deb $SECURITY_MIRROR bookworm-security main" > "$job/mmdebstrap.log" 2>&1 || rc=$?
    mkdir -p "$res"
    cp "$job/mmdebstrap.log" "$res/"
    [[ ! -d $job/result/dkms-check ]] || cp -r "$job/result/dkms-check/." "$res/"
    info "took $(( $(date +%s) - t0 ))s (with the lock wait); logs in $res/"
    if [[ $rc -ne 0 ]]; then
        tail -n 30 "$job/mmdebstrap.log" >&2
        result FAIL dco-dkms-dkms-build "mmdebstrap failed (exit $rc): $res/mmdebstrap.log"
        return 1
    fi
    local kver brc
    kver=$(cat "$res/kver" 2>/dev/null || true)
    brc=$(cat "$res/build.rc" 2>/dev/null || echo missing)
    sed 's/^/    /' "$res/packages.txt" 2>/dev/null || true
    tail -n 5 "$res/build.txt" 2>/dev/null | sed 's/^/    /' || true
    if [[ $brc != 0 || ! -s $res/modinfo.txt ]]; then
        result FAIL dco-dkms-dkms-build "dkms build for ${kver:-?} failed (exit $brc): $res/build.txt, make.log"
        return 1
    fi
    local vermagic version srcversion
    vermagic=$(sed -n 's/^vermagic:[[:space:]]*//p' "$res/modinfo.txt")
    version=$(sed -n 's/^version:[[:space:]]*//p' "$res/modinfo.txt")
    srcversion=$(sed -n 's/^srcversion:[[:space:]]*//p' "$res/modinfo.txt")
    info "modinfo $D_KO.ko: vermagic: $vermagic"
    info "modinfo $D_KO.ko: version: $version"
    info "modinfo $D_KO.ko: srcversion: $srcversion"
    if [[ $vermagic == "$kver "* ]]; then
        result PASS "dco-dkms-dkms-build" "$D_KO.ko for $kver: vermagic '$vermagic', version '$version', srcversion $srcversion"
    else
        result FAIL "dco-dkms-dkms-build" "$D_KO.ko vermagic '$vermagic' is not for $kver"
        return 1
    fi
}

mkdir -p "$CACHE"
exec 7>>"$CACHE/.dco-dkms.lock"
flock -n 7 || { info "another dco-dkms.sh is running; waiting for it"; flock 7; }

case $MODE in
    all)        fetch_sources; make_source; build_binary; dkms_check ;;
    source)     fetch_sources; make_source ;;
    build)      build_binary ;;
    dkms-check) dkms_check ;;
esac
[[ $MODE == source ]] || loud_recon_warning   # (make_source printed it already)
info "outputs: $D_OUT"
