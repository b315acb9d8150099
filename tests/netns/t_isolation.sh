#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Isolation (issue 5, point 4): the data path never blocks the control
# plane, and a slow or dead peer never blocks the other tunnels' traffic.
#
#   h: l2tpv3d with two initiator tunnels
#      tunnel 1 -> p1 (192.0.2.11) over wan1 192.0.2.1/24,
#                  bridge1 = {tunnel1} 192.168.10.1/24
#      tunnel 2 -> p2 (198.51.100.12) over wan2 198.51.100.1/24,
#                  bridge2 = {tunnel2} 192.168.20.1/24
#   p1, p2: l2tpv3d responders, bridge1 = {tunnel1} 192.168.10.2/24 and
#      192.168.20.2/24
#   w1, w2: the WAN to each peer, a bridge (nftables, bridge family, plays
#      the Internet's failures)
#   One UDP socket (port 1701) carries both tunnels, as always.
#
# Keepalive `on 1 3` everywhere: a control plane stalled for a few seconds
# loses its tunnels.  In each phase gen64 floods tunnel 1 with 64-byte
# frames (UDP to 192.168.10.99, a static neighbour on bridge1: unknown
# unicast that h's bridge hands to tunnel1) while h pings p2 through
# tunnel 2 every 20 ms and `l2tpctl show status l2tp` is timed in a loop:
#
#   (c) both peers alive: the flood crosses to p1.  Both tunnels stay up
#       with the same IDs, h's HELLOs are sent and acknowledged on both, the
#       status answers within STATUS_MAX_MS.
#   (b) slow peer: p1's data is rate-limited in the WAN (nftables `limit
#       rate`, 1 MB/s, control messages pass).
#   (b') slow uplink: h's own link to p1 is shaped (tbf, 1 Mbit/s, 500 ms
#       of queue).  The datagrams waiting there hold the shared socket's
#       send buffer: with the kernel's default buffer every send to p2
#       failed (2/3 of tunnel 2's pings lost, tunnel 2 dropped by its
#       keepalive) until dp_create raised it (DP_UDP_SNDBUF).
#   (a) dead peer: everything to and from p1 is dropped in the WAN.  h
#       gives tunnel 1 up on its keepalive and keeps retrying (always-on)
#       while the flood goes on; once p1 is reachable again tunnel 1 comes
#       back and carries pings.
#
# In every phase tunnel 2 keeps its IDs, loses at most LOSS_MAX_PCT of its
# pings, and its ping RTT p99 stays under RTT_P99_MAX_MS (500 ms): generous
# bounds for a loaded 2-core machine, but a data path blocked behind
# tunnel 1 shows seconds of RTT or total loss.  Figures are printed per
# phase.
source "$(dirname "$0")/lib.sh"

require_daemon
GEN64=$B/bench/gen64
[[ -x $GEN64 ]] || { log "missing $GEN64 (run: bash scripts/build.sh test)"; false; }
# Measured on the 2-core CI machine with other tests running (ASan build):
# tunnel 2 RTT p50 0.2-10 ms, p99 8-170 ms during the flood (without it:
# p50 0.2-0.3 ms, p99 0.4-64 ms): the flood, three daemons and the other
# tests share two cores.  A data path that waits for tunnel 1 shows
# seconds, or loses everything.
RTT_P99_MAX_MS=${RTT_P99_MAX_MS:-500}
LOSS_MAX_PCT=${LOSS_MAX_PCT:-1}
# The status under the flood: 0.2-0.8 s here, once 1.8 s on a clean-clone
# run; a control thread blocked behind the data path would take many
# seconds or never answer.
STATUS_MAX_MS=${STATUS_MAX_MS:-3000}
KEEPALIVE="on 1 3"

NAMES=(h p1 p2 w1 w2)
for ns in "${NAMES[@]}"; do
	NS[$ns]=iso-$ns-$$
	ip netns add "${NS[$ns]}"
	nq "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nq "$ns" ip link set lo up
done
# wan_link W NS IF ADDR: NS's interface IF on W's bridge, with ADDR/24
wan_link() {
	ip -n "${NS[$2]}" link add "$3" type veth peer name "p-$2" netns "${NS[$1]}"
	nq "$1" ip link set "p-$2" master br0
	nq "$1" ip link set "p-$2" up
	nq "$2" ip addr add "$4/24" dev "$3"
	nq "$2" ip link set "$3" up
}
for w in w1 w2; do
	nq "$w" ip link add br0 type bridge
	nq "$w" ip link set br0 up
