#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Interop with freeRtr's L2TPv3 (issue 6, point 3), played by the
# behavioural emulator tests/peers/freertr_peer.py (see tests/peers/README):
# IP protocol 115 only, L2TPv2 AVPs with M=1 in SCCRQ/SCCRP, stop-and-wait
# with ZLB acks, an SLI once the session is up, challenge authentication,
# never a StopCCN, data without cookie or sublayer.
#
#   pc1 eth0 192.168.10.1/24                         pc2 eth0 192.168.10.2/24
#        |                                                 |
#      lan1  [r1: bridge1 = {lan1, tunnel1}]             lan1  [r2: br0 = {lan1, frtap}]
#            our l2tpv3d, l2tpv3-ip                            freertr_peer.py on TAP frtap
#      wan 198.51.100.1/24 ------------------------------ wan 198.51.100.2/24
#
# First the emulator checks itself: every control message of the three
# freeRtr captures rebuilt byte for byte, and the README's challenge test
# vector.  Then:
#   A  our daemon initiates, the emulator answers (its SLI deliberately sent
#      the moment our ICCN acknowledges its ICRP, before it acks the ICCN);
#   B  the emulator initiates, our daemon answers;
#   C  our daemon with a wrong secret: it logs the authentication failure
#      naming the peer, the emulator never sends a StopCCN; the right
#      secret and `l2tpctl reload` bring the tunnel up.
# For A and B: tunnel and session established on both sides with the same
# IDs, pings both ways all answered, a HELLO acknowledged (A: ours, by its
# ZLB; B: its, by ours), and the WAN capture checked with tshark: IP/115
# only, the emulator's messages have exactly the AVPs (type, M bit, length)
# of freeRtr's own in tests/captures/freertr-l2tpv3-auth.pcap (so its
# SCCRQ/SCCRP carry Protocol Version and Framing Capabilities with M=1),
# ZLB acks both ways and no explicit ACK from us (freeRtr would take one as
# a sequenced message), its SLI, data packets without cookie (the pings
# decode right after the Session ID), no Assigned Cookie / L2SS AVP,
# nothing malformed, no StopCCN from the emulator; the emulator found no
# protocol error and dropped none of our messages, and it took our closing
# StopCCN in sequence.
source "$(dirname "$0")/lib.sh"

require_daemon
PEER=$REPO/tests/peers/freertr_peer.py
REF=$REPO/tests/captures/freertr-l2tpv3-auth.pcap
NAMES=(pc1 r1 r2 pc2)
NS=([pc1]=fr-pc1-$$ [r1]=fr-r1-$$ [r2]=fr-r2-$$ [pc2]=fr-pc2-$$)
OURS=198.51.100.1
EMU=198.51.100.2
EMU_PID=
EMU_STATUS=$RUN/freertr.json

# ---------------------------------------------------------------- topology

for ns in "${NAMES[@]}"; do
	ip netns add "${NS[$ns]}"
	nq "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	nq "$ns" ip link set lo up
done
ip -n "${NS[pc1]}" link add eth0 type veth peer name lan1 netns "${NS[r1]}"
ip -n "${NS[r1]}" link add wan type veth peer name wan netns "${NS[r2]}"
ip -n "${NS[r2]}" link add lan1 type veth peer name eth0 netns "${NS[pc2]}"
nq pc1 ip addr add 192.168.10.1/24 dev eth0
nq pc1 ip link set eth0 up
nq pc2 ip addr add 192.168.10.2/24 dev eth0
nq pc2 ip link set eth0 up
nq r1 ip link set lan1 up
nq r1 ip addr add $OURS/24 dev wan
nq r1 ip link set wan up
nq r2 ip addr add $EMU/24 dev wan
nq r2 ip link set wan up
# the emulator's side of the bridge: a persistent TAP it attaches to
nq r2 ip link add br0 type bridge
nq r2 ip tuntap add dev frtap mode tap
nq r2 ip link set frtap master br0
nq r2 ip link set lan1 master br0
nq r2 ip link set frtap up
nq r2 ip link set lan1 up
nq r2 ip link set br0 up
log "topology up: ${NS[*]}"

# ---------------------------------------------------------------- helpers

# conf_ours ROLE SECRET [KEEPALIVE]: our daemon on r1, initiator or
# responder; a HELLO every 2 s unless KEEPALIVE says otherwise.
conf_ours() {
	cat <<-EOF
	bridge member bridge1 lan1 tunnel1
	tunnel select 1
	 tunnel encapsulation l2tpv3-ip
	EOF
	[[ $1 == responder ]] || echo " tunnel endpoint address $OURS $EMU"
	cat <<-EOF
	 l2tp always-on on
	 l2tp hostname RT1
	 l2tp tunnel auth on $2
	 l2tp tunnel auth method challenge
	 l2tp keepalive use ${3:-on 2 3}
	 l2tp keepalive log on
	 l2tp syslog on
	 l2tp local router-id $OURS
	 l2tp remote router-id $EMU
	 l2tp remote end-id 1234
	 tunnel enable 1
	l2tp service on l2tpv3
	EOF
}

