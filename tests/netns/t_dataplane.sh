#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The data path across the reference scenario, LAN and WAN MTU 1500:
#   1. MSS clamping: r1 `ip tunnel tcp mss limit auto`, r2 `off`.  The SYN
#      inside the tunnel carries 1410 (r1 clamps what it sends), the SYN-ACK
#      1460 (r2 does not clamp) and pc1 receives the SYN-ACK with 1410 (r1
#      clamps what it receives); r1 counts each clamped SYN (mss_clamped),
#      and the TCP transfers count super-frames (tx_super, rx_coalesced).
#   2. 1500-byte frames: a 1472-byte ping with DF and TCP transfers both
#      ways with clamping off on both sides (1514-byte frames: the outer
#      packets are fragmented), then with clamping.
#   3. 802.1Q-tagged frames cross byte for byte (raw frames, VLAN 100).
#   4. Broadcast and multicast cross.
#   5. Session counters match a known number of frames exactly (static ARP,
#      IPv6 off, nothing else on the LAN).
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
GEN64=$B/bench/gen64
[[ -x $GEN64 ]]

# r1 auto (the default of conf_r1), r2 off
conf_r2 | sed 's/ip tunnel tcp mss limit auto/ip tunnel tcp mss limit off/' >"$OUT/r2.conf"
grep -q 'mss limit off' "$OUT/r2.conf"
capture_start inet e1 "$OUT/e1.pcap"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1
wait_for "tunnel and session established between r1 and r2" 30 paired
ping_ok pc1 192.168.10.2

# --------------------------------------------------------------- 1. MSS
nbg pc1 tcpdump -Z root -n -i eth0 --immediate-mode -U -w "$OUT/pc1.pcap" 'tcp[tcpflags] & tcp-syn != 0' \
	2>"$OUT/pc1.pcap.err"
CAPTURE_PID[$OUT/pc1.pcap]=$!
wait_for "pc1: tcpdump listening" 10 grep -q 'listening on' "$OUT/pc1.pcap.err"
nbg pc2 iperf3 -s -1 >"$OUT/iperf3-s1.log" 2>&1
BG_PIDS+=($!)
wait_for "iperf3 server on pc2" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"
n pc1 iperf3 -c 192.168.10.2 -n 2M >"$OUT/iperf3-mss.log"
capture_stop "$OUT/pc1.pcap"

syn_mss() { tsh "$1" -Y "tcp.flags.syn==1 && tcp.flags.ack==$2 && tcp.port==5201" -T fields -e tcp.options.mss_val | sort -u | xargs; }
# inside the tunnel (the capture on inet, decoded through L2TPv3)
_expect "SYN MSS inside the tunnel (r1 auto)" "$(syn_mss "$OUT/e1.pcap" 0)" 1410
_expect "SYN-ACK MSS inside the tunnel (r2 off)" "$(syn_mss "$OUT/e1.pcap" 1)" 1460
# what pc1 receives, clamped by r1 on the way in
_expect "SYN-ACK MSS at pc1" "$(tshark -n -r "$OUT/pc1.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==1' -T fields -e tcp.options.mss_val 2>/dev/null | sort -u | xargs)" 1410
_expect "SYN MSS sent by pc1" "$(tshark -n -r "$OUT/pc1.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields -e tcp.options.mss_val 2>/dev/null | sort -u | xargs)" 1460
capture_stop "$OUT/e1.pcap"
# r1 counts every SYN and SYN-ACK it clamped (iperf3's two connections,
# retransmissions included), r2 none
_expect "r1 mss_clamped = SYNs and SYN-ACKs in the tunnel" "$(jqs r1 '.tunnels[0].sessions[0].mss_clamped')" \
	"$(tcount "$OUT/e1.pcap" 'tcp.flags.syn==1 && tcp.port==5201')"
(( $(jqs r1 '.tunnels[0].sessions[0].mss_clamped') >= 4 ))
_expect "r2 mss_clamped (off)" "$(jqs r2 '.tunnels[0].sessions[0].mss_clamped')" 0
# every inner TCP segment on the wire has valid checksums
_expect "bad inner IP/TCP checksums" "$(tcount "$OUT/e1.pcap" 'ip.checksum.status==0 || tcp.checksum.status==0' \
	-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE)" 0

