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
# the guest. The guest is not trusted with the host (the clients run as root): it sends no
# configuration, only checked values; the farm writes client.conf from its own template
# (client_conf: --dev null, no DCO, no scripts), file names are plain names inside DIR/files, a
# signal only reaches a process whose command line is that farm client's. Protocol, one line
# each way ("ok ..." or "err REASON"):
#   hello                     ok farm <openvpn version>
#   conf SERVER PORT VERB     writes client.conf for a server at SERVER:PORT (10.201.0.1), verb 0-4
#   put NAME BASE64           writes DIR/files/NAME (certificates and keys)
#   start I IP LPORT [CERT KEY]  client I (0-99999): openvpn --config client.conf bound to IP:LPORT
#                             (LPORT 0: a new source port at every start and restart)
#                             (IP in 10.201.0.0/16, added to the tap first), --cd DIR/files,
#                             ca.crt and client.crt/client.key unless CERT KEY (put names) are
#                             given. "ok" means the options were accepted and openvpn forked;
#                             a certificate or bind error after that shows in the client's log.
#   signal SIG FROM COUNT     SIG (STOP, CONT, TERM, KILL) to clients FROM..FROM+COUNT-1: ok K
#   count                     ok K: running clients
#   logtail I LINES           ok BASE64 of the last LINES lines of client I's log
#   stopall                   kills every client (CONT, TERM, then KILL), forgets their pid files
set -euo pipefail

FARM_NETNS=${FARM_NETNS:-dcostorm-farm}
FARM_TAP=${FARM_TAP:-dsfarm0}
FARM_PORT=${FARM_PORT:-7000}
FARM_ADDR=10.201.0.2/16

