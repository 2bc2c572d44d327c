#!/bin/bash
# Upstream's cmocka unit tests, with our DCO regression test (tests/unit_tests/openvpn/
# test_dco_linux.c from dco-unit-test-notifications.patch), built on the host from the
# materialised tree. These are test builds only; the package itself is built for trixie.
#   1. fixed tree (whole series): every unit test passes, and each DCO case is reported;
#   2. stock tree (Debian's deb13u3 series + only the test patch, -DDCO_TEST_STOCK_API): the
#      DCO test must fail in exactly the expected cases, which proves it can fail;
#   3. a mutant of the fixed code that behaves like upstream's first backport (#1020) is caught,
#      and so are five mutants by the real-code server test (no top->multi in
#      tunnel_server_tcp, NL_STOP on a malformed DEL_PEER, acks not matched by sequence number,
#      the netlink socket not replaced after an overrun, no resync for a DEL_PEER read during the
#      peer's own NEW_PEER),
#      and so is the loss of either untested upstream backport (5b17c050: key-state desync
#      ASSERTs again; fae4a9e3: DCO socket not waited on after a --persist-tun reconnect);
#   3b. each patch added after the series landed (LANDED_AFTER), reverse-applied alone: its
#      real-code test case must fail (the landed deb13u4 code), every other case must pass;
#   4. fixed tree under ASan+UBSan (leak checks included): every unit test passes, and each
#      case of the real-code DCO server test (dco_server_testdriver, test_dco_server.c from
#      dco-unit-test-real-code.patch) is reported;
#   5. "upstream's picks alone" (Debian's series + the three upstream backports + the test
#      patches) under ASan: the real-code test must fail in exactly its race cases and the
#      cases of the two backports that tree lacks (fae4a9e3, 5b17c050), and the refused key
#      (it lacks dco-close-client-whose-key-cannot-be-installed.patch), both of its cases.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

# The cases that show the bug on 2.6.14 (see the comment at the top of test_dco_linux.c).
STOCK_EXPECTED_FAIL="test_del_peer_batch test_del_peer_during_dump test_stats_request_inside_dispatch test_malformed_messages"
TEST_PATCH=dco-unit-test-notifications.patch
# The real-code server test (see the comment at the top of test_dco_server.c): on upstream's
# three picks alone a DEL_PEER read inside a netlink request closes and frees the instance.
REAL_TEST_PATCH=dco-unit-test-real-code.patch
PICKS="dco-port-core-context-infrastructure.patch dco-backport-immediate-notification-processing.patch dco-linux-enforce-ifindex-only-for-DEL_PEER-notifications.patch"
PICKS_EXPECTED_FAIL="test_dup_cn_del_peer_of_next test_kill_by_cn_del_peer_of_next test_key_update_del_peer_self test_post_second_reference test_shutdown_del_peers test_overrun_resync test_overrun_inside_request test_late_ack_of_abandoned_request test_overrun_socket_stays_congested test_del_peer_during_new_peer test_malformed_before_del_peer test_key_desync_primary_not_installed test_key_desync_swap test_key_install_with_two_installed test_key_install_peer_gone test_key_refused_before_del_peer test_persist_tun_reconnect_dco_event"
MUTANT_EXPECTED_FAIL="test_malformed_before_del_peer test_tcp_server_wiring test_late_ack_of_abandoned_request test_overrun_inside_request test_overrun_socket_stays_congested test_del_peer_during_new_peer"
# The cases of upstream 5b17c050 (key-state desync) and fae4a9e3 (persist-tun), which upstream
# has no test for: they must fail on a mutant that undoes both (tests/unit/mutant-backports.sh).
BACKPORTS_EXPECTED_FAIL="test_key_desync_primary_not_installed test_key_desync_swap test_key_install_with_two_installed test_persist_tun_reconnect_dco_event"
# Patches added after the series landed, each with the real-code cases that must fail without it
# (PATCH:CASE[,CASE...] ...; tests/unit/without-patch.sh).
LANDED_AFTER="dco-close-client-whose-key-cannot-be-installed.patch:test_key_install_peer_gone,test_key_refused_before_del_peer"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
REAL_SKIP="$REAL_TEST_PATCH is not listed in debian/patches/series.append"
UNIT=$BUILD/unit
HOST_PKGS=(build-essential autoconf automake libtool pkg-config libssl-dev liblzo2-dev
           liblz4-dev libnl-genl-3-dev libcap-ng-dev libcmocka-dev)
