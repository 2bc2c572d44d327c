#!/bin/bash
# check-pipeline.sh: the package-pipeline checks (issue 2) for the target TARGET (trixie, default;
# bookworm: names bookworm/...). Each check records one line with `result`; a failing check does
# not stop the others. Needs the target's out/ from scripts/package.sh.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

DEB=$OUT/${SRC_NAME}_${NEW_VERSION}_amd64.deb
LOG=$OUT/${SRC_NAME}_${NEW_VERSION}_amd64.build
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LOGS=$OUT/check/pipeline
mkdir -p "$LOGS"

check_checksums() {
    if verify_sources "$SRC_CACHE" 2> "$LOGS/checksums.txt"; then
        result PASS sources-checksums "pinned SHA256 of .dsc, .orig.tar.gz, .debian.tar.xz"
    else
        result FAIL sources-checksums "$(head -n3 "$LOGS/checksums.txt" | tr '\n' ' ')"
    fi
}

check_signature() {
    if [[ ! -f /usr/share/keyrings/debian-keyring.gpg ]]; then
        result SKIP sources-signature "debian-keyring not installed"
    elif dscverify --no-conf --keyring /usr/share/keyrings/debian-keyring.gpg "$SRC_CACHE/$BASE_DSC" > "$LOGS/dscverify.txt" 2>&1; then
        result PASS sources-signature "$(grep -m1 -o 'Good signature.*' "$LOGS/dscverify.txt" || echo 'dscverify OK')"
    else
        result FAIL sources-signature "dscverify failed: see out/check/pipeline/dscverify.txt"
    fi
}

# flip FILE: invert one byte in the middle of FILE.
flip() {
    local off byte
    off=$(( $(stat -c %s "$1") / 2 ))
    byte=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059  # the format is the octal escape of the new byte
    printf "\\$(printf '%03o' $(( byte ^ 255 )))" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
}

