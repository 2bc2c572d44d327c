#!/bin/bash
# build.sh DIR: build the binary packages from DIR/$NEW_DSC in a clean $SUITE (the target's
# release: sbuild, unshare backend, cached mmdebstrap tarball) and put .debs, .buildinfo, .changes and the
# build log into DIR. The package's own test suite (dh_auto_test) runs as on the buildds.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pkg-lib.sh
. "$TOP/scripts/pkg-lib.sh"

dir=${1:?usage: build.sh DIR}
need sbuild
ensure_env
[[ -f $dir/$NEW_DSC ]] || die "$dir/$NEW_DSC not found (run scripts/source.sh first)"
job=$SBUILD_JOB
rm -rf "$job"
as_builder mkdir -p "$job/in" "$job/out"
cp "$dir/$NEW_DSC" "$dir/${SRC_NAME}_${NEW_VERSION}.debian.tar.xz" "$dir/$ORIG_TAR" "$job/in/"
chmod a+rX -R "$job/in"

step "sbuild: building $SRC_NAME $NEW_VERSION for $SUITE/amd64 (about 4-6 min; log: $job/out/)"
rc=0
as_builder sbuild --chroot-mode=unshare --chroot="$TARBALL" --dist="$SUITE" --arch=amd64 \
    --jobs="$(nproc)" --no-run-lintian --no-run-piuparts --no-run-autopkgtest \
    --no-source-only-changes --build-dir="$job/out" "$job/in/$NEW_DSC" > "$job/sbuild.out" 2>&1 || rc=$?
log=$(find "$job/out" -maxdepth 1 -type f -name "${SRC_NAME}_${NEW_VERSION}_amd64*.build" | head -n1)
if [[ -n $log ]]; then cp "$log" "$dir/${SRC_NAME}_${NEW_VERSION}_amd64.build"; fi
if [[ $rc -ne 0 ]]; then
    tail -n 30 "${log:-$job/sbuild.out}" >&2
    die "sbuild failed (exit $rc); full log: ${log:-$job/sbuild.out}"
fi
for f in "$job"/out/*.deb "$job"/out/*.buildinfo "$job"/out/*.changes; do
    [[ -f $f ]] && cp "$f" "$dir/"
done
compgen -G "$dir/${SRC_NAME}_${NEW_VERSION}_amd64.deb" >/dev/null || die "sbuild produced no .deb"
info "$(grep -m1 -E '^Build needed|^Build-Time' "$dir/${SRC_NAME}_${NEW_VERSION}_amd64.build" || true)"
step_done