CONFIGURE_ARGS=(--enable-dco --disable-plugin-auth-pam --disable-plugin-down-root)

install_host_pkgs() {
    local missing=() p
    for p in "${HOST_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    step "installing build dependencies for the host unit-test builds: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    step_done
}

# make_trees: $UNIT/fixed-src with the whole series, $UNIT/stock-src with Debian's series plus
# the test patch alone.
make_trees() {
    "$TOP/scripts/materialise.sh" "$UNIT/fixed-src"
    step "preparing the stock tree (deb13u3 + $TEST_PATCH only)"
    rm -rf "$UNIT/stock-src"
    cp -a "$UNIT/fixed-src" "$UNIT/stock-src"
    (
        cd "$UNIT/stock-src"
        quilt --quiltrc="$QUILTRC" pop -a -q >/dev/null
        local p
        while read -r p; do
            [[ $p == "$TEST_PATCH" ]] || sed -i "/^${p//./\\.}\$/d" debian/patches/series
        done < <(our_patches)
        quilt --quiltrc="$QUILTRC" push -a -q --fuzz=0 >/dev/null
        grep -q 'dco_read_and_process' src/openvpn/dco.h && die "stock tree unexpectedly carries the fix"
        [[ -f tests/unit_tests/openvpn/test_dco_linux.c ]] || die "stock tree lacks the test"
    )
    step_done

    real_test_listed || return 0
    step "preparing the picks tree (deb13u3 + upstream's three picks + the test patches)"
    rm -rf "$UNIT/picks-src"
    cp -a "$UNIT/fixed-src" "$UNIT/picks-src"
    (
        cd "$UNIT/picks-src"
        quilt --quiltrc="$QUILTRC" pop -a -q >/dev/null
        local p
        while read -r p; do
            [[ " $PICKS $TEST_PATCH $REAL_TEST_PATCH " == *" $p "* ]] ||
                sed -i "/^${p//./\\.}\$/d" debian/patches/series
        done < <(our_patches)
        quilt --quiltrc="$QUILTRC" push -a -q --fuzz=0 >/dev/null
        grep -q 'multi_process_deferred_dco' src/openvpn/multi.h && die "picks tree unexpectedly carries the deferred close"
        grep -q 'dco_read_and_process' src/openvpn/dco.h || die "picks tree lacks upstream's immediate processing"
        [[ -f tests/unit_tests/openvpn/test_dco_server.c ]] || die "picks tree lacks the real-code test"
    )
    step_done
}

# real_test_listed: whether the real-code server test patch is part of our series.
real_test_listed() {
    our_patches | grep -qxF "$REAL_TEST_PATCH"
}

# configure_build SRC BUILDDIR [configure args...]: out-of-tree configure of an autoreconf'ed tree.
configure_build() {
    local src=$1 dir=$2; shift 2
    if [[ ! -x $src/configure || $src/configure.ac -nt $src/configure ||
          $src/tests/unit_tests/openvpn/Makefile.am -nt $src/tests/unit_tests/openvpn/Makefile.in ]]; then
        (cd "$src" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf failed in $src"
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && "$src/configure" "${CONFIGURE_ARGS[@]}" "$@" > configure.log 2>&1) \
        || { tail -20 "$dir/configure.log"; die "configure failed in $dir"; }
    grep -q '^#define ENABLE_DCO 1' "$dir/config.h" || die "DCO is not enabled in $dir"
    make -C "$dir" config-version.h > "$dir/config-version.log" 2>&1
}

# unit_suite BUILDDIR NAME: builds and runs every upstream unit test driver; records one result.
unit_suite() {
    local dir=$1 name=$2 log
    log=$dir/unit-tests.log
    if make -C "$dir/tests/unit_tests" -j"$(nproc)" check > "$log" 2>&1; then
        result PASS "$name" "$(grep -c '^PASS: ' "$log") drivers passed, $(grep -c '^SKIP: ' "$log") skipped"
    else
        grep -E '^(FAIL|ERROR):' "$log" || tail -30 "$log"
        result FAIL "$name" "see $log"
    fi
}

