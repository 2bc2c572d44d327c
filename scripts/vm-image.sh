#!/bin/bash
# Build (or reuse) the trixie VM image for the DCO storm autopkgtest.
#
#   scripts/vm-image.sh [--flavour trixie|bpo] [--print-dir]
#
# trixie: trixie's kernel (6.12) + openvpn-dco-dkms, whose ovpn-dco-v2.ko DKMS builds here, in the
#         chroot, for the image's kernel (never at test time under TCG); for openvpn 2.6.x.
# bpo:    trixie-backports' kernel (>= 6.16, in-tree "ovpn" module); for openvpn 2.7.x (bench only).
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
while [ $# -gt 0 ]; do
    case $1 in
        --flavour) FLAVOUR=$2; shift 2 ;;
        --print-dir) PRINT_DIR=1; shift ;;
        *) die "usage: $0 [--flavour trixie|bpo] [--print-dir]" ;;
    esac
done

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
    *) die "unknown flavour $FLAVOUR" ;;
esac
PKGS=$BASE_PKGS,$OPENVPN_DEPS,$TEST_DEPS${KERNEL_PKGS:+,$KERNEL_PKGS}
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
KEY=$(printf '%s\n' "$RECIPE_VERSION" "$FLAVOUR" "$PKGS" "${SOURCES[@]}" "$IMAGE_SIZE" "$CUSTOMIZE" | sha256sum | cut -c1-16)
DIR=$CACHE/vm/$FLAVOUR-$KEY
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
TMP=$CACHE/vm/tmp-$FLAVOUR-$KEY
rm -rf "$TMP"
mkdir -p "$TMP"
trap 'rm -rf "$TMP/rootfs"' EXIT
ROOTFS=$TMP/rootfs

printf '%s' "$CUSTOMIZE" > "$TMP/customize.sh"
chmod +x "$TMP/customize.sh"

info "mmdebstrap trixie ($(echo "$PKGS" | tr ',' ' ' | wc -w) packages requested)"
mmdebstrap --mode=root --variant=minbase \
    --include="$PKGS" \
    --customize-hook="$TMP/customize.sh \"\$1\" $FLAVOUR" \
    trixie "$ROOTFS" "${SOURCES[@]}"

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
ln -sfn "$(basename "$DIR")" "$CACHE/vm/$FLAVOUR-current"
# Images of this flavour from older recipes are not used any more.
for old in "$CACHE/vm/$FLAVOUR"-*; do
    case $old in "$DIR"|"$CACHE/vm/$FLAVOUR-current") ;; *) [ -d "$old" ] && info "removing old image $old" && rm -rf "$old" ;; esac
done
info "VM image ready: $DIR (built in $(( $(date +%s) - t0 ))s)"
step_done
