#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `l2tp local port` and `l2tp remote port`: the reference scenario with r2
# listening on UDP 1703 (`l2tp local port 1703`, its NAT forwarding 1703)
# and r1 calling from 1702 to 1703.
#
#  1. The pair comes up and PC1 pings PC2; the status shows the ports; a
#     capture on the Internet link shows control and data to UDP 1703 and
#     nothing to 1701; r1's packets leave r1 from port 1702 (captured on
#     r1's WAN, before the NATs) and r2 answers from 1703.
#  2. A wrong port: r1 calls 1701 on a tunnel that listens on 1703 (r2 also
#     forwards 1701): refused, and the log says which port the tunnel
#     listens on and which one the peer called.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
nq r2 nft add rule ip nat prerouting iifname lan2 udp dport 1703 dnat to 192.168.2.20

with_lines() { # NS LINES...: NS's scenario configuration plus LINES in its tunnel
	local ns=$1; shift
	"conf_$ns" | awk -v add="$(printf ' %s\n' "$@")" \
		'{ print } /^ tunnel encapsulation l2tpv3-raw/ { print add }'
}
with_lines r1 "l2tp local port 1702" "l2tp remote port 1703" >"$OUT/r1.conf"
with_lines r2 "l2tp local port 1703" >"$OUT/r2.conf"
grep -q 'local port 1702' "$OUT/r1.conf"

nbg inet tcpdump -Z root -n -i e1 --immediate-mode -U -w "$OUT/e1.pcap" udp 2>"$OUT/e1.pcap.err"
CAPTURE_PID[$OUT/e1.pcap]=$!
nbg r1 tcpdump -Z root -n -i lan2 --immediate-mode -U -w "$OUT/r1.pcap" udp and not port 67 and not port 68 \
	2>"$OUT/r1.pcap.err"
CAPTURE_PID[$OUT/r1.pcap]=$!
wait_for "tcpdump listening on inet and r1" 10 \
	sh -c "grep -q 'listening on' '$OUT/e1.pcap.err' && grep -q 'listening on' '$OUT/r1.pcap.err'"

start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "tunnel and session established on ports 1702 -> 1703" 30 paired
ping_ok pc1 192.168.10.2 5
ping_ok pc2 192.168.10.1 3
_expect "r1 ports" "$(jqs r1 '[.tunnels[0].local_port, .tunnels[0].remote_port] | join(",")')" 1702,1703
_expect "r2 local port" "$(jqs r2 '.tunnels[0].local_port')" 1703
grep -q 'listening on UDP port 1703 as well' "$(daemon_log r2)"
capture_stop "$OUT/e1.pcap"
capture_stop "$OUT/r1.pcap"

ts() { tshark -n -r "$1" -d udp.port==1703,l2tp -o l2tp.cookie_size:cookie0 -o l2tp.l2_specific:none \
	-d l2tp.pw_type==0,eth "${@:2}" 2>/dev/null; }
_expect "packets to or from UDP 1701 on the Internet link" "$(ts "$OUT/e1.pcap" -Y 'udp.port==1701' | wc -l)" 0
k=$(ts "$OUT/e1.pcap" -Y 'udp.dstport==1703 && l2tp.type==1' | wc -l)
# SCCRQ, SCCCN, ICRQ, ICCN at least (a ZLB may come after the capture)
(( k >= 4 )) || { log "only $k control messages to 1703"; exit 1; }
k=$(ts "$OUT/e1.pcap" -Y 'udp.dstport==1703 && l2tp.type==0 && icmp.type==8' | wc -l)
(( k >= 5 )) || { log "only $k echo requests in data to 1703"; exit 1; }
_expect "r2's replies from port" "$(ts "$OUT/e1.pcap" -Y 'ip.src==203.0.113.2 && l2tp' -T fields -e udp.srcport | sort -u | xargs)" 1703
_expect "r1's source port before the NATs" \
	"$(ts "$OUT/r1.pcap" -Y 'ip.dst==203.0.113.2 && l2tp' -T fields -e udp.srcport | sort -u | xargs)" 1702
_expect "malformed or wrong digests" \
	"$(ts "$OUT/e1.pcap" -o l2tp.shared_secret:$SECRET -Y '_ws.malformed || l2tp.incorrect_digest' | wc -l)" 0
log "ok: control and data on 1702 -> 1703"

# ------------------------------------------------------------ 2. wrong port
stop_daemon r1
LOGTAG=wrong
with_lines r1 "l2tp local port 1702" >"$OUT/r1-1701.conf" # calls 1701
start_daemon r1 "$OUT/r1-1701.conf"
LOGTAG=
wait_for "r2 refuses the call to 1701" 20 grep -q \
	"refused: tunnel 1: local port differs: it listens on UDP port 1703 ('l2tp local port'), the peer called port 1701" \
	"$(daemon_log r2)"
grep -m1 'listens on UDP port 1703' "$(daemon_log r2)" >&2
hold_never "r2 established" 3 established r2
LOGTAG=wrong
stop_daemon r1
LOGTAG=
stop_daemon r2
