#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Hub hygiene (issue 16, point 4): a departed branch's TAP port leaves the
# hub's bridge at once and is deleted after `l2tp hub hold`; the UDP
# receive buffer is sized and the kernel's drops are exported; a full
# hub's refusal of an authenticated SCCRQ carries a valid Message Digest.
#
#   s1 .. s4: l2tpv3d initiators, WAN 198.51.100.(10+i)/24, auth digest
#        |  (veths on one bridge in namespace wan)
#   hub: `l2tp hub on 3`, `l2tp hub hold 5`, keepalive 1 s x 3,
#        bridge1 = {tunnel1, tunnel1.1 .. tunnel1.3} with 192.168.10.1/24
#
# Checks: s4 (a 4th peer) is refused; the StopCCN carries a
# Message Digest that verifies with the secret (our own decoder,
# tests/netns/l2tp_digest.py; tshark only shows the AVP, see there) and
# not with another secret; s4 logs the hub's reason.  The metrics show the
# UDP receive buffer (>= 256 KiB) and the two drop counters, so does the
# JSON status.  s1 leaves with a StopCCN: its port is out of the bridge and
# down within 2 s, still there; s2 is killed: the keepalive declares it
# dead and its port leaves the bridge; s3 restarts within the hold time:
# same entry and port, back in the bridge, pings; after the hold time s1's
# and s2's entries and ports are deleted (not before 4 s), s3's stays.  The
# hub exits clean (sanitizers) and leaves no tunnel1.P port.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hub_lib.sh"

require_daemon
SITES=3
HOLD=5

hub_topology 4

conf_hub $SITES "l2tp hub hold $HOLD" "metrics listen 127.0.0.1:9101" >"$OUT/hub.conf"
start_daemon hub "$OUT/hub.conf"
for i in 1 2 3; do
	launch "s$i"
done
wait_for "$SITES instances established on the hub" 30 hub_up $SITES
# port_of RID: the hub's TAP port for that peer
port_of() { jqs hub ".tunnels[] | select(.peer_router_id == \"$1\") | .interface"; }
P1=$(port_of 10.0.0.1)
P2=$(port_of 10.0.0.2)
P3=$(port_of 10.0.0.3)
log "ports: s1 $P1, s2 $P2, s3 $P3"
# in_bridge IF: IF is a port of bridge1 and up; parked IF: it exists, in no
# bridge, down; gone IF: no such link
in_bridge() { nq hub ip -o link show dev "$1" | grep -q "master bridge1" && nq hub ip -o link show dev "$1" | grep -qE '[<,]UP[,>]'; }
parked() {
	local l
	l=$(nq hub ip -o link show dev "$1") || return 1
	! grep -q " master " <<<"$l" && ! grep -qE '[<,]UP[,>]' <<<"$l"
}
gone() { ! nq hub ip link show dev "$1" >/dev/null 2>&1; }
for p in "$P1" "$P2" "$P3"; do
	in_bridge "$p"
done

# --- (c) the UDP receive buffer and the kernel's drops
nq hub curl -sSf http://127.0.0.1:9101/metrics >"$OUT/metrics.txt"
metric() { awk -v m="l2tpv3d_$1" '$1 == m { print $2 }' "$OUT/metrics.txt"; }
rb=$(metric udp_rcvbuf_bytes)
log "UDP receive buffer $rb bytes; drops: socket $(metric udp_socket_drops_total), namespace $(metric udp_rcvbuf_errors_total)"
(( rb >= 262144 ))
[[ $(metric udp_socket_drops_total) =~ ^[0-9]+$ ]]
[[ $(metric udp_rcvbuf_errors_total) =~ ^[0-9]+$ ]]
grep -q "^# TYPE l2tpv3d_udp_socket_drops_total counter" "$OUT/metrics.txt"
_expect "JSON udp_rcvbuf" "$(jqs hub '.udp_rcvbuf')" "$rb"
jqs hub '.counters.udp_socket_drops, .counters.udp_rcvbuf_errors' >/dev/null
grep -q "UDP receive buffer: [0-9]* KiB for $SITES expected peers" "$(daemon_log hub)"

