#!/bin/bash
# pu-request.sh: `make pu-request` (issue 8 item 7).
#  1. out/trixie-pu.txt: the release.debian.org "trixie-pu" request as reportbug writes it (mail
#     headers, pseudo-headers, the [ Reason ] ... [ Other info ] sections), with the numbers of
#     the last `make check` (out/check/results.txt) and, when present, `make bench`
#     (out/bench/bench-mean.csv), and the source debdiff inline. A missing or failing check
#     result is an error: the request never carries placeholders.
#  2. out/salsa/*.patch: our change as a `git format-patch` series on a `gbp import-dsc` of the
#     archive's deb13u3 (one commit per patch, then packaging, tests, changelog), for a merge
#     request on the packaging repository (`git am` on its trixie branch).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"
need gbp git dpkg-source dpkg-parsechangelog diffstat

PU=$OUT/trixie-pu.txt
SALSA=$OUT/salsa
DEBDIFF=$OUT/$DEBDIFF_NAME
BENCH_MEAN=$OUT/bench/bench-mean.csv
BUG=1140745

step "inputs: out/ package, last make check results"
rm -rf "$PU" "$SALSA"    # never leave an older request behind that looks current
for f in "$OUT/$NEW_DSC" "$DEBDIFF" "$SRC_CACHE/$BASE_DSC" "$RESULTS"; do
    [[ -s $f ]] || die "missing $f: run make package and make check first (the request reports their real results)"
done
[[ $RESULTS -nt $OUT/$NEW_DSC ]] || die "$RESULTS is older than out/$NEW_DSC: run make check again for this build"
fails=$(grep '^FAIL' "$RESULTS" | cut -f2 | tr '\n' ' ' || true)
[[ -z $fails ]] || die "the last make check has failures ($fails): a trixie-pu request needs a passing check"
# res NAME: the detail of result line NAME (must be there and PASS).
res() {
    local line
    line=$(awk -F'\t' -v n="$1" '$2 == n { l = $0 } END { print l }' "$RESULTS")
    [[ -n $line ]] || die "$RESULTS has no '$1' line: run the full make check (as root, with the VM tests)"
    [[ $line == PASS$'\t'* ]] || die "'$1' did not pass in the last make check: $line"
    cut -f3- <<< "$line"
}
# kv KEY DETAIL: the value of KEY=value in a result detail.
kv() { grep -oE "(^|[ ,(])$1=[^,; )]*" <<< "$2" | head -n1 | sed -E 's/^[ ,(]?[^=]*=//'; }
fixed=$(res vm-dco-storm-fixed)
stock=$(res vm-dco-storm-stock-fails)
n=$(kv N "$fixed")
for k in stale reconnected drain_s; do
    [[ -n $(kv "$k" "$fixed") ]] || die "vm-dco-storm-fixed has no $k= in its detail: $fixed"
    [[ -n $(kv "$k" "$stock") ]] || die "vm-dco-storm-stock-fails has no $k= in its detail: $stock"
done
# count NAME_RE [DETAIL_RE]: how many PASS lines have a name (and detail) matching the awk regexes.
count() { awk -F'\t' -v re="$1" -v dre="${2:-}" '$1 == "PASS" && $2 ~ re && $3 ~ dre { n++ } END { print n + 0 }' "$RESULTS"; }
unit_fixed=$(count '^unit/dco fixed: '); unit_stock=$(count '^unit/dco stock: ')
unit_stock_fail=$(count '^unit/dco stock: ' 'fails')
unit_server=$(count '^unit/dco-server asan: '); unit_picks=$(count '^unit/dco-server picks: ')
unit_picks_fail=$(count '^unit/dco-server picks: ' 'fails')
unit_mutants=$(count '^unit/.*catches it')
((unit_fixed > 0 && unit_stock > 0)) || die "$RESULTS has no DCO unit test cases (scripts/unit-tests.sh)"
drivers=$(awk -F'\t' '$1 == "PASS" && $2 ~ /^unit/ && $3 ~ /drivers passed/ { print $2 ": " $3 }' "$RESULTS")
build_tests=$(res build-dh-auto-test); build_units=$(res build-unit-tests)
autopkgtests=$(awk -F'\t' '$2 ~ /^autopkgtest\// { sub(/^autopkgtest\//, "", $2); printf "%s%s %s", (n++ ? ", " : ""), $2, $1 }' "$RESULTS")
total_pass=$(grep -c '^PASS' "$RESULTS"); total_skip=$(grep -c '^SKIP' "$RESULTS" || true)
checked=$(date -r "$RESULTS" -u +'%Y-%m-%d %H:%M UTC')
info "$RESULTS ($checked): $total_pass passed, 0 failed, $total_skip skipped"
step_done

