#!/bin/bash
# Create (first use) or, with --refresh, recreate the cached trixie build environments:
# the sbuild/autopkgtest tarball and the lintian chroot, both under $CACHE/env.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

if [[ ${1:-} == --refresh ]]; then
    step "removing cached trixie environments"
    rm -f "$TARBALL"
    rm -rf "$LINTIAN_ROOT" "$SRC_CACHE/lintian-baseline.txt"
    step_done
fi
ensure_env
ensure_lintian_root
info "build tarball:  $TARBALL ($(du -h "$TARBALL" | cut -f1))"
info "lintian chroot: $LINTIAN_ROOT"
