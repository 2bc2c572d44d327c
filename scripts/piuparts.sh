#!/bin/bash
# piuparts.sh: `make piuparts` (issue 8 item 6). piuparts on our openvpn .deb against trixie, in a
# cached trixie minbase tarball ($CACHE/env/piuparts-trixie-amd64.tar.gz, mmdebstrap, made on
# first use; `make refresh-env` does not touch it: delete it to recreate). piuparts runs its two
# tests: install + purge of deb13u4 in a clean trixie, and install of the archive's deb13u3 ->
# upgrade to our deb13u4 -> remove -> purge (no files left, none changed, no leftover processes).
# The mirrors are the host's (need_mirrors; piuparts downloads the dependencies). A check group of
# `make check`: one result line, piuparts PASS/FAIL; the log is out/check/piuparts/piuparts.log.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

LOGS=$OUT/check/piuparts
BASETGZ=$ENV_DIR/piuparts-trixie-amd64.tar.gz
DEB=$OUT/${SRC_NAME}_${NEW_VERSION}_amd64.deb
mkdir -p "$LOGS"
if [[ $EUID -ne 0 ]]; then result SKIP piuparts "needs root"; exit 0; fi
need piuparts mmdebstrap
[[ -f $DEB ]] || { result FAIL piuparts "no $DEB: run make package first"; exit 0; }
need_mirrors
ensure_build_user

if [[ ! -s $BASETGZ ]]; then
    step "creating the piuparts base tarball $BASETGZ (mmdebstrap minbase, unshare mode)"
    tmp=$ENV_DIR/piuparts-trixie-amd64.new.tar.gz
    rm -f "$tmp"
    as_builder mmdebstrap --mode=unshare --variant=minbase --arch=amd64 trixie "$tmp" \
        "deb $MIRROR trixie main" "deb $MIRROR trixie-updates main" \
        "deb $SECURITY_MIRROR trixie-security main" \
        || { rm -f "$tmp"; result FAIL piuparts "mmdebstrap could not create the base tarball"; exit 0; }
    mv "$tmp" "$BASETGZ"
    step_done
fi

step "piuparts $NEW_VERSION: install+purge, then $BASE_VERSION (archive) -> $NEW_VERSION upgrade, remove, purge (log: ${LOGS#"$TOP"/}/piuparts.log)"
# --ignore: the directory apt's debconf preconfiguration (apt-extracttemplates) creates for a
# package with debconf templates (openvpn has some) in trixie; owned by no package, left by apt,
# not by openvpn. bookworm's piuparts 1.1.7 does not know it yet.
rm -f "$LOGS/piuparts.log"
t0=$(date +%s)
rc=0
nice -n 10 piuparts --basetgz="$BASETGZ" --distribution=trixie --arch=amd64 \
    --mirror="$MIRROR main" \
    --extra-repo="deb $MIRROR trixie-updates main" \
    --extra-repo="deb $SECURITY_MIRROR trixie-security main" \
    --ignore=/var/cache/debconf/tmp.ci/ \
    --log-file="$LOGS/piuparts.log" \
    "$DEB" > "$LOGS/piuparts.out" 2>&1 || rc=$?
secs=$(( $(date +%s) - t0 ))
# What piuparts did (its log headings), as progress output
grep -E 'INFO: (Installation|Install|Upgrade|Remov|Purg|PASS|FAIL)' "$LOGS/piuparts.log" | cut -c1-160 | sed 's/^/    /' || true
upgraded=no
grep -q "INFO: PASS: Installation, upgrade and purging tests" "$LOGS/piuparts.log" \
    && grep -qF "Unpacking openvpn ($NEW_VERSION) over ($BASE_VERSION)" "$LOGS/piuparts.log" && upgraded=yes
verdict=$(grep -E '(INFO|ERROR): (PASS|FAIL): ' "$LOGS/piuparts.log" | tail -n1 | sed -E 's/.*(INFO|ERROR): //')
if [[ $rc -eq 0 && $verdict == PASS:* && $upgraded == yes ]]; then
    result PASS piuparts "trixie, ${secs}s: install+purge of $NEW_VERSION; $BASE_VERSION from the archive, $NEW_VERSION unpacked over it, remove, purge; nothing left or changed: $verdict"
else
    result FAIL piuparts "exit $rc, upgrade test passed: $upgraded, ${verdict:-no verdict} (${secs}s; see ${LOGS#"$TOP"/}/piuparts.log)"
fi
step_done
