#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Data sequencing (RFC 3931 §4.6, §5.4.4), our daemon against itself in the
# scenario topology:
#
#  1. both sides `l2tp l2-specific-sublayer default` + `l2tp data sequencing
#     on`: the ICRQ and ICRP carry Data Sequencing 2; PC1 pings PC2 and
#     tshark (-o l2tp.l2_specific:default) sees every data packet with S=1
#     and, per Session ID, the numbers 0, 1, 2, ... without a gap or a
#     repeat; a TCP transfer (TSO super-frames segmented by the daemon, each
#     segment its own number) crosses with no packet dropped for its number
#     and none unnumbered.
#  2. the inet router duplicates every data packet towards r2 (nftables
#     `dup`): r2 drops the copies by their number and counts them
#     (rx_seq_drops), so PC1's pings get no duplicate replies.
#  3. only r1 asks for sequencing, r2 is a default (Yamaha) peer: r2 honours
#     the request and numbers what it sends, r1 sends no sublayer, both note
#     the difference as a mismatch; with the duplication still on, r2 does
#     not check numbers and PC1 now sees the duplicate replies (the check of
#     case 2 can fail).
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

SEQ_LINES=("l2tp l2-specific-sublayer default" "l2tp data sequencing on")

# up_case TAG: start_case (lib.sh), then wait until r1 and r2 pair.
up_case() {
	start_case "$1"
	wait_for "$1: r1 and r2 established" 30 paired
}

# ts FILE ARGS...: tshark with no cookie and the Default L2SS forced.
ts() {
	local f=$1; shift
	tshark -n -r "$f" -o l2tp.cookie_size:cookie0 -o l2tp.l2_specific:default \
		-d l2tp.pw_type==0,eth "$@" 2>/dev/null
}

# sess NS FIELD: a field of NS's session in the status JSON.
sess() { status_json "$1" | jq -r ".tunnels[0].sessions[0].$2"; }

# ping_dups NS DST COUNT: COUNT pings all answered; prints the number of
# duplicate replies.
ping_dups() {
	local out
	out=$(n "$1" ping -n -c "$3" -i 0.2 -W 2 "$2" 2>&1) || true
	printf '%s\n' "$out" >"$OUT/ping-$LOGTAG.txt"
	grep -q "^$3 packets transmitted, $3 received," <<<"$out" || {
		printf '%s\n' "$out" >&2; log "ping $1 -> $2: not all $3 answered"; return 1; }
	grep -c 'DUP!' <<<"$out" || true
}

# ------------------------------------------------ 1. sequencing both ways
log "--- both sides ask for sequencing"
f=$OUT/both.pcap
R1_LINES=("${SEQ_LINES[@]}")
R2_LINES=("${SEQ_LINES[@]}")
capture_start inet e1 "$f"
up_case both
ping_ok pc1 192.168.10.2 5
capture_stop "$f"
for ns in r1 r2; do
	_expect "both: $ns rx_sequencing" "$(sess $ns rx_sequencing)" true
	_expect "both: $ns tx_sequencing" "$(sess $ns tx_sequencing)" true
	_expect "both: $ns rx_l2ss/tx_l2ss" "$(sess $ns rx_l2ss)/$(sess $ns tx_l2ss)" default/default
	_expect "both: $ns mismatch" "$(sess $ns mismatch)" ""
	_expect "both: $ns rx_seq_drops" "$(sess $ns rx_seq_drops)" 0
	_expect "both: $ns rx_seq_missing" "$(sess $ns rx_seq_missing)" 0
done
# the requests on the wire: Data Sequencing 2 in the ICRQ (10) and ICRP (11)
_expect "both: Data Sequencing AVP of ICRQ, ICRP" \
	"$(ts "$f" -Y 'l2tp.avp.message_type==10 || l2tp.avp.message_type==11' -T fields \
		-e l2tp.avp.message_type -e l2tp.avp.data_sequencing | sort | tr '\t\n' ': ')" "10:2 11:2 "
# every data packet numbered, per session 0, 1, 2, ... in capture order
ts "$f" -Y 'l2tp.type==0' -T fields -E separator=, -e l2tp.sid -e l2tp.l2_spec_s \
	-e l2tp.l2_spec_sequence -e icmp.type >"$f.csv"