check_tamper() {
    # 1. the verify function on a tampered copy
    local f=$TMP/tamper/$ORIG_TAR msg rc=0
    mkdir -p "$TMP/tamper"
    cp "$SRC_CACHE/$ORIG_TAR" "$f"
    flip "$f"
    msg=$(verify_file "$f" "${PINNED[$ORIG_TAR]}" 2>&1) || rc=$?
    local actual
    actual=$(sha256sum "$f" | cut -c1-64)
    if [[ $rc -eq 0 || $msg != *"CHECKSUM MISMATCH"* || $msg != *"$f"* || $msg != *"${PINNED[$ORIG_TAR]}"* || $msg != *"$actual"* ]]; then
        result FAIL tamper-verify "verify_file did not report the flipped byte clearly: $msg"
    else
        result PASS tamper-verify "flipped byte detected: file, expected and actual hash named"
    fi
    # 2. the whole main job on a cache with a tampered file, and an out/ holding an old result
    local cache=$TMP/cache out=$TMP/out src=$TMP/cache/${SRC_CACHE##*/}
    mkdir -p "$src" "$out"
    cp -r "$SRC_CACHE"/*.dsc "$SRC_CACHE"/*.tar.* "$SRC_CACHE/debs" "$src/"
    flip "$src/${PINNED_FILES[2]}"
    touch "$out/$NEW_DSC" "$out/$DEBDIFF_NAME"
    rc=0
    CACHE=$cache OUT=$out BUILD=$TMP/build "$TOP/scripts/package.sh" > "$LOGS/tamper-package.log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]] && grep -q "CHECKSUM MISMATCH for $src/${PINNED_FILES[2]}" "$LOGS/tamper-package.log" \
            && [[ -z $(find "$out" -maxdepth 1 -type f) && ! -e $TMP/build/source ]]; then
        result PASS tamper-package "package.sh stops with the checksum message; out/ left empty, nothing built"
    else
        result FAIL tamper-package "exit $rc; see out/check/pipeline/tamper-package.log; out: $(ls "$out")"
    fi
}

check_quilt() {
    [[ -f $OUT/$NEW_DSC ]] || { result FAIL quilt-series "no $NEW_DSC in out/"; return; }
    local ours_text ours=()
    ours_text=$(our_patches 2>&1) || { result FAIL quilt-series "$ours_text"; return; }
    [[ -z $ours_text ]] || mapfile -t ours <<< "$ours_text"
    dpkg-source -x --skip-patches "$OUT/$NEW_DSC" "$TMP/q" > /dev/null 2>&1 || { result FAIL quilt-series "dpkg-source -x failed"; return; }
    if (cd "$TMP/q" && quilt_push_checked "${ours[@]}") > "$LOGS/quilt.txt" 2>&1; then
        result PASS quilt-series "$(tail -n1 "$LOGS/quilt.txt" | sed 's/^ *//'); no fuzz"
    else
        result FAIL quilt-series "$(grep -E 'FUZZ|OFFSET|failed' "$LOGS/quilt.txt" | head -n3 | tr '\n' ' ')"
    fi
}

check_reproducible() {
    if BUILD=$TMP/rebuild "$TOP/scripts/source.sh" "$TMP/src" > "$LOGS/source-rebuild.log" 2>&1 \
            && cmp -s "$TMP/src/$NEW_DSC" "$OUT/$NEW_DSC"; then
        result PASS dsc-reproducible "rebuilt $NEW_DSC is identical ($(sha256sum "$OUT/$NEW_DSC" | cut -c1-16)...)"
    else
        result FAIL dsc-reproducible "rebuilt $NEW_DSC differs from out/ (see out/check/pipeline/source-rebuild.log)"
    fi
}

check_build_log() {
    [[ -f $LOG ]] || { result FAIL build-sbuild "no build log in out/"; return; }
    if grep -q '^Status: successful' "$LOG"; then
        result PASS build-sbuild "sbuild (unshare, $SUITE) $(grep -m1 '^Build-Time:' "$LOG" || true)"
    else
        result FAIL build-sbuild "$(grep -m1 '^Status:' "$LOG" || echo 'no status line')"
    fi
    # dh_auto_test (debian/rules override_dh_auto_test): Debian's t_*.sh tests and the cmocka
    # drivers named in UNIT_TEST_DRIVERS (debian/packaging.diff)
    local t pass fail skip
    # (harness lines are "RESULT: test-name"; cmocka's own "ERROR: message" lines are not results)
    t=$(sed -n '/^   \(dh_auto_test\|debian\/rules override_dh_auto_test\)/,/^   dh_[a-z_]*$/p' "$LOG" |
        grep -v '^   \(dh_auto_test\|debian/rules\)' || true)
    pass=$(grep -cE '^PASS: [^ ]+$' <<< "$t" || true)
    fail=$(grep -cE '^(FAIL|ERROR|XPASS): [^ ]+$|^[0-9]+ of [0-9]+ tests? failed' <<< "$t" || true)
    skip=$(grep -cE '^SKIP: [^ ]+$' <<< "$t" || true)
    if ((pass == 0)); then
        result FAIL build-dh-auto-test "the build log shows no test run by dh_auto_test"
    elif ((fail > 0)) || ! grep -q '^PASS: t_lpback.sh' <<< "$t" || ! grep -q '^PASS: t_cltsrv.sh' <<< "$t"; then
        result FAIL build-dh-auto-test "$fail failed: $(grep -E '^(FAIL|ERROR|XPASS): [^ ]+$|^PASS: t_' <<< "$t" | tr '\n' ' ')"
    else
        result PASS build-dh-auto-test "make check: $pass passed (t_lpback.sh, t_cltsrv.sh, cmocka drivers), 0 failed, $skip skipped (t_client/t_net need a network setup)"
    fi
    # our cmocka drivers (the only ones debian/rules runs, see README "Unit tests in the build")
    local drivers
    drivers=$(grep -E '^PASS: .*_testdriver' <<< "$t" | sed 's/^PASS: //; s/_testdriver$//' | tr '\n' ' ' || true)
    if [[ " $drivers " == *" dco_linux "* && " $drivers " == *" dco_server "* ]]; then
        result PASS build-unit-tests "cmocka drivers passed: $drivers"
    else
        result FAIL build-unit-tests "dco_linux and dco_server must pass in the build; passed: ${drivers:-none}"
    fi
}

# The .deb depends on the target release's library names (DEB_LIBS: trixie's t64 ones, bookworm's
# old ones), and not on the other release's name of the same library.
check_libnames() {
    [[ -f $DEB ]] || { result FAIL deb-t64-depends "no $DEB"; return; }
    local dep lib other bad=()
    dep=$(dpkg-deb -f "$DEB" Depends)
    for lib in $DEB_LIBS; do
        if [[ $lib == *t64 ]]; then other=${lib%t64}; else other=${lib}t64; fi
        grep -qE "(^|[ ,])$lib(\$|[ ,(])" <<< "$dep" || bad+=("no $lib")
        ! grep -qE "(^|[ ,])$other(\$|[ ,(])" <<< "$dep" || bad+=("has $other")
    done
    if ((${#bad[@]} == 0)); then
        result PASS deb-t64-depends "$SUITE library names: ${DEB_LIBS// /, }"
    else
        result FAIL deb-t64-depends "${bad[*]}; Depends: $dep"
    fi
}

check_debdiff() {
    local d=$OUT/$DEBDIFF_NAME
    if [[ -s $d ]] && grep -qxF "+$(head -n1 "$CHANGELOG_ENTRY")" "$d" \
            && grep -q 'Closes: #1140745' "$d" && grep -qE '^\+  \* Non-maintainer upload( by the LTS Team)?\.$' "$d"; then
        result PASS debdiff "$DEBDIFF_NAME: $(grep -c '' "$d") lines"
    else
        result FAIL debdiff "missing, empty, or without the $NEW_VERSION changelog entry (NMU, Closes: #1140745)"
    fi
}

check_lintian() {
    local n=$OUT/lintian-new-tags.txt
    [[ -f $n && -f $OUT/lintian.txt ]] || { result FAIL lintian-new-tags "no lintian report in out/"; return; }
    local unexplained explained
    unexplained=$(grep '^UNEXPLAINED' "$n" | cut -f2 | tr '\n' ' ' || true)
    explained=$(grep '^EXPLAINED' "$n" | cut -f2 | sed 's/.*: //' | tr '\n' ' ' || true)
    if [[ -n $unexplained ]]; then
        result FAIL lintian-new-tags "unexplained new tags: $unexplained"
    else
        result PASS lintian-new-tags "no unexplained new tag vs archive $BASE_VERSION; explained: ${explained:-none}"
    fi
}

check_overlay_only() {
    if ! git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
        result SKIP repo-overlay-only "not a git checkout"; return
    fi
    local theirs clash
    theirs=$( { tar -tzf "$SRC_CACHE/$ORIG_TAR" | cut -d/ -f2-; tar -tJf "$SRC_CACHE/${PINNED_FILES[2]}"; } | grep -v '/$' | sort -u)
    # .gitignore is this repository's own (upstream's tarball happens to have one too)
    clash=$(comm -12 <(git -C "$TOP" ls-files | grep -vxF '.gitignore' | sort -u) <(echo "$theirs") | tr '\n' ' ')
    clash+=$(git -C "$TOP" ls-files | grep -E '^debian/(control|rules|changelog|copyright|watch|patches/series|tests/control)$|^debian/source/' | tr '\n' ' ' || true)
    if [[ -n $clash ]]; then
        result FAIL repo-overlay-only "OpenVPN/Debian files in git: $clash"
    else
        result PASS repo-overlay-only "$(git -C "$TOP" ls-files | wc -l) tracked files, none from OpenVPN or Debian"
    fi
}

check_shellcheck() {
    command -v shellcheck >/dev/null || { result SKIP shellcheck "shellcheck not installed"; return; }
    local files=() f
    for f in "$TOP"/scripts/*.sh "$TOP/.ci/run"; do
        [[ -f $f && $f != *lib.sh ]] && files+=("${f#"$TOP"/}")
    done
    if (cd "$TOP" && shellcheck -x "${files[@]}") > "$LOGS/shellcheck.txt" 2>&1; then
        result PASS shellcheck "${#files[@]} scripts (libraries checked through them)"
    else
        result FAIL shellcheck "see out/check/pipeline/shellcheck.txt: $(grep -oE '^In [^ ]+' "$LOGS/shellcheck.txt" | sort -u | tr '\n' ' ')"
    fi
}

# need_mirrors on sample apt sources (no network): a deb822 file, a one-line list, an empty
# configuration (clear error), and the environment override.
check_mirrors() {
    local d=$TMP/mirrors got rc msg fails=()
    mkdir -p "$d/822.d" "$d/list.d" "$d/empty.d"
    # deb822: a disabled stanza, a third-party "stable main" repository sorted first, a local
    # apt proxy serving the archive (two suites) and the security archive, comments.
    cat > "$d/822.d/aaa-vendor.sources" <<'EOF'
Types: deb
URIs: https://vendor.example.net/apt
Suites: stable
Components: main
Signed-By: /usr/share/keyrings/vendor.gpg
EOF
    cat > "$d/822.d/debian.sources" <<'EOF'
# disabled: the old mirror
Types: deb
URIs: http://old-mirror.lan/debian
Suites: trixie
Components: main
Enabled: no

Types: deb deb-src
URIs: http://apt-proxy.lan:3142/debian/
Suites: trixie trixie-updates
Components: main contrib non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

types: deb
uris: http://apt-proxy.lan:3142/debian-security
suites: trixie-security
components: main
signed-by: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # one-line: options in brackets, a comment, a deb-src line, a non-Debian suite
    cat > "$d/sources.list" <<'EOF'
# deb http://commented.lan/debian bookworm main
deb [ arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] http://mirror.lan/debian bookworm main contrib
deb-src http://mirror.lan/debian bookworm main
deb http://ppa.lan/repo ./
deb http://mirror.lan/debian-security/ bookworm-security main   # security
EOF
    got=$( (unset MIRROR SECURITY_MIRROR; need_mirrors /nonexistent "$d/822.d"; echo "$MIRROR $SECURITY_MIRROR") 2>&1) || true
    [[ $got == "http://apt-proxy.lan:3142/debian http://apt-proxy.lan:3142/debian-security" ]] || fails+=("deb822: $got")
    got=$( (unset MIRROR SECURITY_MIRROR; need_mirrors "$d/sources.list" "$d/empty.d"; echo "$MIRROR $SECURITY_MIRROR") 2>&1) || true
    [[ $got == "http://mirror.lan/debian http://mirror.lan/debian-security" ]] || fails+=("one-line: $got")
    rc=0
    msg=$( (unset MIRROR SECURITY_MIRROR; need_mirrors /nonexistent "$d/empty.d"; echo "$MIRROR $SECURITY_MIRROR") 2>&1) || rc=$?
    [[ $rc -ne 0 && $msg == "ERROR: no Debian archive mirror found in the host's apt sources"*"set MIRROR="* ]] || fails+=("empty: exit $rc: $msg")
    got=$( (MIRROR=http://env.lan/debian SECURITY_MIRROR=http://env.lan/debian-security; need_mirrors /nonexistent "$d/empty.d"; echo "$MIRROR $SECURITY_MIRROR") 2>&1) || true
    [[ $got == "http://env.lan/debian http://env.lan/debian-security" ]] || fails+=("override: $got")
    if ((${#fails[@]} == 0)); then
        result PASS apt-mirrors "need_mirrors: deb822 (local apt proxy; disabled stanza and third-party repository skipped), one-line list, MIRROR override; an empty configuration dies clearly"
    else
        result FAIL apt-mirrors "${fails[*]}"
    fi
}

# autopkgtest on our .debs in the target release (unshare); isolation-machine tests are skipped there.
check_autopkgtest() {
    [[ -f $DEB ]] || { result FAIL autopkgtest "no .deb in out/"; return; }
    need autopkgtest
    ensure_env
    local job=$WORK/autopkgtest rc=0
    rm -rf "$job"
    as_builder mkdir -p "$job/in"
    cp "$OUT/$NEW_DSC" "$OUT/${SRC_NAME}_${NEW_VERSION}.debian.tar.xz" "$OUT/$ORIG_TAR" "$DEB" "$job/in/"
    # the build user must own them: autopkgtest hard-links the .debs (fs.protected_hardlinks)
    if [[ $EUID -eq 0 ]]; then chown -R "$BUILD_USER:" "$job/in"; fi
    info "autopkgtest (unshare, $SUITE): about 3-5 min"
    as_builder_logged "$job/autopkgtest.log" autopkgtest --output-dir "$job/out" "$job/in/$NEW_DSC" \
        "$job/in/${DEB##*/}" --apt-upgrade -- unshare --release "$SUITE" --arch amd64 --tarball "$TARBALL" || rc=$?
    cp "$job/autopkgtest.log" "$LOGS/autopkgtest.log" || true
    rm -rf "$LOGS/autopkgtest-out"
    if [[ -d $job/out ]]; then cp -r "$job/out" "$LOGS/autopkgtest-out"; fi
    local name status rest
    if [[ -f $job/out/summary ]]; then
        while read -r name status rest; do
            case $status in
                PASS)
                    if [[ $name == unit-tests ]]; then
                        rest="cmocka drivers passed: $(grep -E '^PASS: [^ ]+_testdriver$' "$job/out/log" | sed 's/^PASS: //; s/_testdriver$//' | sort -u | tr '\n' ' ')"
                    fi
                    result PASS "autopkgtest/$name" "$rest" ;;
                SKIP) result SKIP "autopkgtest/$name" "$rest" ;;
                *) result FAIL "autopkgtest/$name" "$status $rest" ;;
            esac
        done < <(grep -E '^[a-z0-9][^ ]* +(PASS|FAIL|SKIP|FLAKY|BROKEN|NEUTRAL)( |$)' "$job/out/summary" | sort -u -k1,1)
    fi
    case $rc in
        0|2|4|6) ;;                                  # pass / some skipped / failures recorded above
        8) result SKIP autopkgtest "no tests in this package" ;;
        *) result FAIL autopkgtest "autopkgtest exit $rc (testbed or other error); see out/check/pipeline/autopkgtest.log" ;;
    esac
}

