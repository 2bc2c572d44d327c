#!/bin/bash
# check-repo.sh: the `make repo` checks (issue 8 item 2), as apt on trixie sees them. Builds
# out/repo (scripts/repo.sh), unpacks the cached trixie tarball into a chroot, installs the
# repository the README way (directory at /srv/openvpn-deb13u4, key in /etc/apt/keyrings, the
# .sources and .pref files; no trusted=yes) and runs apt there, offline:
#   repo-apt-verify      apt-get update verifies the signature; apt-cache policy openvpn shows
#                        2.6.14-1+deb13u4 at 990 from the repository
#   repo-apt-pin         with the archive's trixie lists added (the private apt lists, no
#                        network): openvpn deb13u4 from us, the archive's deb13u3 at 500, other
#                        packages (openvpn-dbgsym of our repository, libc6) not pinned
#   repo-tampered-*      a changed InRelease, a changed Release (InRelease gone), a changed
#                        Packages: apt refuses, openvpn has no candidate
# Needs root (chroot) and out/ from scripts/package.sh.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

LOGS=$OUT/check/repo
NAME=openvpn-deb13u4
mkdir -p "$LOGS"
if [[ $EUID -ne 0 ]]; then result SKIP repo-apt-verify "needs root (chroot)"; exit 0; fi

step "make repo (log: out/check/repo/repo.log)"
if ! "$TOP/scripts/repo.sh" > "$LOGS/repo.log" 2>&1; then
    result FAIL repo-build "scripts/repo.sh failed: $(tail -n1 "$LOGS/repo.log")"; exit 0
fi
step_done

