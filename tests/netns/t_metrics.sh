#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Prometheus endpoint (issue 7, point 5).  r2's configuration gets
# `metrics listen 127.0.0.1:9101`; r1's has none (off by default).  After
# pings across the tunnel, /metrics is fetched with curl and linted with
# `promtool check metrics`, then Debian's real Prometheus server, run in
# r2's namespace and scraping every second, must answer queries for the
# session's received packets (> 0) and the tunnel's state (1).
#
# Both also have a tunnel 2 with a static session (`l2tp static session`)
# to each other, bridge2 192.168.40.1/24 on r1, .2 on r2: r2's metrics show
# it static-idle before any data, then static-up with its counters after
# pings across it.  A SYN from pc2 clamped by r2 shows in
# l2tpv3d_session_mss_clamped_total.
source "$(dirname "$0")/lib.sh"

require_daemon
for b in prometheus promtool curl; do
	command -v "$b" >/dev/null || { log "missing $b (run scripts/deps.sh)"; false; }
done
topo_create
# static_tunnel LOCAL REMOTE LOCAL-SID REMOTE-SID ADDR: tunnel 2, a static
# session in bridge2 (inserted before `l2tp service on`)
static_tunnel() {
	sed "/^l2tp service on/i\\
bridge member bridge2 tunnel2\\
ip bridge2 address $5/24\\
tunnel select 2\\
 tunnel encapsulation l2tpv3-raw\\
 tunnel endpoint address $1 $2\\
 l2tp static session $3 $4\\
 l2tp keepalive use on 1 3\\
 tunnel enable 2"
}
# r2 sees r1 as 198.51.100.2 (nat1), r1 reaches r2 at 203.0.113.2
conf_r2 | static_tunnel 192.168.2.20 198.51.100.2 0x2002 0x1001 192.168.40.2 >"$OUT/r2.conf"
echo "metrics listen 127.0.0.1:9101" >>"$OUT/r2.conf"
conf_r1 | static_tunnel 192.168.2.10 203.0.113.2 0x1001 0x2002 192.168.40.1 >"$OUT/r1.conf"
grep -q "l2tp static session 0x1001 0x2002" "$OUT/r1.conf"
# r2's static session may send (its bridge's first frames) before r1 has a
# mapping in nat1: like any NAT router, nat1 drops what comes unsolicited
# from the Internet, so no conntrack entry takes the port r1's
# masquerade will need (the static session sends to port 1701)
nq nat1 nft -f - <<-EOF
table ip fw {
	chain prerouting {
		type filter hook prerouting priority 0; policy accept;
		iifname "wan" ct state new drop
	}
}
EOF
start_daemon r2 "$OUT/r2.conf"

log "--- the static session: static-idle before any data (r1 not started)"
n r2 curl -sSf http://127.0.0.1:9101/metrics >"$OUT/metrics-idle.txt"
promtool check metrics <"$OUT/metrics-idle.txt"
grep -qx 'l2tpv3d_session_state{tunnel="2",session="8194",state="static-idle"} 1' "$OUT/metrics-idle.txt"
grep -qx 'l2tpv3d_session_state{tunnel="2",session="8194",state="static-up"} 0' "$OUT/metrics-idle.txt"
grep -qx 'l2tpv3d_session_up{tunnel="2",session="8194"} 0' "$OUT/metrics-idle.txt"
grep -qx 'l2tpv3d_session_rx_packets_total{tunnel="2",session="8194"} 0' "$OUT/metrics-idle.txt"

start_daemon r1 "$OUT/r1.conf"
wait_for "tunnel and session established between r1 and r2" 30 paired
ping_ok r1 192.168.40.2 5
ping_ok pc1 192.168.10.2 5
# a SYN from pc2 to a closed port of pc1: r2 (`ip tunnel tcp mss limit
# auto`) clamps it on its way into the tunnel
fails nq pc2 timeout 5 bash -c 'exec 3<>/dev/tcp/192.168.10.1/9'