# ------------------------------------------------- 2. 1500-byte frames
n pc1 ping -n -M do -s 1472 -c 3 -i 0.2 -W 2 192.168.10.2 >"$OUT/ping1472.log"
grep -q '^3 packets transmitted, 3 received' "$OUT/ping1472.log"
log "ok: 1472-byte ping with DF, 3/3"

transfer() {
	local tag=$1 rev=${2:-}
	nbg pc2 iperf3 -s -1 >"$OUT/iperf3-s-$tag.log" 2>&1
	BG_PIDS+=($!)
	wait_for "iperf3 server on pc2" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"
	n pc1 timeout 60 iperf3 -c 192.168.10.2 -n 8M $rev -J >"$OUT/iperf3-$tag.json"
	jq -e '.end.sum_sent.bytes >= 8388608 and .end.sum_received.bytes > 0' "$OUT/iperf3-$tag.json" >/dev/null
	log "ok: TCP transfer $tag: $(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$OUT/iperf3-$tag.json") Mbit/s"
}
transfer clamped
# pc1's TCP segments reach r1's TAP as super-frames (TSO over the veth and
# the bridge) and leave cut into segments; r2 coalesces them for its TAP
offl() { jqs "$1" '.tunnels[0].sessions[0] | "tx_super \(.tx_super) rx_coalesced \(.rx_coalesced)"'; }
log "offloads after pc1 -> pc2: r1 $(offl r1), r2 $(offl r2)"
(( $(jqs r1 '.tunnels[0].sessions[0].tx_super') > 0 ))
(( $(jqs r2 '.tunnels[0].sessions[0].rx_coalesced') > 0 ))
transfer clamped-rev -R

# both sides off: 1460-byte segments, 1514-byte frames, fragmented outside
LOGTAG=off
stop_daemon r1
stop_daemon r2
conf_r1 | sed 's/ip tunnel tcp mss limit auto/ip tunnel tcp mss limit off/' >"$OUT/r1-off.conf"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1-off.conf"
wait_for "tunnel and session established between r1 and r2" 30 paired
wait_for "pc1 reaches pc2" 10 ping1 pc1 192.168.10.2
transfer unclamped
transfer unclamped-rev -R

# ------------------------------------------------------- 3. 802.1Q
# (no 8021q module needed: tagged frames are written and read raw)
nbg pc2 tcpdump -Z root -n -i eth0 --immediate-mode -U -w "$OUT/vlan.pcap" vlan 100 2>"$OUT/vlan.pcap.err"
CAPTURE_PID[$OUT/vlan.pcap]=$!
wait_for "pc2: tcpdump listening" 10 grep -q 'listening on' "$OUT/vlan.pcap.err"
# five broadcast frames tagged VLAN 100, EtherType 0x88B5 inside, from 64
# to 1518 bytes (1500 bytes of payload behind the tag)
n pc1 /usr/bin/python3 - "$OUT/vlan-sent.hex" <<'PY'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
src = open("/sys/class/net/eth0/address").read().strip()
out = []
for i, plen in enumerate((46, 100, 1000, 1400, 1500)):
    f = (b"\xff" * 6 + bytes.fromhex(src.replace(":", "")) + b"\x81\x00\x00\x64\x88\xb5"
         + bytes((i * 7 + k) & 0xff for k in range(plen)))
    s.send(f)
    out.append(f.hex())
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
_vlan_seen() { (( $(tshark -n -r "$OUT/vlan.pcap" -Y 'vlan.id==100' 2>/dev/null | wc -l) >= 5 )); }
wait_for "pc2 receives the 5 tagged frames" 5 _vlan_seen
capture_stop "$OUT/vlan.pcap"
tshark -n -r "$OUT/vlan.pcap" -Y 'vlan.id==100' -T fields -e frame.len 2>/dev/null | xargs | tee "$OUT/vlan-lens.txt" >&2
# byte for byte as sent
/usr/bin/python3 - "$OUT/vlan.pcap" "$OUT/vlan-sent.hex" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
sent = open(sys.argv[2]).read().split()
got, off = [], 24
while off + 16 <= len(d):
    incl = struct.unpack("<IIII", d[off:off + 16])[2]
    got.append(d[off + 16:off + 16 + incl].hex())
    off += 16 + incl