[[ -s $TARBALL ]] || { result FAIL repo-apt-verify "no trixie tarball $TARBALL (make package)"; exit 0; }
ROOT=$(mktemp -d -p "$CACHE" check-repo.XXXXXX)
trap 'rm -rf --one-file-system "$ROOT"' EXIT
step "trixie chroot from $TARBALL, repository installed as the README says"
tar --zstd -xf "$TARBALL" -C "$ROOT"
chmod 755 "$ROOT"     # apt's _apt sandbox user reads the file: repository from /
rm -f "$ROOT/etc/apt/sources.list" "$ROOT"/etc/apt/sources.list.d/*
mkdir -p "$ROOT/etc/apt/keyrings" "$ROOT/etc/apt/preferences.d" "$ROOT/srv"
cp -r "$OUT/repo" "$ROOT/srv/$NAME.orig"
cp "$OUT/repo/$NAME.asc" "$ROOT/etc/apt/keyrings/"
cp "$OUT/repo/$NAME.sources" "$ROOT/etc/apt/sources.list.d/"
cp "$OUT/repo/$NAME.pref" "$ROOT/etc/apt/preferences.d/"
step_done

# in_root CMD...: CMD inside the chroot (own mount and pid namespace, /proc mounted).
in_root() {
    unshare --mount --pid --fork --mount-proc="$ROOT/proc" \
        chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
# fresh_repo: a pristine copy of the repository at /srv/NAME, and no apt lists.
fresh_repo() {
    rm -rf "$ROOT/srv/$NAME" "$ROOT/var/lib/apt/lists"
    cp -a "$ROOT/srv/$NAME.orig" "$ROOT/srv/$NAME"
    mkdir -p "$ROOT/var/lib/apt/lists/partial"
}
# candidate: the openvpn candidate apt shows in the chroot.
candidate() { in_root apt-cache policy openvpn 2>/dev/null | awk '$1 == "Candidate:" { print $2 }'; }
# errors LOG: apt's error and warning lines of LOG, on one line.
errors() { grep -E '^(E|W): ' "$1" | cut -c1-150 | tr '\n' ' '; }

step "apt-get update in the chroot: signed repository, Signed-By key only"
fresh_repo
rc=0
in_root apt-get update > "$LOGS/apt-update.log" 2>&1 || rc=$?
in_root apt-cache policy openvpn > "$LOGS/policy.txt" 2>&1 || true
sed 's/^/    /' "$LOGS/policy.txt"
# the version line "2.6.14-1+deb13u4 990" and the source line after it
line=$(awk -v v="$NEW_VERSION" 'f { sub(/^ +/, ""); print; exit } ($1 == v || ($1 == "***" && $2 == v)) { f = 1; printf "%s, ", $0 }' "$LOGS/policy.txt" | sed -E 's/ +/ /g; s/^ //')
if [[ $rc -eq 0 ]] && ! grep -qE '^(E|W): ' "$LOGS/apt-update.log" && [[ $(candidate) == "$NEW_VERSION" && $line == "$NEW_VERSION 990, 500 file:/srv/$NAME trixie/main amd64 Packages" ]]; then
    result PASS repo-apt-verify "apt-get update verified the signature (Signed-By $NAME.asc, no trusted=yes); Candidate: $NEW_VERSION; $line"
else
    result FAIL repo-apt-verify "apt-get update exit $rc $(errors "$LOGS/apt-update.log"); candidate '$(candidate)'; see out/check/repo/"
fi
step_done

step "pin: with the archive's trixie lists (private apt lists, no network)"
shopt -s nullglob
lists=("$APT_DIR"/lists/*_Packages* "$APT_DIR"/lists/*_InRelease)
shopt -u nullglob
if [[ ${#lists[@]} -lt 4 || ! -f $APT_DIR/sources.list ]]; then
    result SKIP repo-apt-pin "no private apt lists in $APT_DIR (scripts/fetch.sh fills them)"
else
    grep '^deb ' "$APT_DIR/sources.list" > "$ROOT/etc/apt/sources.list.d/debian.list"
    cp "${lists[@]}" "$ROOT/var/lib/apt/lists/"
    in_root apt-cache policy openvpn openvpn-dbgsym libc6 > "$LOGS/policy-archive.txt" 2>&1 || true
    in_root apt-get install -s -q openvpn > "$LOGS/install-sim.txt" 2>&1 || true
    sed 's/^/    /' "$LOGS/policy-archive.txt"
    grep '^Inst openvpn ' "$LOGS/install-sim.txt" | sed 's/^/    /' || true
    # priority of VERSION of PKG in the policy output
    prio() { awk -v p="$1:" -v v="$2" '/^[^ ]/ { cur = $1 } cur == p && ($1 == v || ($1 == "***" && $2 == v)) { print $NF; exit }' "$LOGS/policy-archive.txt"; }
    ours=$(prio openvpn "$NEW_VERSION") base=$(prio openvpn "$BASE_VERSION") dbg=$(prio openvpn-dbgsym "$NEW_VERSION")
    libc_pin=$(awk '/^libc6:/ { f = 1 } f && $1 == "Candidate:" { c = $2; next } f && c != "" && ($1 == c || $2 == c) { print $NF; exit }' "$LOGS/policy-archive.txt")
    inst=$(grep -m1 '^Inst openvpn ' "$LOGS/install-sim.txt" || true)
    if [[ $(candidate) == "$NEW_VERSION" && $ours == 990 && $base == 500 && $dbg != 990 && $libc_pin == 500 && $inst == "Inst openvpn ($NEW_VERSION "* ]]; then
        result PASS repo-apt-pin "openvpn $NEW_VERSION 990 (ours), $BASE_VERSION 500 (archive); openvpn-dbgsym ${dbg:-absent}, libc6 $libc_pin; $inst"
    else
        result FAIL repo-apt-pin "openvpn: ours '$ours', archive '$base'; dbgsym '$dbg'; libc6 '$libc_pin'; '$inst' (see out/check/repo/policy-archive.txt)"
    fi
    rm -f "$ROOT/etc/apt/sources.list.d/debian.list"
fi
step_done

# tampered NAME DESCRIPTION EDIT: apt-get update on a fresh copy changed by EDIT (run in the repo
# copy) must fail, leaving openvpn without a candidate.
tampered() {
    local name=$1 what=$2 edit=$3 rc=0
    fresh_repo
    (cd "$ROOT/srv/$NAME" && eval "$edit")
    in_root apt-get update > "$LOGS/$name.log" 2>&1 || rc=$?
    local cand
    cand=$(candidate)
    if [[ $rc -ne 0 && ( -z $cand || $cand == "(none)" ) ]] && grep -qE '^E: ' "$LOGS/$name.log"; then
        result PASS "$name" "$what: apt refuses (exit $rc): $(errors "$LOGS/$name.log")"
    else
        result FAIL "$name" "$what: apt-get update exit $rc, candidate '$cand' (see out/check/repo/$name.log)"
    fi
}
step "tampered repositories: apt must refuse"
tampered repo-tampered-inrelease "InRelease with one changed signed line" \
    "sed -i 's/^Label: .*/Label: tampered/' dists/trixie/InRelease"
tampered repo-tampered-release "Release changed, InRelease removed (Release.gpg checked)" \
    "rm dists/trixie/InRelease && sed -i 's/^Label: .*/Label: tampered/' dists/trixie/Release"
tampered repo-tampered-packages "Packages changed after signing" \
    "rm -f dists/trixie/main/binary-amd64/Packages.* && sed -i 's/^Priority: .*/Priority: required/' dists/trixie/main/binary-amd64/Packages"
step_done
