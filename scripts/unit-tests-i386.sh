#!/bin/bash
# unit-tests-i386.sh: the package build on i386 (32-bit), natively in a trixie i386 chroot.
# Materialises our tree (whole series + debian/packaging.diff), builds it there with
# dpkg-buildpackage -B as an unprivileged user, so dh_auto_test runs exactly what debian/rules
# selects; then, for information, runs every upstream unit test driver in the built tree.
#   results: the i386 build (incl. dh_auto_test) and each test dh_auto_test ran (PASS/FAIL);
#   the whole upstream suite is only reported (several drivers are not 32-bit clean).
# Needs root (mmdebstrap in root mode, chroot) and an amd64 host whose kernel runs i386 code.
# I386_ROOT: the chroot (kept and reused; rm -rf it to rebuild it).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

# not part of make check (about 14 min on the 2-core machine): its own results file
RESULTS=$OUT/i386/results.txt
rm -f "$RESULTS"
I386_ROOT=${I386_ROOT:-$CACHE/env/trixie-i386-root}
I386=$BUILD/i386
LOGS=$OUT/i386
CHROOT_USER=builder
# Build-Depends of debian/control (after packaging.diff) for i386; checked again with
# dpkg-checkbuilddeps inside the chroot, so a change to debian/control is noticed.
I386_PKGS=(debhelper dh-autoreconf pkgconf python3-docutils libcap-ng-dev libcmocka-dev
           liblz4-dev liblzo2-dev libnl-genl-3-dev libp11-kit-dev libpam0g-dev
           libpkcs11-helper1-dev libssl-dev libsystemd-dev systemd-dev)

[[ $EUID -eq 0 ]] || die "the i386 chroot needs root (mmdebstrap --mode=root, chroot)"
need mmdebstrap arch-test linux32 chroot runuser

ensure_i386_root() {
    [[ -f $I386_ROOT/.complete ]] && return 0
    arch-test i386 >/dev/null 2>&1 || die "this host cannot run i386 binaries (arch-test i386)"
    need_mirrors
    step "creating the trixie i386 chroot $I386_ROOT"
    local include
    include=$(IFS=,; echo "${I386_PKGS[*]}")
    rm -rf "$I386_ROOT"
    mkdir -p "$(dirname "$I386_ROOT")" "$LOGS"
    if ! nice -n 19 mmdebstrap --mode=root --variant=buildd --arch=i386 --include="$include" \
            trixie "$I386_ROOT" "deb $MIRROR trixie main" "deb $MIRROR trixie-updates main" \
            "deb $SECURITY_MIRROR trixie-security main" > "$LOGS/mmdebstrap.log" 2>&1; then
        # an -updates or -security index that is out of sync on the mirror (seen for i386)
        # must not block a test build: the build dependencies are all in trixie itself
        info "mmdebstrap with trixie-updates/-security failed (see $LOGS/mmdebstrap.log); retrying with trixie only"
        rm -rf "$I386_ROOT"
        nice -n 19 mmdebstrap --mode=root --variant=buildd --arch=i386 --include="$include" \
            trixie "$I386_ROOT" "deb $MIRROR trixie main" \
            > "$LOGS/mmdebstrap.log" 2>&1 \
            || { rm -rf "$I386_ROOT"; die "mmdebstrap failed, see $LOGS/mmdebstrap.log"; }
    fi
    chroot "$I386_ROOT" useradd --create-home "$CHROOT_USER"
    touch "$I386_ROOT/.complete"
    step_done
}

# in_chroot CMD: runs the bash command CMD in the chroot as the build user, in /build/openvpn.
in_chroot() {
    nice -n 19 linux32 chroot "$I386_ROOT" runuser -u "$CHROOT_USER" -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="/home/$CHROOT_USER" LANG=C.UTF-8 \
        bash -c "cd /build/openvpn && $1"
}

cleanup() {
    if mountpoint -q "$I386_ROOT/proc"; then umount "$I386_ROOT/proc"; fi
}

mkdir -p "$LOGS"
ensure_i386_root
"$TOP/scripts/materialise.sh" "$I386/src"

step "copying the tree into the chroot"
rm -rf "$I386_ROOT/build"
mkdir -p "$I386_ROOT/build"
cp -a "$I386/src" "$I386_ROOT/build/openvpn"
chroot "$I386_ROOT" chown -R "$CHROOT_USER:" /build
trap cleanup EXIT
mountpoint -q "$I386_ROOT/proc" || mount -t proc proc "$I386_ROOT/proc"
in_chroot 'dpkg-checkbuilddeps' > "$LOGS/checkbuilddeps.log" 2>&1 \
    || { cat "$LOGS/checkbuilddeps.log"; die "the i386 chroot lacks build dependencies: add them to I386_PKGS and rm -rf $I386_ROOT"; }
step_done

step "i386: dpkg-buildpackage -B (dh_auto_test runs what debian/rules selects)"
build_log=$LOGS/build.log
if in_chroot 'DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -B -uc -us -j2' > "$build_log" 2>&1; then
    result PASS "i386: package build incl. dh_auto_test" "$(in_chroot 'dpkg-architecture -qDEB_HOST_ARCH') build, log $build_log"
else
    grep -E '^(FAIL|ERROR):' "$build_log" || tail -20 "$build_log"
    result FAIL "i386: package build incl. dh_auto_test" "see $build_log"
fi
n=0
while read -r status name; do
    n=$((n + 1))
    result "$status" "i386 dh_auto_test: $name"
done < <(sed -nE 's/^(PASS|FAIL|SKIP|ERROR|XPASS): ([^ ]+)$/\1 \2/p' "$build_log" |
         sed 's/^ERROR /FAIL /; s/^XPASS /FAIL /')
((n > 0)) || result FAIL "i386 dh_auto_test: tests ran" "no test result in $build_log"
step_done

step "i386, for information: every upstream unit test driver (make -k -C tests/unit_tests check)"
suite_log=$LOGS/unit-suite.log
if grep -qs '^SUBDIRS = .*openvpn' "$I386_ROOT/build/openvpn/tests/unit_tests/Makefile"; then
    in_chroot 'make -k -C tests/unit_tests check' > "$suite_log" 2>&1 || true
    info "passed: $(sed -nE 's/^PASS: ([^ ]+)$/\1/p' "$suite_log" | tr '\n' ' ')"
    info "failed: $(sed -nE 's/^(FAIL|ERROR): ([^ ]+)$/\2/p' "$suite_log" | tr '\n' ' ')(log $suite_log)"
else
    info "unit tests are not configured in the built tree (nocheck?); nothing to report"
fi
step_done
printf '%s passed, %s failed\n' "$(grep -c '^PASS' "$RESULTS")" "$(grep -c '^FAIL' "$RESULTS")"
! grep -q '^FAIL' "$RESULTS"