awk -F, '
	function fail(m) { print "both.pcap: data packet " NR ": " m ": " $0 > "/dev/stderr"; bad = 1 }
	{
		if ($2 != "1" && $2 != "True") fail("S bit not set")
		want = ($1 in next_ns) ? next_ns[$1] : 0
		if ($3 != want) fail("sequence number " $3 ", expected " want)
		next_ns[$1] = $3 + 1
		if ($4 == "8" || $4 == "0") icmp[$1]++
	}
	END {
		for (s in next_ns) {
			n++
			printf "session %s: %d data packets numbered 0..%d, %d ICMP echo\n", s, next_ns[s],
				next_ns[s] - 1, icmp[s] > "/dev/stderr"
			if (icmp[s] < 5) { print "session " s ": too few ICMP echo packets" > "/dev/stderr"; bad = 1 }
		}
		if (n != 2) { print "expected data in 2 sessions, saw " n > "/dev/stderr"; bad = 1 }
		exit bad
	}' "$f.csv"
log "ok: both: every data packet has S=1, numbers from 0 without a gap or repeat each way"

# a TCP transfer each way: TSO super-frames cut into numbered segments
for rev in "" -R; do
	nbg pc2 iperf3 -s -1 >"$OUT/iperf3-s$rev.log" 2>&1
	wait_for "iperf3 server on pc2" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"
	n pc1 timeout 60 iperf3 -c 192.168.10.2 -n 8M $rev -J >"$OUT/iperf3$rev.json"
	jq -e '.end.sum_sent.bytes >= 8388608 and .end.sum_received.bytes > 0' "$OUT/iperf3$rev.json" >/dev/null
	log "ok: TCP transfer ${rev:-pc1->pc2}: $(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' \
		"$OUT/iperf3$rev.json") Mbit/s, $(jq -r '.end.sum_sent.retransmits' "$OUT/iperf3$rev.json") retransmits"
done
for ns in r1 r2; do
	log "after TCP: $ns rx/tx packets $(sess $ns rx_packets)/$(sess $ns tx_packets), tx_errors $(sess $ns tx_errors), rx_tap_errors $(sess $ns rx_tap_errors)"
	(( $(sess $ns rx_packets) > 2000 ))
	_expect "after TCP: $ns rx_seq_drops" "$(sess $ns rx_seq_drops)" 0
	_expect "after TCP: $ns rx_seq_missing" "$(sess $ns rx_seq_missing)" 0
done

# ----------------------------------- 2. duplicated data packets: dropped
log "--- inet duplicates every data packet to r2"
# data packets start with 0x0003 (T=0, Ver=3) right after the UDP header
nq inet nft -f - <<EOF
table ip dup_data {
	chain forward_data {
		type filter hook forward priority 0;
		oifname "e1" ip daddr 203.0.113.2 udp dport 1701 @th,64,16 0x0003 dup to 203.0.113.2 device "e1"
	}
}
EOF
drops0=$(sess r2 rx_seq_drops)
_expect "dup: duplicate replies at pc1" "$(ping_dups pc1 192.168.10.2 5)" 0
drops=$(( $(sess r2 rx_seq_drops) - drops0 ))
(( drops >= 5 )) || { log "dup: r2 dropped only $drops packets by their number"; exit 1; }
_expect "dup: r1 rx_seq_drops" "$(sess r1 rx_seq_drops)" 0
log "ok: dup: r2 dropped $drops duplicated data packets by their number, no duplicate reply"
stop_case

# --------------------------------- 3. one side asks: the other honours it
log "--- only r1 asks for sequencing (duplication still on)"
R1_LINES=("${SEQ_LINES[@]}")
R2_LINES=()
up_case one-way
_expect "one-way: r1 rx/tx sequencing" "$(sess r1 rx_sequencing)/$(sess r1 tx_sequencing)" true/false
_expect "one-way: r2 rx/tx sequencing" "$(sess r2 rx_sequencing)/$(sess r2 tx_sequencing)" false/true
_expect "one-way: r2 tx_l2ss" "$(sess r2 tx_l2ss)" default
_expect "one-way: r2 mismatch" "$(sess r2 mismatch)" \
	"l2-specific-sublayer: peer asked for default, ours is none (adopted for what we send); data sequencing: peer asked for it (2), ours is off (adopted: we number what we send)"
grep -qF "data sequencing: peer asked for none, ours is on" <<<"$(sess r1 mismatch)"
dups=$(ping_dups pc1 192.168.10.2 5)
(( dups >= 1 )) || { log "one-way: no duplicate replies although inet duplicates and r2 does not check"; exit 1; }
_expect "one-way: r1 rx_seq_missing (r2 numbers its data)" "$(sess r1 rx_seq_missing)" 0
_expect "one-way: r2 rx_seq_drops (not checking)" "$(sess r2 rx_seq_drops)" 0
log "ok: one-way: r2 numbers for r1, r1 gets no unnumbered packet; unchecked, $dups duplicate replies reach pc1"
stop_case
log "ok: data sequencing"
