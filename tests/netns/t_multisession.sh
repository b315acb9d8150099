#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Two pseudowires over one control connection (RFC 3931 §3.3), through
# both NATs of the reference scenario: tunnel 1 carries pseudowire 1
# (end-id yamaha, tunnel1 in bridge1) and pseudowire 2 (`l2tp pseudowire 2
# remote end-id cams`, tunnel1-2 in bridge2) at both sites.
#
#   site 1: pc1 192.168.10.1 -- lan1 [bridge1] tunnel1   ...   tunnel1 [bridge1] lan1 -- pc2 192.168.10.2
#           pc3 192.168.10.3 -- lan3 [bridge2] tunnel1-2 ... tunnel1-2 [bridge2] lan3 -- pc4 192.168.10.4
#
# All four PCs share one subnet: only the bridges and the sessions keep
# them apart, so pc1 reaching pc4 would mean two bridges were joined.
#
# Checks:
#  - both sides: one tunnel, two sessions established, each on its own
#    pseudowire and TAP port, IDs paired; the status text names them;
#  - pc1 <-> pc2 and pc3 <-> pc4 ping; pc1 -> pc4 and pc3 -> pc2 do not,
#    and no frame of pc3 reaches pc2's segment (nor pc1's pc4's);
#  - tshark on the Internet link: one SCCRQ/SCCRP/SCCCN (one control
#    connection, one pair of Control Connection IDs), two ICRQ/ICRP/ICCN,
#    and data packets carrying exactly the four Session IDs (two per
#    direction) with the pings inside;
#  - a third pseudowire that r2 does not have (r1 asks for "printers"):
#    r2 refuses it with a CDN and a log line, the other two stay up;
#  - r2 stops (StopCCN): r1's two sessions go down together; r2 back: both
#    come back over one new connection;
#  - r2 as a hub (`l2tp hub on`): r1 gets the ports tunnel1.1 and
#    tunnel1.1-2 in the two bridges, frames still stay apart, and the
#    metrics list both sessions with their pseudowire and port; r1 stops:
#    both ports leave their bridges at once and go down.
source "$(dirname "$0")/lib.sh"

require_daemon
NAMES+=(pc3 pc4)
NS[pc3]=pc3-$$
NS[pc4]=pc4-$$
topo_create
# second LAN segment at each site
ip -n "${NS[pc3]}" link add eth0 type veth peer name lan3 netns "${NS[r1]}"
ip -n "${NS[pc4]}" link add eth0 type veth peer name lan3 netns "${NS[r2]}"
nq pc3 ip addr add 192.168.10.3/24 dev eth0
nq pc3 ip link set eth0 up
nq pc4 ip addr add 192.168.10.4/24 dev eth0
nq pc4 ip link set eth0 up
nq r1 ip link set lan3 up
nq r2 ip link set lan3 up

# conf NS LINES...: the scenario's config of NS with pseudowire 2 (and
# LINES) in its tunnel block and bridge2 = {lan3, tunnel1-2}
conf() {
	local ns=$1; shift
	conf_with "$ns" "l2tp pseudowire 2 remote end-id cams" "$@"
	echo "bridge member bridge2 lan3 tunnel1-2"
}

# pw_paired: r1 and r2 hold one connection with sessions on pseudowires
# 1 and 2, each established and paired with the other side's
pw_paired() {
	local s1 s2
	s1=$(status_json r1) && s2=$(status_json r2) || return 1
	jq -en --argjson a "$s1" --argjson b "$s2" '
		$a.tunnels[0] as $t1 | $b.tunnels[0] as $t2 |
		($t1.sessions | length) == 2 and ($t2.sessions | length) == 2 and
		$t1.state == "established" and $t2.state == "established" and
		$t1.remote_tunnel_id == $t2.local_tunnel_id and $t2.remote_tunnel_id == $t1.local_tunnel_id and
		([1, 2] | all(. as $p |
			($t1.sessions[] | select(.pseudowire == $p)) as $x |
			($t2.sessions[] | select(.pseudowire == $p)) as $y |
			$x.state == "established" and $y.state == "established" and
			$x.remote_session_id == $y.local_session_id and $y.remote_session_id == $x.local_session_id))
	' >/dev/null
}

conf r1 >"$OUT/r1.conf"
conf r2 >"$OUT/r2.conf"
n r1 "$L2TPV3D" -n -c "$OUT/r1.conf"
capture_start inet e1 "$OUT/wan.pcap"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "two sessions paired over one tunnel" 30 pw_paired

