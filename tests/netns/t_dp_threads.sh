#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The data path on two threads (`dataplane threads 2`), reference scenario:
#   1. Both daemons run two data threads; the TAPs are multi-queue (two
#      queues attached) and the status shows two threads.
#   2. 16 UDP flows from pc1 to pc2 (distinct source ports), each datagram
#      numbered per flow, sent interleaved as fast as one sender can: r1
#      reads them from its TAP on both threads (each thread's tx_frames
#      grows), and pc2's receiver sees every flow's numbers only rise
#      (losses allowed, never a number lower than one already seen: no
#      reordering within a flow).
#   3. TCP with 4 streams both ways completes (segments reordered within a
#      flow at pc2 are counted and logged), and the session counters of both
#      sides add up with the per-thread ones.
#   4. Sequenced data (`l2tp data sequencing on`): the session keeps one
#      queue (its numbers must leave in order), traffic crosses with no
#      sequence drops.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

conf_r1 | sed '1i dataplane threads 2' >"$OUT/r1.conf"
conf_r2 | sed '1i dataplane threads 2' >"$OUT/r2.conf"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "tunnel and session established between r1 and r2" 30 paired
ping_ok pc1 192.168.10.2

# ----------------------------------------------------- 1. two threads
for r in r1 r2; do
	_expect "$r: data threads in the status" "$(jqs "$r" '.dataplane_threads | length')" 2
	grep -q "data path: 2 threads" "$(daemon_log "$r")"
	# two queues attached to the TAP (tun shows one "queues" directory each)
	_expect "$r: tunnel1 TX queues" "$(n "$r" sh -c 'ls -d /sys/class/net/tunnel1/queues/tx-* | wc -l')" 2
done

thr() { jqs "$1" "[.dataplane_threads[].$2] | join(\" \")"; }

# ------------------------------------------------- 2. numbered UDP flows
cat >"$OUT/recv.py" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("0.0.0.0", 9000))
s.settimeout(2.0)
last, got, back = {}, {}, {}
start = None
while True:
    try:
        d, a = s.recvfrom(2048)
    except socket.timeout:
        if start is not None:
            break
        continue
    start = start or time.time()
    port, seq = a[1], int.from_bytes(d[:8], "big")
    got[port] = got.get(port, 0) + 1
    if port in last and seq <= last[port]:
        back[port] = back.get(port, 0) + 1
    last[port] = max(seq, last.get(port, -1))
json.dump({"flows": len(got), "received": sum(got.values()), "reordered": sum(back.values()),
           "per_flow": got}, open(sys.argv[1], "w"))
PY
nbg pc2 /usr/bin/python3 "$OUT/recv.py" "$OUT/flows.json" 2>"$OUT/recv.err"
RECV=$!
wait_for "pc2 listens on 9000" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hnul sport = :9000 | grep -q 9000"
tx0=$(thr r1 tx_frames)
n pc1 /usr/bin/python3 - <<'PY'
import socket
socks = []
for i in range(16):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.168.10.1", 20000 + i))
    s.connect(("192.168.10.2", 9000))
    socks.append(s)
pad = bytes(200)
for seq in range(4000):
    for s in socks:
        try:
            s.send(seq.to_bytes(8, "big") + pad)
        except BlockingIOError:
            pass
PY
wait "$RECV"
tx1=$(thr r1 tx_frames)
log "r1 per-thread tx_frames before: $tx0, after: $tx1; receiver: $(jq -c '{flows, received, reordered}' "$OUT/flows.json")"
_expect "flows seen by pc2" "$(jq .flows "$OUT/flows.json")" 16
(( $(jq .received "$OUT/flows.json") >= 16 * 4000 / 4 )) || { log "too few datagrams crossed"; exit 1; }
_expect "datagrams out of order within a flow" "$(jq .reordered "$OUT/flows.json")" 0
read -r a0 b0 <<<"$tx0"
read -r a1 b1 <<<"$tx1"
(( a1 - a0 > 100 && b1 - b0 > 100 )) || { log "r1: both threads should have sent frames of the flows"; exit 1; }
log "ok: 16 numbered flows on two threads: none reordered, both threads busy"

# ------------------------------------------------------ 3. TCP, 4 streams
nbg pc2 tcpdump -Z root -n -i eth0 --immediate-mode -U -s 96 -w "$OUT/tcp.pcap" 'tcp port 5201 and dst host 192.168.10.2' \
	2>"$OUT/tcp.pcap.err"