# optional(NAME): the detail of result line NAME, or nothing when that check did not run.
optional() { awk -F'\t' -v n="$1" '$1 == "PASS" && $2 == n { l = $3 } END { print l }' "$RESULTS"; }
overrun=$(optional vm-dco-storm-overrun-fixed); distinct=$(optional vm-dco-storm-distinct-fixed)
piuparts=$(optional piuparts); repo=$(optional repo-apt-verify); lintian=$(optional lintian-new-tags)

if ! uploader_identity; then
    printf 'WARNING: no DEBFULLNAME/DEBEMAIL: the request and the salsa commits carry the placeholder identity %s; do not send them\n' "$UPLOADER" >&2
fi
grep -q 'placeholder\.invalid' "$DEBDIFF" && printf 'WARNING: the debdiff (changelog trailer) carries the placeholder identity: rebuild with DEBFULLNAME/DEBEMAIL before uploading\n' >&2

WORKDIR=$(mktemp -d -p "${TMPDIR:-/tmp}" pu-request.XXXXXX)
trap 'rm -rf "$WORKDIR"' EXIT
NEW_TREE=$WORKDIR/new
dpkg-source --no-check -x --skip-patches "$OUT/$NEW_DSC" "$NEW_TREE" > "$WORKDIR/dpkg-source.log" 2>&1 || die "dpkg-source -x $OUT/$NEW_DSC failed"
# the source files our patches (not the test patches) change
touched=$(for p in $(our_patches); do
              [[ $p == *unit-test* ]] || sed -nE 's@^\+\+\+ [^/]+/([^[:space:]]+).*@\1@p' "$TOP/debian/patches/$p"
          done | sort -u | tr '\n' ' ' | sed 's/ $/./; s/ /, /g')

