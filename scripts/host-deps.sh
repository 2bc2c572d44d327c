#!/bin/bash
# Install the host tools the pipeline needs (Debian 12 or 13 host, as root). Idempotent: apt is
# only called when something is missing (so CI on a prepared machine never touches apt).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

pkgs=(
    make git patch quilt dpkg-dev devscripts diffstat patchutils   # source package, debdiff
    debian-archive-keyring debian-keyring gpgv                      # pinned source + signature
    mmdebstrap sbuild uidmap zstd                                   # clean trixie build (unshare)
    autopkgtest lintian                                             # autopkgtests (unshare); lintian
    qemu-system-x86 qemu-utils e2fsprogs xz-utils util-linux        # VM storm test (scripts/vm-*.sh)
    gnuplot-nox                                                     # make bench: plots
    shellcheck                                                      # lint of our scripts
    apt-utils gnupg piuparts git-buildpackage                       # make repo, make piuparts, make pu-request
)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    info "host tools present (${#pkgs[@]} packages)"
    exit 0
fi
[[ $EUID -eq 0 ]] || die "missing host packages (${missing[*]}); run as root: make deps"
step "installing host tools: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
step_done