# driver_cases BUILDDIR DRIVER LOG: runs one cmocka driver alone (sanitizer options as for the
# suite), prints "ok NAME" / "fail NAME" lines; its TAP output and stderr go to LOG.
driver_cases() {
    local dir=$1/tests/unit_tests/openvpn driver=$2 log=$3
    make -C "$dir" "$driver" > "$1/$driver-build.log" 2>&1 \
        || { tail -20 "$1/$driver-build.log"; return 1; }
    (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        CMOCKA_MESSAGE_OUTPUT=TAP "./$driver" > "$log" 2>&1) || true
    sed -nE -e 's/^ok [0-9]+ - (test_[a-z0-9_]+).*/ok \1/p' \
        -e 's/^not ok [0-9]+ - (test_[a-z0-9_]+).*/fail \1/p' "$log"
}

# dco_cases BUILDDIR: the notification test (dco_linux_testdriver).
dco_cases() {
    driver_cases "$1" dco_linux_testdriver "$1/dco-tap.log"
}

# server_cases BUILDDIR: the real-code server test (dco_server_testdriver).
server_cases() {
    driver_cases "$1" dco_server_testdriver "$1/dco-server-tap.log"
}

# judge_cases LABEL EXPECTED_FAIL FAIL_TEXT PASS_TEXT LOG: reads "ok|fail NAME" lines (from
# dco_cases/server_cases) and records one result per case: the cases named in EXPECTED_FAIL must
# fail, every other one must pass; no case at all is a failure too.
judge_cases() {
    local label=$1 expected=$2 fail_text=$3 pass_text=$4 log=$5 n=0 status name expect what
    while read -r status name; do
        n=$((n + 1))
        expect=ok what=$pass_text
        if [[ " $expected " == *" $name "* ]]; then
            expect=fail what=$fail_text
        fi
        if [[ $status == "$expect" ]]; then
            result PASS "$label: $name" "$what"
        else
            result FAIL "$label: $name" "expected '$expect', got '$status' (see $log)"
        fi
    done
    ((n > 0)) || result FAIL "$label: test driver ran" "no test case output, see $log"
}

install_host_pkgs
need autoreconf make gcc quilt
make_trees

step "unit tests, fixed tree (all upstream drivers + DCO regression test)"
configure_build "$UNIT/fixed-src" "$UNIT/fixed"
unit_suite "$UNIT/fixed" "unit: upstream cmocka suite incl. dco_linux_testdriver (fixed tree)"
while read -r status name; do
    if [[ $status == ok ]]; then
        result PASS "unit/dco fixed: $name"
    else
        result FAIL "unit/dco fixed: $name" "see $UNIT/fixed/dco-tap.log"
    fi
done < <(dco_cases "$UNIT/fixed")
step_done

step "DCO regression test against stock 2.6.14 (must fail in: $STOCK_EXPECTED_FAIL)"
configure_build "$UNIT/stock-src" "$UNIT/stock" CPPFLAGS=-DDCO_TEST_STOCK_API
judge_cases "unit/dco stock" "$STOCK_EXPECTED_FAIL" "fails on stock, as expected" \
    "passes on stock too" "$UNIT/stock/dco-tap.log" < <(dco_cases "$UNIT/stock")
step_done

step "DCO regression test against a #1020 mutant (upstream's first backport: ifindex on every message)"
if "$TOP/tests/unit/mutant-1020.sh" "$UNIT/fixed-src" "$UNIT/fixed" > "$UNIT/mutant-1020.log" 2>&1 &&
   grep -q '^not ok [0-9]* - test_stats_reply_without_ifindex' "$UNIT/mutant-1020.log"; then
    result PASS "unit/dco mutant #1020: test_stats_reply_without_ifindex catches it" \
        "$(grep -c '^not ok' "$UNIT/mutant-1020.log") cases fail on the mutant"
else
    result FAIL "unit/dco mutant #1020: not caught" "see $UNIT/mutant-1020.log"
fi
step_done

step "real-code DCO server test against mutants of the fixed code (TCP server wiring, NL_STOP, ack matching, socket not replaced, DEL_PEER during NEW_PEER)"
if ! real_test_listed; then
    result SKIP "unit/dco-server mutant" "$REAL_SKIP"