step "writing ${PU#"$TOP"/}"
bench_text() {
    if [[ ! -f $BENCH_MEAN ]]; then
        [[ ! -f $OUT/bench/bench.csv ]] || die "out/bench/bench.csv without bench-mean.csv: make bench did not finish"
        return 0
    fi
    echo "- DCO storm benchmark (make bench, $(date -r "$BENCH_MEAN" -u +%Y-%m-%d), means per N; bpo = 2.7 from"
    echo "  trixie-backports, for comparison):"
    awk -F, 'BEGIN { printf "  %-6s %-17s %5s %7s %10s %12s %10s %7s\n", "", "version", "N", "stale", "drain (s)", "reconnected", "rejected", "passed" }
        { printf "  %-6s %-17s %5s %7s %10s %12s %10s %7s\n", $1, $10, $2, $3, ($4 == "NaN" ? "never" : $4), $7, $8, $9 }' "$BENCH_MEAN"
}
{
    cat <<EOF
Subject: trixie-pu: package $SRC_NAME/$NEW_VERSION
Package: release.debian.org
Severity: normal
Tags: trixie
User: release.debian.org@packages.debian.org
Usertags: pu
Control: affects -1 + src:$SRC_NAME
X-Debbugs-Cc: $SRC_NAME@packages.debian.org, $UPLOADER

[ Reason ]
OpenVPN 2.6.14 in trixie, as a server with data-channel offload (DCO, the
ovpn-dco kernel module from openvpn-dco-dkms), loses kernel DEL_PEER
notifications: it keeps only the last notification of a netlink read in a
single slot, and those read while one of its own netlink requests waits for
its reply go to that request's callback. When many clients time out at once
(keepalive after a network outage) the lost notifications leave dead client
instances behind until --max-clients refuses every new connection (#$BUG).
Upstream fixed it in 2.6.20; this update backports that fix and two related
upstream fixes, and closes the remaining gaps of that design on 2.6.14.

[ Impact ]
DCO servers (the default on trixie when openvpn-dco-dkms is installed and the
configuration allows it) stop accepting clients after a mass disconnect and
need a restart. In the storm test below, deb13u3 kept $(kv stale "$stock") of $(kv N "$stock") dead
instances (stale=$(kv stale "$stock")), only $(kv reconnected "$stock") clients got back in, with $(kv rejected "$stock") rejected
connection attempts.$( [[ -z $overrun ]] || printf '\nOn a netlink socket overrun (ENOBUFS; the default net.core.rmem_max caps\nthe 1 MiB buffer the server asks for) deb13u3 exits.' )

[ Tests ]
All from \`make check\` of $checked ($total_pass passed, 0 failed, $total_skip skipped):
- Peer-deletion storm on a real ovpn-dco kernel module in a trixie VM (new
  isolation-machine autopkgtest debian/tests/dco-storm): N=$n clients expire
  at once.
    deb13u4: stale=$(kv stale "$fixed"), reconnected=$(kv reconnected "$fixed"), drain=$(kv drain_s "$fixed") s, rejected=$(kv rejected "$fixed")
    deb13u3: stale=$(kv stale "$stock"), reconnected=$(kv reconnected "$stock"), drain=$(kv drain_s "$stock" | sed 's/^NA$/never/'), rejected=$(kv rejected "$stock") (fails, as expected)
EOF
    [[ -z $overrun ]] || printf '    overrun scenario, deb13u4: survived=%s, nl_drops=%s, stale=%s,\n      reconnected=%s, recovered_lines=%s\n' \
        "$(kv survived "$overrun")" "$(kv nl_drops "$overrun")" "$(kv stale "$overrun")" "$(kv reconnected "$overrun")" "$(kv recovered_lines "$overrun")"
    [[ -z $distinct ]] || printf '    distinct-CN scenario, deb13u4: stale=%s, reconnected=%s\n' "$(kv stale "$distinct")" "$(kv reconnected "$distinct")"
    unit="- Regression tests of the netlink notification handling (cmocka, new): a fake kernel driving dco_linux.c passes $unit_fixed cases, and on deb13u3's code $unit_stock_fail of its $unit_stock cases fail, as expected"
    ((unit_server == 0)) || unit+="; a fake kernel driving the real multi.c, forward.c and dco_linux.c, under ASan/UBSan, passes $unit_server cases"
    ((unit_picks == 0)) || unit+=", and with upstream's three picks alone $unit_picks_fail of its $unit_picks cases fail, as expected"
    ((unit_mutants == 0)) || unit+="; $unit_mutants mutants (the #1020 regression, broken Debian-only changes) are each caught by a test"
    fold -s -w 76 <<< "$unit." | sed 's/ *$//; 2,$s/^/  /'
    [[ -z $drivers ]] || printf '  Host builds of all upstream unit test drivers:\n%s\n' "    ${drivers//$'\n'/$'\n    '}"
    fold -s -w 76 <<< "- Package build in a clean trixie chroot (sbuild), with the package's test suite (dh_auto_test): $build_tests; $build_units" | sed 's/ *$//; 2,$s/^/  /'
    [[ -z $autopkgtests ]] || fold -s -w 76 <<< "- autopkgtest (unshare backend): $autopkgtests" | sed 's/ *$//; 2,$s/^/  /'
    [[ -z $lintian ]] || printf -- '- lintian (trixie): %s\n' "$lintian"
    [[ -z $piuparts ]] || fold -s -w 76 <<< "- piuparts: $piuparts" | sed 's/ *$//; 2,$s/^/  /'
    [[ -z $repo ]] || fold -s -w 76 <<< "- apt on trixie, from a signed local repository (make repo): $repo" | sed 's/ *$//; 2,$s/^/  /'
    bench_text
    cat <<EOF

[ Risks ]
$(fold -s -w 76 <<< "The change is confined to the DCO notification handling and the closing of client instances that the kernel deleted; the patches (not the tests) change $touched Patches 1-5 are upstream commits (OpenVPN 2.6.18, 2.6.20, 2.6.22) backported with minimal adaptation. Patches 6-9 are Debian-only, not forwarded yet (the reports are written): they move the closing of an instance out of netlink request callbacks, make a netlink overrun survivable, and make a key that ovpn-dco refuses for one client (its peer expired during the handshake) restart that client instead of exiting the server; all are covered by the new unit tests, the first two also by the storm test. Without DCO (no ovpn-dco module, or --disable-dco) no kernel notification arrives and the new code stays idle." | sed 's/ *$//')

[ Checklist ]
  [x] *all* changes are documented in the d/changelog
  [ ] I reviewed all changes and I approve them
  [x] attach debdiff against the package in (old)stable
  [ ] the issue is verified as fixed in unstable
      (unstable has OpenVPN 2.7 with upstream's fix; the Debian-only
      patches 6-9 are not in unstable)

[ Changes ]
$(dpkg-parsechangelog -l "$NEW_TREE/debian/changelog" -SChanges | sed -n '4,$p')

$(diffstat -p1 -w 72 "$DEBDIFF" | sed 's/^/  /')

[ Other info ]
The same change as a merge request for the packaging repository: out/salsa/
(git format-patch series on a gbp import-dsc of $BASE_VERSION).
Test repository for admins: \`make repo\` (signed apt repository, README
"Install on a trixie server").

debdiff $BASE_VERSION -> $NEW_VERSION:

EOF
    cat "$DEBDIFF"
} > "$PU.new"
mv "$PU.new" "$PU"
info "$(wc -l < "$PU") lines, debdiff $(wc -l < "$DEBDIFF") lines inline"
step_done

# ---- out/salsa: the change as commits on a gbp import of deb13u3 ---------------------------------
step "salsa series: gbp import-dsc $BASE_DSC, one commit per logical change"
G=$WORKDIR/git
name=${UPLOADER% <*} mail=${UPLOADER##*<}; mail=${mail%>}
date=$(dpkg-parsechangelog -l "$NEW_TREE/debian/changelog" -SDate)
export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$mail GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$mail
export GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date
# gbp imports into the git repository of the current directory: run it from an empty directory
mkdir -p "$G"
(cd "$G" && git init -q && gbp import-dsc --no-pristine-tar --debian-branch=debian/trixie --upstream-branch=upstream/2.6.x \
    "$SRC_CACHE/$BASE_DSC") > "$WORKDIR/gbp.log" 2>&1 || { cat "$WORKDIR/gbp.log"; die "gbp import-dsc failed"; }
base=$(git -C "$G" rev-parse HEAD)
info "imported $(git -C "$G" log -1 --format='%h %s' "$base")"
# commit SUBJECT BODY PATHS...: take PATHS from the deb13u4 source into the import and commit them.
commit() {
    local subject=$1 body=$2 p; shift 2
    for p in "$@"; do
        if [[ -e $NEW_TREE/$p ]]; then mkdir -p "$(dirname "$G/$p")" && rm -rf "${G:?}/$p" && cp -a "$NEW_TREE/$p" "$G/$p"
        else rm -rf "${G:?}/$p"; fi
    done
    git -C "$G" add -A -- "$@"
    git -C "$G" diff --cached --quiet && die "nothing to commit for '$subject'"
    git -C "$G" commit -q -m "$subject" ${body:+-m "$body"}
}
series=$(git -C "$G" show HEAD:debian/patches/series)
for p in $(our_patches); do
    series+=$'\n'$p
    hdr=$(sed '/^---/q' "$NEW_TREE/debian/patches/$p")
    what=$(sed -nE 's/^(Subject|Description): *(\[PATCH[^]]*\] *)?//p' <<< "$hdr" | head -n1)
    meta=$(grep -E '^(Origin|Bug|Bug-Debian|Forwarded|Applied-Upstream):' <<< "$hdr" || true)
    printf '%s\n' "$series" > "$G/debian/patches/series"
    git -C "$G" add debian/patches/series
    commit "d/patches: $what" "Add $p.${meta:+$'\n\n'$meta}" "debian/patches/$p"
done
cmp -s "$G/debian/patches/series" "$NEW_TREE/debian/patches/series" || die "the series built here differs from $NEW_DSC's"
mapfile -t pkg_files < <(sed -nE 's@^\+\+\+ b/(.*)@\1@p' "$TOP/debian/packaging.diff")
# bullet PREFIX: the deb13u4 changelog bullet starting with PREFIX, unindented (a commit body).
bullet() {
    dpkg-parsechangelog -l "$NEW_TREE/debian/changelog" -SChanges \
        | awk -v p="  * $1" 'index($0, p) == 1 { f = 1; print substr($0, 5); next } f && /^  \* |^ \.?$/ { exit } f { sub(/^ +/, ""); print }'
}
# commit_bullet PREFIX PATHS...: commit PATHS with the changelog bullet PREFIX as message.
commit_bullet() {
    local text; text=$(bullet "$1"); shift
    [[ -n $text ]] || die "no changelog bullet for $1 in $NEW_DSC"
    commit "$(head -n1 <<< "$text" | sed 's/[ ,:;]*$//')" "$text" "$@"
}
commit_bullet d/control "${pkg_files[@]}"
commit_bullet d/tests/dco-storm debian/tests
commit "d/changelog: $NEW_VERSION" "" debian/changelog
left=$(diff -rq -x .git -x .pc "$G" "$NEW_TREE" || true)
[[ -z $left ]] || die "the commits do not reproduce $NEW_DSC: $left"
rm -rf "$SALSA" && mkdir -p "$SALSA"
git -C "$G" format-patch -q --no-signature -o "$SALSA" "$base..HEAD"
info "the commits reproduce $NEW_DSC exactly (diff -r: no difference)"
(cd "$SALSA" && ls) | sed 's/^/    /'
info "apply on the packaging repository's trixie branch: git am out/salsa/*.patch"
step_done