log "--- /metrics with curl, checked by promtool"
n r2 curl -sSf -D "$OUT/headers.txt" http://127.0.0.1:9101/metrics >"$OUT/metrics.txt"
grep -qi "^content-type: text/plain; version=0.0.4" "$OUT/headers.txt"
promtool check metrics <"$OUT/metrics.txt"
grep -qx 'l2tpv3d_info{version="[0-9.]*"} 1' "$OUT/metrics.txt"
grep -qx 'l2tpv3d_tunnel_up{tunnel="1"} 1' "$OUT/metrics.txt"
grep -qx 'l2tpv3d_tunnel_state{tunnel="1",state="established"} 1' "$OUT/metrics.txt"
grep -qx 'l2tpv3d_tunnel_state{tunnel="1",state="idle"} 0' "$OUT/metrics.txt"
grep -qx 'l2tpv3d_tunnel_established_total{tunnel="1"} 1' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_tunnel_keepalive_rtt_seconds\{tunnel="1"\} [0-9]+\.[0-9]{3}$' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_tunnel_control_retransmissions_total\{tunnel="1"\} [0-9]+$' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_session_rx_drops_total\{tunnel="1",session="[0-9]+",reason="cookie"\} 0$' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_control_malformed_total [0-9]+$' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_control_unknown_ccid_total [0-9]+$' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_session_state\{tunnel="1",session="[0-9]+",state="established"\} 1$' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_session_state\{tunnel="1",session="[0-9]+",state="wait-reply"\} 0$' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_session_tx_super_frames_total\{tunnel="1",session="[0-9]+"\} [0-9]+$' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_session_rx_coalesced_frames_total\{tunnel="1",session="[0-9]+"\} [0-9]+$' "$OUT/metrics.txt"
mss=$(awk '/^l2tpv3d_session_mss_clamped_total\{tunnel="1"/ { print $2 }' "$OUT/metrics.txt")
log "r2 session of tunnel 1: mss_clamped $mss"
(( mss >= 1 ))
_expect "status mss_clamped = metrics" "$(jqs r2 '.tunnels[0].sessions[0].mss_clamped')" "$mss"
# the static session: static-up, its counters
grep -qx 'l2tpv3d_session_state{tunnel="2",session="8194",state="static-up"} 1' "$OUT/metrics.txt"
grep -qx 'l2tpv3d_session_state{tunnel="2",session="8194",state="static-idle"} 0' "$OUT/metrics.txt"
grep -qx 'l2tpv3d_session_up{tunnel="2",session="8194"} 1' "$OUT/metrics.txt"
grep -qx 'l2tpv3d_session_rx_drops_total{tunnel="2",session="8194",reason="cookie"} 0' "$OUT/metrics.txt"
# `dataplane fastpath` is off (the default): both sessions on the data
# thread only, in the metrics and in the status
grep -qx 'l2tpv3d_session_fastpath{tunnel="2",session="8194"} 0' "$OUT/metrics.txt"
grep -qE '^l2tpv3d_session_fastpath\{tunnel="1",session="[0-9]+"\} 0$' "$OUT/metrics.txt"
_expect "r2 status fastpath" "$(jqs r2 '[.tunnels[].sessions[].fastpath | tostring] | join(" ")')" "false false"
srx=$(awk '/^l2tpv3d_session_rx_packets_total\{tunnel="2",session="8194"\}/ { print $2 }' "$OUT/metrics.txt")
stx=$(awk '/^l2tpv3d_session_tx_packets_total\{tunnel="2",session="8194"\}/ { print $2 }' "$OUT/metrics.txt")
log "r2 static session 8194: rx_packets $srx, tx_packets $stx"
(( srx >= 5 && stx >= 5 ))
(( $(jqs r2 '.tunnels[1].sessions[0].rx_packets') >= srx ))
rx=$(awk '/^l2tpv3d_session_rx_packets_total\{tunnel="1"/ { print $2 }' "$OUT/metrics.txt")
txb=$(awk '/^l2tpv3d_session_tx_bytes_total\{tunnel="1"/ { print $2 }' "$OUT/metrics.txt")
log "r2 session: rx_packets $rx, tx_bytes $txb"
(( rx >= 5 && txb >= 5 * 98 ))
# the same numbers as l2tpctl's
(( $(jqs r2 '.tunnels[0].sessions[0].rx_packets') >= rx ))
# only /metrics, only GET/HEAD
[[ $(nq r2 curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9101/) == 404 ]]
[[ $(nq r2 curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9101/metrics) == 405 ]]
# off by default: nothing listens in r1
fails nq r1 curl -sf http://127.0.0.1:9101/metrics

log "--- Prometheus scrapes r2 every second"
mkdir -p "$RUN/prometheus"
cat >"$OUT/prometheus.yml" <<-EOT
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: l2tpv3d
    static_configs:
      - targets: ['127.0.0.1:9101']
EOT
promtool check config "$OUT/prometheus.yml"
nbg r2 prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$RUN/prometheus" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn >"$OUT/prometheus.log" 2>&1
BG_PIDS+=("$!")
query() {
	nq r2 curl -sf --get --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query
}
rx_seen() {
	query 'l2tpv3d_session_rx_packets_total{tunnel="1"}' |
		jq -e '.status == "success" and (.data.result[0].value[1] | tonumber) > 0'
}
wait_for "Prometheus has l2tpv3d_session_rx_packets_total > 0" 60 rx_seen
query 'l2tpv3d_session_rx_packets_total{tunnel="1"}' | tee "$OUT/query-rx.json" | jq -c '.data.result' >&2
query 'l2tpv3d_tunnel_up{tunnel="1"}' | tee "$OUT/query-up.json" |
	jq -e '.data.result[0].value[1] == "1" and .data.result[0].metric.job == "l2tpv3d"' >/dev/null
query 'up{job="l2tpv3d"}' | jq -e '.data.result[0].value[1] == "1"' >/dev/null
log "ok: Prometheus answers l2tpv3d_session_rx_packets_total > 0 and l2tpv3d_tunnel_up == 1"

log "--- a reload moves the endpoint; the tunnel stays up"
sed -i 's/^metrics listen 127.0.0.1:9101$/metrics listen 127.0.0.1:9102/' "$OUT/r2.conf"
nq r2 "$L2TPCTL" -S "$(sock r2)" reload | tee "$OUT/reload.txt"
grep -qx "tunnel 1: unchanged" "$OUT/reload.txt"
n r2 curl -sSf http://127.0.0.1:9102/metrics >"$OUT/metrics-9102.txt"
grep -qx 'l2tpv3d_tunnel_up{tunnel="1"} 1' "$OUT/metrics-9102.txt"
fails nq r2 curl -sf http://127.0.0.1:9101/metrics
sed -i 's/^metrics listen 127.0.0.1:9102$/metrics listen 127.0.0.1:9101/' "$OUT/r2.conf"
nq r2 "$L2TPCTL" -S "$(sock r2)" reload >/dev/null
n r2 curl -sSf http://127.0.0.1:9101/metrics >"$OUT/metrics-back.txt"
grep -qx 'l2tpv3d_tunnel_established_total{tunnel="1"} 1' "$OUT/metrics-back.txt"

stop_daemon r1
# after r1's StopCCN, the next scrapes show the tunnel down
wait_for "Prometheus sees l2tpv3d_tunnel_up == 0" 30 eval \
	"query 'l2tpv3d_tunnel_up{tunnel=\"1\"}' | jq -e '.data.result[0].value[1] == \"0\"'"
stop_daemon r2