# emu_start TAG ARGS...: the emulator on r2, logging to $OUT/freertr-TAG.log.
emu_start() {
	local tag=$1; shift
	EMU_LOG=$OUT/freertr-$tag.log
	rm -f "$EMU_STATUS"
	nbg r2 /usr/bin/python3 "$PEER" --local $EMU --tap frtap --status "$EMU_STATUS" "$@" >"$EMU_LOG" 2>&1
	EMU_PID=$!
	BG_PIDS+=("$EMU_PID")
	wait_for "emulator ($tag) running" 10 test -s "$EMU_STATUS"
}

# emu_stop: SIGTERM; it must exit 0 (no protocol error seen).
emu_stop() {
	local rc=0
	[[ -n $EMU_PID ]] || return 0
	kill -TERM "$EMU_PID"
	wait "$EMU_PID" || rc=$?
	EMU_PID=
	BG_PIDS=()
	if grep -q 'PROTOCOL ERROR' "$EMU_LOG"; then
		grep 'PROTOCOL ERROR' "$EMU_LOG" | head -n 5 >&2
	fi
	_expect "emulator exit status" "$rc" 0
}

emu_jq() { jq -er "$1" "$EMU_STATUS"; }
emu_up() { [[ $(emu_jq '[.connections[] | select(.session == "established")] | length') == 1 ]]; }
emu_log() { grep -qE "$1" "$EMU_LOG"; }
ours_log() { grep -qE "$1" "$(daemon_log r1)"; }

# both_up: our tunnel and session established with the emulator's IDs.
both_up() {
	local s
	established r1 && emu_up || return 1
	s=$(status_json r1)
	jq -en --argjson a "$s" --slurpfile b "$EMU_STATUS" '
		$a.tunnels[0] as $t | $b[0].connections[0] as $c |
		$t.remote_tunnel_id == $c.local_ccid and $t.local_tunnel_id == $c.remote_ccid and
		$t.sessions[0].remote_session_id == $c.local_session_id and
		$t.sessions[0].local_session_id == $c.remote_session_id' >/dev/null
}

# capture_wan FILE: everything on r1's WAN port (not only UDP 1701).
capture_wan() {
	nbg r1 tcpdump -Z root -n -i wan --immediate-mode -U -w "$1" 2>"$1.err"
	CAPTURE_PID[$1]=$!
	wait_for "tcpdump listening on r1 wan" 10 grep -q 'listening on' "$1.err"
}

# sigs FILE SRC: for each message type SRC sent, one line "TYPE<TAB>types<TAB>
# M bits<TAB>lengths" of its AVPs, from the first message of that type.
sigs() {
	tshark -n -r "$1" -Y "l2tp.avp.message_type && ip.src==$2" -T fields -e l2tp.avp.message_type \
		-e l2tp.avp.type -e l2tp.avp.mandatory -e l2tp.avp.length -E occurrence=a -E aggregator=, \
		2>/dev/null | awk -F'\t' '{ split($1, t, ","); if (!seen[t[1]]++) print t[1] "\t" $2 "\t" $3 "\t" $4 }'
}

# sig SIGS TYPE: the AVPs of TYPE out of sigs' output.
sig() { awk -F'\t' -v t="$2" '$1 == t { print $2 "\t" $3 "\t" $4 }' <<<"$1"; }
REF_INITIATOR=$(sigs "$REF" 198.51.100.1)
REF_RESPONDER=$(sigs "$REF" 198.51.100.2)

