#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `l2tp static probe` (issue 6, point 4): our daemon against itself over a
# static session, site a probing host pb (192.168.30.2) on site b's LAN
# with ARP every second (`l2tp keepalive use on 1 3`), no other traffic.
#
#   [pa: eth0 192.168.30.1/24] --veth-- lan0 [a: br0 = {lan0, tunnel1}]
#      a: u0 198.51.100.1/24 --veth-- u0 198.51.100.2/24 :b
#   [pb: eth0 192.168.30.2/24] --veth-- lan0 [b: br0 = {lan0, tunnel1}]
#
# Checked: the probe is answered and the session static-up (status JSON,
# text line, log line, monitor event) with nothing else crossing; the
# probes never reach a's own LAN and leave no neighbour entry in pb; b
# stopped: `down: 3 probes ... unanswered` in the log and the monitor,
# static-idle; b back: up again; a target nobody has: never answered,
# down after 3 although b receives the probes; without CAP_NET_RAW: no
# probe, the reason in the log and the status.
source "$(dirname "$0")/lib.sh"

require_daemon
NAMES=(a b pa pb)
NS=([a]=sp-a-$$ [b]=sp-b-$$ [pa]=sp-pa-$$ [pb]=sp-pb-$$)

for ns in "${NAMES[@]}"; do
	ip netns add "${NS[$ns]}"
	nq "$ns" ip link set lo up
	nq "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add u0 netns "${NS[a]}" type veth peer name u0 netns "${NS[b]}"
for s in a b; do
	ip link add lan0 netns "${NS[$s]}" type veth peer name eth0 netns "${NS[p$s]}"
	nq "$s" ip link add br0 type bridge
	nq "$s" ip link set lan0 master br0
	nq "$s" ip link set lan0 up
	nq "$s" ip link set br0 up
	nq "$s" ip link set u0 up
	nq "p$s" ip link set eth0 up
done
nq a ip addr add 198.51.100.1/24 dev u0
nq b ip addr add 198.51.100.2/24 dev u0
nq pa ip addr add 192.168.30.1/24 dev eth0
nq pb ip addr add 192.168.30.2/24 dev eth0

# conf LOCAL REMOTE LOCAL-SID REMOTE-SID [PROBE]
conf() {
	cat <<EOF
bridge member br0 lan0 tunnel1
tunnel select 1
 tunnel encapsulation l2tpv3-raw
 tunnel endpoint address $1 $2
 l2tp static session $3 $4
${5:+ l2tp static probe $5
} l2tp keepalive use on 1 3
 tunnel enable 1
l2tp service on l2tpv3
EOF
}
conf 198.51.100.1 198.51.100.2 100 200 192.168.30.2 >"$OUT/a.conf"
conf 198.51.100.2 198.51.100.1 200 100 >"$OUT/b.conf"

ctl_a() { nq a "$L2TPCTL" -S "$(sock a)" "$@"; }
sj() { jqs a ".tunnels[0].sessions[0].$1"; }
probe_is() { [[ $(sj probe_state) == "$1" ]]; }
state_is() { [[ $(sj state) == "$1" ]]; }
count_in() { grep -c -- "$1" "$2" || true; }

start_daemon b "$OUT/b.conf"
capture_start pa eth0 "$OUT/pa.pcap"
start_daemon a "$OUT/a.conf"
nbg a "$L2TPCTL" -S "$(sock a)" monitor >"$OUT/monitor.txt" 2>"$OUT/monitor.err"
BG_PIDS+=($!)
wait_for "monitor connected" 5 eval "[[ \$(nq a ss -xH state connected src $(sock a) | wc -l) -ge 1 ]]"

log "--- the probe keeps an idle session static-up"
wait_for "probe answered" 5 probe_is up
state_is static-up
[[ $(sj probe_target) == 192.168.30.2 ]]
grep -q "tunnel 1: probing 192.168.30.2 across the static session every 1 s (down after 3 unanswered)" \
	"$(daemon_log a)"
wait_for "log: static session up" 5 grep -q "tunnel 1: static session up: probe 192.168.30.2 answered$" \
	"$(daemon_log a)"
sleep 3 # a few more probes
status_json a >"$OUT/status-up.json"
status_text a >"$OUT/status-up.txt"
cat "$OUT/status-up.txt" >&2
sent=$(jq -r '.tunnels[0].sessions[0].probe_sent' "$OUT/status-up.json")
answered=$(jq -r '.tunnels[0].sessions[0].probe_answered' "$OUT/status-up.json")
ago=$(jq -r '.tunnels[0].sessions[0].probe_last_answer_ago' "$OUT/status-up.json")
log "probes: $sent sent, $answered answered, last answer $ago s ago"
(( sent >= 4 && answered >= sent - 1 && ago <= 1 ))
[[ $(jq -r '.tunnels[0].sessions[0].probe_error' "$OUT/status-up.json") == "" ]]
grep -qE '^    Session state: static-up \(probe 192\.168\.30\.2 answered [01] s ago, data seen [0-9]+ s ago\)$' \
	"$OUT/status-up.txt"
