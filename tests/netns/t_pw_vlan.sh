#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Pseudowires with VLANs (`l2tp pseudowire Q vlan VID`): at site 1 one
# trunk port carries VLANs 100 and 200 into bridge1 (a plain bridge: the
# daemon tags and untags in its data path, so neither 802.1Q support nor
# VLAN filtering is needed in the kernel); pseudowire 1 carries VLAN 100,
# pseudowire 2 VLAN 200, each untagged, over one control connection
# through both NATs; at site 2 each pseudowire has a plain bridge of its
# own with an untagged PC.
#
#   pc1 (trunk) -- lan1 [bridge1] tunnel1 (VLAN 100)   ~~~  tunnel1   [bridge1] lan1 -- pc2 192.168.100.2
#                                 tunnel1-2 (VLAN 200) ~~~  tunnel1-2 [bridge2] lan3 -- pc4 192.168.200.4
#
# pc1 sends tagged ARP requests from a raw socket (vlan_arp.py). Checks:
#  - VLAN 100 asks for pc2 and gets pc2's reply tagged 100; VLAN 200 asks
#    for pc4 and gets pc4's reply tagged 200;
#  - VLAN 100 asking for pc4 gets no answer: pc4's segment never sees a
#    frame of VLAN 100 (nor pc2's one of VLAN 200); untagged frames from
#    the trunk reach neither site-2 segment and are counted in
#    tx_vlan_drops; at site 2 every frame is untagged, and so is the data
#    inside the tunnel;
#  - status JSON and text name each session's VLAN;
#  - a reload moving pseudowire 2 to VLAN 300: its replies come tagged 300.
source "$(dirname "$0")/lib.sh"

require_daemon
PY=/usr/bin/python3
NAMES+=(pc4)
NS[pc4]=pc4-$$
topo_create
ip -n "${NS[pc4]}" link add eth0 type veth peer name lan3 netns "${NS[r2]}"
nq pc4 ip addr add 192.168.200.4/24 dev eth0
nq pc4 ip link set eth0 up
nq r2 ip link set lan3 up
nq pc1 ip addr flush dev eth0   # a trunk: no untagged address
nq pc2 ip addr flush dev eth0
nq pc2 ip addr add 192.168.100.2/24 dev eth0

conf_with r1 "l2tp pseudowire 1 vlan 100" "l2tp pseudowire 2 remote end-id cams" "l2tp pseudowire 2 vlan 200" |
	sed 's/^bridge member bridge1 lan1 tunnel1$/bridge member bridge1 lan1 tunnel1 tunnel1-2/' >"$OUT/r1.conf"
{ conf_with r2 "l2tp pseudowire 2 remote end-id cams"; echo "bridge member bridge2 lan3 tunnel1-2"; } >"$OUT/r2.conf"
grep -q 'bridge member bridge1 lan1 tunnel1 tunnel1-2' "$OUT/r1.conf"

# pw_up: both sessions established at r1
pw_up() { [[ $(jqs r1 '[.tunnels[0].sessions[] | select(.state == "established")] | length') == 2 ]]; }

# dump NS FILE: capture everything on NS's eth0 (libpcap shows the tags)
DUMPS=()
dump() {
	nbg "$1" tcpdump -Z root -n -e -i eth0 --immediate-mode -U -w "$2" 2>"$2.err"
	DUMPS+=($!)
	BG_PIDS+=($!)
	wait_for "tcpdump on $1" 10 grep -q 'listening on' "$2.err"
}
undump() {
	sleep 0.5
	kill -INT "${DUMPS[@]}"
	wait "${DUMPS[@]}" 2>/dev/null || true
	DUMPS=()
}
count() { tshark -n -r "$1" -Y "$2" 2>/dev/null | wc -l; }

capture_start inet e1 "$OUT/wan.pcap"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "both pseudowires up" 30 pw_up
[[ $(jqs r1 '.tunnels[0].sessions[] | select(.pseudowire == 1) | .vlan') == 100 ]]
[[ $(jqs r1 '.tunnels[0].sessions[] | select(.pseudowire == 2) | .vlan') == 200 ]]
[[ $(jqs r2 '[.tunnels[0].sessions[].vlan] | add') == 0 ]]
status_text r1 | tee "$OUT/r1-status.txt" | grep -q 'Pseudowire: 2 (tunnel1-2, end-id cams, VLAN 200)'
grep -q 'Pseudowire: 1 (tunnel1, end-id yamaha, VLAN 100)' "$OUT/r1-status.txt"