done
wan_link w1 h wan1 192.0.2.1
wan_link w1 p1 wan 192.0.2.11
wan_link w2 h wan2 198.51.100.1
wan_link w2 p2 wan 198.51.100.12

# conf_tunnel N PEER: an initiator tunnel block of h
conf_tunnel() {
	cat <<-EOF
	tunnel select $1
	 tunnel encapsulation l2tpv3-raw
	 tunnel endpoint address $2
	 l2tp always-on on
	 l2tp hostname HUB
	 l2tp tunnel auth on $SECRET
	 l2tp keepalive use $KEEPALIVE
	 l2tp local router-id 10.0.0.1
	 l2tp remote end-id $END_ID
	 tunnel enable $1
	EOF
}
{
	echo "bridge member bridge1 tunnel1"
	echo "ip bridge1 address 192.168.10.1/24"
	echo "bridge member bridge2 tunnel2"
	echo "ip bridge2 address 192.168.20.1/24"
	conf_tunnel 1 192.0.2.11
	conf_tunnel 2 198.51.100.12
	echo "l2tp service on l2tpv3"
} >"$OUT/h.conf"
# conf_peer N ADDR: a responder with bridge1 = {tunnel1} and ADDR
conf_peer() {
	cat <<-EOF
	bridge member bridge1 tunnel1
	ip bridge1 address $2/24
	tunnel select 1
	 tunnel encapsulation l2tpv3-raw
	 l2tp hostname P$1
	 l2tp tunnel auth on $SECRET
	 l2tp keepalive use $KEEPALIVE
	 l2tp local router-id 10.0.0.1$1
	 l2tp remote end-id $END_ID
	 tunnel enable 1
	l2tp service on l2tpv3
	EOF
}
conf_peer 1 192.168.10.2 >"$OUT/p1.conf"
conf_peer 2 192.168.20.2 >"$OUT/p2.conf"
start_daemon p1 "$OUT/p1.conf"
start_daemon p2 "$OUT/p2.conf"
start_daemon h "$OUT/h.conf"

# tj N FILTER: jq FILTER on h's tunnel N
tj() { jqs h ".tunnels[] | select(.id == $1) | $2"; }
# up N: h's tunnel N and its session established
up() { [[ $(tj "$1" '"\(.state) \(.sessions[0].state // "none")"') == "established established" ]]; }
# ids N: h's tunnel and session IDs of tunnel N, and how often it came up
ids() { tj "$1" '"\(.local_tunnel_id)/\(.remote_tunnel_id) \(.sessions[0].local_session_id)/\(.sessions[0].remote_session_id) established_count=\(.established_count)"'; }
wait_for "h: tunnel 1 up" 30 up 1
wait_for "h: tunnel 2 up" 30 up 2
ping_ok h 192.168.10.2 3
ping_ok h 192.168.20.2 3
# the flood's destination: unknown to h's bridge, so it goes to tunnel1
nq h ip neigh replace 192.168.10.99 lladdr 02:00:00:00:00:99 dev bridge1 nud permanent

# ping_stats FILE: "sent received p50 p99 max" of a ping output (ms)
ping_stats() {
	local sent recv
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$1")
	recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$1")
	sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' "$1" | sort -n >"$1.rtt"
	awk -v s="${sent:-0}" -v r="${recv:-0}" '{ v[NR] = $1 }
		END {
			if (NR == 0) { printf "%d %d - - -\n", s, r; exit }
			p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)]
			printf "%d %d %s %s %s\n", s, r, p50, p99, v[NR]
		}' "$1.rtt"
}

# ctrl N: h's HELLO-bearing counters of tunnel N
ctrl() { tj "$1" '"\(.tx_ctrl_messages) \(.rx_ctrl_messages) \(.retransmissions)"'; }

log "--- baseline: tunnel 2 ping without a flood"
nq h ping -n -i 0.02 -c 100 -W 2 192.168.20.2 >"$OUT/ping-baseline.txt" 2>&1 || true
read -r sent recv p50 p99 max <<<"$(ping_stats "$OUT/ping-baseline.txt")"
log "baseline: $recv/$sent answered, RTT p50 $p50 ms, p99 $p99 ms, max $max ms"
(( recv == sent ))

