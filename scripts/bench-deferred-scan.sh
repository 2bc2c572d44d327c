#!/bin/bash
# What the deferred close's slot scan costs per storm (issue 9, goal 4; make bench-scan):
# tests/bench/deferred-scan.c times the loop shape of multi_process_deferred_dco() (one pass over
# max_clients slots per notification, N notifications per storm) at N 128..1024, on the host
# (warm and cold cache) and, unless NO_VM=1, in the TCG VM the storms run in (warm; one boot,
# a throwaway autopkgtest as vm-dhparam-time.sh uses). ~3 min. Output and logs in out/bench-scan/.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/vm-lib.sh
. "$(dirname "$0")/vm-lib.sh"

NS=${SCAN_N:-128 256 512 1024}
WORK=$OUT/bench-scan
mkdir -p "$WORK"
exec 8>"$WORK/.lock"
flock -n 8 || die "another bench-deferred-scan is running"
command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc libc6-dev)"

step "build tests/bench/deferred-scan.c (gcc -O2, static: the guest's libc differs)"
gcc -O2 -Wall -Wextra -Werror -static -o "$WORK/deferred-scan" "$TOP/tests/bench/deferred-scan.c" \
    || die "building tests/bench/deferred-scan.c failed (static needs libc6-dev)"
step_done

step "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), warm and cold cache"
# shellcheck disable=SC2086  # NS: a list of numbers
"$WORK/deferred-scan" $NS | tee "$WORK/host.txt" | sed 's/^/    /'
step_done

[ "${NO_VM:-}" = 1 ] && exit 0
[ "$(id -u)" = 0 ] || die "the VM run needs root (qemu, the cached VM image); NO_VM=1 skips it"
vm_need
step "the VM (as the storms), warm only"
rc=0
stub_run "$WORK" scan 1800 "$WORK/deferred-scan" <<EOF || rc=$?
#!/bin/sh
set -e
echo "cpu: \$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
./deferred-scan -w $NS
EOF
[ "$rc" = 0 ] || die "autopkgtest exited $rc (see $WORK/log)"
grep -a -E '^(cpu:|mode |warm )' "$WORK/log" | tee "$WORK/vm.txt" | sed 's/^/    /'
step_done