# each probe and its answer are one frame each way, nothing else crosses
rx=$(jq -r '.tunnels[0].sessions[0].rx_packets' "$OUT/status-up.json")
tx=$(jq -r '.tunnels[0].sessions[0].tx_packets' "$OUT/status-up.json")
(( tx >= sent - 1 && tx <= sent + 2 && rx >= answered - 1 && rx <= answered + 2 ))
log "ok: static-up by the probe alone; log and status agree"
# The probe goes only into the tunnel: pa's LAN never sees it, and an RFC
# 5227 probe (sender 0.0.0.0) teaches pb no neighbour.
capture_stop "$OUT/pa.pcap"
[[ $(tshark -n -r "$OUT/pa.pcap" -Y 'arp.src.proto_ipv4 == 0.0.0.0' 2>/dev/null | wc -l) == 0 ]]
[[ $(nq pb ip -4 neigh show dev eth0 | grep -c lladdr || true) == 0 ]]
log "ok: no probe on a's own LAN, no neighbour entry in pb"

log "--- b stops: the probe goes unanswered"
stop_daemon b
wait_for "probe down" 8 probe_is down
wait_for "log: static session down" 2 grep -q \
	"tunnel 1: static session down: 3 probes to 192.168.30.2 unanswered$" "$(daemon_log a)"
wait_for "static-idle once the data window passed too" 5 state_is static-idle
status_text a >"$OUT/status-down.txt"
grep -qE '^    Session state: static-idle \(probe 192\.168\.30\.2: [0-9]+ unanswered, data seen [0-9]+ s ago\)$' \
	"$OUT/status-down.txt"
grep -qE "^[0-9:.]+ tunnel 1: probe-down session 100/200, peer 198\.51\.100\.2:1701: 3 probes to 192\.168\.30\.2 unanswered$" \
	"$OUT/monitor.txt"
log "ok: static session down after 3 unanswered probes"

log "--- b returns: up again"
start_daemon b "$OUT/b.conf"
wait_for "probe answered again" 5 probe_is up
state_is static-up
[[ $(count_in "static session up: probe 192.168.30.2 answered" "$(daemon_log a)") == 2 ]]
[[ $(count_in "static session down:" "$(daemon_log a)") == 1 ]]
wait_for "monitor: probe-up" 2 grep -qE \
	"^[0-9:.]+ tunnel 1: probe-up session 100/200, peer 198\.51\.100\.2:1701: probe 192\.168\.30\.2 answered$" \
	"$OUT/monitor.txt"
log "ok: up again once b is back"

log "--- a target nobody has: never answered"
conf 198.51.100.1 198.51.100.2 100 200 192.168.30.9 >"$OUT/a.conf"
ctl_a reload >"$OUT/reload.txt"
grep -qx "tunnel 1: restarted (settings changed)" "$OUT/reload.txt"
wait_for "probe of 192.168.30.9 down" 8 probe_is down
grep -q "tunnel 1: static session down: 3 probes to 192.168.30.9 unanswered$" "$(daemon_log a)"
[[ $(status_json a | jq -r '.tunnels[0].sessions[0] | "\(.probe_answered) \(.probe_last_answer_ago)"') == "0 null" ]]
wait_for "static-idle: b gets the probes, a gets nothing back" 5 state_is static-idle
(( $(jqs b '.tunnels[0].sessions[0].rx_packets') >= 3 ))
log "ok: an unanswered target keeps the session static-idle"

log "--- without CAP_NET_RAW: no probe, and it says why"
stop_daemon a
cat >"$RUN/l2tpv3d-capped" <<WRAP
#!/bin/sh
exec setpriv --bounding-set=-all,+net_admin,+net_bind_service --no-new-privs -- "$L2TPV3D" "\$@"
WRAP
chmod +x "$RUN/l2tpv3d-capped"
conf 198.51.100.1 198.51.100.2 100 200 192.168.30.2 >"$OUT/a.conf"
L2TPV3D_REAL=$L2TPV3D
L2TPV3D=$RUN/l2tpv3d-capped
start_daemon a "$OUT/a.conf"
L2TPV3D=$L2TPV3D_REAL
wait_for "log: no probe" 5 grep -q \
	"tunnel 1: no probe of 192.168.30.2: cannot open a packet socket on tunnel1: Operation not permitted (needs CAP_NET_RAW and AF_PACKET, see l2tpv3d(8))" \
	"$(daemon_log a)"
[[ $(sj probe_state) == off && $(sj probe_error) == *"Operation not permitted"* ]]
status_text a | grep -qE '^    Session state: static-(idle|up) \(probe 192\.168\.30\.2 not running, '
log "ok: without CAP_NET_RAW the status and the log say why"
stop_daemon a
stop_daemon b