for ns in r1 r2; do
	# each pseudowire's session on its own port, in its own bridge
	[[ $(jqs "$ns" '.tunnels | length') == 1 ]]
	[[ $(jqs "$ns" '.tunnels[0].pseudowires') == 2 ]]
	[[ $(jqs "$ns" '.tunnels[0].sessions[] | select(.pseudowire == 1) | .interface') == tunnel1 ]]
	[[ $(jqs "$ns" '.tunnels[0].sessions[] | select(.pseudowire == 1) | .remote_end_id') == yamaha ]]
	[[ $(jqs "$ns" '.tunnels[0].sessions[] | select(.pseudowire == 2) | .interface') == tunnel1-2 ]]
	[[ $(jqs "$ns" '.tunnels[0].sessions[] | select(.pseudowire == 2) | .remote_end_id') == cams ]]
	[[ $(nq "$ns" ip -o link show tunnel1) == *"master bridge1"* ]]
	[[ $(nq "$ns" ip -o link show tunnel1-2) == *"master bridge2"* ]]
	status_text "$ns" >"$OUT/$ns-status.txt"
	grep -q 'Number of L2TP tunnels: 1, Number of L2TP sessions: 2' "$OUT/$ns-status.txt"
	grep -q 'Sessions in tunnel: 2 sessions' "$OUT/$ns-status.txt"
	grep -q 'Pseudowire: 1 (tunnel1, end-id yamaha)' "$OUT/$ns-status.txt"
	grep -q 'Pseudowire: 2 (tunnel1-2, end-id cams)' "$OUT/$ns-status.txt"
done
cat "$OUT/r1-status.txt" >&2

# each segment reaches its own far end, and only that
nbg pc2 tcpdump -Z root -n -e -i eth0 --immediate-mode -U -w "$OUT/pc2.pcap" 2>"$OUT/pc2.pcap.err"
PC2_DUMP=$!
BG_PIDS+=("$PC2_DUMP")
nbg pc4 tcpdump -Z root -n -e -i eth0 --immediate-mode -U -w "$OUT/pc4.pcap" 2>"$OUT/pc4.pcap.err"
PC4_DUMP=$!
BG_PIDS+=("$PC4_DUMP")
wait_for "tcpdump on pc2 and pc4" 10 grep -q 'listening on' "$OUT/pc2.pcap.err" "$OUT/pc4.pcap.err"
ping_ok pc1 192.168.10.2 5
ping_ok pc3 192.168.10.4 5
ping_ok pc2 192.168.10.1 3
ping_ok pc4 192.168.10.3 3
fails nq pc1 ping -n -c 2 -i 0.2 -W 1 192.168.10.4
fails nq pc3 ping -n -c 2 -i 0.2 -W 1 192.168.10.2
sleep 0.5
kill -INT "$PC2_DUMP" "$PC4_DUMP"
wait "$PC2_DUMP" "$PC4_DUMP" 2>/dev/null || true
mac1=$(nq pc1 cat /sys/class/net/eth0/address)
mac3=$(nq pc3 cat /sys/class/net/eth0/address)
# pc2's segment saw pc1's frames and none of pc3's; pc4's the reverse
(( $(tshark -n -r "$OUT/pc2.pcap" -Y "eth.src == $mac1" 2>/dev/null | wc -l) > 0 ))
(( $(tshark -n -r "$OUT/pc2.pcap" -Y "eth.src == $mac3" 2>/dev/null | wc -l) == 0 ))
(( $(tshark -n -r "$OUT/pc4.pcap" -Y "eth.src == $mac3" 2>/dev/null | wc -l) > 0 ))
(( $(tshark -n -r "$OUT/pc4.pcap" -Y "eth.src == $mac1" 2>/dev/null | wc -l) == 0 ))
log "ok: each bridge's frames stay in their pseudowire"

capture_stop "$OUT/wan.pcap"
# one control connection: one SCCRQ/SCCRP/SCCCN, one CCID per side
(( $(tcount "$OUT/wan.pcap" 'l2tp.avp.message_type == 1') == 1 ))
(( $(tcount "$OUT/wan.pcap" 'l2tp.avp.message_type == 2') == 1 ))
(( $(tcount "$OUT/wan.pcap" 'l2tp.avp.message_type == 3') == 1 ))
(( $(tcount "$OUT/wan.pcap" 'l2tp.avp.message_type == 10') == 2 ))
(( $(tcount "$OUT/wan.pcap" 'l2tp.avp.message_type == 11') == 2 ))
(( $(tcount "$OUT/wan.pcap" 'l2tp.avp.message_type == 12') == 2 ))
ccids=$(tsh "$OUT/wan.pcap" -Y 'l2tp.type == 1 && l2tp.ccid != 0' -T fields -e l2tp.ccid | sort -u | wc -l)
log "control connection IDs on the wire: $ccids"
(( ccids == 2 ))
# data: exactly the four Session IDs of the status, pings inside
want=$( { jqs r1 '.tunnels[0].sessions[] | .local_session_id, .remote_session_id'; } | sort -u | tr '\n' ' ')
got=$(tsh "$OUT/wan.pcap" -Y 'l2tp.type == 0 && l2tp.sid != 0' -T fields -e l2tp.sid |
	while read -r h; do echo $((h)); done | sort -u | tr '\n' ' ')
