#!/bin/bash
# The storm's clients on the host ("client farm", make bench only): DCO_STORM_FARM in
# debian/tests/dco-storm. Under TCG every client process inside the server's guest costs ~2 ms of
# guest CPU per second even when idle (measured: 1024 idle clients saturate both vCPUs, the
# bring-up stalls near 900), so at N=1024 the clients run natively on the host instead and the
# guest runs only what is measured: the server, its kernel and the stress-ng load.
#
#   storm-farm.sh up DIR      private network namespace $FARM_NETNS (dcostorm-farm) with
#                             a control listener (socat) on TCP $FARM_PORT (7000); a watcher
#                             gives the guest's tap ($FARM_TAP, dsfarm0, created by qemu, which
#                             vm-qemu-wrapper starts inside the namespace) the farm's address
#                             10.201.0.2/16 whenever it appears. Clients, logs, files in DIR.
#   storm-farm.sh down DIR    kills the clients, the listener and the watcher; deletes the netns.
#   storm-farm.sh serve DIR   one control connection (run by socat): line commands from the guest
#
# The namespace holds only the tap: no route leaves it, the traffic stays between the farm and
# the guest. Protocol, one line each way ("ok ..." or "err REASON"):
#   hello                     ok farm <openvpn version>
#   put NAME BASE64           writes DIR/files/NAME (NAME: letters, digits, . _ -)
#   start I IP LPORT [CERT KEY]  client I: openvpn --config client.conf (from put) bound to IP:LPORT
#                             (IP is added to the tap first), --cd DIR/files, ca.crt and
#                             client.crt/client.key unless CERT KEY are given (put names)
#   signal SIG FROM COUNT     SIG (STOP, CONT, TERM, KILL) to clients FROM..FROM+COUNT-1: ok K
#   count                     ok K: running clients
#   logtail I LINES           ok BASE64 of the last LINES lines of client I's log
#   stopall                   kills every client (TERM, then KILL), forgets their pid files
set -euo pipefail

FARM_NETNS=${FARM_NETNS:-dcostorm-farm}
FARM_TAP=${FARM_TAP:-dsfarm0}
FARM_PORT=${FARM_PORT:-7000}
FARM_ADDR=10.201.0.2/16

in_ns() { ip netns exec "$FARM_NETNS" "$@"; }