in_ns() { ip netns exec "$FARM_NETNS" "$@"; }
# close_fds: closes every descriptor above 2 of this shell (a background farm process must not
# hold the caller's lock files or pipes).
close_fds() {
    local f n
    for f in /proc/"$BASHPID"/fd/*; do
        n=${f##*/}
        if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null || true; fi
    done
}
is_name() { [[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$ ]]; }
is_num() { [[ $1 =~ ^(0|[1-9][0-9]{0,5})$ ]]; }
# is_client_ip A: a host address of 10.201.0.0/16 other than the server's (.0.1) and the farm's
# (.0.2)
is_client_ip() {
    local o
    [[ $1 =~ ^10\.201\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$ ]] || return 1
    for o in "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; do [ "$o" -le 255 ] || return 1; done
    case $1 in 10.201.0.0|10.201.0.1|10.201.0.2|10.201.255.255) return 1 ;; esac
}
# client_conf SERVER PORT VERB: the clients' configuration, from this template only. No DCO and
# openvpn's null device: the host's network and its kernel module stay out of the test.
client_conf() {
    printf '%s\n' client "dev null" 'pull-filter ignore "ifconfig"' 'pull-filter ignore "route"' \
        "proto udp4" "remote $1 $2" disable-dco "connect-retry 1 2" "resolv-retry infinite" \
        "remote-cert-tls server" "data-ciphers AES-128-GCM:AES-256-GCM:CHACHA20-POLY1305" "verb $3"
}
# ours PIDFILE [N]: the PID in PIDFILE if it is still a farm client (N: client N), else nothing:
# a client killed or crashed leaves its pid file, and the PID may belong to another process by now.
ours() {
    local pid cmd
    pid=$(<"$1") || return 1
    [[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || return 1
    [[ $cmd == "openvpn "*" --daemon storm-client-${2:-}"* ]] || return 1
    [ -z "${2:-}" ] || [[ $cmd == *" --daemon storm-client-$2 "* ]] || return 1
    echo "$pid"
}

clients_kill() {
    local d=$1 p sig pid
    for sig in CONT TERM KILL; do
        for p in "$d"/run/*.pid; do
            [ -e "$p" ] || continue
            if pid=$(ours "$p"); then kill -"$sig" "$pid" 2>/dev/null || true; fi
            [ "$sig" != KILL ] || rm -f "$p"
        done
        [ "$sig" != TERM ] || sleep 1
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
    ( close_fds; exec ip netns exec "$FARM_NETNS" socat "TCP-LISTEN:$FARM_PORT,fork,reuseaddr" \
        "EXEC:bash $(realpath "$0") serve $d" ) </dev/null >> "$d/farm.log" 2>&1 &
    echo $! > "$d/socat.pid"
    (
        close_fds
        set +e   # the tap can vanish between the check and the change (qemu exits, a retry boots)
        while :; do
            if in_ns ip link show "$FARM_TAP" >/dev/null 2>&1 \
                && [ -z "$(in_ns ip -o addr show dev "$FARM_TAP" to "${FARM_ADDR%/*}" 2>/dev/null)" ]; then
                in_ns ip addr replace "$FARM_ADDR" dev "$FARM_TAP" \
                    && in_ns ip link set "$FARM_TAP" up \
                    && echo "[$(date +%T)] $FARM_TAP up with $FARM_ADDR"
            fi
            sleep 1
        done
    ) </dev/null >> "$d/farm.log" 2>&1 &
    echo $! > "$d/watcher.pid"
    echo "storm-farm: namespace $FARM_NETNS, control port $FARM_PORT, tap $FARM_TAP, openvpn $(openvpn --version | head -n1 | cut -d' ' -f2)"
}

down() {
    local d=$1 p pid
    clients_kill "$d"
    # the listener and the watcher, if their PIDs are still theirs (after a reboot they are not)
    for p in "$d/watcher.pid" "$d/socat.pid"; do
        [ -e "$p" ] || continue
        pid=$(<"$p")
        if [[ $pid =~ ^[1-9][0-9]*$ ]] && tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -qE 'storm-farm|socat'; then
            kill "$pid" 2>/dev/null || true
        fi
        rm -f "$p"
    done
    if ip netns list | awk '{ print $1 }' | grep -qxF -- "$FARM_NETNS"; then
        # anything still running in the namespace (a socat child, an orphaned stopped client)
        ip netns pids "$FARM_NETNS" | xargs -r kill -CONT 2>/dev/null || true
        ip netns pids "$FARM_NETNS" | xargs -r kill -KILL 2>/dev/null || true
        ip netns delete "$FARM_NETNS"
    fi
}

serve() {
    local d=$1 cmd a b c e f p k n why pid
    while read -r cmd a b c e f; do
        case $cmd in
            hello) echo "ok farm openvpn $(openvpn --version | head -n1 | cut -d' ' -f2)" ;;
            conf)
                if [ "$a" != 10.201.0.1 ] || ! is_num "$b" || [ "$b" -lt 1 ] || [ "$b" -gt 65535 ] \
                    || [[ ! $c =~ ^[0-4]$ ]]; then
                    echo "err usage: conf 10.201.0.1 PORT VERB(0-4)"; continue
                fi
                client_conf "$a" "$b" "$c" > "$d/files/client.conf"; echo ok ;;
            put)
                # certificates and keys only; client.conf is the farm's own
                if ! is_name "$a" || [ "$a" = client.conf ] || [ ${#b} -gt 65536 ]; then
                    echo "err bad file name or size"; continue
                fi
                # a temporary name no put can address (a leading dot): no other connection can
                # swap the file in between
                p=$(mktemp "$d/files/.put.XXXXXX")
                if ! base64 -d <<<"$b" > "$p" 2>/dev/null; then
                    rm -f "$p"; echo "err $a: not base64"; continue
                fi
                mv "$p" "$d/files/$a"; echo ok ;;
            start)
                if ! is_num "$a" || ! is_client_ip "$b" || ! is_num "$c" || [ "$c" -gt 65535 ] \
                    || { [ -n "$e$f" ] && ! { is_name "$e" && is_name "$f"; }; }; then
                    echo "err usage: start I IP LPORT [CERT KEY]"; continue
                fi
                [ -s "$d/files/client.conf" ] || { echo "err no client.conf (conf first)"; continue; }
                ip addr add "$b/16" dev "$FARM_TAP" 2>/dev/null || true
                # --log first: openvpn's own option errors go to the log, not into this socket
                if env -u NOTIFY_SOCKET openvpn --log "$d/logs/$a.log" --cd "$d/files" --config client.conf \
                    --dev null --disable-dco \
                    --ca ca.crt --cert "${e:-client.crt}" --key "${f:-client.key}" --local "$b" --lport "$c" \
                    --writepid "$d/run/$a.pid" --daemon "storm-client-$a" </dev/null >>"$d/farm.log" 2>&1; then
                    echo ok
                else
                    why=$(grep -a -m1 -i error "$d/logs/$a.log" 2>/dev/null || tail -n 1 "$d/logs/$a.log" 2>/dev/null || true)
                    echo "err client $a did not start: $(tr -cd '[:print:]' <<<"$why" | cut -c1-200)"
                fi ;;
            signal)
                if [[ ! $a =~ ^(STOP|CONT|TERM|KILL)$ ]] || ! is_num "$b" || ! is_num "$c"; then
                    echo "err usage: signal SIG FROM COUNT"; continue
                fi
                k=0
                for p in "$d"/run/*.pid; do
                    [ -e "$p" ] || continue
                    n=${p##*/}; n=${n%.pid}
                    if [ "$n" -lt "$b" ] || [ "$n" -ge $(( b + c )) ]; then continue; fi
                    pid=$(ours "$p" "$n") || continue
                    kill -"$a" "$pid" 2>/dev/null && k=$(( k + 1 ))
                done
                echo "ok $k" ;;
            count)
                k=0
                for p in "$d"/run/*.pid; do
                    [ -e "$p" ] && ours "$p" >/dev/null && k=$(( k + 1 ))
                done
                echo "ok $k" ;;
            logtail)
                if ! is_num "$a" || ! is_num "$b"; then echo "err usage: logtail I LINES"; continue; fi
                echo "ok $(tail -n "$b" "$d/logs/$a.log" 2>/dev/null | base64 -w0)" ;;
            stopall) clients_kill "$d"; echo ok ;;
            "") ;;
            *) echo "err unknown command" ;;
        esac
    done
}

[ $# -eq 2 ] || { echo "usage: $0 up|down|serve DIR" >&2; exit 2; }
# an absolute DIR of plain characters: socat splits its EXEC string, openvpn's --cd would
# move relative paths
dir=$(realpath -m -- "$2")
for p in "$dir" "$(realpath "$0")"; do
    [[ $p =~ ^[A-Za-z0-9/._+-]+$ ]] || { echo "storm-farm: $p: only letters, digits and / . _ + - (socat splits the rest)" >&2; exit 2; }
done
case $1 in
    up) [ "$(id -u)" = 0 ] || { echo "storm-farm: run as root" >&2; exit 1; }; up "$dir" ;;
    down) down "$dir" ;;
    serve) serve "$dir" ;;
    *) echo "usage: $0 up|down|serve DIR" >&2; exit 2 ;;
esac
