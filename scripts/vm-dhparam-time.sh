#!/bin/bash
# How long `easyrsa gen-dh` takes in our TCG VM (make vm-dhparam-time): the archive's
# server-setup-with-ca test runs it (= `openssl dhparam 2048`), and its random safe-prime search
# is what sizes vm-archive-tests' VM_TEST_TIMEOUT. One VM boot runs a throwaway autopkgtest that
# prints OpenSSL's RSA-2048 sign rate (the modular exponentiation the prime tests do, a fixed
# workload) and then times `openssl dhparam -out /dev/null 2048` RUNS times.
# Usage: scripts/vm-dhparam-time.sh [RUNS (3)] (make vm-dhparam-time RUNS=N); ~15 min for 3 runs,
# but one run can take over 20 min (the tail this measures). VM_CPU (max, as the other VM groups) is the QEMU
# -cpu model. Prints one "dhparam N: S s" line per run and their mean/max; log in out/vm-dhparam/.
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/vm-lib.sh
. "$(dirname "$0")/vm-lib.sh"

RUNS=${1:-3}
CPU=${VM_CPU:-max}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$RUNS'"
[ "$(id -u)" = 0 ] || die "needs root (qemu, the cached VM image)"
vm_need
WORK=$OUT/vm-dhparam
mkdir -p "$WORK"
exec 8>"$WORK/.lock"   # two at once would time each other
flock -n 8 || die "another vm-dhparam-time is running"

step "openssl dhparam 2048 x $RUNS in the VM"
rc=0
VM_CPU=$CPU stub_run "$WORK" dhparam $(( RUNS * 3600 )) <<EOF || rc=$?
#!/bin/sh
set -e
openssl version
echo "cpu: \$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
openssl speed -seconds 5 rsa2048 2>/dev/null | tail -n1 | sed 's/^/speed: /'
for i in \$(seq $RUNS); do
    s=\$(date +%s)
    openssl dhparam -out /dev/null 2048 2>/dev/null
    echo "dhparam \$i: \$(( \$(date +%s) - s )) s"
done
EOF
grep -a -E '^(OpenSSL|cpu:|speed:|dhparam [0-9]+:)' "$WORK/log" | sed 's/^/    /'
[ "$rc" = 0 ] || die "autopkgtest exited $rc (see $WORK/log)"
grep -a -E '^dhparam [0-9]+:' "$WORK/log" \
    | awk '{ s += $3; if ($3 > m) m = $3; n++ } END { if (n) printf "    %d runs: mean %.0f s, max %d s\n", n, s / n, m }'
step_done
