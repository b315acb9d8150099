#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Who may replace an established connection with a new SCCRQ (issue 4):
#  - auth off: a stranger may not (StopCCN "already exists", logged, the
#    connection untouched); the peer's own host may (a restart behind NAT
#    shows up from a new port), and r1 then recovers by itself;
#  - challenge auth: an SCCRQ proves nothing until its SCCCN, so neither a
#    stranger nor the peer's host (another port) replaces the connection.
# (Digest auth: only a fresh authenticated SCCRQ may, see t_peer_restart;
# replays are refused, see t_flood.)  The SCCRQs are sent with spoofed
# sources from the inet namespace.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

cat >"$RUN/sccrq.py" <<'PY'
# DST SRC SPORT STYLE: one SCCRQ (Router ID 192.168.2.10, what r2 expects)
# from SRC:SPORT; STYLE none or challenge.
import os, random, socket, struct, sys

dst, src, sport, style = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def avp(t, v):
    return struct.pack("!HHH", 0x8000 | (6 + len(v)), 0, t) + v

body = (avp(0, struct.pack("!H", 1)) + avp(7, b"intruder") +
        avp(60, socket.inet_aton("192.168.2.10")) +
        avp(61, struct.pack("!I", random.randrange(1, 2**32))) + avp(62, struct.pack("!H", 5)))
if style == "challenge":
    body += avp(11, os.urandom(16))
l2 = struct.pack("!HHIHH", 0xC803, 12 + len(body), 0, 0, 0) + body
udp = struct.pack("!HHHH", sport, 1701, 8 + len(l2), 0) + l2
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + udp, (dst, 0))
PY

ids() { jqs r2 '.tunnels[0] | "\(.local_tunnel_id) \(.remote_tunnel_id) \(.sessions[0].local_session_id)"'; }

# refused_from SRC PORT STYLE: send the SCCRQ (again at each poll) until r2
# logs its refusal because the tunnel is established.
refused_from() {
	nq inet /usr/bin/python3 "$RUN/sccrq.py" 203.0.113.2 "$1" "$2" "$3"
	grep -qE "SCCRQ from ${1//./\\.}:$2 .*(established with another peer|cannot replace it)" "$(daemon_log r2)"
}

# conf_auth NS AUTHLINE...: NS's configuration with its auth lines replaced.
conf_auth() {
	local ns=$1; shift
	"conf_$ns" | awk -v repl="$(printf '%s\n' "$@")" '/^ l2tp tunnel auth on / { print repl; next } { print }'
}

start_case() {
	LOGTAG=$1; shift
	log "--- $LOGTAG"
	conf_auth r2 "$@" >"$OUT/r2-$LOGTAG.conf"
	conf_auth r1 "$@" >"$OUT/r1-$LOGTAG.conf"
	start_daemon r2 "$OUT/r2-$LOGTAG.conf"
	start_daemon r1 "$OUT/r1-$LOGTAG.conf"
	wait_for "$LOGTAG: r1 and r2 established" 30 paired
}

# --- auth off
start_case noauth " l2tp tunnel auth off"
before=$(ids)
wait_for "noauth: a stranger's SCCRQ is refused" 10 refused_from 198.51.100.77 1701 none
_expect "noauth: IDs after the stranger's SCCRQ" "$(ids)" "$before"
paired
ping_ok pc1 192.168.10.2 3
# r1's public address from another port: taken as r1 restarting
nq inet /usr/bin/python3 "$RUN/sccrq.py" 203.0.113.2 198.51.100.2 40002 none
wait_for "noauth: an SCCRQ from the peer's host replaces the connection" 10 \
	grep -qE 'new SCCRQ from 198\.51\.100\.2:40002 replaces' "$(daemon_log r2)"
wait_for "noauth: r1 and r2 pair again" 30 paired
ping_ok pc1 192.168.10.2 3
stop_daemon r1
stop_daemon r2

# --- challenge style
start_case challenge " l2tp tunnel auth on $SECRET" " l2tp tunnel auth method challenge"
before=$(ids)
wait_for "challenge: a stranger's SCCRQ is refused" 10 refused_from 198.51.100.77 1701 challenge
wait_for "challenge: an SCCRQ from the peer's host (new port) is refused" 10 \
	refused_from 198.51.100.2 40003 challenge
_expect "challenge: IDs after both SCCRQs" "$(ids)" "$before"
paired
ping_ok pc1 192.168.10.2 3
fails grep -q 'replaces the connection' "$(daemon_log r2)"
stop_daemon r1
stop_daemon r2
