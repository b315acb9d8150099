#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A branch's new connection to a hub that outlives the old one while it is
# still being set up (bench/soak seed 318579: a branch reconnected during
# 40 % loss, and at the end it was established while the hub showed that
# peer's instance idle).
#
#   s1: l2tpv3d initiator 198.51.100.11, keepalive 1 s x 3
#   hub: `l2tp hub on 4`, keepalive 3 s x 3 (it notices a silent peer
#        about 10 s after s1 does: the window in which s1's new connection
#        is set up beside the old one is wide, not a race of the test)
#   both: digest auth (hub_lib.sh)
#
# Deterministic sequence, by dropping what the hub sends to s1 (nftables
# in the hub's namespace):
#  1. s1's HELLOs go unanswered: it gives up the connection (no StopCCN:
#     the peer is not responding) and calls again; its new SCCRQ reaches
#     the hub while the hub's instance still has the old connection, so
#     the new one is set up beside it (tunnel 1.P#2), its SCCRP lost;
#  2. the old connection goes idle on the hub (nothing heard for 4 s)
#     while the new one still waits for its SCCCN;
#  3. the drop is lifted: the new connection is established and its
#     session comes up.
# Checks: the hub's instance for s1 is the established one again (it
# carries on with the new connection, as after a session move), IDs
# paired with s1's, no extra connection left, the log says so, pings
# cross.  Then (4) `l2tp hub hold 0`, s1 killed and restarted (a
# connection left beside the instance) and stopped: the instance goes,
# after that connection, and the hub stays up.  Before the fix the instance stayed idle beside an established
# extra connection, and the status showed the peer down at the hub.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hub_lib.sh"

require_daemon
hub_topology 1

KEEPALIVE="on 3 3" conf_hub 4 >"$OUT/hub.conf"
start_daemon hub "$OUT/hub.conf"
launch s1
wait_for "s1 established" 30 up s1
wait_for "the hub's instance for s1 established" 10 hub_up 1
ping_ok s1 192.168.10.1 2

inst() { jqs hub '.tunnels[] | select(.peer_router_id == "10.0.0.1" and .peer_index != null)' ; }
extra() { jqs hub '[.tunnels[] | select(.connection != null)] | length'; }
old=$(inst | jq -r .local_tunnel_id)
log "hub instance for s1: local tunnel id $old"

# 1. everything the hub sends to s1 is lost
nq hub nft -f - <<-EOF
	table inet takeover {
		chain out {
			type filter hook output priority 0; policy accept;
			ip daddr 198.51.100.11 meta l4proto udp counter drop
		}
	}
EOF
beside_waiting() {
	jqs hub '[.tunnels[] | select(.connection != null and .state == "wait-ctl-conn")] | length == 1' >/dev/null
}
wait_for "s1 gave up and called again: a new connection beside the old one on the hub" 20 beside_waiting
_expect "the old connection still established on the hub" "$(inst | jq -r .state)" established
# 2. the old connection goes idle (keepalive) while the new one waits
wait_for "the hub's old connection gone idle" 30 \
	jqs hub '.tunnels[] | select(.peer_router_id == "10.0.0.1" and .peer_index != null) | select(.state == "idle")'
beside_waiting
# 3. the path is back
nq hub nft list table inet takeover >"$OUT/nft.txt"
nq hub nft delete table inet takeover
log "dropped: $(grep -o 'counter packets [0-9]* bytes [0-9]*' "$OUT/nft.txt")"

# s1 paired with the hub's instance (not an extra connection beside it)
paired_hub() {
	local a h
	a=$(status_json s1) && h=$(status_json hub) || return 1
	jq -en --argjson a "$a" --argjson h "$h" '
		$a.tunnels[0] as $t |
		[$h.tunnels[] | select(.peer_index != null and .peer_router_id == "10.0.0.1")] as $i |
		($i | length) == 1 and $i[0] as $u |
		$t.state == "established" and $u.state == "established" and
		$t.remote_tunnel_id == $u.local_tunnel_id and $u.remote_tunnel_id == $t.local_tunnel_id and
		$t.sessions[0].state == "established" and $u.sessions[0].state == "established" and
		$t.sessions[0].remote_session_id == $u.sessions[0].local_session_id and
		$u.sessions[0].remote_session_id == $t.sessions[0].local_session_id and
		([$h.tunnels[] | select(.connection != null)] | length) == 0' >/dev/null
}
if ! wait_for "s1 paired with the hub's instance" 30 paired_hub; then
	status_text hub >&2
	status_text s1 >&2
	false
fi
new=$(inst | jq -r .local_tunnel_id)
log "hub instance for s1: local tunnel id $old -> $new"
(( new != old ))
_expect "extra connections on the hub" "$(extra)" 0
grep -q "the connection of tunnel 1\.[0-9]*#2 .* carries on as the tunnel's own" "$(daemon_log hub)"
ping_ok s1 192.168.10.1 3

# 4. `l2tp hub hold 0` (a reload, no connection closed), s1 killed and
# started again: its new connection replaces the old one, which stays
# beside the instance while its StopCCN is retransmitted to a peer that no
# longer knows it; s1 then stops for good.  The instance, parked, is
# deleted at once, but not before the connection beside it: freeing it
# under that connection crashed the hub (found by t_ipsec_hub).
sed -i 's/^ l2tp hub on.*/&\n l2tp hub hold 0/' "$OUT/hub.conf"
grep -q '^ l2tp hub hold 0$' "$OUT/hub.conf"
nq hub "$L2TPCTL" -S "$(sock hub)" reload | tee "$OUT/reload-hold0.txt"
grep -q "tunnel 1: unchanged" "$OUT/reload-hold0.txt"
kill_daemon s1
launch s1
beside_closing() { jqs hub '[.tunnels[] | select(.connection != null)] | length >= 1' >/dev/null; }
wait_for "s1 back: its new connection up, the old one beside it on the hub" 30 \
	eval 'up s1 && hub_up 1 && beside_closing' ||
	{ status_text hub >&2; false; }
stop_daemon s1
wait_for "the hub's instance for s1 and the connection beside it gone" 60 \
	jqs hub '[.tunnels[] | select(.peer_index != null or .connection != null)] | length == 0'
status_json hub >/dev/null
grep -q "peer gone for 0 s: instance removed" "$(daemon_log hub)"
log "ok: hold 0: the instance deleted after the connection beside it, the hub still answers"

stop_daemon hub
