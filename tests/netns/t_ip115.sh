#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# IP encapsulation (`tunnel encapsulation l2tpv3-ip`, RFC 3931 §4.1.1.2 and
# §4.1.2.2): the reference scenario with L2TPv3 directly over IP protocol
# 115 instead of UDP, our daemon on both ends, through the same two NATs
# (masquerade handles protocol 115 by address; r2 forwards it to its LAN
# address as it forwards UDP 1701).
#
#  1. The pair comes up, PC1 pings PC2, a 1472-byte ping with DF crosses,
#     TCP crosses both ways; status says "encapsulation": "ip", ports 0,
#     and the text view "Encapsulation: IP protocol 115".
#  2. A capture of the Internet link, read by tshark: no UDP at all; every
#     control message (Session ID 0) decodes with no malformed packet or
#     expert error and every digest verifies; data packets carry the
#     session ID r2/r1 assigned and the ICMP inside; `mss limit auto`
#     clamps SYNs to 1422 (1500 - 20 IP - 4 Session ID - 14 Ethernet - 40),
#     not UDP's 1410.
#  3. The cisco preset (4-byte cookies, as a Cisco xconnect over IP sends
#     them) over IP/115: tshark decodes the data with 4-byte cookies and
#     each side's packets carry the cookie the other announced.
#  4. Encapsulation mismatch: r2 configured for IP, r1 calls over UDP (the
#     scenario's own configuration): r2 refuses with a log line naming both
#     settings, and no tunnel comes up.  (The reverse cannot be diagnosed
#     by r2: a daemon with no IP tunnel opens no raw socket.)
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

# r1 and r2 forward IP protocol 115 to the daemon's address, as they
# forward UDP 1701 (a Yamaha would use a static masquerade entry for it).
for r in r1:192.168.2.10 r2:192.168.2.20; do
	nq "${r%%:*}" nft add rule ip nat prerouting iifname lan2 ip protocol 115 dnat to "${r#*:}"
done

ip_conf() { "conf_$1" | sed 's/tunnel encapsulation l2tpv3-raw/tunnel encapsulation l2tpv3-ip/'; }
ip_conf r1 >"$OUT/r1.conf"
ip_conf r2 >"$OUT/r2.conf"
grep -q l2tpv3-ip "$OUT/r1.conf"

nbg inet tcpdump -Z root -n -i e1 --immediate-mode -U -w "$OUT/e1.pcap" 2>"$OUT/e1.pcap.err"
CAPTURE_PID[$OUT/e1.pcap]=$!
wait_for "inet: tcpdump listening" 10 grep -q 'listening on' "$OUT/e1.pcap.err"

start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "tunnel and session established over IP" 30 paired

# ------------------------------------------------------------ 1. traffic
ping_ok pc1 192.168.10.2 5
ping_ok pc2 192.168.10.1 3
n pc1 ping -n -M do -s 1472 -c 3 -i 0.2 -W 2 192.168.10.2 >"$OUT/ping1472.log"
grep -q '^3 packets transmitted, 3 received' "$OUT/ping1472.log"
log "ok: 1472-byte ping with DF, 3/3"
for rev in "" -R; do
	nbg pc2 iperf3 -s -1 >"$OUT/iperf3-s$rev.log" 2>&1
	BG_PIDS+=($!)
	wait_for "iperf3 server on pc2" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"
	n pc1 timeout 60 iperf3 -c 192.168.10.2 -n 4M $rev -J >"$OUT/iperf3$rev.json"
	jq -e '.end.sum_sent.bytes >= 4194304 and .end.sum_received.bytes > 0' "$OUT/iperf3$rev.json" >/dev/null
	log "ok: TCP over IP/115 ${rev:-pc1->pc2}: $(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$OUT/iperf3$rev.json") Mbit/s"
done

for r in r1 r2; do
	_expect "$r encapsulation" "$(jqs $r '.tunnels[0].encapsulation')" ip
	_expect "$r ports" "$(jqs $r '[.tunnels[0].local_port, .tunnels[0].remote_port] | join(",")')" 0,0
	status_text $r >"$OUT/$r-status.txt"
	grep -q 'Encapsulation: IP protocol 115' "$OUT/$r-status.txt"
done
_expect "r2 sees r1 at" "$(jqs r2 '.tunnels[0].remote_address')" 198.51.100.2
_expect "r1 sees r2 at" "$(jqs r1 '.tunnels[0].remote_address')" 203.0.113.2
grep -q 'IP encapsulation: listening on IPv4 protocol 115' "$(daemon_log r2)"
R1_SID=$(jqs r1 '.tunnels[0].sessions[0].local_session_id')
R2_SID=$(jqs r2 '.tunnels[0].sessions[0].local_session_id')

# ------------------------------------------------------------ 2. capture
capture_stop "$OUT/e1.pcap"
P=$OUT/e1.pcap
# (iperf3 payload is not Thrift: no heuristic guess at it)
ts() { tsh "$P" -o "l2tp.shared_secret:$SECRET" --disable-protocol thrift "$@"; }
_expect "UDP packets on the Internet link" "$(ts -Y udp | wc -l)" 0
ctl=$(ts -Y 'ip.proto==115 && l2tp.type==1' | wc -l)
(( ctl >= 8 )) || { log "only $ctl control messages over IP/115"; exit 1; }
log "ok: $ctl control messages over IP/115"
types=$(ts -Y 'ip.proto==115 && l2tp.avp.message_type' -T fields -e l2tp.avp.message_type | sort -un | xargs)
for want in 1 2 3 6 10 11 12; do
	[[ " $types " == *" $want "* ]] || { log "message type $want missing (have: $types)"; exit 1; }
