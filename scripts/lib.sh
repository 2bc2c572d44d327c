#!/bin/bash
# Shared helpers for the scripts in this folder: paths, progress output, test results.
# Source it:  . "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2034  # the variables below are used by the scripts that source this file
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The target release (TARGET=trixie|bookworm, default trixie): targets/$TARGET/target.sh sets
# SUITE, BASE_VERSION (the archive's version we build on), NEW_VERSION (ours), the pinned SHA256s
# of the archive's source, the library names of its .debs and where its outputs go.
TARGET=${TARGET:-trixie}
TARGET_DIR=$TOP/targets/$TARGET
if [[ ! -f $TARGET_DIR/target.sh ]]; then
    printf 'ERROR: unknown TARGET=%s (known: %s)\n' "$TARGET" "$(cd "$TOP/targets" && echo */ | tr -d /)" >&2
    exit 1
fi
# shellcheck source=../targets/trixie/target.sh
. "$TARGET_DIR/target.sh"
UPSTREAM_VERSION=2.6.14
# Downloads, the build environments and VM images live outside the checkout so that a fresh
# clone (CI) reuses them; everything in there is verified or keyed on its inputs.
CACHE=${CACHE:-/var/cache/openvpn-deb13u4}
OUT=${OUT:-$TOP/$TARGET_OUT}
BUILD=${BUILD:-$TOP/$TARGET_BUILD}
RESULTS=${RESULTS:-$OUT/check/results.txt}

