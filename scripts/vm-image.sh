#!/bin/bash
# Build (or reuse) the trixie VM image for the DCO storm autopkgtest.
#
#   scripts/vm-image.sh [--flavour trixie|bpo|bookworm] [--dco-deb PATH] [--perf] [--print-dir]
#
# trixie: trixie's kernel (6.12) + openvpn-dco-dkms, whose ovpn-dco-v2.ko DKMS builds here, in the
#         chroot, for the image's kernel (never at test time under TCG); for openvpn 2.6.x.
# bpo:    trixie-backports' kernel (>= 6.16, in-tree "ovpn" module); for openvpn 2.7.x (bench only).
# bookworm: bookworm + bookworm-updates + bookworm-security: its kernel (6.1, linux-image-amd64 and
#         headers, newest of the three suites: bookworm-security's) + the openvpn-dco-dkms .deb
#         given by --dco-deb (required: the archive's 0.0+git20231103-1~deb12u1 or our ~deb12u2),
#         built by DKMS in the chroot like trixie's; bookworm's openvpn runtime dependencies
#         (pre-t64 names). The image key includes the .deb's sha256: one image per module .deb.
# --perf: the same image plus linux-perf (trixie's perf) and strace (`make bench-profile`), cached apart as
#         perf-<flavour>-<key>, so that the images make check uses stay as they are.
#
# Recipe (see shared notes): mmdebstrap rootfs -> setup-testbed (AUTOPKGTEST_BUILD_QEMU=1) ->
# mkfs.ext4 -d to a whole-disk image (no partition table) + vmlinuz/initrd copied out, booted by
# scripts/vm-qemu-wrapper with -kernel/-initrd. The result lives in $CACHE/vm/<flavour>-<key>/,
# where <key> hashes everything that goes into it (this script, the package list, the suites), so
# it is rebuilt only when an input changes. The guest gets an empty apt sources.list: it has no
# network device; the test's dependencies are preinstalled, autopkgtest installs only our .debs.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

FLAVOUR=trixie
PRINT_DIR=
DCO_DEB=
PERF=
while [ $# -gt 0 ]; do
    case $1 in
        --flavour) FLAVOUR=$2; shift 2 ;;
        --dco-deb) DCO_DEB=$2; shift 2 ;;
        --perf) PERF=1; shift ;;
        --print-dir) PRINT_DIR=1; shift ;;
        *) die "usage: $0 [--flavour trixie|bpo|bookworm] [--dco-deb PATH] [--perf] [--print-dir]" ;;
    esac
done
[ -z "$DCO_DEB" ] || [ "$FLAVOUR" = bookworm ] || die "--dco-deb is for --flavour bookworm only"

need_mirrors   # MIRROR, SECURITY_MIRROR: environment, else the host's apt sources
SOURCES=(
    "deb $MIRROR trixie main"
    "deb $MIRROR trixie-updates main"
    "deb $SECURITY_MIRROR trixie-security main"
)
# Runtime dependencies of openvpn 2.6.14-1+deb13u3 (so that autopkgtest can install our .debs with
# no network) and of debian/tests/dco-storm, plus what booting and autopkgtest need (dpkg-dev:
# autopkgtest unpacks a .dsc in the testbed).
OPENVPN_DEPS=libc6,libcap-ng0,liblz4-1,liblzo2-2,libnl-3-200,libnl-genl-3-200,libpkcs11-helper1t64,libssl3t64,libsystemd0,debconf,adduser
TEST_DEPS=iproute2,nftables,openssl,procps,kmod,stress-ng,psmisc,dpkg-dev
BASE_PKGS=systemd-sysv,udev,initramfs-tools,login,passwd,apt,apt-utils,ca-certificates,less
case $FLAVOUR in
    trixie)
        KERNEL_PKGS=linux-image-amd64,linux-headers-amd64,openvpn-dco-dkms,dkms
        ;;
    bpo)
        SOURCES+=("deb $MIRROR trixie-backports main")
        # Installed from backports in the customize hook (mmdebstrap's --include takes the
        # candidate from the default release).
        KERNEL_PKGS=
        ;;
    bookworm)
        SOURCES=(
            "deb $MIRROR bookworm main"
            "deb $MIRROR bookworm-updates main"
            "deb $SECURITY_MIRROR bookworm-security main"
        )
        # Runtime dependencies of bookworm's openvpn 2.6.14-0+deb12u2 (pre-t64 library names).
        OPENVPN_DEPS=libc6,libcap-ng0,liblz4-1,liblzo2-2,libnl-3-200,libnl-genl-3-200,libpam0g,libpkcs11-helper1,libssl3,libsystemd0,debconf,adduser
        # openvpn-dco-dkms itself is the --dco-deb file (its own --include below).
        KERNEL_PKGS=linux-image-amd64,linux-headers-amd64,dkms
        [ -n "$DCO_DEB" ] || die "--flavour bookworm needs --dco-deb PATH (the openvpn-dco-dkms .deb to build into the image)"
        [ -f "$DCO_DEB" ] || die "--dco-deb $DCO_DEB: no such file"
        DCO_DEB=$(readlink -f "$DCO_DEB")
        [ "$(dpkg-deb -f "$DCO_DEB" Package)" = openvpn-dco-dkms ] || die "--dco-deb $DCO_DEB is not an openvpn-dco-dkms .deb"
        ;;
    *) die "unknown flavour $FLAVOUR" ;;