# phase NAME SECS: flood tunnel 1 for SECS s; meanwhile ping p2 through
# tunnel 2 every 20 ms and time `l2tpctl show status l2tp` in a loop;
# print the figures and check tunnel 2 (IDs, loss, RTT) and the status
# times.  Sets T1_DOWN_MS (when tunnel 1 was first seen down, or -1).
phase() {
	local name=$1 secs=$2 ids2 t0 t1 ms smax=0 ssum=0 sn=0 gen ping c2 c2b tx1 tx1b err1 err1b sid1b sent1
	local sent recv p50 p99 max lost_pct
	ids2=$(ids 2)
	c2b=$(ctrl 2)
	sid1b=$(tj 1 '.sessions[0].local_session_id // 0')
	tx1b=$(tj 1 '.sessions[0].tx_packets // 0')
	err1b=$(tj 1 '.sessions[0].tx_errors // 0')
	T1_DOWN_MS=-1
	# nice: the generator stands for a LAN host, not for a load on the router
	nbg h nice -n 19 "$GEN64" send 192.168.10.99 9 "$secs" >"$OUT/gen-$name.txt" 2>"$OUT/gen-$name.err"
	gen=$!
	BG_PIDS+=("$gen")
	sleep 0.3
	nbg h ping -n -i 0.02 -c $(( (secs * 1000 - 800) / 20 )) -W 2 192.168.20.2 >"$OUT/ping-$name.txt" 2>&1
	ping=$!
	BG_PIDS+=("$ping")
	local start
	start=$(_now_ns)
	while ! _pid_gone "$ping"; do
		t0=$(_now_ns)
		status_text h >"$OUT/status-$name.txt"
		t1=$(_now_ns)
		ms=$(( (t1 - t0) / 1000000 ))
		(( ms > smax )) && smax=$ms
		ssum=$(( ssum + ms )) sn=$(( sn + 1 ))
		if (( T1_DOWN_MS < 0 )) && ! grep -q "Tunnel state: established" <(sed -n '/^TUNNEL\[1\]/,/^TUNNEL\[2\]/p' "$OUT/status-$name.txt"); then
			T1_DOWN_MS=$(( (t1 - start) / 1000000 ))
		fi
		sleep 0.1
	done
	wait "$ping" || true
	wait "$gen" || { log "gen64 failed: $(cat "$OUT/gen-$name.err")"; return 1; }
	read -r sent recv p50 p99 max <<<"$(ping_stats "$OUT/ping-$name.txt")"
	c2=$(ctrl 2)
	tx1=$(tj 1 '.sessions[0].tx_packets // 0')
	err1=$(tj 1 '.sessions[0].tx_errors // 0')
	if [[ $(tj 1 '.sessions[0].local_session_id // 0') == "$sid1b" ]]; then
		sent1="h sent $(( tx1 - tx1b )) of them into tunnel 1, $(( err1 - err1b )) send errors"
	else
		sent1="tunnel 1's session did not last (its counters went with it)"
	fi
	log "($name) flood: gen64 sent $(cat "$OUT/gen-$name.txt") frames in ${secs} s; $sent1"
	log "($name) tunnel 2 ping: $recv/$sent answered, RTT p50 $p50 ms, p99 $p99 ms, max $max ms"
	log "($name) l2tpctl show status l2tp: $sn calls, mean $(( ssum / (sn ? sn : 1) )) ms, max $smax ms"
	log "($name) h tunnel 2 control (tx rx retransmissions): before $c2b, after $c2;" \
		"keepalive RTT $(tj 2 .keepalive_rtt_ms) ms"
	log "($name) h tunnel 1: $(tj 1 .state), first seen down after ${T1_DOWN_MS} ms (-1: never)"
	# tunnel 2 untouched: same connection and session, still up
	_expect "($name) tunnel 2 IDs" "$(ids 2)" "$ids2"
	up 2
	# HELLOs went out and were answered (acknowledged, none resent) on
	# tunnel 2 during the flood (h calls: its HELLOs keep the connection,
	# the peer only acknowledges them)
	local txb rxb rtb txa rxa rta
	read -r txb rxb rtb <<<"$c2b"
	read -r txa rxa rta <<<"$c2"
	(( txa - txb >= secs / 2 && rta == rtb )) ||
		{ log "($name) tunnel 2: too few HELLOs or some resent during ${secs} s: $c2b -> $c2"; return 1; }
	(( $(tj 2 .keepalive_rtt_ms) < 1000 ))
	# tunnel 2's data: near-zero loss, RTT not inflated
	lost_pct=$(( (sent - recv) * 100 / (sent ? sent : 1) ))
	(( sent > 0 && lost_pct <= LOSS_MAX_PCT )) ||
		{ log "($name) tunnel 2 lost $lost_pct% of its pings (max $LOSS_MAX_PCT%)"; return 1; }
	awk -v p="$p99" -v m="$RTT_P99_MAX_MS" 'BEGIN { exit !(p + 0 < m) }' ||
		{ log "($name) tunnel 2 RTT p99 $p99 ms >= $RTT_P99_MAX_MS ms"; return 1; }
	(( smax < STATUS_MAX_MS )) ||
		{ log "($name) l2tpctl show status took $smax ms (max $STATUS_MAX_MS)"; return 1; }
	log "ok: ($name) tunnel 2 unaffected, status answered within $smax ms"
}