# The target's copies of shared patches (targets/$TARGET/patches/) may differ from debian/patches/
# only by their header note and the line numbers of @@ hunk headers: the fix itself is shared.
check_patch_copies() {
    local copy shared diffs bad=() n=0
    for copy in "$TARGET_DIR"/patches/*.patch; do
        [[ -f $copy ]] || continue
        n=$((n + 1))
        shared=$TOP/debian/patches/${copy##*/}
        [[ -f $shared ]] || { bad+=("${copy##*/}: no shared patch of that name"); continue; }
        diffs=$(diff <(sed -n '/^---$/,$p' "$shared" | sed -E 's/^@@ -[0-9]+,[0-9]+ \+[0-9]+,[0-9]+ @@/@@/') \
                     <(sed -n '/^---$/,$p' "$copy" | sed -E 's/^@@ -[0-9]+,[0-9]+ \+[0-9]+,[0-9]+ @@/@@/') | head -n3 || true)
        [[ -z $diffs ]] || bad+=("${copy##*/} differs beyond hunk line numbers: $diffs")
        grep -q "^ *Bookworm copy: " "$copy" || bad+=("${copy##*/}: no 'Bookworm copy:' note in its header")
    done
    if ((${#bad[@]} == 0)); then
        result PASS patch-copies "$n refreshed copies in targets/$TARGET/patches/ differ from debian/patches/ only in hunk line numbers and their header note"
    else
        result FAIL patch-copies "${bad[*]}"
    fi
}

check_checksums
check_signature
check_tamper
check_quilt
check_reproducible
check_build_log
check_libnames
check_debdiff
check_lintian
if [[ $TARGET == trixie ]]; then
    # target-independent: run once
    check_overlay_only
    check_shellcheck
    check_mirrors
else
    check_patch_copies
fi
check_autopkgtest
