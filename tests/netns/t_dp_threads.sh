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
#   3. TCP with 4 streams both ways: no segment leaves the far PC's side
#      out of the order it entered the data path in its flow (captures at
#      the sending router's TAP and at the receiving PC), and the session
#      counters of both sides add up with the per-thread ones.
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
# Captured where the frames enter the data path (the TAP's egress on the
# sending router) and where they come out (the far PC), both ways.
tcap() { # NS IF DIR FILE
	nbg "$1" tcpdump -Z root -n -i "$2" -Q "$3" --immediate-mode -U -s 96 -w "$4" 'tcp port 5201' 2>"$4.err"
	CAPTURE_PID[$4]=$!
	wait_for "$1: tcpdump on $2 listening" 10 grep -q 'listening on' "$4.err"
}
tcap r1 tunnel1 out "$OUT/in-fwd.pcap"
tcap pc2 eth0 in "$OUT/out-fwd.pcap"
tcap r2 tunnel1 out "$OUT/in-rev.pcap"
tcap pc1 eth0 in "$OUT/out-rev.pcap"
for dir in "" -R; do
	nbg pc2 iperf3 -s -1 >"$OUT/iperf3-s.log" 2>&1
	BG_PIDS+=($!)
	wait_for "iperf3 server on pc2" 10 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"
	n pc1 timeout 60 iperf3 -c 192.168.10.2 -P 4 -t 2 $dir -J >"$OUT/iperf3$dir.json"
	jq -e '.end.sum_received.bytes > 0' "$OUT/iperf3$dir.json" >/dev/null
	log "ok: TCP 4 streams ${dir:-forward}: $(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$OUT/iperf3$dir.json") Mbit/s"
done
for f in in-fwd out-fwd in-rev out-rev; do
	capture_stop "$OUT/$f.pcap"
done
# Segments are named by flow and IP ID (the sender numbers each one; a
# super-frame's segments and a coalesced frame's follow its first): every
# segment the far PC receives must come out after all those that entered
# the data path before it in its flow.  (The IDs alone are not enough: the
# sending PC's stack does not always transmit in ID order.)
reordered() { # IN OUT DST
	tshark -n -r "$1" -Y "ip.dst==$3 && tcp.len > 0" -T fields -e tcp.srcport -e tcp.dstport -e ip.id -e tcp.len \
		2>/dev/null >"$1.tsv"
	tshark -n -r "$2" -Y "ip.dst==$3 && tcp.len > 0" -T fields -e tcp.srcport -e tcp.dstport -e ip.id -e tcp.len \
		2>/dev/null >"$2.tsv"
	/usr/bin/python3 - "$1.tsv" "$2.tsv" <<'PY'
import bisect, sys
def segs(path):
    per = {}
    for line in open(path):
        sp, dp, i, ln = line.split()
        i, ln = int(i, 0), int(ln)
        for k in range(max(1, -(-ln // 1398))):  # MSS 1398 here
            per.setdefault((sp, dp), []).append((i + k) % 65536)
    return per
a, b = segs(sys.argv[1]), segs(sys.argv[2])
bad = tot = 0
for flow, got in b.items():
    pos = {}
    for idx, x in enumerate(a.get(flow, [])):
        pos.setdefault(x, []).append(idx)
    last = 0
    for x in got:
        if x not in pos:
            continue
        # IDs wrap: the occurrence nearest the flow's progress
        j = bisect.bisect_left(pos[x], last - 20000)
        if j == len(pos[x]):
            continue
        tot += 1
        if pos[x][j] < last:
            bad += 1
        last = max(last, pos[x][j])
print(tot, bad)
PY
}
read -r tot bad <<<"$(reordered "$OUT/in-fwd.pcap" "$OUT/out-fwd.pcap" 192.168.10.2)"
read -r tot2 bad2 <<<"$(reordered "$OUT/in-rev.pcap" "$OUT/out-rev.pcap" 192.168.10.1)"
log "TCP segments compared: $tot pc1 -> pc2, $tot2 pc2 -> pc1"
(( tot > 10000 && tot2 > 10000 ))
_expect "TCP segments reordered within a flow, pc1 -> pc2" "$bad" 0
_expect "TCP segments reordered within a flow, pc2 -> pc1" "$bad2" 0

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
