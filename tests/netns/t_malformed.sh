#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Hostile input (issue 4): with the scenario tunnel up and PC1 pinging PC2,
# the Internet (namespace inet) sends r2's public address 203.0.113.2:1701
# a bounded burst of malformed datagrams (tests/netns/malformed_send.py:
# truncated headers, bad lengths, AVP lengths 0..5, AVPs past the end,
# Ver 2, huge lengths, random bytes, data for unknown sessions, datagrams
# up to 64 KB, bad AVP values) and replays of r1's own control messages
# captured at set-up.  r2 must stay up with the same tunnel and session
# IDs, the ping lose at most one packet, the counters show the drops, the
# log hold no sanitizer report and the daemon's memory stay bounded.
source "$(dirname "$0")/lib.sh"

COUNT=${COUNT:-3000}
BURST_SECS=${BURST_SECS:-6}

require_daemon
topo_create
capture_start inet e1 "$OUT/setup.pcap"
start_pair
capture_stop "$OUT/setup.pcap"

# r1's control messages as sent at set-up, one file each, for replays.
mkdir -p "$OUT/replay"
tsh "$OUT/setup.pcap" -Y 'l2tp.type==1 && ip.src==198.51.100.2' -T fields -e udp.payload |
	/usr/bin/python3 -c '
import sys
for i, line in enumerate(sys.stdin):
    open(sys.argv[1] + "/r1-%02d" % i, "wb").write(bytes.fromhex(line.strip().replace(":", "")))
' "$OUT/replay"
nrep=$(find "$OUT/replay" -type f | wc -l)
(( nrep >= 4 )) || { log "only $nrep control messages captured for replay"; false; }

ids() {
	jqs "$1" '.tunnels[0] | "\(.local_tunnel_id) \(.remote_tunnel_id) \(.sessions[0].local_session_id) \(.sessions[0].remote_session_id)"'
}
ids_r1=$(ids r1)
ids_r2=$(ids r2)
before=$(status_json r2)
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/${DAEMON_PID[$1]}/status"; }
rss_before=$(rss r2)
log "r2 before: ids $ids_r2, RSS $rss_before kB"

# The ping runs through the whole burst: 0.2 s apart, a little longer.
pings=$(( (BURST_SECS + 2) * 5 ))
nbg pc1 ping -n -i 0.2 -c "$pings" -W 2 192.168.10.2 >"$OUT/ping.txt" 2>&1
ping_pid=$!

n inet /usr/bin/python3 "$LIB_DIR/malformed_send.py" 203.0.113.2 1701 "$COUNT" "$BURST_SECS" \
	"$OUT"/replay/* | tee "$OUT/sent.txt"
sent=$(awk '/^total/ { print $2 }' "$OUT/sent.txt")
(( sent >= COUNT * 9 / 10 ))

wait_for "ping finished" 30 _pid_gone "$ping_pid"
wait "$ping_pid" || true
cat "$OUT/ping.txt" >&2
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$OUT/ping.txt")
(( received >= pings - 1 )) || { log "ping lost $(( pings - received )) of $pings"; false; }
log "ok: ping $received/$pings answered during the burst"

# Both daemons are up, the tunnel is the same one.
daemon_alive r1
daemon_alive r2
paired
[[ $(ids r1) == "$ids_r1" ]]
[[ $(ids r2) == "$ids_r2" ]]
log "ok: tunnel and session IDs unchanged ($ids_r2)"

# The drops were counted where they belong.
after=$(status_json r2)
delta() { jq -n --argjson a "$before" --argjson b "$after" "\$b.counters.$1 - \$a.counters.$1"; }
for c in rx_ctrl_malformed rx_ctrl_unknown_ccid rx_ctrl_wrong_peer rx_data_unknown_session rx_data_malformed; do
	d=$(delta "$c")
	log "r2 counters.$c +$d"
	(( d > 0 )) || { log "counters.$c did not go up"; false; }
done
# Malformed control messages: at least the kinds that cannot decode.
(( $(delta rx_ctrl_malformed) >= COUNT / 20 ))

# Memory stays bounded (the burst leaves no state behind).
rss_after=$(rss r2)
log "r2 RSS $rss_before kB -> $rss_after kB"
(( rss_after < rss_before + 32768 ))

# Still carries traffic and keeps its keepalives; clean stop, no sanitizer report.
ping_ok pc1 192.168.10.2 3
_check_log r2
stop_daemon r1
stop_daemon r2