elif "$TOP/tests/unit/mutant-server.sh" "$UNIT/fixed-src" "$UNIT/fixed" > "$UNIT/mutant-server.log" 2>&1; then
    for name in $MUTANT_EXPECTED_FAIL; do
        if grep -q "^not ok [0-9]* - $name\$" "$UNIT/mutant-server.log"; then
            result PASS "unit/dco-server mutant: $name catches it"
        else
            result FAIL "unit/dco-server mutant: $name does not catch it" "see $UNIT/mutant-server.log"
        fi
    done
    want=$(wc -w <<< "$MUTANT_EXPECTED_FAIL")
    got=$(grep -c '^not ok' "$UNIT/mutant-server.log" || true)
    if [[ $got == "$want" ]]; then
        result PASS "unit/dco-server mutant: no other case affected"
    else
        result FAIL "unit/dco-server mutant: $got cases fail, expected $want" "see $UNIT/mutant-server.log"
    fi
else
    result FAIL "unit/dco-server mutant: could not build or run" "see $UNIT/mutant-server.log"
fi
step_done

step "real-code DCO test against a mutant without upstream's 5b17c050 and fae4a9e3 (must fail in: $BACKPORTS_EXPECTED_FAIL)"
if ! real_test_listed; then
    result SKIP "unit/dco-server backports mutant" "$REAL_SKIP"
elif "$TOP/tests/unit/mutant-backports.sh" "$UNIT/fixed-src" "$UNIT/fixed" > "$UNIT/mutant-backports.log" 2>&1; then
    judge_cases "unit/dco-server backports mutant" "$BACKPORTS_EXPECTED_FAIL" \
        "fails without the backport, as expected" "passes on the mutant too" "$UNIT/mutant-backports.log" \
        < <(sed -nE -e 's/^ok [0-9]+ - (test_[a-z0-9_]+).*/ok \1/p' \
                    -e 's/^not ok [0-9]+ - (test_[a-z0-9_]+).*/fail \1/p' "$UNIT/mutant-backports.log")
else
    result FAIL "unit/dco-server backports mutant: could not build or run" "see $UNIT/mutant-backports.log"
fi
step_done

for item in $LANDED_AFTER; do
    p=${item%%:*} case=${item#*:} case=${case//,/ }
    step "real-code DCO test on the landed code: the series without $p (must fail in: $case)"
    log=$UNIT/without-${p%.patch}.log
    if ! real_test_listed; then
        result SKIP "unit/dco-server without $p" "$REAL_SKIP"
    elif ! our_patches | grep -qxF "$p"; then
        result FAIL "unit/dco-server without $p" "$p is not in debian/patches/series.append"
    elif "$TOP/tests/unit/without-patch.sh" "$UNIT/fixed-src" "$UNIT/fixed" \
            "$UNIT/fixed-src/debian/patches/$p" > "$log" 2>&1; then
        judge_cases "unit/dco-server without $p" "$case" "fails on the landed code, as expected" \
            "passes on the landed code too" "$log" \
            < <(sed -nE -e 's/^ok [0-9]+ - (test_[a-z0-9_]+).*/ok \1/p' \
                        -e 's/^not ok [0-9]+ - (test_[a-z0-9_]+).*/fail \1/p' "$log")
    else
        result FAIL "unit/dco-server without $p: could not build or run" "see $log"
    fi
    step_done
done

step "unit tests under ASan+UBSan (fixed tree)"
configure_build "$UNIT/fixed-src" "$UNIT/asan" CFLAGS="-g -O1 $SAN" LDFLAGS="$SAN"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    unit_suite "$UNIT/asan" "unit: upstream cmocka suite incl. the DCO drivers under ASan+UBSan"
if real_test_listed; then
    judge_cases "unit/dco-server asan" "" "" "" "$UNIT/asan/dco-server-tap.log" \
        < <(server_cases "$UNIT/asan")
else
    result SKIP "unit/dco-server asan" "$REAL_SKIP"
fi
step_done

if real_test_listed; then
    step "real-code DCO server test against upstream's picks alone, ASan (must fail in: $PICKS_EXPECTED_FAIL)"
    configure_build "$UNIT/picks-src" "$UNIT/picks-asan" CFLAGS="-g -O1 $SAN" LDFLAGS="$SAN"
    judge_cases "unit/dco-server picks" "$PICKS_EXPECTED_FAIL" \
        "fails on upstream's picks alone, as expected" "passes on upstream's picks alone too" \
        "$UNIT/picks-asan/dco-server-tap.log" < <(server_cases "$UNIT/picks-asan")
    step_done
else
    result SKIP "unit/dco-server picks" "$REAL_SKIP"
fi