log "--- (c) both peers alive: the flood crosses to p1"
ids1=$(ids 1)
c1b=$(ctrl 1)
p1rx=$(nq p1 "$L2TPCTL" -S "$(sock p1)" -j show status l2tp | jq -r '.tunnels[0].sessions[0].rx_packets')
phase alive 6
# tunnel 1 too kept its connection, and its HELLOs were answered
_expect "(alive) tunnel 1 IDs" "$(ids 1)" "$ids1"
up 1
read -r txb rxb rtb <<<"$c1b"
read -r txa rxa rta <<<"$(ctrl 1)"
log "(alive) h tunnel 1 control (tx rx retransmissions): before $c1b, after $(ctrl 1)"
(( txa - txb >= 3 && rta == rtb ))
p1rx2=$(nq p1 "$L2TPCTL" -S "$(sock p1)" -j show status l2tp | jq -r '.tunnels[0].sessions[0].rx_packets')
log "(alive) p1 received $(( p1rx2 - p1rx )) frames of the flood"
(( p1rx2 - p1rx > 1000 ))

log "--- (b) slow peer: p1's data rate-limited to 1 MB/s in the WAN"
# the first bit after the UDP header is L2TP's T bit: 0 for data
nq w1 nft -f - <<-EOF
table bridge iso {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip daddr 192.0.2.11 udp dport 1701 @th,64,1 0 limit rate over 1 mbytes/second drop
	}
}
EOF
phase slow 6
nq w1 nft list table bridge iso >"$OUT/nft-slow.txt"
log "(slow) WAN: $(grep -o 'limit rate over.*' "$OUT/nft-slow.txt")"
nq w1 nft delete table bridge iso
wait_for "h: tunnel 1 up after the slow phase" 30 up 1

log "--- (b') slow uplink: h's link to p1 shaped to 1 Mbit/s, 500 ms of queue"
nq h tc qdisc add dev wan1 root tbf rate 1mbit burst 16k latency 500ms
phase uplink 6
log "(uplink) h wan1: $(nq h tc -s qdisc show dev wan1 | grep -o 'Sent.*)')"
nq h tc qdisc del dev wan1 root
wait_for "h: tunnel 1 up after the slow uplink" 30 up 1

log "--- (a) dead peer: everything to and from p1 dropped in the WAN"
ids1=$(ids 1)
nq w1 nft -f - <<-EOF
table bridge iso {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip saddr 192.0.2.11 counter drop
		ip daddr 192.0.2.11 counter drop
	}
}
EOF
phase dead 8
nq w1 nft list table bridge iso >"$OUT/nft-dead.txt"
log "(dead) WAN drops: $(grep -o 'counter packets [0-9]* bytes [0-9]*' "$OUT/nft-dead.txt" | xargs)"
# h noticed on its keepalive (a blocked control plane would not)
(( T1_DOWN_MS >= 0 )) || wait_for "h: tunnel 1 given up on p1" 15 eval '! up 1'

log "--- p1 reachable again: tunnel 1 comes back"
nq w1 nft delete table bridge iso
t0=$(_now_ns)
wait_for "h: tunnel 1 up again" 40 up 1
log "tunnel 1 back $(( ($(_now_ns) - t0) / 1000000 )) ms after p1 became reachable: $(ids 1) (before: $ids1)"
[[ $(ids 1) != "$ids1" ]]
wait_for "h reaches p1 through tunnel 1" 10 ping1 h 192.168.10.2
ping_ok h 192.168.10.2 3
ping_ok h 192.168.20.2 3

stop_daemon h
stop_daemon p1
stop_daemon p2