# step "what is running": prints a timestamped header; step_done prints how long it took.
_step_t0=0
step() { _step_t0=$(date +%s); printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
step_done() { printf '==> done in %ss\n' "$(( $(date +%s) - _step_t0 ))"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
need() { local t; for t in "$@"; do command -v "$t" >/dev/null 2>&1 || die "missing tool '$t' (run: make deps)"; done; }

# result PASS|FAIL|SKIP NAME [DETAIL]: one line per check, summarised by scripts/check.sh. The
# names of a target other than trixie carry its name as a prefix (bookworm/NAME).
result() {
    local status=$1 name=${RESULT_PREFIX:-}$2; shift 2
    mkdir -p "$(dirname "$RESULTS")"
    printf '%s\t%s\t%s\n' "$status" "$name" "$*" >> "$RESULTS"
    printf -- '--- %s: %s%s\n' "$status" "$name" "${*:+ ($*)}"
}

# ---- uploader identity -------------------------------------------------------------------------
# The changelog trailer's identity when none is set: a .invalid mail domain (RFC 2606: reserved,
# can never reach anybody) that lintian's bogus-mail-host check accepts (two labels; lintian
# checks the host's syntax with TLD validation off, unlike "localhost", a single label).
PLACEHOLDER_UPLOADER='OpenVPN stable-update placeholder <openvpn-stable-update@placeholder.invalid>'

# uploader_identity: sets UPLOADER to "Full Name <address>" from the environment as dch(1) reads
# it: DEBFULLNAME (else NAME) and DEBEMAIL (else EMAIL), the mail variable possibly in the form
# "Full Name <address>" (its name is used when DEBFULLNAME and NAME are unset). When no complete
# identity is set, UPLOADER is the placeholder and it returns 1; dies when the one set is malformed.
uploader_identity() {
    UPLOADER=$PLACEHOLDER_UPLOADER
    local name=${DEBFULLNAME:-${NAME:-}} mail=${DEBEMAIL:-${EMAIL:-}} var=DEBEMAIL
    [[ -n ${DEBEMAIL:-} ]] || var=EMAIL
    if [[ $mail =~ ^(.*)\<([^<>]*)\>[[:space:]]*$ ]]; then
        mail=${BASH_REMATCH[2]}
        [[ -n $name ]] || name=${BASH_REMATCH[1]}
    fi
    # trim: lintian tags whitespace around the trailer's name
    name=$(sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//' <<< "$name")
    mail=$(sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//' <<< "$mail")
    [[ -n $name && -n $mail ]] || return 1
    [[ $mail =~ ^[^@[:space:]\<\>]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$ ]] \
        || die "$var gives '$mail', which is not a mail address (user@host.domain)"
    [[ $name != *[\<\>]* && $name != *$'\n'* ]] || die "the uploader name '$name' (DEBFULLNAME/NAME/$var) must not contain <, > or a newline"
    UPLOADER="$name <$mail>"
}

# ---- Debian mirrors from the host's apt sources -------------------------------------------------
# apt_source_entries [SOURCES_LIST [SOURCES_PARTS_DIR]]: one line "URI SUITE COMPONENTS|... SIGNED-BY"
# per enabled deb/deb-src source, in apt's order (the one-line SOURCES_LIST, then the parts
# directory's *.list and *.sources, deb822, by name). Defaults: apt's own configuration.
apt_source_entries() {
    local list=${1:-} parts=${2:-} f
    if [[ $# -eq 0 ]]; then
        list=/etc/apt/sources.list parts=/etc/apt/sources.list.d/
        if command -v apt-config >/dev/null 2>&1; then
            local _sl='' _sp=''
            eval "$(apt-config shell _sl Dir::Etc::SourceList/f _sp Dir::Etc::SourceParts/d 2>/dev/null)" || true
            list=${_sl:-$list} parts=${_sp:-$parts}
        fi
    fi
    local files=()
    [[ -n $list && -f $list ]] && files+=("$list")
    if [[ -n $parts && -d $parts ]]; then
        while IFS= read -r f; do files+=("$f"); done \
            < <(find "$parts" -maxdepth 1 -type f -regex '.*/[A-Za-z0-9_.-]+\.\(list\|sources\)' | LC_ALL=C sort)
    fi
    for f in "${files[@]}"; do
        if [[ $f == *.sources ]]; then
            # deb822: stanzas split by blank lines; field names are case-insensitive;
            # continuation lines (e.g. an inline Signed-By key) start with white space.
            awk '
                function flush() {
                    if (uris != "" && suites != "" && tolower(enabled) != "no" && types ~ /(^|[ \t])deb(-src)?([ \t]|$)/) {
                        nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
                        comps = components; gsub(/[ \t]+/, "|", comps)
                        for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
                            if (u[i] != "" && s[j] != "") print u[i], s[j], (comps == "" ? "-" : comps), (signed == "" ? "-" : signed)
                    }
                    types = uris = suites = components = signed = enabled = ""; field = ""
                }
                /^[ \t]*#/ { next }
                /^[ \t]*$/ { flush(); next }
                /^[ \t]/ { if (field == "signed-by") signed = "inline-key"; next }
                {
                    field = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
                    sub(/#.*/, "", v); gsub(/^[ \t]+|[ \t]+$/, "", v)
                    if (field == "types") types = v; else if (field == "uris") uris = v
                    else if (field == "suites") suites = v; else if (field == "components") components = v
                    else if (field == "enabled") enabled = v
                    else if (field == "signed-by") signed = (v == "" ? "inline-key" : v)
                }
                END { flush() }' "$f"
        else
            # one-line: deb [ options ] URI SUITE [COMPONENT...]
            awk '
                { sub(/#.*/, "") }
                $1 != "deb" && $1 != "deb-src" { next }
                {
                    line = $0; signed = "-"
                    if (match(line, /\[[^]]*\]/)) {
                        opts = substr(line, RSTART + 1, RLENGTH - 2)
                        line = substr(line, 1, RSTART - 1) " " substr(line, RSTART + RLENGTH)
                        if (match(opts, /signed-by=[^ \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
                    }
                    n = split(line, w, /[ \t]+/); k = 0
                    for (i = 1; i <= n; i++) if (w[i] != "") a[++k] = w[i]
                    if (k < 3) next
                    comps = ""
                    for (i = 4; i <= k; i++) comps = comps (comps == "" ? "" : "|") a[i]
                    print a[2], a[3], (comps == "" ? "-" : comps), signed
                }' "$f"
        fi
    done
}

# host_mirrors [SOURCES_LIST [SOURCES_PARTS_DIR]]: prints "MAIN_URI SECURITY_URI" ("-" for one not
# found) from apt_source_entries: the URI serving a Debian suite (codename or alias, also its
# -updates/-backports) with component main, and the one serving SUITE-security (or the old
# SUITE/updates). Among several, an entry signed by the Debian archive keyring (or by apt's
# default keyrings) wins over one signed by another key, a codename over an alias (a third-party
# "stable main" repository), and then apt's order.
host_mirrors() {
    local codenames='buster|bullseye|bookworm|trixie|forky|duke|sid|experimental' csv=/usr/share/distro-info/debian.csv
    if [[ -r $csv ]]; then
        codenames=$(awk -F, 'NR > 1 && $3 != "" { printf "%s|", $3 } END { printf "sid|experimental" }' "$csv")
    fi
    local uri suite comps signed base score kind main='-' sec='-' main_score=-1 sec_score=-1
    while read -r uri suite comps signed; do
        [[ $uri == cdrom:* || "|$comps|" != *"|main|"* ]] && continue
        uri=${uri%/}
        if [[ $suite =~ ^([a-z]+)(-security|/updates)$ ]]; then kind=sec; base=${BASH_REMATCH[1]}
        elif [[ $suite =~ ^([a-z]+)(-updates|-backports|-backports-sloppy|-proposed-updates)?$ ]]; then kind=main; base=${BASH_REMATCH[1]}
        else continue; fi
        score=0
        if [[ $base =~ ^($codenames)$ ]]; then score=1
        elif [[ ! $base =~ ^(oldoldstable|oldstable|stable|testing|unstable)$ ]]; then continue; fi
        [[ $signed == - || $signed == *debian-archive-keyring* ]] && score=$((score + 2))
        if [[ $kind == main ]] && ((score > main_score)); then main=$uri main_score=$score; fi
        if [[ $kind == sec ]] && ((score > sec_score)); then sec=$uri sec_score=$score; fi
    done < <(apt_source_entries "$@")
    printf '%s %s\n' "$main" "$sec"
}

# need_mirrors [SOURCES_LIST SOURCES_PARTS_DIR]: sets MIRROR and SECURITY_MIRROR (the Debian
# archive and the security archive) unless the environment sets them, from the host's apt sources
# (so a local mirror or an apt proxy URI is used); dies when one cannot be found. The arguments
# (other apt sources than the host's) are for tests.
# shellcheck disable=SC2120  # callers use the host's apt sources
need_mirrors() {
    [[ -n ${MIRROR:-} && -n ${SECURITY_MIRROR:-} ]] && return 0
    local found main sec
    found=$(host_mirrors "$@")
    read -r main sec <<< "$found"
    [[ -n ${MIRROR:-} || $main != - ]] || die "no Debian archive mirror found in the host's apt sources (deb/deb-src of a Debian suite with 'main' in /etc/apt/sources.list or /etc/apt/sources.list.d/*.list, *.sources); set MIRROR=URI (e.g. your local mirror's .../debian)"
    [[ -n ${SECURITY_MIRROR:-} || $sec != - ]] || die "no Debian security mirror found in the host's apt sources (a SUITE-security source with 'main'); set SECURITY_MIRROR=URI (e.g. your local mirror's .../debian-security)"
    MIRROR=${MIRROR:-$main}
    SECURITY_MIRROR=${SECURITY_MIRROR:-$sec}
}
