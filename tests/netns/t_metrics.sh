#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Prometheus endpoint (issue 7, point 5).  r2's configuration gets
# `metrics listen 127.0.0.1:9101`; r1's has none (off by default).  After
# pings across the tunnel, /metrics is fetched with curl and linted with
# `promtool check metrics`, then Debian's real Prometheus server, run in
# r2's namespace and scraping every second, must answer queries for the
# session's received packets (> 0) and the tunnel's state (1).
source "$(dirname "$0")/lib.sh"

require_daemon
for b in prometheus promtool curl; do
	command -v "$b" >/dev/null || { log "missing $b (run scripts/deps.sh)"; false; }
done
topo_create
conf_r2 >"$OUT/r2.conf"
echo "metrics listen 127.0.0.1:9101" >>"$OUT/r2.conf"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1
wait_for "tunnel and session established between r1 and r2" 30 paired
ping_ok pc1 192.168.10.2 5

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
rx=$(awk '/^l2tpv3d_session_rx_packets_total/ { print $2 }' "$OUT/metrics.txt")
txb=$(awk '/^l2tpv3d_session_tx_bytes_total/ { print $2 }' "$OUT/metrics.txt")
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