CAPTURE_PID[$OUT/tcp.pcap]=$!
wait_for "pc2: tcpdump listening" 10 grep -q 'listening on' "$OUT/tcp.pcap.err"
for dir in "" -R; do
	nbg pc2 iperf3 -s -1 >"$OUT/iperf3-s.log" 2>&1
	BG_PIDS+=($!)
	wait_for "iperf3 server on pc2" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"
	n pc1 timeout 60 iperf3 -c 192.168.10.2 -P 4 -t 2 $dir -J >"$OUT/iperf3$dir.json"
	jq -e '.end.sum_received.bytes > 0' "$OUT/iperf3$dir.json" >/dev/null
	log "ok: TCP 4 streams ${dir:-forward}: $(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$OUT/iperf3$dir.json") Mbit/s"
done
capture_stop "$OUT/tcp.pcap"
# Per flow, the IP IDs pc2 receives must rise (the sender numbers each
# segment, retransmissions included; a coalesced super-frame carries its
# first segment's): a lower one is a reordering.  Reported, not asserted:
# under loss on this shared machine the single-thread build of main shows
# a few too (a pair of coalesced frames swapped at r2; see
# doc/performance.md), so the strict check of ordering per flow is the
# numbered UDP flows above.
segs=$(tshark -n -r "$OUT/tcp.pcap" -Y 'tcp.len > 0' 2>/dev/null | wc -l)
back=$(tshark -n -r "$OUT/tcp.pcap" -Y 'tcp.len > 0' -T fields -e tcp.srcport -e tcp.dstport -e ip.id 2>/dev/null |
	/usr/bin/python3 -c '
import sys
last, back = {}, 0
for line in sys.stdin:
    sp, dp, i = line.split()
    i = int(i, 0)
    if (sp, dp) in last and (i - last[sp, dp]) % 65536 in [0] + list(range(32768, 65536)):
        back += 1
    last[sp, dp] = i
print(back)')
log "pc2 capture: $segs TCP data segments (4 streams each way), $back arrived after a later one of their flow"
(( segs > 1000 ))

# counters: what the threads sent and received adds up with the session's
for r in r1 r2; do
	st=$(status_json "$r")
	sum_tx=$(jq '[.dataplane_threads[].tx_frames] | add' <<<"$st")
	sum_rx=$(jq '[.dataplane_threads[].rx_frames] | add' <<<"$st")
	_expect "$r: threads' tx_frames = session tx_packets" "$sum_tx" "$(jq '.tunnels[0].sessions[0].tx_packets' <<<"$st")"
	_expect "$r: threads' rx_frames = session rx_packets" "$sum_rx" "$(jq '.tunnels[0].sessions[0].rx_packets' <<<"$st")"
	log "$r per thread: tx_frames $(thr "$r" tx_frames), rx_frames $(thr "$r" rx_frames), tap_reads $(thr "$r" tap_reads), udp_sends $(thr "$r" udp_sends), wakeups $(thr "$r" wakeups)"
done

# ----------------------------------------------------- 4. sequenced data
stop_daemon r1
stop_daemon r2
LOGTAG=seq
conf_with r1 "l2tp l2-specific-sublayer default" "l2tp data sequencing on" | sed '1i dataplane threads 2' >"$OUT/r1-seq.conf"
conf_with r2 "l2tp l2-specific-sublayer default" "l2tp data sequencing on" | sed '1i dataplane threads 2' >"$OUT/r2-seq.conf"
start_daemon r2 "$OUT/r2-seq.conf"
start_daemon r1 "$OUT/r1-seq.conf"
wait_for "tunnel and session established between r1 and r2 (sequencing)" 30 paired
wait_for "pc1 reaches pc2" 10 ping1 pc1 192.168.10.2
_expect "r1: tunnel1 TX queues with sequencing" "$(n r1 sh -c 'ls -d /sys/class/net/tunnel1/queues/tx-* | wc -l')" 1
nbg pc2 iperf3 -s -1 >"$OUT/iperf3-s-seq.log" 2>&1
BG_PIDS+=($!)
wait_for "iperf3 server on pc2" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"
n pc1 timeout 60 iperf3 -c 192.168.10.2 -P 4 -n 8M -J >"$OUT/iperf3-seq.json"
jq -e '.end.sum_received.bytes > 0' "$OUT/iperf3-seq.json" >/dev/null
_expect "r2: sequence drops" "$(jqs r2 '.tunnels[0].sessions[0].rx_seq_drops')" 0
log "ok: a sequenced session keeps one queue; nothing dropped as out of order"

stop_daemon r1
stop_daemon r2