# check_wire TAG FILE ROLE: the capture of one case (ROLE: the emulator's).
check_wire() {
	local tag=$1 f=$2 role=$3 ref emu types m t k sid_ours sid_emu dir outer pc other
	local -a msgs
	# transport: IP protocol 115 only
	_expect "$tag: UDP 1701 packets" "$(tcount "$f" 'udp.port==1701')" 0
	k=$(tcount "$f" 'l2tp')
	(( k > 10 )) || { log "$tag: only $k L2TP packets"; return 1; }
	_expect "$tag: L2TP packets not over IP/115" "$(tcount "$f" 'l2tp && !(ip.proto==115)')" 0
	# the emulator's messages against freeRtr's own (same role, same AVPs)
	if [[ $role == initiator ]]; then
		ref=$REF_INITIATOR msgs=(1 3 10 12 16)
	else
		ref=$REF_RESPONDER msgs=(2 11 16)
	fi
	emu=$(sigs "$f" $EMU)
	for t in "${msgs[@]}"; do
		[[ -n $(sig "$ref" "$t") ]]
		_expect "$tag: AVPs (type, M, length) of the emulator's message type $t" \
			"$(sig "$emu" "$t")" "$(sig "$ref" "$t")"
	done
	t=$([[ $role == initiator ]] && echo 1 || echo 2)
	IFS=$'\t' read -r types m _ <<<"$(sig "$emu" "$t")"
	paste -d: <(tr , '\n' <<<"$types") <(tr , '\n' <<<"$m") | grep -qx '2:1'
	paste -d: <(tr , '\n' <<<"$types") <(tr , '\n' <<<"$m") | grep -qx '3:1'
	log "ok: $tag: the emulator's $([[ $t == 1 ]] && echo SCCRQ || echo SCCRP) has Protocol Version and Framing Capabilities with M=1"
	# acknowledgements and link info
	k=$(tcount "$f" "l2tp.zero_length_body_message && ip.src==$EMU")
	(( k >= 2 )) || { log "$tag: $k ZLB acks from the emulator"; return 1; }
	log "ok: $tag: $k ZLB acks from the emulator"
	# and ours to it: freeRtr counts an explicit ACK (type 20) as a message
	_expect "$tag: explicit ACKs from our daemon" "$(tcount "$f" "l2tp.avp.message_type==20 && ip.src==$OURS")" 0
	k=$(tcount "$f" "l2tp.zero_length_body_message && ip.src==$OURS")
	(( k >= 1 )) || { log "$tag: no ZLB ack from our daemon"; return 1; }
	log "ok: $tag: $k ZLB acks from our daemon"
	(( $(tcount "$f" "l2tp.avp.message_type==16 && ip.src==$EMU") >= 1 ))
	log "ok: $tag: the emulator's SLI is there"
	_expect "$tag: StopCCN from the emulator" "$(tcount "$f" "l2tp.avp.message_type==4 && ip.src==$EMU")" 0
	# data: no cookie, no sublayer, the receiver's Session ID
	_expect "$tag: Assigned Cookie or L2SS AVPs" "$(tcount "$f" 'l2tp.avp.assigned_cookie || l2tp.avp.layer2_specific_sublayer')" 0
	if [[ $role == initiator ]]; then
		sid_emu=$(tsh "$f" -Y 'l2tp.avp.message_type==10' -T fields -e l2tp.avp.local_session_id | head -n 1)
		sid_ours=$(tsh "$f" -Y 'l2tp.avp.message_type==11' -T fields -e l2tp.avp.local_session_id | head -n 1)
	else
		sid_ours=$(tsh "$f" -Y 'l2tp.avp.message_type==10' -T fields -e l2tp.avp.local_session_id | head -n 1)
		sid_emu=$(tsh "$f" -Y 'l2tp.avp.message_type==11' -T fields -e l2tp.avp.local_session_id | head -n 1)
	fi
	tsh "$f" -Y "l2tp.sid!=0 && ip.src==$OURS" -T fields -e l2tp.sid | _all_equal "$tag: Session ID in data to the emulator" "$sid_emu"
	tsh "$f" -Y "l2tp.sid!=0 && ip.src==$EMU" -T fields -e l2tp.sid | _all_equal "$tag: Session ID in data from the emulator" "$sid_ours"
	# data from each router: the echo requests and replies of its PC
	for dir in "$OURS 192.168.10.1 192.168.10.2" "$EMU 192.168.10.2 192.168.10.1"; do
		read -r outer pc other <<<"$dir"
		for t in 8 0; do
			k=$(tcount "$f" "l2tp.sid!=0 && ip.src==$outer && icmp.type==$t && ip.src==$pc && ip.dst==$other")
			(( k >= 3 )) || { log "$tag: $k ICMP type $t from $pc decoded in data from $outer"; return 1; }
		done
	done
	log "ok: $tag: pings both ways decoded right after the Session ID (no cookie, no sublayer)"
	_expect "$tag: malformed packets" "$(tcount "$f" '_ws.malformed')" 0
}

# emu_clean TAG: the emulator found nothing wrong and dropped nothing of ours.
emu_clean() {
	_expect "$1: protocol errors found by the emulator" "$(emu_jq .protocol_errors)" 0
	_expect "$1: our messages the emulator dropped (Ns not the next one)" "$(emu_jq .stats.rx_dropped_ns)" 0
	_expect "$1: our explicit ACKs the emulator took as sequenced messages" "$(emu_jq .stats.rx_ack_taken)" 0
}

