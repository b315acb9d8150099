#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# IPv6 transport: two sites over an IPv6-only WAN (documentation prefix
# 2001:db8::/32, no IPv4 on the WAN at all).
#
#   pc1 192.168.10.1 -- r1 (bridge1 = {lan1, tunnel1}) 2001:db8:1::2/64
#                                   |
#                       inet 2001:db8:1::1/64, 2001:db8:2::1/64
#                                   |
#   pc2 192.168.10.2 -- r2 (bridge1 = {lan1, tunnel1}) 2001:db8:2::2/64
#
# r1 calls r2 with `tunnel endpoint address 2001:db8:1::2 2001:db8:2::2`,
# r2 answers on its dual-stack socket.  The tunnel comes up, the status
# shows IPv6 addresses, small and full-size (1500-byte) frames cross both
# ways (the sender's kernel fragments the outer IPv6 packets), and the
# capture shows L2TPv3 over UDP over IPv6 with the pings inside.
#
# Then the same pair over IP protocol 115 (`tunnel encapsulation
# l2tpv3-ip`) on IPv6: raw IPv6 sockets, no UDP on the wire, the pings
# inside, 1500-byte frames crossing, every digest verified.
source "$(dirname "$0")/lib.sh"

require_daemon
for ns in pc1 r1 inet r2 pc2; do
	ip netns add "${NS[$ns]}"
	nq "$ns" ip link set lo up
done
ip -n "${NS[pc1]}" link add eth0 type veth peer name lan1 netns "${NS[r1]}"
ip -n "${NS[r1]}" link add wan type veth peer name e1 netns "${NS[inet]}"
ip -n "${NS[inet]}" link add e2 type veth peer name wan netns "${NS[r2]}"
ip -n "${NS[r2]}" link add lan1 type veth peer name eth0 netns "${NS[pc2]}"
for ns in pc1 pc2; do
	nq "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
nq pc1 ip addr add 192.168.10.1/24 dev eth0
nq pc2 ip addr add 192.168.10.2/24 dev eth0
nq pc1 ip link set eth0 up
nq pc2 ip link set eth0 up
nq r1 ip link set lan1 up
nq r2 ip link set lan1 up
nq r1 ip -6 addr add 2001:db8:1::2/64 dev wan nodad
nq r2 ip -6 addr add 2001:db8:2::2/64 dev wan nodad
nq inet ip -6 addr add 2001:db8:1::1/64 dev e1 nodad
nq inet ip -6 addr add 2001:db8:2::1/64 dev e2 nodad
for ns in r1 r2; do nq "$ns" ip link set wan up; done
nq inet ip link set e1 up
nq inet ip link set e2 up
nq inet sysctl -qw net.ipv6.conf.all.forwarding=1
nq r1 ip -6 route add default via 2001:db8:1::1
nq r2 ip -6 route add default via 2001:db8:2::1
wait_for "r1 reaches r2 over IPv6" 10 nq r1 ping -6 -n -c 1 -W 1 2001:db8:2::2
# no IPv4 on the WAN: nothing but IPv6 can carry the tunnel
[[ -z $(nq r1 ip -4 -o addr show dev wan) && -z $(nq r2 ip -4 -o addr show dev wan) ]]

ENCAP=l2tpv3-raw
conf_v6() { # NS-NUMBER ENDPOINT-LINE
	cat <<-EOF
	bridge member bridge1 lan1 tunnel1
	ip bridge1 address 192.168.2.$((10 * $1))/24
	tunnel select 1
	 tunnel encapsulation $ENCAP
	$2
	 l2tp always-on on
	 l2tp hostname RT$1
	 l2tp tunnel auth on $SECRET
	 l2tp tunnel disconnect time off
	 l2tp keepalive use $KEEPALIVE
	 l2tp local router-id 192.168.2.$((10 * $1))
	 l2tp remote router-id 192.168.2.$((30 - 10 * $1))
	 l2tp remote end-id $END_ID
	 tunnel enable 1
	l2tp service on l2tpv3
	EOF
}
conf_v6 1 " tunnel endpoint address 2001:db8:1::2 2001:db8:2::2" >"$OUT/r1.conf"
conf_v6 2 "" >"$OUT/r2.conf"
capture_start r2 wan "$OUT/ipv6.pcap"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "tunnel and session established between r1 and r2 over IPv6" 30 paired
ping_ok pc1 192.168.10.2 5
ping_ok pc2 192.168.10.1 5
# full-size frames: 1500-byte IP packets in 1514-byte Ethernet frames, in
# 1566-byte IPv6 packets: fragmented by the sender (the fragments carry no
# UDP header, so a capture of its own, all IPv6 but ICMPv6)
nbg r2 tcpdump -Z root -n -i wan --immediate-mode -U -w "$OUT/frag.pcap" ip6 and not icmp6 2>"$OUT/frag.pcap.err"
CAPTURE_PID[$OUT/frag.pcap]=$!
wait_for "r2: tcpdump listening on wan" 10 grep -q 'listening on' "$OUT/frag.pcap.err"
out=$(n pc1 ping -n -c 3 -i 0.2 -W 2 -s 1472 -M do 192.168.10.2 2>&1) || true
grep -q "^3 packets transmitted, 3 received," <<<"$out" || { printf '%s\n' "$out" >&2; false; }
log "ok: 1500-byte pings cross the IPv6 tunnel"
capture_stop "$OUT/frag.pcap"
k=$(tshark -n -r "$OUT/frag.pcap" -o ipv6.defragment:FALSE -Y 'ipv6.fraghdr' 2>/dev/null | wc -l)
(( k >= 12 )) || { log "capture: $k IPv6 fragments for 6 full-size frames"; false; }
log "ok: capture: $k IPv6 fragments (outer packets of the full-size frames)"

