#!/bin/bash
# Package-pipeline helpers: pinned sources, private apt, the unprivileged build user, the
# cached build environment of the target ($SUITE, from targets/$TARGET/target.sh). Source it after lib.sh:  . "$TOP/scripts/pkg-lib.sh"
# shellcheck disable=SC2034  # variables are used by the scripts that source this file

SRC_NAME=openvpn
BASE_DSC=${SRC_NAME}_${BASE_VERSION}.dsc
NEW_DSC=${SRC_NAME}_${NEW_VERSION}.dsc
ORIG_TAR=${SRC_NAME}_${UPSTREAM_VERSION}.orig.tar.gz
TREE_NAME=${SRC_NAME}-${UPSTREAM_VERSION}
DEBDIFF_NAME=${SRC_NAME}_${BASE_VERSION}_to_${NEW_VERSION##*+}.debdiff

# The archive's source we build on, pinned in targets/$TARGET/target.sh. Anything else in the
# cache is re-verified or rebuilt.
declare -A PINNED=(
    ["$BASE_DSC"]=$PIN_DSC
    ["$ORIG_TAR"]=$PIN_ORIG
    ["${SRC_NAME}_${BASE_VERSION}.debian.tar.xz"]=$PIN_DEBIAN
)
PINNED_FILES=("$BASE_DSC" "$ORIG_TAR" "${SRC_NAME}_${BASE_VERSION}.debian.tar.xz")

SRC_CACHE=$CACHE/src$CACHE_SUFFIX             # verified base source + the archive's base .debs
APT_DIR=$CACHE/apt-pipeline$CACHE_SUFFIX      # private apt configuration (the host's /etc/apt is untouched)
ENV_DIR=$CACHE/env                            # build tarballs + lintian roots
TARBALL=$ENV_DIR/$SUITE-amd64.tar.zst
LINTIAN_ROOT=$ENV_DIR/lintian-root$CACHE_SUFFIX
WORK=$CACHE/work                              # scratch space owned by the build user
SBUILD_JOB=$WORK/sbuild$CACHE_SUFFIX          # per target: two builds never share a directory
BUILD_USER=${BUILD_USER:-openvpn-builder}
# MIRROR, SECURITY_MIRROR: the Debian archive and security mirrors, from the environment or else
# the host's apt sources (need_mirrors in lib.sh, called where they are used).
QUILTRC=$TOP/scripts/quiltrc

# Names of our own patches, in order (fails when the list names a patch we do not ship).
our_patches() {
    local p
    while read -r p; do
        [[ -z $p || $p == \#* ]] && continue
        [[ -f $TOP/debian/patches/$p ]] || die "debian/patches/series.append lists '$p' but debian/patches/$p does not exist"
        printf '%s\n' "$p"
    done < "$TOP/debian/patches/series.append"
}

# target_file REL: the target's own copy of an overlay file (targets/$TARGET/REL) when it has one,
# else the shared one (debian/REL). Bookworm keeps copies only where its base source needs them.
target_file() {
    if [[ -f $TARGET_DIR/$1 ]]; then printf '%s\n' "$TARGET_DIR/$1"; else printf '%s\n' "$TOP/debian/$1"; fi
}
CHANGELOG_ENTRY=$TARGET_DIR/changelog.entry

# quilt_push_checked [OUR_PATCH...]: in the current tree, `quilt push -a` that fails on any fuzz,
# and on any offset in the named (our) patches; Debian's own patches may have offsets.
quilt_push_checked() {
    local log line current='' bad=0 p
    log=$(quilt --quiltrc="$QUILTRC" push -a --fuzz=0 2>&1) || { echo "$log"; info "quilt push -a failed"; return 1; }
    while IFS= read -r line; do
        if [[ $line =~ ^Applying\ patch\ (debian/patches/)?(.*)$ ]]; then current=${BASH_REMATCH[2]}; continue; fi
        if [[ $line == *fuzz* ]]; then info "FUZZ in $current: $line"; bad=1; fi
        if [[ $line == *offset* ]]; then
            for p in "$@"; do
                if [[ $current == "$p" ]]; then info "OFFSET in our patch $current: $line"; bad=1; fi
            done
        fi
    done <<< "$log"
    info "$(grep -c '^Applying patch' <<< "$log") patches applied; ours without offset: ${*:-none}"
    return $bad
}

# verify_file FILE EXPECTED_SHA256: the one place that decides whether a source file is genuine.
verify_file() {
    local file=$1 expected=$2 actual
    [[ -f $file ]] || { printf 'ERROR: %s is missing\n' "$file" >&2; return 1; }
    actual=$(sha256sum "$file" | cut -d' ' -f1)
    if [[ $actual != "$expected" ]]; then
        printf 'ERROR: CHECKSUM MISMATCH for %s\n  expected sha256: %s\n  actual sha256:   %s\n' \
            "$file" "$expected" "$actual" >&2
        printf '  Remove the file to download it again (rm %q), or investigate.\n' "$file" >&2
        return 1
    fi
}

# verify_sources DIR: verify all three pinned files found in DIR.
verify_sources() {
    local dir=$1 f rc=0
    for f in "${PINNED_FILES[@]}"; do
        verify_file "$dir/$f" "${PINNED[$f]}" || rc=1
    done
    return $rc
}

# apt_private ARGS...: apt-get with our own sources, lists and cache under $APT_DIR. The sources
# are rewritten each time, so that a changed mirror (host apt sources or MIRROR) is followed.
apt_private() {
    need_mirrors
    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
    cat > "$APT_DIR/sources.list.$$" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $SECURITY_MIRROR $SUITE-security main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $SECURITY_MIRROR $SUITE-security main
EOF
    mv "$APT_DIR/sources.list.$$" "$APT_DIR/sources.list"
    apt-get -q \
        -o Dir::Etc::SourceList="$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
        -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
        -o Dir::State::status=/dev/null -o APT::Architectures=amd64 \
        -o APT::Sandbox::User=root "$@"
}

# ensure_build_user: sbuild, mmdebstrap and autopkgtest in unshare mode need a non-root user with
# subordinate uid/gid ranges. When run as root we create (once) a dedicated one for them.
ensure_build_user() {
    mkdir -p "$CACHE"
    [[ $EUID -eq 0 ]] || return 0
    if ! id "$BUILD_USER" >/dev/null 2>&1; then
        info "creating build user $BUILD_USER"
        useradd --home-dir "$CACHE/home" --no-create-home --shell /usr/sbin/nologin \
            --comment "openvpn deb13u4 package builds" "$BUILD_USER"
    fi
    local r
    for r in subuid subgid; do
        if ! grep -q "^$BUILD_USER:" "/etc/$r"; then
            local start
            start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "/etc/$r")
            info "adding /etc/$r range $start-$((start + 65535)) for $BUILD_USER"
            if [[ $r == subuid ]]; then usermod --add-subuids "$start-$((start + 65535))" "$BUILD_USER"
            else usermod --add-subgids "$start-$((start + 65535))" "$BUILD_USER"; fi
        fi
    done
    mkdir -p "$CACHE/home" "$WORK" "$ENV_DIR"
    chown "$BUILD_USER:" "$CACHE/home" "$WORK" "$ENV_DIR"
}

# as_builder CMD...: run CMD as the build user (or as ourselves when not root), in $WORK.
as_builder() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$WORK" && runuser -u "$BUILD_USER" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME="$CACHE/home" LANG=C.UTF-8 TMPDIR=/tmp "$@")
    else
        (cd "$WORK" && "$@")
    fi
}

# as_builder_logged LOG CMD...: as_builder, with stdout+stderr going to LOG, a file the build user
# owns (tools such as autopkgtest reopen /dev/stderr, which fails on a root-owned file or pipe).
as_builder_logged() {
    local log=$1; shift
    # shellcheck disable=SC2016  # expanded by the inner bash
    as_builder bash -c 'log=$1; shift; exec "$@" > "$log" 2>&1' bash "$log" "$@"
}

# ensure_env: the target's build tarball (created on first use; `make refresh-env` recreates it).
ensure_env() {
    ensure_build_user
    [[ -s $TARBALL ]] && return 0
    need mmdebstrap
    need_mirrors
    step "creating $SUITE build environment $TARBALL (mmdebstrap, unshare mode)"
    local tmp=$ENV_DIR/$SUITE-amd64.new.tar.zst
    rm -f "$tmp"
    as_builder mmdebstrap --mode=unshare --variant=buildd --arch=amd64 "$SUITE" "$tmp" \
        "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main" \
        || { rm -f "$tmp"; die "mmdebstrap failed to create the $SUITE build environment"; }
    mv "$tmp" "$TARBALL"
    step_done
}

# ensure_lintian_root: an unpacked $SUITE with lintian, used as a plain chroot (needs root): each
# target's package is judged by its own release's lintian, as the archive does.
ensure_lintian_root() {
    [[ -f $LINTIAN_ROOT/.complete ]] && return 0
    [[ $EUID -eq 0 ]] || die "running $SUITE's lintian needs root (chroot)"
    need mmdebstrap
    need_mirrors
    step "creating $SUITE lintian environment $LINTIAN_ROOT"
    rm -rf "$LINTIAN_ROOT"
    mmdebstrap --mode=root --variant=apt --arch=amd64 --include=lintian "$SUITE" "$LINTIAN_ROOT" \
        "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main" \
        || { rm -rf "$LINTIAN_ROOT"; die "mmdebstrap failed to create the lintian environment"; }
    touch "$LINTIAN_ROOT/.complete"
    step_done
}

# run_lintian OUTFILE FILES...: $SUITE's lintian, as nobody, on the .dsc/.deb among FILES (all are
# copied into the lintian chroot, so a .dsc finds its tarballs).
run_lintian() {
    local outfile=$1; shift
    ensure_lintian_root
    local dir rc=0 names=() f
    dir=$(mktemp -d "$LINTIAN_ROOT/tmp/lintian.XXXXXX")
    cp "$@" "$dir/"
    chmod -R a+rX "$dir"
    for f in "$@"; do
        [[ $f == *.dsc || $f == *.deb ]] && names+=("/tmp/${dir##*/}/${f##*/}")
    done
    unshare --mount --pid --fork --mount-proc="$LINTIAN_ROOT/proc" \
        chroot --userspec=nobody:nogroup "$LINTIAN_ROOT" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp \
        lintian --fail-on none --display-info --tag-display-limit 0 "${names[@]}" > "$outfile" 2>&1 || rc=$?
    rm -rf "$dir"
    # with --fail-on none, any non-zero exit is a failure to run
    [[ $rc -eq 0 ]] || { cat "$outfile" >&2; die "lintian failed to run (exit $rc)"; }
}

# lintian_tags FILE: "severity: package[ type]: tag" lines, context dropped, sorted, unique.
lintian_tags() {
    grep -E '^[EWIPX]: ' "$1" | sed -E 's/^([A-Z]: [^:]+: [^ ]+).*/\1/' | sort -u
}