# --- (d) the 4th peer: refused, signed
capture_start hub wan "$OUT/full.pcap"
launch s4
wait_for "s4 refused: the hub is full" 20 grep -q "router id 10.0.0.4).*the hub is full" "$(daemon_log hub)"
# s4 verified the digest and read why (an unsigned or forged one it drops)
wait_for "s4 read the hub's reason" 10 grep -q "the hub is full" "$(daemon_log s4)"
stop_daemon s4
capture_stop "$OUT/full.pcap"
S4=198.51.100.14
sccrq=$(tsh "$OUT/full.pcap" -Y "ip.src == $S4 && l2tp.avp.message_type == 1" -T fields -e udp.payload | head -1)
stopccn=$(tsh "$OUT/full.pcap" -Y "ip.dst == $S4 && l2tp.avp.message_type == 4" -T fields -e udp.payload | head -1)
[[ -n $sccrq && -n $stopccn ]]
/usr/bin/python3 "$(dirname "$0")/l2tp_digest.py" "$SECRET" "$sccrq" "$stopccn" | tee "$OUT/digest.txt"
grep -q "^result 2: .*the hub is full" "$OUT/digest.txt"
fails /usr/bin/python3 "$(dirname "$0")/l2tp_digest.py" "not-$SECRET" "$sccrq" "$stopccn"
# tshark decodes it as a StopCCN with a Message Digest AVP (it cannot check
# this digest: its dissector hashes nonces only once it has seen an SCCRP)
_expect "tshark: hub-full StopCCNs to s4 with a Message Digest AVP" \
	"$(( $(tsh "$OUT/full.pcap" -Y "ip.dst == $S4 && l2tp.avp.message_type == 4 && l2tp.avp.message_digest" | wc -l) > 0 ))" 1

# --- (a) s1 leaves with a StopCCN: out of the bridge at once, kept
t1=$(_now_ns)
stop_daemon s1
wait_for "s1's port $P1 out of the bridge and down" 2 parked "$P1"
_expect "s1's entry parked" "$(jqs hub '.tunnels[] | select(.peer_router_id == "10.0.0.1") | .parked')" true
grep -q "tunnel 1.[0-9]*: peer left: $P1 out of the bridge and down, deleted in $HOLD s unless router id 10.0.0.1" \
	"$(daemon_log hub)"
# s2 vanishes: the keepalive (1 s x 3) declares it dead
kill_daemon s2
wait_for "s2's port $P2 out of the bridge after the keepalive" 15 parked "$P2"
# s3 restarts within the hold time: same entry and port, back in the bridge
stop_daemon s3
wait_for "s3's port $P3 parked" 2 parked "$P3"
launch s3
wait_for "s3 back" 20 up s3
_expect "s3's port after its restart" "$(port_of 10.0.0.3)" "$P3"
in_bridge "$P3"
ping_ok s3 192.168.10.1 3
_expect "s3's entry parked" "$(jqs hub '.tunnels[] | select(.peer_router_id == "10.0.0.3") | .parked // false | tostring')" false
# after the hold time: s1's and s2's entries and ports deleted
wait_for "s1's port $P1 deleted after the hold" $(( HOLD + 10 )) gone "$P1"
held_ms=$(( ($(_now_ns) - t1) / 1000000 ))
log "s1's port deleted $held_ms ms after its StopCCN (hold $HOLD s)"
(( held_ms >= (HOLD - 1) * 1000 ))
wait_for "s2's port $P2 deleted" $(( HOLD + 10 )) gone "$P2"
grep -q "tunnel 1.[0-9]*: peer gone for $HOLD s: instance removed (TAP $P1 deleted)" "$(daemon_log hub)"
_expect "hub entries left" "$(jqs hub '[.tunnels[] | select(.peer_index) | .peer_router_id] | join(",")')" 10.0.0.3
in_bridge "$P3"
hub_up 1

stop_daemon hub
_expect "tunnel1.P ports left after the hub's exit" \
	"$(nq hub ip -o link show | grep -cE '^[0-9]+: tunnel1\.[0-9]+[:@]' || true)" 0
stop_daemon s3