missing = [x for x in sent if x not in got]
assert not missing, "%d tagged frames changed or missing" % len(missing)
PY
log "ok: 802.1Q-tagged frames (64 to 1518 bytes) cross unchanged"

# ------------------------------------------------- 4. broadcast, multicast
nbg pc2 socat -u UDP4-RECV:9999,reuseaddr OPEN:"$OUT/bcast.rx",creat,append
BG_PIDS+=($!)
wait_for "pc2 listens on 9999" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hnul sport = :9999 | grep -q 9999"
echo broadcast-hello | n pc1 socat -u - UDP4-DATAGRAM:192.168.10.255:9999,broadcast
wait_for "broadcast datagram at pc2" 5 grep -q broadcast-hello "$OUT/bcast.rx"

nq pc1 ip route add 224.0.0.0/4 dev eth0
nbg pc2 socat -u UDP4-RECV:9998,reuseaddr,ip-add-membership=239.1.2.3:eth0 OPEN:"$OUT/mcast.rx",creat,append
BG_PIDS+=($!)
wait_for "pc2 listens on 9998" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hnul sport = :9998 | grep -q 9998"
echo multicast-hello | n pc1 socat -u - UDP4-DATAGRAM:239.1.2.3:9998,ip-multicast-ttl=4
wait_for "multicast datagram at pc2" 5 grep -q multicast-hello "$OUT/mcast.rx"
log "ok: broadcast and multicast cross"

# ------------------------------------------------------ 5. counters
# static neighbours: no ARP during the count; IPv6 is off everywhere
mac() { nq "$1" cat /sys/class/net/eth0/address; }
nq pc1 ip neigh replace 192.168.10.2 lladdr "$(mac pc2)" nud permanent dev eth0
nq pc2 ip neigh replace 192.168.10.1 lladdr "$(mac pc1)" nud permanent dev eth0
# let anything in flight (IGMP reports of the multicast join) settle:
# the counters must stand still for a second first
cnt() { jqs "$1" '.tunnels[0].sessions[0] | "\(.tx_packets) \(.rx_packets) \(.tx_octets) \(.rx_octets)"'; }
_still() { local a b; a=$(cnt r1)$(cnt r2); sleep 1; b=$(cnt r1)$(cnt r2); [[ $a == "$b" ]]; }
wait_for "session counters at rest" 20 _still
read -r tx1 rx1 txo1 rxo1 <<<"$(cnt r1)"
read -r tx2 rx2 txo2 rxo2 <<<"$(cnt r2)"
nbg pc2 "$GEN64" recv 9000 6 >"$OUT/gen-recv.txt"
rpid=$!
wait_for "gen64 listens on pc2" 5 sh -c "ip netns exec ${NS[pc2]} ss -Hnul sport = :9000 | grep -q 9000"
N=0
for i in $(seq 10); do
	N=$(( N + $(nq pc1 "$GEN64" send 192.168.10.2 9000 5 100) ))
done
wait "$rpid"
(( N == 1000 ))
read -r tx1b rx1b txo1b rxo1b <<<"$(cnt r1)"
read -r tx2b rx2b txo2b rxo2b <<<"$(cnt r2)"
log "sent $N frames of 60 bytes: r1 tx +$(( tx1b - tx1 )) (+$(( txo1b - txo1 )) octets), r2 rx +$(( rx2b - rx2 )) (+$(( rxo2b - rxo2 )) octets), pc2 got $(cat "$OUT/gen-recv.txt")"
(( tx1b - tx1 == N && txo1b - txo1 == 60 * N ))
(( rx2b - rx2 == N && rxo2b - rxo2 == 60 * N ))
(( rx1b == rx1 && tx2b == tx2 ))
(( $(cat "$OUT/gen-recv.txt") == N ))
log "ok: counters match the $N frames sent exactly"

stop_daemon r1
stop_daemon r2
