#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A hub: one responder tunnel with `l2tp hub on 20` serves 20 initiators
# that share its secret and end-id but have their own Router IDs, each in
# its own control connection, session and TAP port (tunnel1.P) on the
# hub's bridge.  A 21st is refused (hub full).
#
#   s1 .. s21: l2tpv3d initiators, WAN 198.51.100.(10+i)/24,
#              bridge1 = {tunnel1} with 192.168.10.(100+i)/24
#        |  (veths on one bridge in namespace wan)
#   hub: WAN 198.51.100.1/24, bridge1 = {tunnel1, tunnel1.1 .. tunnel1.20}
#        with 192.168.10.1/24
#
# Checks: all 20 established concurrently (started at once), every
# instance has its own peer Router ID and TAP, pings from several sites to
# the hub and between two sites (one broadcast domain through the hub's
# bridge); a restarted site (same Router ID) replaces only its own
# instance; an unchanged reload keeps every connection; the 21st site is
# refused with a log line saying the hub is full.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hub_lib.sh"

require_daemon
SITES=20
hub_topology $((SITES + 1))

conf_hub $SITES >"$OUT/hub.conf"
start_daemon hub "$OUT/hub.conf"

t0=$(date +%s)
for (( i = 1; i <= SITES; i++ )); do
	launch "s$i"
done
wait_for "$SITES instances established on the hub" 60 hub_up $SITES
for (( i = 1; i <= SITES; i++ )); do
	wait_for "s$i established" 10 up "s$i"
done
log "all $SITES sites up $(( $(date +%s) - t0 )) s after they were started"

# one entry per peer: own Router ID, index, TAP port on the bridge
_expect "distinct peer Router IDs on the hub" \
	"$(jqs hub '[.tunnels[] | select(.peer_index) | .peer_router_id] | unique | length')" $SITES
_expect "distinct peer indexes" \
	"$(jqs hub '[.tunnels[] | select(.peer_index) | .peer_index] | unique | length')" $SITES
_expect "template entry" "$(jqs hub '[.tunnels[] | select(.peer_index | not)] | length')" 1
_expect "TAP ports tunnel1.P on the hub's bridge" \
	"$(nq hub ip -o link show master bridge1 | grep -cE '^[0-9]+: tunnel1\.[0-9]+[:@]')" $SITES
status_text hub | grep -q "^TUNNEL\[1\] peer 20 (tunnel1.20):"

for i in 1 5 10 15 20; do
	ping_ok "s$i" 192.168.10.1 3
done
# site to site through the hub's bridge
ping_ok s3 192.168.10.117 3

# an unchanged reload keeps every connection
ids() { jqs hub '[.tunnels[] | select(.peer_index) | "\(.peer_router_id) \(.peer_index) \(.local_tunnel_id)"] | sort | join(",")'; }
before=$(ids)
nq hub "$L2TPCTL" -S "$(sock hub)" reload | tee "$OUT/reload.txt"
grep -qx "tunnel 1: unchanged" "$OUT/reload.txt"
hub_up $SITES
_expect "hub's instances after an unchanged reload" "$(ids)" "$before"

# s7 restarts (killed: no StopCCN): its next SCCRQ replaces its instance
rid7=10.0.0.7
inst7() { jqs hub ".tunnels[] | select(.peer_router_id == \"$rid7\") | \"\(.peer_index) \(.local_tunnel_id)\""; }
old7=$(inst7)
others() { ids | tr ',' '\n' | grep -v "^$rid7 " | tr '\n' ','; }
others_before=$(others)
kill_daemon s7
launch s7
s7_replaced() {
	local now
	now=$(inst7)
	[[ ${now%% *} == "${old7%% *}" && ${now#* } != "${old7#* }" ]] && up s7 && hub_up $SITES
}
wait_for "s7's instance replaced (same index, new connection)" 30 s7_replaced
_expect "the other instances" "$(others)" "$others_before"
# (issue 16: its new connection, beside the old one, took the session over
# once established, and carries on as the instance's own)
grep -qE "tunnel 1\.7#[0-9]+: pseudowire 1 moves here from tunnel 1\.7 " "$(daemon_log hub)"
ping_ok s7 192.168.10.1 3

# the 21st: refused, the hub says it is full
launch s21
wait_for "s21 refused: the hub is full" 20 grep -q "router id 10.0.0.21).*the hub is full" "$(daemon_log hub)"
fails up s21
hub_up $SITES

stop_daemon hub
for i in 1 7 21; do
	stop_daemon "s$i"
done
