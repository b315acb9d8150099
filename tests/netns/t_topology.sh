#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The topology alone, without l2tpv3d: DHCP on r1, both NATs, the static
# UDP 1701 forwarding on each router, and isolation.  With bridge1 made by
# hand, a UDP datagram from r1's 192.168.2.10:1701 reaches r2's
# 192.168.2.20:1701 from 198.51.100.2:1701 (r1's masquerade, then nat1's),
# and the reply sent from 192.168.2.20 comes back: the path the daemon uses.
source "$(dirname "$0")/lib.sh"

topo_create

# r1 reaches r2's public address through both NATs.
ping_ok r1 203.0.113.2
# The Internet does not know the private networks.
fails ping1 inet 172.16.0.2
fails ping1 pc1 203.0.113.2
fails ping1 pc1 172.16.0.1
[[ -z $(nq pc1 ip route show default) ]]
[[ -z $(nq pc2 ip route show default) ]]
[[ -z $(nq inet ip route show default) ]]

# The tunnel endpoint addresses the daemon will configure on bridge1.
bridge_manual r1 192.168.2.10/24
bridge_manual r2 192.168.2.20/24

# r2: echo the peer's address and port back, from 192.168.2.20:1701.
# shellcheck disable=SC2016 # socat's SYSTEM shell expands these
nbg r2 socat -T 5 UDP4-RECVFROM:1701,bind=192.168.2.20,reuseaddr,fork \
	SYSTEM:'echo "$SOCAT_PEERADDR:$SOCAT_PEERPORT"' 2>"$OUT/socat-r2.log"
BG_PIDS+=($!)
wait_for "r2: socat bound to 192.168.2.20:1701" 5 \
	bash -c "ip netns exec ${NS[r2]} ss -Hnlu 'sport = 1701' | grep -q 192.168.2.20"

capture_start inet e1 "$OUT/e1.pcap"
# -t 3: wait for the echo after our input ends (0.5 s by default: too short under load)
reply=$(echo hello | n r1 socat -t 3 -T 3 - UDP4:203.0.113.2:1701,bind=192.168.2.10:1701)
capture_stop "$OUT/e1.pcap"
log "r2 saw the datagram from $reply"
[[ $reply == 198.51.100.2:1701 ]]

# On the Internet the exchange is 198.51.100.2:1701 <-> 203.0.113.2:1701.
flows=$(tshark -r "$OUT/e1.pcap" -T fields -e ip.src -e udp.srcport -e ip.dst -e udp.dstport \
	2>/dev/null | sort -u)
log "flows on inet e1: ${flows//$'\n'/, }"
[[ $flows == $'198.51.100.2\t1701\t203.0.113.2\t1701\n203.0.113.2\t1701\t198.51.100.2\t1701' ]]

# r1's conntrack entry maps 192.168.2.10:1701 to 172.16.0.2:1701.
n r1 conntrack -L -p udp --orig-port-dst 1701 2>/dev/null | tee "$OUT/ct-r1.txt" >&2
grep -q 'src=192.168.2.10 dst=203.0.113.2 sport=1701 dport=1701 .*src=203.0.113.2 dst=172.16.0.2 sport=1701 dport=1701' "$OUT/ct-r1.txt"
# r2's maps 203.0.113.2:1701 to 192.168.2.20:1701 (the static entry).
n r2 conntrack -L -p udp --orig-port-dst 1701 2>/dev/null | tee "$OUT/ct-r2.txt" >&2
grep -q 'src=198.51.100.2 dst=203.0.113.2 sport=1701 dport=1701 .*src=192.168.2.20 dst=198.51.100.2 sport=1701 dport=1701' "$OUT/ct-r2.txt"
