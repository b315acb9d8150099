#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A spoofed SCCRQ never takes an established connection down (issues 4
# and 16).  A new connection replaces an old one only once it has proven
# itself and asks for a pseudowire the old one holds (admission.h):
#  - auth off: a stranger is refused (StopCCN "already exists", logged,
#    the connection untouched); an SCCRQ from the peer's own host (another
#    port, or r1's very address and port as r2 sees it) gets a connection
#    of its own beside the old one, which never completes (the forger
#    cannot answer our SCCRP): the old connection stays, with its IDs;
#  - challenge auth: the same for a stranger, the peer's host and its
#    address and port: none of them can answer our SCCRP's challenge.
# (A genuine restart, both auth styles: t_restart_auth; replays of signed
# SCCRQs: t_flood.)  The SCCRQs are sent with spoofed sources from the
# inet namespace.
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

ids_changed() { [[ $(ids) != "$1" ]]; }
ids() { jqs r2 '.tunnels[0] | "\(.local_tunnel_id) \(.remote_tunnel_id) \(.sessions[0].local_session_id)"'; }

# refused_from SRC PORT STYLE: send the SCCRQ (again at each poll) until r2
# logs its refusal because the tunnel is established.
refused_from() {
	nq inet /usr/bin/python3 "$RUN/sccrq.py" 203.0.113.2 "$1" "$2" "$3"
	grep -qE "SCCRQ from ${1//./\\.}:$2 .*(established with another peer|cannot replace it)" "$(daemon_log r2)"
}

# spoofed_from_peer TAG: SCCRQs from r1's public address, from another port
# and from r1's very port as r2 sees it (`remote_port`): each is answered
# on a connection of its own beside the established one, which stays.
spoofed_from_peer() {
	local tag=$1 before port style=none
	[[ $tag == noauth ]] || style=challenge
	before=$(ids)
	port=$(jqs r2 '.tunnels[0].remote_port')
	for p in 40002 "$port"; do
		nq inet /usr/bin/python3 "$RUN/sccrq.py" 203.0.113.2 198.51.100.2 "$p" $style
		wait_for "$tag: the SCCRQ from 198.51.100.2:$p gets a connection of its own" 10 \
			grep -qE "SCCRQ from 198\.51\.100\.2:$p .*accepted to replace after authentication" \
			"$(daemon_log r2)"
	done
	hold_never "$tag: the established connection changes" 3 ids_changed "$before"
	_expect "$tag: IDs after the spoofed SCCRQs" "$(ids)" "$before"
	paired
	ping_ok pc1 192.168.10.2 3
	fails grep -qE 'moves here|replaces the connection' "$(daemon_log r2)"
	log "ok: $tag: spoofed SCCRQs from the peer's address left the connection up"
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
spoofed_from_peer noauth
stop_daemon r1
stop_daemon r2

# --- challenge style
start_case challenge " l2tp tunnel auth on $SECRET" " l2tp tunnel auth method challenge"
before=$(ids)
spoofed_from_peer challenge
# a stranger: a connection of its own too, or (the tunnel has as many as
# one pseudowire allows, the two above still waiting for their SCCCN)
# refused; either way the connection stays
nq inet /usr/bin/python3 "$RUN/sccrq.py" 203.0.113.2 198.51.100.77 1701 challenge
wait_for "challenge: a stranger's SCCRQ gets at most a connection of its own" 10 \
	grep -qE "SCCRQ from 198\.51\.100\.77:1701 .*(accepted to replace after authentication|refused)" \
	"$(daemon_log r2)"
grep -E "SCCRQ from 198\.51\.100\.77:1701" "$(daemon_log r2)" >&2
_expect "challenge: IDs after the stranger's SCCRQ" "$(ids)" "$before"
paired
stop_daemon r1
stop_daemon r2
