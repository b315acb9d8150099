#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The reference scenario of shared/scenario.md: r1 behind two NATs calls r2,
# the tunnel and its session come up, PC1 pings PC2 across it.  The capture
# on the Internet link next to r2 (inet e1) is checked with tshark: identities,
# control connection and session IDs, no cookie, the pings inside, digests.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
capture_start inet e1 "$OUT/e1.pcap"
start_pair

# The daemon built the bridge on each router: lan1 and tunnel1 with the
# bridge1 address.
for ns in r1 r2; do
	ports=$(nq "$ns" ip -o link show master bridge1 | awk -F': ' '{ print $2 }' | cut -d@ -f1 | sort | xargs)
	[[ $ports == "lan1 tunnel1" ]] || { log "$ns: bridge1 ports: '$ports'"; false; }
done
[[ $(nq r1 ip -4 -o addr show dev bridge1) == *" 192.168.2.10/24 "* ]]
[[ $(nq r2 ip -4 -o addr show dev bridge1) == *" 192.168.2.20/24 "* ]]

# What each side knows of the other, after NAT.
jq -e '.tunnels[0] | .role == "initiator" and .peer_host_name == "RT2"
	and .peer_router_id == "192.168.2.20"
	and .local_address == "192.168.2.10" and .remote_address == "203.0.113.2"
	and .local_port == 1701 and .remote_port == 1701
	and .sessions[0].remote_end_id == "yamaha"' <<<"$(status_json r1)" >/dev/null
jq -e '.tunnels[0] | .role == "responder" and .peer_host_name == "RT1"
	and .peer_router_id == "192.168.2.10"
	and .local_address == "192.168.2.20" and .remote_address == "198.51.100.2"
	and .local_port == 1701 and .remote_port == 1701' <<<"$(status_json r2)" >/dev/null
log "ok: status JSON of r1 and r2"

counters() {
	jqs "$1" '.tunnels[0].sessions[0] | "\(.tx_packets) \(.rx_packets) \(.tx_octets) \(.rx_octets)"'
}
read -r tx1 rx1 _ _ <<<"$(counters r1)"
read -r tx2 rx2 _ _ <<<"$(counters r2)"

# Same /24 at both sites: ARP crosses the tunnel, then the pings.
ping_ok pc1 192.168.10.2 3

read -r tx1b rx1b txo1 rxo1 <<<"$(counters r1)"
read -r tx2b rx2b txo2 rxo2 <<<"$(counters r2)"
log "r1 session: tx $tx1 -> $tx1b packets, rx $rx1 -> $rx1b; r2: tx $tx2 -> $tx2b, rx $rx2 -> $rx2b"
# 3 echo requests r1 -> r2 and 3 replies back, at least (ARP too).
(( tx1b - tx1 >= 3 && rx1b - rx1 >= 3 ))
(( tx2b - tx2 >= 3 && rx2b - rx2 >= 3 ))
# An echo frame is 98 octets (14 Ethernet + 84 IP).
(( txo1 >= 3 * 98 && rxo1 >= 3 * 98 && txo2 >= 3 * 98 && rxo2 >= 3 * 98 ))
jq -e '.tunnels[0].sessions[0] | .rx_cookie_drops == 0 and .rx_malformed_drops == 0' \
	<<<"$(status_json r1)" >/dev/null
jq -e '.tunnels[0].sessions[0] | .rx_cookie_drops == 0 and .rx_malformed_drops == 0' \
	<<<"$(status_json r2)" >/dev/null

# The Yamaha rendering on r1.
status_text r1 | tee "$OUT/status-r1.txt"
status_text r2 >"$OUT/status-r2.txt"
for want in "Tunnel state: established" "Version: L2TPv3" "Host name: RT2" \
	"Remote IP address: 203.0.113.2" "Local IP address: 192.168.2.10" \
	"Session state: established" "Number of L2TP tunnels: 1"; do
	grep -qF "$want" "$OUT/status-r1.txt" || { log "r1 status lacks '$want'"; false; }
done
grep -qF "Host name: RT1" "$OUT/status-r2.txt"
grep -qF "Remote IP address: 198.51.100.2" "$OUT/status-r2.txt"
log "ok: show status l2tp on r1 and r2"

capture_stop "$OUT/e1.pcap"
pcap_check_scenario "$OUT/e1.pcap" 198.51.100.2 203.0.113.2

# tshark: not one malformed packet or expert warning/error in the whole
# exchange; the same filter flags a copy with one SCCCN byte changed.
bad='_ws.malformed || _ws.expert.severity >= "Warning"'
_expect "packets malformed or with an expert warning" \
	"$(tcount "$OUT/e1.pcap" "$bad" -o l2tp.shared_secret:yamaha)" 0
frame=$(tsh "$OUT/e1.pcap" -Y 'l2tp.avp.message_type==3' -T fields -e frame.number | head -n 1)
/usr/bin/python3 - "$OUT/e1.pcap" "$OUT/e1-spoilt.pcap" "$frame" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
e = '<' if d[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
off, n = 24, 0
while off + 16 <= len(d):
    n += 1
    incl = struct.unpack(e + 'I', d[off + 8:off + 12])[0]
    if n == int(sys.argv[3]):
        d[off + 16 + incl - 1] ^= 0x01
    off += 16 + incl
open(sys.argv[2], 'wb').write(d)
PY
_expect "spoilt SCCCN flagged" "$(tcount "$OUT/e1-spoilt.pcap" "$bad" -o l2tp.shared_secret:yamaha)" 1

# A clean stop: StopCCN, exit 0, no sanitizer report.
stop_daemon r1
wait_for "r2 drops the tunnel after r1's StopCCN" 5 not_established r2
stop_daemon r2
