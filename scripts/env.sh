#!/bin/bash
# Create (first use) or, with --refresh, recreate the cached build environments of the target
# (TARGET=trixie, default, or bookworm):
# the sbuild/autopkgtest tarball and the lintian chroot, both under $CACHE/env.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

if [[ ${1:-} == --refresh ]]; then
    step "removing cached $SUITE environments"
    rm -f "$TARBALL"
    rm -rf "$LINTIAN_ROOT" "$SRC_CACHE/lintian-baseline.txt"
    step_done
fi
ensure_env
ensure_lintian_root
info "build tarball:  $TARBALL ($(du -h "$TARBALL" | cut -f1))"
info "lintian chroot: $LINTIAN_ROOT"
