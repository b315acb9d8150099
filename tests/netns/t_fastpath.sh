#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kernel fast path (`dataplane fastpath on`) between two of our
# daemons, with cookies of both lengths and a sublayer one way: r1 asks
# for an 8-byte cookie and the Default L2-Specific Sublayer, r2 for a
# 4-byte cookie and none (so r2 -> r1 carries 8 + 4 bytes after the
# Session ID, r1 -> r2 4 bytes).  Cases a-g run with r1 and r2 sending
# from their WAN address (their own NAT rules removed, r1 still behind
# nat1's masquerade, `ip tunnel tcp mss limit auto` both sides); h is the
# reference scenario as it is, the routers masquerading and the tunnel
# from the bridge address.
#   a. Both sessions on the fast path ("fastpath": true, r2's metric
#      l2tpv3d_session_fastpath 1); tc shows one fp_tx on each TAP's egress
#      and one fp_rx on each WAN interface's ingress.
#   b. 200 pings: the session counters (and r2's metric) count them both
#      ways while the data threads' own counters stay small (the frames
#      bypassed them).  One status request reads r2's session's counters
#      from the kernel once (one bpf map lookup, traced with strace).
#   c. TCP (iperf3 3 s) pc1 -> pc2, r1's WAN checksum offload off and its
#      WAN captured: every data packet r1 sends decodes as L2TPv3 with the
#      Session ID and cookie of the status, outer UDP checksum 0, inner
#      Ethernet/IPv4/TCP with valid checksums, nothing malformed; every
#      data packet r2 sends carries r1's Session ID, 8-byte cookie and the
#      sublayer (S=0).
#   d. SYNs still get their MSS clamped (by the data threads: mss_clamped
#      grows both sides, pc2 sees a clamped MSS) while the data of the
#      transfer goes by the fast path.
#   e. A frame too long for the WAN (1472-byte ping with DF, a 1514-byte
#      frame) crosses: the data thread sends it, the kernel fragments.
#  e2. An unchanged reload keeps the fast path; r1's cookie changed and
#      reloaded: the new session on the fast path, pings past the threads.
#   f. r2 stopped (SIGTERM): no fp_ filter and no l2fp veth pair left in its
#      namespace; restarted:
#      fast path on again, pings cross; killed (-9) and restarted: exactly
#      one fp_rx on its WAN (replaced, not stacked) and at most one pair,
#      pings cross.
#   g. r2 with the fast path off, r1 on (r1's WAN transmit checksum offload
#      off, as l2tpv3d.conf(5) says a userspace receiver over veths needs):
#      pings and TCP both ways.
#   h. The reference scenario's NAT (each router masquerades, the tunnel
#      runs from the bridge address 192.168.2.x): both sessions on the fast
#      path, 100 pings past the data threads with the data packets leaving
#      each WAN from the address and port the NAT gives (r1 172.16.0.2:1701,
#      r2 203.0.113.2:1701), TCP crosses; then r1's WAN address moves to
#      172.16.0.3 (a new lease): r2 follows, and the fast path with it (the
#      data from 172.16.0.3:1701, pings past the data threads again).
#   i. nat1 renumbered (new outside address and ports) while the fast path
#      carries the session: r2 follows r1 to 198.51.100.3:200xx, pings cross.
#   j. r1's WAN MTU lowered from 1500 to 1400 while the daemons run: frames
#      that no longer fit unfragmented (1392 bytes) still cross.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

# r1 and r2 have their WAN on lan2, the TAP is tunnel1
WAN=lan2
TAP=tunnel1
R1_COOKIE=1122334455667788 # r1's cookie: what r2 puts in its data packets
R2_COOKIE=55667788         # r2's cookie: what r1 puts in its data packets

# conf_fp NS on|off: NS's configuration with the cookie (and r1's sublayer)
# and `dataplane fastpath` on or off; with WANADDR=1 r1 sends from the
# address its route gives (no local address on the endpoint line).
conf_fp() {
	local ns=$1 fp=$2 lines
	if [[ $ns == r1 ]]; then
		lines=("l2tp cookie value $R1_COOKIE" "l2tp l2-specific-sublayer default")
	else
		lines=("l2tp cookie value $R2_COOKIE")
	fi
	# r2 serves /metrics
	conf_with "$ns" "${lines[@]}" | sed "1i dataplane fastpath $fp" |
		if [[ $ns == r2 ]]; then sed '1i metrics listen 127.0.0.1:9101'; else cat; fi |
		if [[ ${WANADDR:-} == 1 ]]; then
			sed 's/^ tunnel endpoint address 192.168.2.10 203.0.113.2$/ tunnel endpoint address 203.0.113.2/'
		else
			cat
		fi
}