log "data Session IDs: $got (status: $want)"
[[ $got == "$want" ]]
[[ $(wc -w <<<"$got") == 4 ]]
for p in 192.168.10.2 192.168.10.4; do
	(( $(tcount "$OUT/wan.pcap" "icmp.type == 8 && ip.dst == $p") >= 3 ))
done

# a pseudowire r2 does not have: refused with a CDN, the others stay
stop_daemon r1
conf r1 "l2tp pseudowire 3 remote end-id printers" >"$OUT/r1-3.conf"
start_daemon r1 "$OUT/r1-3.conf"
wait_for "two sessions paired again" 30 pw_paired
wait_for "r2 refused pseudowire 3" 10 grep -q 'Remote End ID "printers" is none of this tunnel' "$OUT/r2.log"
hold_never "r1 holds a third session or loses one" 2 \
	bash -c "[[ \$($L2TPCTL -S $(sock r1) -j show status l2tp | jq '.tunnels[0].sessions | length') != 2 ]]"
[[ $(jqs r1 '.tunnels[0].pseudowires') == 3 ]]
[[ $(jqs r1 '.tunnels[0].state') == established ]]
ping_ok pc3 192.168.10.4 3

# StopCCN ends both sessions together; both come back
first_ccid=$(jqs r1 '.tunnels[0].local_tunnel_id')
stop_daemon r2
wait_for "r1 lost both sessions" 10 bash -c \
	"[[ \$($L2TPCTL -S $(sock r1) -j show status l2tp | jq '.tunnels[0].sessions | length') == 0 ]]"
grep -q 'session .* (pseudowire 1, tunnel1) down' "$OUT/r1.log"
grep -q 'session .* (pseudowire 2, tunnel1-2) down' "$OUT/r1.log"
start_daemon r2 "$OUT/r2.conf"
wait_for "both sessions back" 40 pw_paired
[[ $(jqs r1 '.tunnels[0].local_tunnel_id') != "$first_ccid" ]]
ping_ok pc1 192.168.10.2 3
ping_ok pc3 192.168.10.4 3

# r2 as a hub (`l2tp hub on`): r1 is its peer 1, with ports tunnel1.1 and
# tunnel1.1-2 in the two bridges; the metrics name both sessions
stop_daemon r2
conf r2 "l2tp hub on 4" | grep -v 'l2tp remote router-id' >"$OUT/r2-hub.conf"
echo "metrics listen 127.0.0.1:9102" >>"$OUT/r2-hub.conf"
LOGTAG=hub start_daemon r2 "$OUT/r2-hub.conf"
hub_paired() {
	[[ $(jqs r2 '[.tunnels[] | select(.peer_index == 1) | .sessions[] | select(.state == "established") |
		"\(.pseudowire) \(.interface)"] | sort | join(",")') == "1 tunnel1.1,2 tunnel1.1-2" ]] &&
	[[ $(jqs r1 '[.tunnels[0].sessions[] | select(.state == "established")] | length') == 2 ]]
}
wait_for "r1 is the hub's peer 1 with both pseudowires" 40 hub_paired
[[ $(nq r2 ip -o link show tunnel1.1) == *"master bridge1"* ]]
[[ $(nq r2 ip -o link show tunnel1.1-2) == *"master bridge2"* ]]
ping_ok pc1 192.168.10.2 3
ping_ok pc3 192.168.10.4 3
fails nq pc3 ping -n -c 2 -i 0.2 -W 1 192.168.10.2
n r2 curl -sSf http://127.0.0.1:9102/metrics >"$OUT/metrics.txt"
grep -E '^l2tpv3d_session_info\{tunnel="1.1",session="[0-9]+",pseudowire="1",interface="tunnel1.1"\} 1$' "$OUT/metrics.txt"
grep -E '^l2tpv3d_session_info\{tunnel="1.1",session="[0-9]+",pseudowire="2",interface="tunnel1.1-2"\} 1$' "$OUT/metrics.txt"
(( $(grep -c '^l2tpv3d_session_up{tunnel="1.1",.*} 1$' "$OUT/metrics.txt") == 2 ))

# r1 leaves: both its ports leave their bridges at once and go down (kept
# for `l2tp hub hold`, issue 16)
stop_daemon r1
hub_ports_parked() {
	local p l
	for p in tunnel1.1 tunnel1.1-2; do
		l=$(nq r2 ip -o link show "$p") || return 1
		[[ $l != *" master "* && ! $l =~ [\<,]UP[,\>] ]] || return 1
	done
}
wait_for "the hub's ports of r1 out of their bridges and down" 5 hub_ports_parked
LOGTAG=hub stop_daemon r2
log "PASS"