done
log "ok: message types seen: $types"
_expect "malformed or expert errors" "$(ts -Y '_ws.malformed || _ws.expert.severity >= error' | wc -l)" 0
_expect "packets with an incorrect digest" "$(ts -Y l2tp.incorrect_digest | wc -l)" 0
digests=$(ts -Y 'ip.proto==115 && l2tp.avp.message_digest' | wc -l)
(( digests >= 8 )) || { log "only $digests messages carry a digest"; exit 1; }
# and tshark does check them over IP/115: with another secret all fail
_expect "digests failing with a wrong secret" \
	"$(tsh "$P" -o l2tp.shared_secret:not-it -Y l2tp.incorrect_digest | wc -l)" "$digests"
log "ok: $digests Message Digests over IP/115 verified by tshark"
# data: Session IDs as assigned, ICMP inside, no other session
d12=$(ts -Y "ip.proto==115 && l2tp.sid==$R2_SID && icmp" | wc -l)
d21=$(ts -Y "ip.proto==115 && l2tp.sid==$R1_SID && icmp" | wc -l)
(( d12 >= 5 && d21 >= 5 )) || { log "ICMP in data: $d12 to r2, $d21 to r1"; exit 1; }
_expect "data packets with other Session IDs" \
	"$(ts -Y "ip.proto==115 && l2tp.type==0 && !(l2tp.sid==$R1_SID || l2tp.sid==$R2_SID)" | wc -l)" 0
log "ok: ICMP inside IP/115 data: $d12 to r2's session $R2_SID, $d21 to r1's session $R1_SID"
_expect "SYN MSS inside the tunnel (auto, IP/115)" \
	"$(ts -Y 'tcp.flags.syn==1 && tcp.port==5201' -T fields -e tcp.options.mss_val | sort -u | xargs)" 1422

# ------------------------------------------------------------ 3. cisco
stop_daemon r1
stop_daemon r2
LOGTAG=cisco
for r in r1 r2; do
	sed 's/^ tunnel encapsulation l2tpv3-ip$/&\n l2tp compatibility cisco/' "$OUT/$r.conf" >"$OUT/$r-cisco.conf"
	grep -q 'compatibility cisco' "$OUT/$r-cisco.conf"
done
nbg inet tcpdump -Z root -n -i e1 --immediate-mode -U -w "$OUT/cisco.pcap" ip proto 115 2>"$OUT/cisco.pcap.err"
CAPTURE_PID[$OUT/cisco.pcap]=$!
wait_for "inet: tcpdump listening" 10 grep -q 'listening on' "$OUT/cisco.pcap.err"
start_daemon r2 "$OUT/r2-cisco.conf"
start_daemon r1 "$OUT/r1-cisco.conf"
wait_for "cisco preset over IP established" 30 paired
ping_ok pc1 192.168.10.2 5
capture_stop "$OUT/cisco.pcap"
P=$OUT/cisco.pcap
c4() { tshark -n -r "$P" -o l2tp.cookie_size:cookie4 -o l2tp.l2_specific:none -d l2tp.pw_type==0,eth "$@" 2>/dev/null; }
# Session ID -> cookie it must carry, from the ICRQ/ICRP that assigned both
c4 -Y 'l2tp.avp.message_type==10 || l2tp.avp.message_type==11' -T fields -E separator=' ' \
	-e l2tp.avp.local_session_id -e l2tp.avp.assigned_cookie >"$OUT/cisco-announced.txt"
(( $(awk 'length($2) == 8' "$OUT/cisco-announced.txt" | wc -l) == 2 )) ||
	{ cat "$OUT/cisco-announced.txt" >&2; log "two 4-byte Assigned Cookies expected"; exit 1; }
c4 -Y 'l2tp.sid && icmp' -E occurrence=f -T fields -e l2tp.sid -e l2tp.cookie >"$OUT/cisco-data.txt"
bad=$(awk 'NR == FNR { want[sprintf("0x%08x", $1)] = $2; next }
	{ k++; if (want[$1] != $2) b++ } END { print (k >= 10 ? b + 0 : "too few: " k + 0) }' \
	"$OUT/cisco-announced.txt" "$OUT/cisco-data.txt")
_expect "data packets without the announced 4-byte cookie" "$bad" 0
_expect "malformed" "$(c4 -Y '_ws.malformed || _ws.expert.severity >= error' | wc -l)" 0

# ------------------------------------------------------------ 4. mismatch
stop_daemon r1
stop_daemon r2
LOGTAG=mismatch
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 # the scenario's own config: UDP
wait_for "r2 refuses the UDP SCCRQ of an IP tunnel" 20 \
	grep -q "refused: tunnel 1: encapsulation differs: it has 'tunnel encapsulation l2tpv3-ip', the peer called over UDP" "$(daemon_log r2)"
grep -m1 'encapsulation differs' "$(daemon_log r2)" >&2
hold_never "r2 established with r1" 3 established r2
_expect "r2 tunnel state" "$(tunnel_state r2)" idle
stop_daemon r1
stop_daemon r2
