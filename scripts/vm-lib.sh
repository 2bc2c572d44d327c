#!/bin/bash
# Helpers shared by scripts/vm-check.sh and scripts/vm-bench.sh: archive .debs, the test tree,
# accelerator probe, and one autopkgtest run of debian/tests/dco-storm in our VM image.
# Source after lib.sh.

# Tools the VM scripts need on the host (Debian packages: autopkgtest, qemu-system-x86,
# qemu-utils, mmdebstrap, e2fsprogs, util-linux, xz-utils, apt, debian-archive-keyring;
# gnuplot-nox for the bench plot).
vm_need() {
    need autopkgtest autopkgtest-virt-qemu qemu-system-x86_64 qemu-img mmdebstrap mkfs.ext4 apt-get \
        dpkg-deb awk flock tar xz
    [ -x /usr/share/autopkgtest/setup-commands/setup-testbed ] || die "autopkgtest's setup-testbed missing (install autopkgtest)"
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || die "missing /usr/share/keyrings/debian-archive-keyring.gpg (install debian-archive-keyring)"
}

# archive_debs SUITES PKG=VERSION...: downloads archive binaries with a private apt configuration
# (the host's /etc/apt is not touched; apt verifies Release signatures and .deb hashes), into
# $CACHE/debs/<suites>/; prints the .deb paths.
archive_debs() {
    local suites=$1; shift
    local d=$CACHE/apt/${suites// /+} s
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
    need_mirrors   # MIRROR, SECURITY_MIRROR: environment, else the host's apt sources
    : > "$d/sources.list.new"
    for s in $suites; do
        case $s in
            *-security) echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $SECURITY_MIRROR $s main" ;;
            *) echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $s main" ;;
        esac >> "$d/sources.list.new"
    done
    mv "$d/sources.list.new" "$d/sources.list"
    local apt=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o APT::Architecture=amd64
        -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
    local p v missing=()
    # PKG=VERSION, or PKG/SUITE (whatever version that suite has: only one suite in the list).
    deb_glob() { if [[ $1 == */* ]]; then echo "${1%%/*}_*_*.deb"; else v=${1#*=}; echo "${1%%=*}_${v//:/%3a}_*.deb"; fi; }
    for p in "$@"; do
        compgen -G "$d/debs/$(deb_glob "$p")" >/dev/null || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get "${apt[@]}" -q update >&2 || die "apt-get update ($suites) failed"
        (cd "$d/debs" && apt-get "${apt[@]}" -q download "${missing[@]}") >&2 \
            || die "apt-get download ${missing[*]} failed"
    fi
    for p in "$@"; do
        compgen -G "$d/debs/$(deb_glob "$p")"
    done
}

# fixed_debs: our deb13u4 binary from the pipeline (only the openvpn binary is installed), copied
# to $OUT/vm/debs/ first so that a rebuild publishing into out/ meanwhile cannot pull it away.
fixed_debs() {
    local f=$OUT/openvpn_${NEW_VERSION}_amd64.deb
    [ -f "$f" ] || return 0
    mkdir -p "$OUT/vm/debs"
    cp "$f" "$OUT/vm/debs/"
    echo "$OUT/vm/debs/${f##*/}"
}

# our_dsc: our deb13u4 source package from out/ if it carries debian/tests/dco-storm, copied with
# its tarballs to $OUT/vm/src/ (a rebuild may republish out/ meanwhile); prints the .dsc path.
our_dsc() {
    local dsc=$OUT/openvpn_${NEW_VERSION}.dsc f
    [ -f "$dsc" ] || return 0
    f=$(tar -tJf "$OUT/openvpn_${NEW_VERSION}.debian.tar.xz" 2>/dev/null) || return 0
    grep -qx 'debian/tests/dco-storm' <<<"$f" || return 0
    rm -rf "$OUT/vm/src"; mkdir -p "$OUT/vm/src"
    for f in "$dsc" "$OUT/openvpn_${NEW_VERSION}.debian.tar.xz" "$OUT/openvpn_${UPSTREAM_VERSION}.orig.tar.gz"; do
        cp "$f" "$OUT/vm/src/" || return 0
    done
    echo "$OUT/vm/src/${dsc##*/}"
}

# stub_tree DIR VERSION CHANGELOG_LINE DESCRIPTION: an empty source tree for autopkgtest (generated
# debian/control and changelog naming the source "openvpn", format 3.0 (native), empty
# debian/tests/): the tests and their control stanza are added by the caller.
stub_tree() {
    local t=$1 version=$2 line=$3 description=$4
    rm -rf "$t"
    mkdir -p "$t/debian/tests" "$t/debian/source"
    cat > "$t/debian/control" <<EOF
Source: openvpn
Section: net
Priority: optional
Maintainer: openvpn deb13u4 test tree <root@localhost>
Standards-Version: 4.7.0

Package: openvpn
Architecture: any
Description: $description
EOF
    cat > "$t/debian/changelog" <<EOF
openvpn ($version) trixie; urgency=medium

  * $line

 -- openvpn deb13u4 test tree <root@localhost>  $(date -R)
EOF
    echo '3.0 (native)' > "$t/debian/source/format"
}

# stub_run DIR NAME TIMEOUT [FILE...]: a throwaway measurement in the cached VM image (one boot):
# the script on stdin becomes the test NAME of a stub tree DIR/tree (with FILEs beside debian/,
# to be run as ./FILE), run by autopkgtest with TIMEOUT s; its output goes to DIR/out and DIR/log.
# VM_CPU is the QEMU -cpu model (max, as the storms), VM_RAM (2048) and VM_CPUS (2) as elsewhere.
# Returns autopkgtest's exit code.
stub_run() {
    local dir=$1 name=$2 timeout=$3 img accel t=$1/tree rc=0 body
    shift 3
    body=$(cat)   # first: nothing else may read the caller's heredoc
    "$TOP/scripts/vm-image.sh" >/dev/null </dev/null || die "building the VM image failed (scripts/vm-image.sh)"
    img=$("$TOP/scripts/vm-image.sh" --print-dir) || img=
    [ -n "$img" ] || die "no VM image directory (scripts/vm-image.sh --print-dir)"
    accel=$(vm_accel "$img")
    # the callers run stub_run in an || list, where set -e does not apply: every step checks
    stub_tree "$t" 1 "$name measurement tree (generated by ${0##*/})." "test stub; nothing is installed" \
        || die "cannot write the stub tree $t"
    [ $# -eq 0 ] || cp "$@" "$t/" || die "cannot copy $* into $t"
    if ! { printf 'Tests: %s\nDepends:\nRestrictions: allow-stderr\n' "$name" > "$t/debian/tests/control" \
        && printf '%s\n' "$body" > "$t/debian/tests/$name" && chmod 755 "$t/debian/tests/$name"; }; then
        die "cannot write the test $name into $t"
    fi
    info "VM: accel $accel, ${VM_CPUS:-2} vCPUs, -cpu ${VM_CPU:-max}, ${VM_RAM:-2048} MiB; log $dir/log"
    rm -rf "$dir/out"
    VM_KERNEL=$img/vmlinuz VM_INITRD=$img/initrd.img VM_ACCEL=$accel \
    autopkgtest --no-built-binaries --output-dir "$dir/out" --timeout-test="$timeout" "$t/" \
        -- qemu --qemu-command="$TOP/scripts/vm-qemu-wrapper" --cpus="${VM_CPUS:-2}" \
        --timeout-reboot="${VM_BOOT_TIMEOUT:-300}" --ram-size="${VM_RAM:-2048}" \
        --qemu-options="-cpu ${VM_CPU:-max}" "$img/disk.img" > "$dir/log" 2>&1 || rc=$?
    return $rc
}

# test_tree DIR VERSION: a minimal source tree holding only our test and its control stanza (the test and
# debian/tests/control.append are ours), so that the archive's deb13u3 binaries and ours run the
# same test.
test_tree() {
    local t=$1 version=$2
    stub_tree "$t" "$version" "DCO storm test tree (generated by scripts/vm-lib.sh)." \
        "test stub; the binaries under test come from the command line"
    # $TREE_DROP_DEPS: test dependencies to leave out (bench's 2.7 variant needs no DKMS module).
    local dep
    sed '/./,$!d' "$TOP/debian/tests/control.append" > "$t/debian/tests/control"
    for dep in ${TREE_DROP_DEPS:-}; do
        sed -i "/^[[:space:]]*$dep,\?\$/d; s/\b$dep, //" "$t/debian/tests/control"
    done
    install -m755 "$TOP/debian/tests/dco-storm" "$t/debian/tests/dco-storm"
    # $PERF_DEBUG_DEB: a -dbgsym .deb whose debug files the test adds to perf's build-id cache
    [ -z "${PERF_DEBUG_DEB:-}" ] || dpkg-deb -x "$PERF_DEBUG_DEB" "$t/perf-debug"
}

# vm_accel IMAGE_DIR: "kvm" if a stock Debian kernel boots under this host's KVM (probe: boot the
# image's kernel with rdinit=/bin/false and wait for the resulting panic), else "tcg,thread=multi".
# $VM_ACCEL overrides. The verdict is cached per kernel.
vm_accel() {
    local img=$1 f
    if [ -n "${VM_ACCEL:-}" ]; then echo "$VM_ACCEL"; return; fi
    f=$CACHE/vm/accel-$(cat "$img/kver")-$(uname -r)
    if [ ! -s "$f" ]; then
        if [ -w /dev/kvm ] && timeout 90 qemu-system-x86_64 -accel kvm -cpu host -m 512 -nographic \
                -nic none -no-reboot -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
                -append "console=ttyS0 panic=-1 rdinit=/bin/false" 2>&1 </dev/null \
                | grep -q "Attempted to kill init"; then
            echo kvm > "$f"
        else
            echo "tcg,thread=multi" > "$f"
        fi
    fi
    cat "$f"
}

# run_storm LABEL IMAGE_DIR OUTDIR ENV... -- DEBS...: one autopkgtest run of dco-storm in the VM.
# The test comes from $STORM_SRC (a .dsc: our source package, whose debian/tests/control has the
# appended stanza) if set, else from a generated tree holding only our test (test_tree).
# Prints autopkgtest's log to OUTDIR/log and progress lines to stdout; returns autopkgtest's
# exit status (0 pass, 2 skipped, 4 failed, >= 12 error). VM_BOOT_TIMEOUT: seconds to wait for
# the guest's login prompt (virt-qemu's --timeout-reboot; default 300: its 60 s are too short for
# a TCG boot on a loaded 2-core host).
run_storm() {
    local label=$1 img=$2 out=$3; shift 3
    local envs=() debs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=(--env="$1"); shift; done
    [ "${1:-}" = -- ] && shift
    debs=("$@")
    local src accel rc=0
    if [ -n "${STORM_SRC:-}" ]; then
        src=$STORM_SRC
    else
        src=$out.tree/
        test_tree "$out.tree" "$(dpkg-deb -f "${debs[0]}" Version)"
    fi
    accel=$(vm_accel "$img")
    # A testbed failure (autopkgtest exit 16) before the test ran is retried (VM_RETRIES, default
    # 1): virt-qemu's fixed 10 s limit for the shared-directory setup is sometimes too short for
    # a TCG guest on a loaded host. A failure of the test itself is never retried.
    local try
    for (( try = 0; try <= ${VM_RETRIES:-1}; try++ )); do
        rc=0
        rm -rf "$out"
        info "$label: autopkgtest dco-storm from $src on ${debs[*]##*/} (accel $accel, ${VM_CPUS:-2} vCPUs, ${VM_RAM:-3072} MiB, ${envs[*]:-defaults})"
        info "$label: log $out.log"
        VM_KERNEL=$img/vmlinuz VM_INITRD=$img/initrd.img VM_ACCEL=$accel \
        autopkgtest -U --no-built-binaries --test-name=dco-storm --output-dir "$out" \
            --timeout-test="${VM_TEST_TIMEOUT:-3600}" "${envs[@]}" \
            "$src" "${debs[@]}" \
            -- qemu --qemu-command="$TOP/scripts/vm-qemu-wrapper" --cpus="${VM_CPUS:-2}" \
            --timeout-reboot="${VM_BOOT_TIMEOUT:-300}" \
            --ram-size="${VM_RAM:-3072}" --qemu-options="-cpu max" "$img/disk.img" \
            > "$out.log" 2>&1 &
        local pid=$!
        # Progress: the test's own timestamped lines, its table and summary, autopkgtest's phases.
        tail --pid="$pid" -n +1 -F "$out.log" 2>/dev/null \
            | grep --line-buffered -aE '^\[[0-9:]+\] |^    [^ ]|^      - |DCO-STORM-SUMMARY|^SKIP|^FAIL|ERROR|^autopkgtest \[[0-9:]+\]: (test |@@@)' \
            | sed -u "s/^/    $label| /" || true
        wait "$pid" || rc=$?
        if [ "$rc" = 16 ] && ! grep -aq 'DCO-STORM-SUMMARY\|test dco-storm: \[---' "$out.log" \
            && [ "$try" -lt "${VM_RETRIES:-1}" ]; then
            info "$label: testbed failure before the test ran ($(grep -a 'failure:' "$out.log" | tail -n1)); retrying"
            mv "$out.log" "$out.try$try.log"
            continue
        fi
        break
    done
    return $rc
}

# summary_field LOG KEY: value of KEY=... in the last DCO-STORM-SUMMARY line of LOG.
summary_field() {
    grep -a 'DCO-STORM-SUMMARY' "$1" | tail -n1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}