dump pc1 "$OUT/trunk.pcap"
dump pc2 "$OUT/pc2.pcap"
dump pc4 "$OUT/pc4.pcap"
drops0=$(jqs r1 '[.tunnels[0].sessions[].tx_vlan_drops] | add')
n pc1 $PY "$(dirname "$0")/vlan_arp.py" eth0 100 192.168.100.1 192.168.100.2 3
n pc1 $PY "$(dirname "$0")/vlan_arp.py" eth0 200 192.168.200.1 192.168.200.4 3
n pc1 $PY "$(dirname "$0")/vlan_arp.py" eth0 100 192.168.100.1 192.168.200.4 3
n pc1 $PY "$(dirname "$0")/vlan_arp.py" eth0 0 192.168.99.1 192.168.99.9 3
undump
# each VLAN reaches its own far segment, and the replies come back tagged
(( $(count "$OUT/trunk.pcap" 'vlan.id == 100 && arp.opcode == 2 && arp.src.proto_ipv4 == 192.168.100.2') >= 3 ))
(( $(count "$OUT/trunk.pcap" 'vlan.id == 200 && arp.opcode == 2 && arp.src.proto_ipv4 == 192.168.200.4') >= 3 ))
(( $(count "$OUT/trunk.pcap" 'arp.opcode == 2 && arp.src.proto_ipv4 == 192.168.200.4 && vlan.id != 200') == 0 ))
(( $(count "$OUT/pc2.pcap" 'arp.opcode == 1 && arp.dst.proto_ipv4 == 192.168.100.2') >= 3 ))
(( $(count "$OUT/pc2.pcap" 'arp.opcode == 1 && arp.dst.proto_ipv4 == 192.168.200.4') >= 3 ))
(( $(count "$OUT/pc4.pcap" 'arp.opcode == 1 && arp.dst.proto_ipv4 == 192.168.200.4 && arp.src.proto_ipv4 == 192.168.200.1') >= 3 ))
# VLAN 100 never reaches pc4, VLAN 200 never pc2, untagged reaches neither
(( $(count "$OUT/pc4.pcap" 'arp.src.proto_ipv4 == 192.168.100.1') == 0 ))
(( $(count "$OUT/pc2.pcap" 'arp.src.proto_ipv4 == 192.168.200.1') == 0 ))
(( $(count "$OUT/pc2.pcap" 'arp.dst.proto_ipv4 == 192.168.99.9') == 0 ))
(( $(count "$OUT/pc4.pcap" 'arp.dst.proto_ipv4 == 192.168.99.9') == 0 ))
(( $(count "$OUT/pc2.pcap" 'vlan') == 0 ))
(( $(count "$OUT/pc4.pcap" 'vlan') == 0 ))
drops1=$(jqs r1 '[.tunnels[0].sessions[].tx_vlan_drops] | add')
log "tx_vlan_drops at r1: $drops0 -> $drops1"
# the untagged ARPs (3, flooded to both pseudowires) and VLAN 200's at
# pseudowire 1 and 100's at pseudowire 2 (3 + 6 each)
(( drops1 - drops0 >= 3 * 2 + 3 + 6 ))
capture_stop "$OUT/wan.pcap"
(( $(tcount "$OUT/wan.pcap" 'arp.dst.proto_ipv4 == 192.168.200.4') >= 6 ))
(( $(tcount "$OUT/wan.pcap" 'vlan') == 0 ))
log "ok: each VLAN crosses in its own pseudowire, untagged in the tunnel and at the far end"

# a reload moves pseudowire 2 to VLAN 300
sed -i 's/^ l2tp pseudowire 2 vlan 200$/ l2tp pseudowire 2 vlan 300/' "$OUT/r1.conf"
grep -q 'l2tp pseudowire 2 vlan 300' "$OUT/r1.conf"
n r1 "$L2TPCTL" -S "$(sock r1)" reload
wait_for "pseudowire 2 carries VLAN 300" 30 bash -c \
	"[[ \$($L2TPCTL -S $(sock r1) -j show status l2tp | jq '.tunnels[0].sessions[] | select(.pseudowire == 2 and .state == \"established\") | .vlan') == 300 ]]"
wait_for "both pseudowires up again" 30 pw_up
dump pc1 "$OUT/trunk2.pcap"
n pc1 $PY "$(dirname "$0")/vlan_arp.py" eth0 300 192.168.200.1 192.168.200.4 3
n pc1 $PY "$(dirname "$0")/vlan_arp.py" eth0 200 192.168.200.1 192.168.200.4 3
undump
(( $(count "$OUT/trunk2.pcap" 'vlan.id == 300 && arp.opcode == 2 && arp.src.proto_ipv4 == 192.168.200.4') >= 3 ))
(( $(count "$OUT/trunk2.pcap" 'vlan.id == 200 && arp.opcode == 2') == 0 ))

stop_daemon r1
stop_daemon r2
log "PASS"