clients_kill() {
    local d=$1 p sig
    for sig in TERM KILL; do
        for p in "$d"/run/*.pid; do
            [ -e "$p" ] || continue
            kill -"$sig" "$(cat "$p")" 2>/dev/null || true
            [ "$sig" = TERM ] || rm -f "$p"
        done
        [ "$sig" = KILL ] || sleep 1
    done
}

up() {
    local d=$1
    command -v socat >/dev/null || { echo "storm-farm: socat is missing (apt-get install socat)" >&2; exit 1; }
    command -v openvpn >/dev/null || { echo "storm-farm: openvpn is missing (apt-get install openvpn)" >&2; exit 1; }
    down "$d" 2>/dev/null || true
    mkdir -p "$d/files" "$d/run" "$d/logs"
    ip netns add "$FARM_NETNS"
    in_ns ip link set lo up
    # socat listens on every address of the namespace, so it can start before the tap exists
    in_ns socat "TCP-LISTEN:$FARM_PORT,fork,reuseaddr" "EXEC:bash $(realpath "$0") serve $d" \
        >> "$d/farm.log" 2>&1 &
    echo $! > "$d/socat.pid"
    (
        while :; do
            if in_ns ip link show "$FARM_TAP" >/dev/null 2>&1 \
                && [ -z "$(in_ns ip -o addr show dev "$FARM_TAP" to "${FARM_ADDR%/*}" 2>/dev/null)" ]; then
                in_ns ip addr replace "$FARM_ADDR" dev "$FARM_TAP"
                in_ns ip link set "$FARM_TAP" up
                echo "[$(date +%T)] $FARM_TAP up with $FARM_ADDR" >> "$d/farm.log"
            fi
            sleep 1
        done
    ) >> "$d/farm.log" 2>&1 &
    echo $! > "$d/watcher.pid"
    echo "storm-farm: namespace $FARM_NETNS, control port $FARM_PORT, tap $FARM_TAP, openvpn $(openvpn --version | head -n1 | cut -d' ' -f2)"
}

down() {
    local d=$1 p
    clients_kill "$d"
    for p in "$d/watcher.pid" "$d/socat.pid"; do
        [ -e "$p" ] && { kill "$(cat "$p")" 2>/dev/null || true; rm -f "$p"; }
    done
    if ip netns list | grep -qw "$FARM_NETNS"; then
        # anything still running in the namespace (a socat child) goes with it
        ip netns pids "$FARM_NETNS" | xargs -r kill 2>/dev/null || true
        ip netns delete "$FARM_NETNS"
    fi
}

serve() {
    local d=$1 cmd a b c e f p k n
    while read -r cmd a b c e f; do
        case $cmd in
            hello) echo "ok farm openvpn $(openvpn --version | head -n1 | cut -d' ' -f2)" ;;
            put)
                if [[ ! $a =~ ^[A-Za-z0-9._-]+$ ]]; then echo "err bad file name"; continue; fi
                if base64 -d <<<"$b" > "$d/files/$a.new" 2>/dev/null; then
                    mv "$d/files/$a.new" "$d/files/$a"; echo ok
                else
                    echo "err $a: not base64"
                fi ;;
            start)
                if [[ ! $a =~ ^[0-9]+$ || ! $b =~ ^[0-9.]+$ || ! $c =~ ^[0-9]+$ ]]; then echo "err usage: start I IP LPORT [CERT KEY]"; continue; fi
                ip addr add "$b/16" dev "$FARM_TAP" 2>/dev/null || true
                if openvpn --cd "$d/files" --config client.conf --ca ca.crt --cert "${e:-client.crt}" \
                    --key "${f:-client.key}" --local "$b" --lport "$c" --log "$d/logs/$a.log" \
                    --writepid "$d/run/$a.pid" --daemon "storm-client-$a" 2>>"$d/farm.log"; then
                    echo ok
                else
                    echo "err client $a did not start (see $d/logs/$a.log)"
                fi ;;
            signal)
                if [[ ! $a =~ ^(STOP|CONT|TERM|KILL)$ || ! $b =~ ^[0-9]+$ || ! $c =~ ^[0-9]+$ ]]; then echo "err usage: signal SIG FROM COUNT"; continue; fi
                k=0
                for p in "$d"/run/*.pid; do
                    [ -e "$p" ] || continue
                    n=${p##*/}; n=${n%.pid}
                    if [ "$n" -lt "$b" ] || [ "$n" -ge $(( b + c )) ]; then continue; fi
                    kill -"$a" "$(cat "$p")" 2>/dev/null && k=$(( k + 1 ))
                done
                echo "ok $k" ;;
            count)
                k=0
                for p in "$d"/run/*.pid; do
                    [ -e "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null && k=$(( k + 1 ))
                done
                echo "ok $k" ;;
            logtail)
                if [[ ! $a =~ ^[0-9]+$ || ! $b =~ ^[0-9]+$ ]]; then echo "err usage: logtail I LINES"; continue; fi
                echo "ok $(tail -n "$b" "$d/logs/$a.log" 2>/dev/null | base64 -w0)" ;;
            stopall) clients_kill "$d"; echo ok ;;
            "") ;;
            *) echo "err unknown command: $cmd" ;;
        esac
    done
}

[ $# -eq 2 ] || { echo "usage: $0 up|down|serve DIR" >&2; exit 2; }
case $1 in
    up) [ "$(id -u)" = 0 ] || { echo "storm-farm: run as root" >&2; exit 1; }; up "$2" ;;
    down) down "$2" ;;
    serve) serve "$2" ;;
    *) echo "usage: $0 up|down|serve DIR" >&2; exit 2 ;;
esac
