#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Roaming: r1 (initiator, behind nat1) gets a new public address and port
# mid-ping (nat1 renumbered: 198.51.100.2 -> 198.51.100.3, ports
# 20000-20099).  With digest authentication the first message of r1 from
# the new mapping (its next HELLO, keepalive 1 s) verifies at r2, which
# moves the tunnel and its data path there: same control connection (same
# IDs on both sides, no new SCCRQ in the capture), few lost pings, the log
# and the status say so.  Then the same without authentication: a message
# from a new address proves nothing, so r2 must not move the tunnel (it
# counts the messages as from the wrong peer; the tunnel recovers, if at
# all, only through a new control connection).
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

ids() {
	jqs "$1" '.tunnels[0] | "\(.local_tunnel_id) \(.remote_tunnel_id) \(.sessions[0].local_session_id)"'
}
r2_peer_is() { [[ $(jqs r2 '.tunnels[0].remote_address') == "$1" ]]; }

# --- digest authentication (the scenario's `l2tp tunnel auth on`)
start_pair
ping_ok pc1 192.168.10.2
ids1=$(ids r1) ids2=$(ids r2)
capture_start r2 lan2 "$OUT/roaming.pcap"

COUNT=80 # 8 s of pings, one every 0.1 s
nbg pc1 ping -n -c $COUNT -i 0.1 -W 1 192.168.10.2 >"$OUT/ping.txt" 2>&1
ping_pid=$!
wait_for "pings flowing" 5 grep -q "icmp_seq=10 " "$OUT/ping.txt"
log "--- nat1 renumbered mid-ping: 198.51.100.2 -> 198.51.100.3:200xx"
nat1_renumber 198.51.100.2 198.51.100.3
wait_for "r2 sends to r1's new address" 10 r2_peer_is 198.51.100.3
wait "$ping_pid" || true
received=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$OUT/ping.txt")
log "pings: $received of $COUNT answered across the move ($((COUNT - received)) lost)"
(( received >= COUNT - 25 ))
capture_stop "$OUT/roaming.pcap"

# the same control connection and session on both sides
_expect "r1's tunnel and session IDs" "$(ids r1)" "$ids1"
_expect "r2's tunnel and session IDs" "$(ids r2)" "$ids2"
paired
_expect "SCCRQs in the capture" "$(tcount "$OUT/roaming.pcap" 'l2tp.avp.message_type==1')" 0
(( $(tcount "$OUT/roaming.pcap" "ip.src==198.51.100.3 && l2tp.type==1") > 0 ))
(( $(tcount "$OUT/roaming.pcap" "ip.dst==198.51.100.3 && l2tp.type==0") > 0 ))
jqs r2 '.tunnels[0] | .remote_port >= 20000 and .remote_port <= 20099' >/dev/null
log "r2's peer: $(jqs r2 '.tunnels[0] | "\(.remote_address):\(.remote_port)"')"
# (from r1's old mapping, or from an intermediate one the NAT gave it
# while the conntrack table was flushed: each authenticated move is logged)
grep -qE "tunnel 1: peer address changed from [0-9.]+:[0-9]+ to 198\.51\.100\.3:200[0-9]{2} \(roaming\)" \
	"$(daemon_log r2)"
ping_ok pc1 192.168.10.2
stop_daemon r1
stop_daemon r2

# --- no authentication: a message from a new address moves nothing
LOGTAG=noauth
conf_r1 | sed 's/^ l2tp tunnel auth on .*/ l2tp tunnel auth off/' >"$OUT/r1-noauth.conf"
conf_r2 | sed 's/^ l2tp tunnel auth on .*/ l2tp tunnel auth off/' >"$OUT/r2-noauth.conf"
start_daemon r2 "$OUT/r2-noauth.conf"
start_daemon r1 "$OUT/r1-noauth.conf"
wait_for "noauth: r1 and r2 established" 30 paired
ping_ok pc1 192.168.10.2
ids2=$(ids r2)
wrong0=$(jqs r2 '.counters.rx_ctrl_wrong_peer')
log "--- nat1 renumbered: 198.51.100.3 -> 198.51.100.4:200xx"
nat1_renumber 198.51.100.3 198.51.100.4
wrong_peer_counted() { (( $(jqs r2 '.counters.rx_ctrl_wrong_peer') > wrong0 )); }
wait_for "noauth: r2 counts r1's messages from the new address as from the wrong peer" 10 wrong_peer_counted
moved_same_connection() { r2_peer_is 198.51.100.4 && [[ $(ids r2) == "$ids2" ]]; }
hold_never "noauth: r2 moved its connection to the new address" 3 moved_same_connection
fails grep -q "(roaming)" "$(daemon_log r2)"

daemon_alive r1
daemon_alive r2