# ---------------------------------------------------------------- cases

log "--- the emulator against the captures"
/usr/bin/python3 "$PEER" --selftest "$REPO"/tests/captures/freertr-l2tpv3-auth.pcap \
	"$REPO"/tests/captures/freertr-l2tpv3.pcap "$REPO"/tests/captures/freertr-l2tpv3-badauth.pcap=wrongsecret >&2

log "--- A: our daemon initiates, the emulator answers"
LOGTAG=A
f=$OUT/A.pcap
capture_wan "$f"
emu_start A --role responder --hostname frb --secret yamaha --sli-timing before-iccn-ack
conf_ours initiator yamaha >"$OUT/r1-A.conf"
start_daemon r1 "$OUT/r1-A.conf"
wait_for "A: tunnel and session established on both sides" 20 both_up
ping_ok pc1 192.168.10.2 3
ping_ok pc2 192.168.10.1 3
wait_for "A: a HELLO of ours acknowledged" 10 ours_log 'keepalive: HELLO acknowledged'
# the deliberate timing: the emulator's first SLI did not acknowledge our ICCN
_expect "A: Nr of the emulator's first SLI = Ns of our ICCN" \
	"$(tsh "$f" -Y "l2tp.avp.message_type==16 && ip.src==$EMU" -T fields -e l2tp.Nr | head -n 1)" \
	"$(tsh "$f" -Y "l2tp.avp.message_type==12 && ip.src==$OURS" -T fields -e l2tp.Ns | head -n 1)"
emu_clean A
stop_daemon r1
wait_for "A: the emulator took our StopCCN in sequence" 5 emu_log 'peer sent StopCCN'
capture_stop "$f"
emu_stop
check_wire A "$f" responder

log "--- B: the emulator initiates, our daemon answers"
LOGTAG=B
f=$OUT/B.pcap
capture_wan "$f"
# our HELLOs less often than its 6 s, which any packet from us postpones
conf_ours responder yamaha "on 8 3" >"$OUT/r1-B.conf"
start_daemon r1 "$OUT/r1-B.conf"
# its Host Name (3 bytes, as freeRtr's) has a byte that is not UTF-8 and a
# control: stored as '?', so that the tunnel stays in the JSON status
# (jansson takes only UTF-8) and no control reaches a log line
emu_start B --role initiator --peer $OURS --hostname $'f\xff\x01' --secret yamaha
wait_for "B: tunnel and session established on both sides" 25 both_up
_expect "B: the peer's Host Name in the JSON status" "$(status_json r1 | jq -r '.tunnels[0].peer_host_name')" 'f??'
n r1 "$L2TPCTL" -S "$(sock r1)" show status l2tp | grep -F 'Host name: f??' >&2
ping_ok pc1 192.168.10.2 3
ping_ok pc2 192.168.10.1 3
wait_for "B: the emulator's HELLO acknowledged by a ZLB of ours" 20 emu_log 'rx ZLB .* acks our HELLO'
emu_clean B
stop_daemon r1
wait_for "B: the emulator took our StopCCN in sequence" 5 emu_log 'peer sent StopCCN'
capture_stop "$f"
emu_stop
check_wire B "$f" initiator

log "--- C: wrong secret on our side, then fixed"
LOGTAG=C
f=$OUT/C.pcap
capture_wan "$f"
emu_start C --role responder --hostname frb --secret yamaha
conf_ours initiator not-yamaha >"$OUT/r1-C.conf"
start_daemon r1 "$OUT/r1-C.conf"
wait_for "C: our daemon logs the authentication failure naming the peer" 15 \
	ours_log "authentication failed.*peer $EMU"
grep -E "authentication failed" "$(daemon_log r1)" | head -n 1 >&2
hold_never "C: a tunnel reaches established" 2 established r1
conf_ours initiator yamaha >"$OUT/r1-C.conf"
n r1 "$L2TPCTL" -S "$(sock r1)" reload >&2
wait_for "C: tunnel and session established after the fix" 30 both_up
ping_ok pc1 192.168.10.2 3
stop_daemon r1
capture_stop "$f"
emu_stop
_expect "C: StopCCN from the emulator" "$(tcount "$f" "l2tp.avp.message_type==4 && ip.src==$EMU")" 0
(( $(tcount "$f" "l2tp.avp.message_type==4 && ip.src==$OURS && l2tp.result_code==4") >= 1 ))
log "ok: C: our StopCCN (result 4) refused the peer; the emulator never sent one"
_expect "C: malformed packets" "$(tcount "$f" '_ws.malformed')" 0
log "ok: all freeRtr cases"