# start_fp TAG R1 R2: start r2 then r1 with the fast path R2/R1 (on|off),
# logs NS-TAG.log; wait until they pair.
start_fp() {
	LOGTAG=$1
	conf_fp r2 "$3" >"$OUT/r2-$1.conf"
	conf_fp r1 "$2" >"$OUT/r1-$1.conf"
	start_daemon r2 "$OUT/r2-$1.conf"
	start_daemon r1 "$OUT/r1-$1.conf"
	wait_for "$1: tunnel and session established between r1 and r2" 30 paired
}

# fp_on NS: NS's session is on the fast path
fp_on() { [[ $(jqs "$1" '.tunnels[0].sessions[0].fastpath') == true ]]; }
# filters NS DEV DIR: the tc filters of DEV's DIR (ingress/egress) in NS
filters() { nq "$1" tc filter show dev "$2" "$3" 2>/dev/null; }
# nprog NS DEV DIR NAME: how many filters of DEV's DIR run the program NAME
nprog() { filters "$1" "$2" "$3" | grep -c "bpf.*[ :]$4[ :]" || true; }
# fp_filters NS: every fp_ filter of every interface of NS, one a line
fp_filters() {
	local dev dir
	for dev in $(nq "$1" ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
		for dir in ingress egress; do
			filters "$1" "$dev" "$dir" | grep "fp_" | sed "s/^/$dev $dir: /" || true
		done
	done
}
# metric NAME: r2's /metrics value of NAME for its session
metric() {
	local all
	all=$(nq r2 curl -sSf http://127.0.0.1:9101/metrics)
	awk -v m="$1" '$1 ~ "^" m "{" && !seen { print $2; seen = 1 }' <<<"$all"
}
# gro_pairs NS: NS's veth pairs of the fast path (l2fp<port>a/b) by name
gro_pairs() { nq "$1" ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2) } $2 ~ /^l2fp/ { print $2 }' | xargs; }
# sess NS KEY: a session value from NS's status
sess() { jqs "$1" ".tunnels[0].sessions[0].$2"; }
# thr NS KEY: the sum of the data threads' KEY in NS's status
thr() { jqs "$1" "[.dataplane_threads[].$2] | add"; }

# pings_bypass TAG N: N pings pc1 -> pc2 all answered, counted by both
# sessions but (nearly) not by the data threads: the fast path carried them
pings_bypass() {
	local tag=$1 cnt=$2 r dtx drx dttx dtrx
	local -A tx0 rx0 ttx0 trx0
	for r in r1 r2; do
		tx0[$r]=$(sess "$r" tx_packets) rx0[$r]=$(sess "$r" rx_packets)
		ttx0[$r]=$(thr "$r" tx_frames) trx0[$r]=$(thr "$r" rx_frames)
	done
	n pc1 ping -n -q -c "$cnt" -i 0.01 -W 2 192.168.10.2 >"$OUT/ping-$tag.log" || true
	grep -q "^$cnt packets transmitted, $cnt received" "$OUT/ping-$tag.log" ||
		{ cat "$OUT/ping-$tag.log" >&2; log "$tag. $cnt pings pc1 -> pc2: some lost"; return 1; }
	for r in r1 r2; do
		dtx=$(( $(sess "$r" tx_packets) - tx0[$r] )) drx=$(( $(sess "$r" rx_packets) - rx0[$r] ))
		dttx=$(( $(thr "$r" tx_frames) - ttx0[$r] )) dtrx=$(( $(thr "$r" rx_frames) - trx0[$r] ))
		log "$tag. $r: session tx +$dtx rx +$drx, data threads tx_frames +$dttx rx_frames +$dtrx"
		(( dtx >= cnt && drx >= cnt )) ||
			{ log "$tag. $r: the session counters missed the pings (tx +$dtx, rx +$drx, want >= $cnt)"; return 1; }
		(( dttx < 20 && dtrx < 20 )) ||
			{ log "$tag. $r: the data threads carried the pings (tx_frames +$dttx, rx_frames +$dtrx, want < 20)"; return 1; }
	done
}
# status_reads NS: how many fast path stats maps NS's daemon reads (bpf
# BPF_MAP_LOOKUP_ELEM, traced with strace) while it answers one status request
status_reads() {
	local pid=${DAEMON_PID[$1]} trace=$OUT/$1-status.strace st
	strace -f -qq -e trace=bpf -o "$trace" -p "$pid" &
	st=$!
	wait_for "$1: strace attached to every thread of l2tpv3d" 10 _traced "$pid"
	status_json "$1" >/dev/null
	kill -INT "$st"
	wait "$st" || true
	grep -c BPF_MAP_LOOKUP_ELEM "$trace" || true
}
# _traced PID: every thread of PID has a tracer
_traced() { ! grep -q '^TracerPid:[[:space:]]*0$' /proc/"$1"/task/*/status; }

# check_attached NS: the session is on the fast path, with fp_tx on the
# TAP's egress and fp_rx on the WAN's ingress, once each.
check_attached() {
	local r=$1 k
	grep -q "data path: kernel fast path on ('dataplane fastpath')" "$(daemon_log "$r")" ||
		{ log "$r: the fast path did not load (see $(daemon_log "$r"))"; return 1; }
	wait_for "$r: session on the fast path (\"fastpath\": true)" 5 fp_on "$r" ||
		{ log "$r: the session is not on the fast path (\"fastpath\": $(jqs "$r" '.tunnels[0].sessions[0].fastpath | tostring'))"; return 1; }
	filters "$r" $TAP egress >"$OUT/$r-tap-egress.txt"
	filters "$r" $WAN ingress >"$OUT/$r-wan-ingress.txt"
	k=$(nprog "$r" $TAP egress fp_tx)
	(( k == 1 )) || { log "$r: $k fp_tx filters on $TAP egress, want 1: $(cat "$OUT/$r-tap-egress.txt")"; return 1; }
	k=$(nprog "$r" $WAN ingress fp_rx)
	(( k == 1 )) || { log "$r: $k fp_rx filters on $WAN ingress, want 1: $(cat "$OUT/$r-wan-ingress.txt")"; return 1; }
	log "ok: $r: session on the fast path, one fp_tx on $TAP egress, one fp_rx on $WAN ingress"
}

iperf_server() {
	nbg pc2 iperf3 -s -1 >>"$OUT/iperf3-s.log" 2>&1
	BG_PIDS+=($!)
	wait_for "iperf3 server on pc2" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"
}

# tcp_ok TAG ARGS...: an iperf3 transfer pc1 -> pc2 (ARGS: -t 2, -R, ...)
tcp_ok() {
	local tag=$1; shift
	iperf_server
	n pc1 timeout 15 iperf3 -c 192.168.10.2 "$@" -J >"$OUT/iperf3-$tag.json" ||
		{ log "$tag: iperf3 failed: $(jq -r '.error // empty' "$OUT/iperf3-$tag.json")"; return 1; }
	jq -e '.end.sum_received.bytes > 1000000' "$OUT/iperf3-$tag.json" >/dev/null ||
		{ log "$tag: TCP carried under 1 MB"; return 1; }
	log "ok: $tag: TCP $(jq -r '.end.sum_received.bytes' "$OUT/iperf3-$tag.json") bytes," \
		"$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$OUT/iperf3-$tag.json") Mbit/s"
}

# Cases a-g: the routers' own NAT rules removed (the tunnel from the WAN
# address); nat1 still masquerades r1.
for r in r1 r2; do
	nq "$r" nft delete table ip nat
done
WANADDR=1
start_fp main on on

# ------------------------------------------------------ a. attached
log "--- a. both sessions on the fast path"
check_attached r1
check_attached r2
_expect "r2's metric l2tpv3d_session_fastpath" "$(metric l2tpv3d_session_fastpath)" 1
_expect "r1 tx cookie length" "$(sess r1 tx_cookie_length)" 4
_expect "r1 rx cookie length" "$(sess r1 rx_cookie_length)" 8
_expect "r1 rx sublayer" "$(sess r1 rx_l2ss)" default
_expect "r2 rx sublayer" "$(sess r2 rx_l2ss)" none

# ------------------------------------------------------ b. pings bypass the threads
log "--- b. 200 pings, not through the data threads"
wait_for "pc1 reaches pc2" 10 ping1 pc1 192.168.10.2 ||
	{ log "b. pc1 does not reach pc2 with the fast path on both sides"; exit 1; }
pings_bypass b 200
m=$(metric l2tpv3d_session_rx_packets_total)
(( m >= $(sess r2 rx_packets) - 2 && m >= 200 )) ||
	{ log "b. r2's metric l2tpv3d_session_rx_packets_total ($m) misses the fast path's frames"; exit 1; }
k=$(status_reads r2)
(( k == 1 )) || { log "b. one status read r2's fast path counters $k times, want once (see $OUT/r2-status.strace)"; exit 1; }
log "ok: b. 200 pings counted by the sessions (r2's metric rx_packets_total $m), not by the data threads;" \
	"a status reads the counters once"

# ------------------------------------------------------ c + d. TCP on the wire, MSS
log "--- c. TCP through the fast path on the wire; d. SYNs clamped by the data threads"
# inner checksums computed in software before tcpdump sees the packet
n r1 ethtool -K $WAN tx off >/dev/null
declare -A mss0 stx0 ttx0
for r in r1 r2; do
	mss0[$r]=$(sess "$r" mss_clamped) stx0[$r]=$(sess "$r" tx_packets) ttx0[$r]=$(thr "$r" tx_frames)
done
wcap() { # DIR FILE: r1's WAN, one direction, full packets, the first 3000
	nbg r1 tcpdump -Z root -n -i $WAN -Q "$1" -B 16384 -c 3000 --immediate-mode -U -w "$2" udp port 1701 \
		2>"$2.err"
	CAPTURE_PID[$2]=$!
	wait_for "r1: tcpdump on $WAN ($1) listening" 10 grep -q 'listening on' "$2.err"
}
wcap out "$OUT/wan-out.pcap"
wcap in "$OUT/wan-in.pcap"
nbg pc2 tcpdump -Z root -n -i eth0 -Q in --immediate-mode -U -w "$OUT/pc2-syn.pcap" \
	'tcp[tcpflags] & tcp-syn != 0' 2>"$OUT/pc2-syn.pcap.err"
CAPTURE_PID[$OUT/pc2-syn.pcap]=$!
wait_for "pc2: tcpdump listening" 10 grep -q 'listening on' "$OUT/pc2-syn.pcap.err"
tcp_ok fwd -t 3
for f in wan-out wan-in pc2-syn; do
	capture_stop "$OUT/$f.pcap"
done
n r1 ethtool -K $WAN tx on >/dev/null

r1sid=$(sess r1 remote_session_id) # the Session ID r1 sends (r2's)
r2sid=$(sess r2 remote_session_id) # the Session ID r2 sends (r1's)
# r1 -> r2: 4-byte cookie, no sublayer
# shellcheck disable=SC2054 # the comma belongs to tshark's -d
ts_out=(-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE
	-o "l2tp.cookie_size:4 Byte Cookie"
	-o l2tp.l2_specific:None -d l2tp.pw_type==0,eth)
# r2 -> r1: 8-byte cookie, the Default sublayer
# shellcheck disable=SC2054 # the comma belongs to tshark's -d
ts_in=(-o "l2tp.cookie_size:8 Byte Cookie" -o "l2tp.l2_specific:Default L2-Specific" -d l2tp.pw_type==0,eth)
# wire_check FILE WHAT SID COOKIE L2SS TSHARK-OPTIONS...: every data packet
# of FILE carries SID, COOKIE, an Ethernet frame, outer UDP checksum 0 (but
# for SYNs and ARP: the data thread sends them, its socket computes a
# checksum, which the options may check);
# with L2SS=default the sublayer with S=0; with CSUM=1 valid inner IPv4 and
# TCP checksums; nothing malformed.  Prints the number of data packets.
wire_check() {
	local f=$1 what=$2 sid=$3 cookie=$4 l2ss=$5; shift 5
	local bad
	bad=$(tshark -n -r "$f" "$@" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
	(( bad == 0 )) || { log "c. $what: $bad malformed packets or expert errors in $f"; return 1; }
	tshark -n -r "$f" "$@" -Y 'udp.port==1701 && !(l2tp.type==1)' -T fields -E aggregator=, -E occurrence=a \
		-e l2tp.sid -e l2tp.cookie -e udp.checksum -e eth.type -e l2tp.l2_spec_s \
		-e ip.checksum.status -e tcp.checksum.status -e tcp.len -e tcp.flags.syn 2>/dev/null >"$f.tsv"
	awk -F'\t' -v what="$what" -v sid="$(printf '0x%08x' "$sid")" -v cookie="$cookie" -v l2ss="$l2ss" -v csum="${CSUM:-0}" '
	function fail(m) { print "c. " what ": packet " NR ": " m ": " $0 > "/dev/stderr"; bad++ }
	{
		n++
		if ($1 != sid) fail("Session ID " $1 ", want " sid)
		if ($2 != cookie) fail("cookie " $2 ", want " cookie)
		if ($9 == "1" || $4 ~ /0x0806$/) thread++ # SYN or ARP
		else if ($3 != "0x0000") fail("outer UDP checksum " $3 ", want 0")
		if ($4 !~ /^0x0800,0x0800$/ && $4 !~ /^0x0800,0x0806$/) fail("no Ethernet frame inside (types " $4 ")")
		if (l2ss == "default" && $5 != "0") fail("no sublayer with S=0")
		if (l2ss != "default" && $5 != "") fail("a sublayer decoded")
		if (csum) {
			if ($6 !~ /^1(,1)*$/) fail("IPv4 checksum status " $6)
			if ($7 != "" && $7 != "1") fail("TCP checksum status " $7)
			if ($7 == "1" && $8 > 0) tcpdata++
		}
	}
	END {
		if (bad) exit 1
		if (n < 100) { print "c. " what ": only " n " data packets" > "/dev/stderr"; exit 1 }
		if (csum && tcpdata < n / 2) { print "c. " what ": only " tcpdata " of " n " with TCP data and a good checksum" > "/dev/stderr"; exit 1 }
		print n " " tcpdata + 0 " " thread + 0
	}' "$f.tsv"
}
res=$(CSUM=1 wire_check "$OUT/wan-out.pcap" "r1 -> r2" "$r1sid" "$R2_COOKIE" none "${ts_out[@]}")
read -r n nseg nsyn <<<"$res"
log "ok: c. r1 -> r2: $n data packets, Session ID $r1sid, cookie $R2_COOKIE, UDP checksum 0 (but $nsyn SYN/ARP from the data thread);" \
	"$nseg TCP segments with data, valid inner IPv4/TCP checksums"
res=$(wire_check "$OUT/wan-in.pcap" "r2 -> r1" "$r2sid" "$R1_COOKIE" default "${ts_in[@]}")
read -r n _ nsyn <<<"$res"
log "ok: c. r2 -> r1: $n data packets, Session ID $r2sid, cookie $R1_COOKIE, sublayer S=0, UDP checksum 0 (but $nsyn SYN/ARP from the data thread)"

# d. the SYNs went by the data threads and were clamped, the data did not
for r in r1 r2; do
	dm=$(( $(sess "$r" mss_clamped) - mss0[$r] ))
	dtx=$(( $(sess "$r" tx_packets) - stx0[$r] )) dttx=$(( $(thr "$r" tx_frames) - ttx0[$r] ))
	log "$r: mss_clamped +$dm, session tx_packets +$dtx, data threads tx_frames +$dttx"
	(( dm >= 2 )) || { log "d. $r: mss_clamped +$dm, want >= 2 (iperf3's two connections)"; exit 1; }
	(( dtx >= 1000 && dttx * 20 < dtx )) ||
		{ log "d. $r: the transfer went by the data threads (tx_frames +$dttx of +$dtx sent)"; exit 1; }
done
mss=$(tshark -n -r "$OUT/pc2-syn.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields \
	-e tcp.options.mss_val 2>/dev/null | sort -u | xargs)
if ! [[ $mss =~ ^[0-9]+$ ]] || (( mss >= 1460 )); then
	log "d. the SYNs reaching pc2 carry MSS '$mss', want one value under 1460"
	exit 1
fi
log "ok: d. SYNs clamped by the data threads (MSS $mss at pc2), the data on the fast path"

# ------------------------------------------------------ e. too long for the WAN
log "--- e. a 1514-byte frame, too long for the fast path"
t1=$(thr r1 tx_frames) t2=$(thr r2 tx_frames)
n pc1 ping -n -M "do" -s 1472 -c 3 -i 0.2 -W 2 192.168.10.2 >"$OUT/ping1472.log" || true
grep -q '^3 packets transmitted, 3 received' "$OUT/ping1472.log" ||
	{ cat "$OUT/ping1472.log" >&2; log "e. 1472-byte pings with DF did not all cross"; exit 1; }
d1=$(( $(thr r1 tx_frames) - t1 )) d2=$(( $(thr r2 tx_frames) - t2 ))
(( d1 >= 3 && d2 >= 3 )) ||
	{ log "e. the data threads should have sent the 1514-byte frames (r1 +$d1, r2 +$d2, want >= 3)"; exit 1; }
log "ok: e. 1472-byte pings with DF, 3/3, sent by the data threads (r1 +$d1, r2 +$d2)"

# ------------------------------------------------------ e2. reloads
log "--- e2. reloads: unchanged, then r1's cookie changed"
ctl() { local ns=$1; shift; nq "$ns" "$L2TPCTL" -S "$(sock "$ns")" "$@"; }
ctl r1 reload >"$OUT/reload-unchanged.txt"
grep -qx "tunnel 1: unchanged" "$OUT/reload-unchanged.txt"
check_attached r1
ping_ok pc1 192.168.10.2 3
R1_COOKIE=8877665544332211
conf_fp r1 on >"$OUT/r1-main.conf"
ctl r1 reload >"$OUT/reload-cookie.txt"
grep -q "^tunnel 1: restarted" "$OUT/reload-cookie.txt" ||
	{ log "e2. r1's reload with a new cookie: $(cat "$OUT/reload-cookie.txt")"; exit 1; }
wait_for "e2. r1 and r2 paired again after r1's reload" 30 paired
check_attached r1
check_attached r2
wait_for "e2. pc1 reaches pc2 after r1's reload" 10 ping1 pc1 192.168.10.2
t1=$(thr r1 rx_frames) t2=$(thr r2 rx_frames)
n pc1 ping -n -q -c 50 -i 0.01 -W 2 192.168.10.2 >"$OUT/ping50.log" || true
grep -q '^50 packets transmitted, 50 received' "$OUT/ping50.log" ||
	{ cat "$OUT/ping50.log" >&2; log "e2. 50 pings after the reload: some lost"; exit 1; }
d1=$(( $(thr r1 rx_frames) - t1 )) d2=$(( $(thr r2 rx_frames) - t2 ))
(( d1 < 10 && d2 < 10 )) ||
	{ log "e2. after the reload the data threads received the pings (r1 +$d1, r2 +$d2): the fast path has the old session or cookie"; exit 1; }
log "ok: e2. an unchanged reload keeps the fast path; a new cookie: the new session on the fast path, 50 pings past the data threads"

# ------------------------------------------------------ f. stop, restart, kill
log "--- f. r2 stopped, restarted, killed and restarted"
stop_daemon r2
left=$(fp_filters r2)
[[ -z $left ]] || { log "f. fp_ filters left in r2 after SIGTERM: $left"; exit 1; }
pairs=$(gro_pairs r2)
[[ -z $pairs ]] || { log "f. the fast path's veth pair left in r2 after SIGTERM: $pairs"; exit 1; }
log "ok: f. no fp_ filter and no l2fp veth pair left in r2 after SIGTERM"
LOGTAG=main2
start_daemon r2 "$OUT/r2-main.conf"
wait_for "f. r1 and r2 paired again after r2's restart" 30 paired
check_attached r2
wait_for "f. pc1 reaches pc2 after r2's restart" 10 ping1 pc1 192.168.10.2
ping_ok pc1 192.168.10.2 5
kill_daemon r2
k=$(nprog r2 $WAN ingress fp_rx)
log "after kill -9: $k fp_rx filter(s) left on r2's $WAN ingress"
LOGTAG=main3
start_daemon r2 "$OUT/r2-main.conf"
# r1 notices the loss by its keepalive (on 1 3) and calls again
wait_for "f. r1 and r2 paired again after r2's kill -9 and restart" 30 paired
check_attached r2 # exactly one fp_rx on the WAN
pairs=$(gro_pairs r2)
(( $(wc -w <<<"$pairs") <= 2 )) || { log "f. more than one veth pair after kill -9 and restart: $pairs"; exit 1; }
wait_for "f. pc1 reaches pc2 after r2's kill -9 and restart" 10 ping1 pc1 192.168.10.2
ping_ok pc1 192.168.10.2 5
log "ok: f. SIGTERM leaves no filter; after kill -9 and restart one fp_rx (replaced)"
stop_daemon r1
stop_daemon r2

# g and h each run in a subshell of their own (in the background, so that
# `set -e` holds inside): a failure of one is reported and the other still
# runs; the test fails at the end if either did.
# reset_routers: whatever a failed case left running in r1 and r2 (all
# started by this test) is stopped.
reset_routers() {
	local ns pid
	for ns in r1 r2; do
		for pid in $(ip netns pids "${NS[$ns]}" 2>/dev/null); do
			_stop_pid "$pid"
		done
	done
	DAEMON_PID=()
}
failed=()
run_case() { # NAME FUNCTION
	local rc=0
	"$2" &
	wait $! || rc=$?
	if (( rc != 0 )); then
		log "FAILED: case $1"
		failed+=("$1")
		reset_routers
	fi
}

# ------------------------------------------------------ g. one side off
# The fast path leaves the inner checksums for the network card to fill in;
# over veths a receiver that is not the kernel (r2's data thread) gets them
# unfilled unless the sender's WAN has transmit checksum offload off
# (l2tpv3d.conf(5)): r1's WAN has it off for the transfers.
case_g() {
	log "--- g. r1 fast path on, r2 off"
	start_fp mixed on off
	check_attached r1
	_expect "r2 fastpath (off)" "$(jqs r2 '.tunnels[0].sessions[0].fastpath | tostring')" false
	_expect "r2's metric l2tpv3d_session_fastpath (off)" "$(metric l2tpv3d_session_fastpath)" 0
	[[ -z $(gro_pairs r2) ]] || { log "g. r2 (fast path off) has a veth pair: $(gro_pairs r2)"; return 1; }
	fails grep -q fp_ <(fp_filters r2)
	wait_for "g. pc1 reaches pc2" 10 ping1 pc1 192.168.10.2
	ping_ok pc1 192.168.10.2 10
	ping_ok pc2 192.168.10.1 10
	n r1 ethtool -K $WAN tx off >/dev/null
	t1=$(thr r1 tx_frames) t2=$(thr r2 rx_frames)
	tcp_ok mixed-fwd -t 2 ||
		{ log "g. TCP pc1 -> pc2 fails with r1 on the fast path (WAN tx offload off) and r2 off"; return 1; }
	(( $(thr r2 rx_frames) - t2 > 1000 )) || { log "g. r2's data thread should have received the TCP"; return 1; }
	(( $(thr r1 tx_frames) - t1 < 50 )) || { log "g. r1's data thread should not have sent the TCP"; return 1; }
	tcp_ok mixed-rev -t 2 -R || { log "g. TCP pc2 -> pc1 (iperf3 -R) fails"; return 1; }
	n r1 ethtool -K $WAN tx on >/dev/null
	log "ok: g. fast path on one side only: pings and TCP both ways"
	stop_daemon r1
	stop_daemon r2
}
run_case g case_g

# ------------------------------------------------------ h. reference scenario NAT
# The tunnel from an address that is not the WAN interface's own (the
# router masquerades it, and maps UDP 1701 back to it): the fast path
# writes what the NAT would (the programs' packets skip netfilter), as
# conntrack says.  Then r1's WAN address moves (172.16.0.2 -> .3, as a new
# DHCP lease): its masquerade maps the tunnel anew, and the fast path must
# follow (dp_fp_refresh) or the peer's frames would go to the data thread.
# wan_src FILE: the outer source (address:port) of every L2TPv3 data
# packet in FILE, each distinct one once
wan_src() {
	tshark -n -r "$1" -Y 'l2tp && !(l2tp.type == 1)' -T fields -e ip.src -e udp.srcport 2>/dev/null |
		sort -u | tr '\t' ':' | xargs
}
# h_pings TAG WANT1 WANT2: pings cross past the data threads while what
# r1's and r2's WAN send is captured; each side's data packets leave from
# WANT1 / WANT2 (address:port)
h_pings() {
	local tag=$1 want1=$2 want2=$3 got r
	for r in r1 r2; do
		# what leaves the WAN only
		nbg "$r" tcpdump -Z root -n -i $WAN -Q out -B 8192 --immediate-mode -U -w "$OUT/h-$tag-$r.pcap" \
			udp 2>"$OUT/h-$tag-$r.pcap.err"
		CAPTURE_PID[$OUT/h-$tag-$r.pcap]=$!
		wait_for "$r: tcpdump on $WAN (out) listening" 10 grep -q 'listening on' "$OUT/h-$tag-$r.pcap.err"
	done
	pings_bypass "h-$tag" 100 || return 1
	for r in r1 r2; do
		capture_stop "$OUT/h-$tag-$r.pcap"
	done
	got=$(wan_src "$OUT/h-$tag-r1.pcap")
	[[ $got == "$want1" ]] || { log "h. $tag: r1's data packets leave from '$got', want $want1"; return 1; }
	got=$(wan_src "$OUT/h-$tag-r2.pcap")
	[[ $got == "$want2" ]] || { log "h. $tag: r2's data packets leave from '$got', want $want2"; return 1; }
	log "ok: h. $tag: 100 pings past the data threads, data from r1 $want1 and r2 $want2 on the wire"
}
case_h() {
	log "--- h. the reference scenario: the routers masquerade, the tunnel from 192.168.2.x"
	_nat_router r1 lan2 192.168.2.10
	_nat_router r2 lan2 192.168.2.20
	# nat1 mapped r1's WAN address before: start afresh
	nq nat1 conntrack -F >/dev/null 2>&1 || true
	WANADDR=
	start_fp scenario on on
	check_attached r1
	check_attached r2
	wait_for "h. pc1 reaches pc2 (reference scenario)" 10 ping1 pc1 192.168.10.2 ||
		{ log "h. the reference scenario's NAT: pings do not cross"; return 1; }
	h_pings start 172.16.0.2:1701 203.0.113.2:1701 || return 1
	tcp_ok scenario -t 2 || return 1

	log "--- h. r1's WAN address moves to 172.16.0.3"
	local port0
	port0=$(jqs r2 '.tunnels[0].remote_port')
	nq r1 sysctl -qw net.ipv4.conf.lan2.promote_secondaries=1
	nq r1 ip addr add 172.16.0.3/24 dev lan2
	nq r1 ip addr del 172.16.0.2/24 dev lan2
	# r1's next control message leaves from the new address: nat1 maps it
	# to a new port, and r2 follows (roaming)
	wait_for "h. r2 follows r1 to nat1's new port (was $port0)" 30 \
		sh -c "[ \"\$(ip netns exec ${NS[r2]} $L2TPCTL -S $(sock r2) -j show status l2tp | jq '.tunnels[0].remote_port')\" != $port0 ]" ||
		{ log "h. r2 did not follow r1 after its WAN address moved"; return 1; }
	# the fast path asks conntrack again every 2 s
	sleep 3
	check_attached r1
	check_attached r2
	h_pings moved 172.16.0.3:1701 203.0.113.2:1701 || return 1
	stop_daemon r1
	stop_daemon r2
}
run_case h case_h

# ------------------------------------------------------ i. NAT renumbered
# nat1 gives r1 a new outside address and port while the fast path carries
# the session: r2 must follow r1 to it (its fast path routed again, or the
# session given back to the data thread) and frames cross again.
case_i() {
	log "--- i. nat1 renumbered under the fast path"
	nq r1 nft delete table ip nat
	nq r2 nft delete table ip nat
	nq nat1 conntrack -F >/dev/null 2>&1 || true
	WANADDR=1
	start_fp renumber on on
	check_attached r1
	check_attached r2
	wait_for "i. pc1 reaches pc2" 10 ping1 pc1 192.168.10.2
	ping_ok pc1 192.168.10.2 3
	nat1_renumber 198.51.100.2 198.51.100.3
	wait_for "i. r2 talks to r1's new address 198.51.100.3:200xx" 30 r2_peer_renumbered 198.51.100.3 ||
		{ log "i. r2 did not follow r1 to its new address"; return 1; }
	wait_for "i. pc1 reaches pc2 after the renumbering" 10 ping1 pc1 192.168.10.2 ||
		{ log "i. frames do not cross after nat1 renumbered r1 (r2 fastpath" \
			"$(jqs r2 '.tunnels[0].sessions[0].fastpath | tostring'))"; return 1; }
	ping_ok pc1 192.168.10.2 10
	log "ok: i. after the renumbering r2 sends to $(jqs r2 '.tunnels[0] | "\(.remote_address):\(.remote_port)"')," \
		"fast path r1 $(jqs r1 '.tunnels[0].sessions[0].fastpath | tostring')," \
		"r2 $(jqs r2 '.tunnels[0].sessions[0].fastpath | tostring'); pings cross"
	stop_daemon r1
	stop_daemon r2
}
run_case i case_i

# ------------------------------------------------------ j. WAN MTU lowered
# r1's WAN link goes from MTU 1500 to 1400 while the daemons run (nat1's
# side too): a 1392-byte frame (ping -s 1350) no longer fits unfragmented.
# Without the fast path the kernel fragments the data thread's datagram;
# with it, it must still cross (fast path routed again, or left to the data
# thread).
ping_big() { nq pc1 ping -n -c 1 -W 1 -s 1350 -M "do" 192.168.10.2; }
case_j() {
	log "--- j. r1's WAN MTU lowered to 1400 while the fast path runs"
	start_fp mtu on on
	check_attached r1
	wait_for "j. pc1 reaches pc2 with 1392-byte frames (MTU 1500)" 10 ping_big
	n r1 ip link set $WAN mtu 1400
	n nat1 ip link set lan mtu 1400
	if ! wait_for "j. 1392-byte frames cross after r1's WAN MTU went to 1400" 10 ping_big; then
		log "j. after r1's WAN MTU went from 1500 to 1400, frames of 1361..1460 bytes (cookie 4) are lost:" \
			"fp_tx still takes them (its max_frame from the MTU at the session's start) and the link drops" \
			"the packet; the data thread would have let the kernel fragment it"
		return 1
	fi
	ping_ok pc1 192.168.10.2 3
	log "ok: j. 1392-byte frames still cross after the WAN MTU was lowered"
	stop_daemon r1
	stop_daemon r2
}
run_case j case_j
nq r1 ip link set $WAN mtu 1500
nq nat1 ip link set lan mtu 1500

# ------------------------------------------------------ k. super-frames uncut
# Between veths with TSO/GSO on (as bench.sh's plain-veth WAN), fp_tx's
# TCP super-frame is never cut on the way: r2's WAN receives one packet of
# up to 64 KB with one L2TPv3 header.  fp_rx must take it (the socket
# would hand the data thread the frame with its inner checksum unfilled,
# and TCP stalled at ~0.1 Mbit/s before fp_rx knew such packets), and still
# leave to the socket what a user-space sender coalesced (UDP_SEGMENT).
case_k() {
	local before
	log "--- k. TCP super-frames crossing the WAN uncut"
	for r in r1 nat1 r2; do
		n $r sh -c 'for d in /sys/class/net/*; do d=${d##*/}; [ "$d" = lo ] || ethtool -K "$d" tx on tso on gso on >/dev/null 2>&1; done'
	done
	start_fp uncut on on
	check_attached r1
	check_attached r2
	before=$(thr r2 rx_frames)
	tcp_ok uncut -t 2 || return 1
	jq -e '.end.sum_received.bits_per_second > 200e6' "$OUT/iperf3-uncut.json" >/dev/null ||
		{ log "k. TCP with super-frames crossing uncut: under 200 Mbit/s"; return 1; }
	(( $(thr r2 rx_frames) - before < 100 )) ||
		{ log "k. r2's data thread received the TCP ($(( $(thr r2 rx_frames) - before )) frames), not fp_rx"; return 1; }
	tcp_ok uncut-rev -t 2 -R || return 1
	log "ok: k. super-frames crossing uncut are taken by fp_rx both ways"
	# the fast path on r2 only: r1's data thread sends UDP_SEGMENT trains,
	# which r2's socket must get (fp_rx leaves them alone); r2's WAN fills
	# its inner checksums in for r1's data thread (case g, l2tpv3d.conf(5))
	stop_daemon r1
	stop_daemon r2
	n r2 ethtool -K $WAN tx off >/dev/null
	start_fp uncut-mixed off on
	before=$(thr r2 rx_frames)
	tcp_ok uncut-mixed -t 2 || return 1
	(( $(thr r2 rx_frames) - before > 1000 )) ||
		{ log "k. r1's coalesced datagrams did not reach r2's data thread"; return 1; }
	log "ok: k. a user-space sender's coalesced datagrams go to the socket"
	stop_daemon r1
	stop_daemon r2
	n r2 ethtool -K $WAN tx on >/dev/null
}
run_case k case_k

if (( ${#failed[@]} )); then
	log "failed cases: ${failed[*]}"
	exit 1
fi