esac
PKGS=$BASE_PKGS,$OPENVPN_DEPS,$TEST_DEPS${KERNEL_PKGS:+,$KERNEL_PKGS}${PERF:+,linux-perf,strace}
# Suite mmdebstrap starts from; which branch of the customize hook runs ("trixie" is its DKMS
# branch: build ovpn-dco-v2 for the image's kernel; the hook's text is part of the trixie image's
# key, so bookworm reuses that branch rather than changing the text).
# NAME: the image's directory prefix; older images with the same prefix are removed after a
# build. bookworm's carries the module's version, so the archive's and our module's images coexist.
SUITE=trixie
HOOK_FLAVOUR=$FLAVOUR
NAME=$FLAVOUR
if [ "$FLAVOUR" = bookworm ]; then
    SUITE=bookworm
    HOOK_FLAVOUR=trixie
    DCO_VERSION=$(dpkg-deb -f "$DCO_DEB" Version)
    NAME=bookworm-dco-${DCO_VERSION##*~}
    NAME=${NAME//[^A-Za-z0-9.+-]/_}
fi
[ -z "$PERF" ] || NAME=perf-$NAME
IMAGE_SIZE=${IMAGE_SIZE:-6G}

# Customize hook, run by mmdebstrap with the chroot's /proc,/sys,/dev mounted.
CUSTOMIZE=$(cat <<'EOF'
#!/bin/sh
set -eu
root=$1 flavour=$2
export DEBIAN_FRONTEND=noninteractive
if [ "$flavour" = bpo ]; then
    echo "I: installing trixie-backports' kernel (in-tree ovpn module)"
    chroot "$root" apt-get -y -t trixie-backports install linux-image-amd64
fi
kver=$(ls "$root/lib/modules" | sort -V | tail -n1)
echo "$kver" > "$root/.image-kver"
if [ "$flavour" = trixie ]; then
    echo "I: DKMS: building ovpn-dco for $kver"
    chroot "$root" dkms autoinstall -k "$kver"
    chroot "$root" dkms status
    chroot "$root" modinfo -k "$kver" ovpn-dco-v2 | grep -E '^(filename|version|vermagic):'
else
    chroot "$root" modinfo -k "$kver" ovpn | grep -E '^(filename|vermagic):'
fi
echo "I: setup-testbed"
AUTOPKGTEST_BUILD_QEMU=1 /usr/share/autopkgtest/setup-commands/setup-testbed "$root"
# No network in the guest: no apt sources; autopkgtest adds its own local repo for our .debs.
: > "$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*
rm -rf "$root"/var/lib/apt/lists/*
mkdir -p "$root/var/lib/apt/lists/partial"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$root/etc/fstab"
echo "autopkgtest-dco" > "$root/etc/hostname"
# Network namespaces / veth / nft are all the test uses; no DHCP waits at boot.
rm -f "$root/etc/network/interfaces.d/"* 2>/dev/null || true
chroot "$root" passwd -d root >/dev/null
chroot "$root" apt-get clean
EOF
)
# Cache key: everything that goes into the image (recipe version, hook, packages, suites, size).
RECIPE_VERSION=1
KEY_INPUTS=("$RECIPE_VERSION" "$FLAVOUR" "$PKGS" "${SOURCES[@]}" "$IMAGE_SIZE" "$CUSTOMIZE")
# bookworm: also the module .deb (content, not path) and how the hook is called.
[ -z "$DCO_DEB" ] || KEY_INPUTS+=("dco-deb ${DCO_DEB##*/} $(sha256sum < "$DCO_DEB" | cut -d' ' -f1)" "suite $SUITE hook $HOOK_FLAVOUR")
KEY=$(printf '%s\n' "${KEY_INPUTS[@]}" | sha256sum | cut -c1-16)
DIR=$CACHE/vm/$NAME-$KEY
if [ -n "$PRINT_DIR" ]; then
    echo "$DIR"
    exit 0
fi
mkdir -p "$CACHE/vm"
# One build per flavour at a time (make check and make bench may run side by side).
exec 9>"$CACHE/vm/.lock-$FLAVOUR"
if ! flock -n 9; then
    info "another build of the $FLAVOUR image is running; waiting for it"
    flock 9
fi
if [ -f "$DIR/complete" ]; then
    info "VM image $FLAVOUR is cached: $DIR ($(cat "$DIR/kver"), built $(stat -c %y "$DIR/complete" | cut -d. -f1))"
    exit 0
fi

need mmdebstrap mkfs.ext4 sha256sum flock
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap root mode, mkfs.ext4 -d with ownerships)"
[ -x /usr/share/autopkgtest/setup-commands/setup-testbed ] || die "autopkgtest's setup-testbed missing (install autopkgtest)"

step "Building VM image ($FLAVOUR) in $DIR"
t0=$(date +%s)
TMP=$CACHE/vm/tmp-$NAME-$KEY
# release_mounts DIR: unmount what an interrupted or failed mmdebstrap left mounted under DIR (the
# module .deb's bind mount); otherwise removing DIR fails, and with it every later build.
release_mounts() {
    awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}
release_mounts "$TMP"
rm -rf "$TMP"
mkdir -p "$TMP"
trap 'release_mounts "$TMP"; rm -rf "$TMP/rootfs"' EXIT
ROOTFS=$TMP/rootfs

printf '%s' "$CUSTOMIZE" > "$TMP/customize.sh"
chmod +x "$TMP/customize.sh"

# bookworm: the module .deb as its own --include (a path), made visible inside the chroot by
# mmdebstrap's file-mirror-automount hook; apt installs it with dkms and the headers.
DEB_INCLUDE=()
if [ -n "$DCO_DEB" ]; then
    DEB_INCLUDE=(--include="$DCO_DEB" --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount)
    info "openvpn-dco-dkms from $DCO_DEB ($(dpkg-deb -f "$DCO_DEB" Version), sha256 $(sha256sum < "$DCO_DEB" | cut -c1-16)...)"
fi
info "mmdebstrap $SUITE ($(echo "$PKGS" | tr ',' ' ' | wc -w) packages requested)"
mmdebstrap --mode=root --variant=minbase \
    --include="$PKGS" "${DEB_INCLUDE[@]}" \
    --customize-hook="$TMP/customize.sh \"\$1\" $HOOK_FLAVOUR" \
    "$SUITE" "$ROOTFS" "${SOURCES[@]}"

kver=$(cat "$ROOTFS/.image-kver")
rm -f "$ROOTFS/.image-kver"
info "kernel $kver"
cp "$ROOTFS/boot/vmlinuz-$kver" "$TMP/vmlinuz"
cp "$ROOTFS/boot/initrd.img-$kver" "$TMP/initrd.img"
echo "$kver" > "$TMP/kver"
chroot "$ROOTFS" dpkg-query -W > "$TMP/packages.txt"

step "mkfs.ext4 -d (whole-disk image, $IMAGE_SIZE sparse)"
mkfs.ext4 -q -F -L root -d "$ROOTFS" "$TMP/disk.img" "$IMAGE_SIZE"
info "image: $(du -h --apparent-size "$TMP/disk.img" | cut -f1) apparent, $(du -h "$TMP/disk.img" | cut -f1) used"
rm -rf "$ROOTFS"
date -u +%FT%TZ > "$TMP/complete"
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
ln -sfn "$(basename "$DIR")" "$CACHE/vm/$NAME-current"
# Images of this flavour (bookworm: and module version) from older recipes are not used any more.
for old in "$CACHE/vm/$NAME"-*; do
    case $old in "$DIR"|"$CACHE/vm/$NAME-current") ;; *) [ -d "$old" ] && info "removing old image $old" && rm -rf "$old" ;; esac
done
info "VM image ready: $DIR (built in $(( $(date +%s) - t0 ))s)"
step_done