_expect "r1's remote address" "$(jqs r1 '.tunnels[0].remote_address')" 2001:db8:2::2
_expect "r1's local address" "$(jqs r1 '.tunnels[0].local_address')" 2001:db8:1::2
_expect "r2's remote address" "$(jqs r2 '.tunnels[0].remote_address')" 2001:db8:1::2
_expect "r2's local address" "$(jqs r2 '.tunnels[0].local_address')" 2001:db8:2::2
status_text r2 | grep -q "2001:db8:1::2"
capture_stop "$OUT/ipv6.pcap"

f=$OUT/ipv6.pcap
_expect "packets on the WAN not over IPv6" "$(tcount "$f" '!ipv6')" 0
_expect "SCCRQ over IPv6 from r1" \
	"$(tsh "$f" -Y 'l2tp.avp.message_type==1' -T fields -e ipv6.src -e udp.dstport | head -n 1)" \
	"$(printf '2001:db8:1::2\t1701')"
k=$(tcount "$f" "ipv6.src==2001:db8:1::2 && l2tp.type==0 && icmp.type==8 && ip.src==192.168.10.1")
(( k >= 5 )) || { log "capture: $k echo requests inside IPv6 data packets"; false; }
k=$(tcount "$f" "ipv6.src==2001:db8:2::2 && l2tp.type==0 && icmp.type==0 && ip.src==192.168.10.2")
(( k >= 5 )) || { log "capture: $k echo replies inside IPv6 data packets"; false; }
log "ok: capture: echo requests and replies inside L2TPv3/UDP/IPv6"
_expect "packets with an incorrect digest or malformed" \
	"$(tcount "$f" 'l2tp.incorrect_digest || _ws.malformed' -o l2tp.shared_secret:$SECRET)" 0

stop_daemon r1
stop_daemon r2

# ------------------------------------------------------ IP/115 over IPv6
LOGTAG=ip
ENCAP=l2tpv3-ip
conf_v6 1 " tunnel endpoint address 2001:db8:1::2 2001:db8:2::2" >"$OUT/r1-ip.conf"
conf_v6 2 "" >"$OUT/r2-ip.conf"
nbg r2 tcpdump -Z root -n -i wan --immediate-mode -U -w "$OUT/ip6-115.pcap" ip6 and not icmp6 2>"$OUT/ip6-115.pcap.err"
CAPTURE_PID[$OUT/ip6-115.pcap]=$!
wait_for "r2: tcpdump listening on wan" 10 grep -q 'listening on' "$OUT/ip6-115.pcap.err"
start_daemon r2 "$OUT/r2-ip.conf"
start_daemon r1 "$OUT/r1-ip.conf"
wait_for "tunnel and session established over IPv6 / IP protocol 115" 30 paired
ping_ok pc1 192.168.10.2 5
ping_ok pc2 192.168.10.1 5
out=$(n pc1 ping -n -c 3 -i 0.2 -W 2 -s 1472 -M do 192.168.10.2 2>&1) || true
grep -q "^3 packets transmitted, 3 received," <<<"$out" || { printf '%s\n' "$out" >&2; false; }
log "ok: 1500-byte pings cross IP/115 over IPv6"
_expect "r1 encapsulation" "$(jqs r1 '.tunnels[0].encapsulation')" ip
_expect "r2's remote address" "$(jqs r2 '.tunnels[0].remote_address')" 2001:db8:1::2
grep -q 'IP encapsulation: listening on IPv6 protocol 115' "$(daemon_log r2)"
capture_stop "$OUT/ip6-115.pcap"
f=$OUT/ip6-115.pcap
_expect "UDP packets on the WAN" "$(tcount "$f" 'udp')" 0
_expect "SCCRQ over IPv6/115 from r1" \
	"$(tsh "$f" -Y 'l2tp.avp.message_type==1' -T fields -e ipv6.src -e ipv6.nxt | head -n 1)" \
	"$(printf '2001:db8:1::2\t115')"
k=$(tcount "$f" "ipv6.src==2001:db8:1::2 && l2tp.sid && icmp.type==8 && ip.src==192.168.10.1")
(( k >= 5 )) || { log "capture: $k echo requests inside IPv6/115 data packets"; false; }
k=$(tcount "$f" "ipv6.src==2001:db8:2::2 && l2tp.sid && icmp.type==0 && ip.src==192.168.10.2")
(( k >= 5 )) || { log "capture: $k echo replies inside IPv6/115 data packets"; false; }
log "ok: capture: echo requests and replies inside L2TPv3/IPv6 (protocol 115)"
_expect "packets with an incorrect digest or malformed" \
	"$(tcount "$f" 'l2tp.incorrect_digest || _ws.malformed' -o l2tp.shared_secret:$SECRET)" 0
stop_daemon r1
stop_daemon r2
