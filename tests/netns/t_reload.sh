#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Reload without dropping (issue 7, point 2).  A ping runs every 50 ms from
# pc1 to pc2 while r1 reloads through `l2tpctl reload` and r2 through
# SIGHUP with unchanged configurations, and r1 is asked to reload a broken
# one: not one ping may be lost, the tunnel and session IDs stay, the
# counters keep counting, and the broken file is reported with file:line
# by a failing `l2tpctl reload`.  Then a changed tunnel (r1's hostname) is
# restarted, a second tunnel added on both sides comes up beside the first,
# and removing it sends a StopCCN and deletes its TAP.  `dataplane
# fastpath on` added by a reload is reported as needing a restart; after
# one, the daemon says whether the fast path loaded and frames still flow.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
start_pair

ctl() { local ns=$1; shift; nq "$ns" "$L2TPCTL" -S "$(sock "$ns")" "$@"; }
ids() {
	jqs "$1" '.tunnels[] | select(.id == 1) |
		"\(.local_tunnel_id) \(.remote_tunnel_id) \(.sessions[0].local_session_id) \(.sessions[0].remote_session_id)"'
}
rxtx() { jqs "$1" '.tunnels[] | select(.id == 1) | .sessions[0] | "\(.rx_packets) \(.tx_packets)"'; }
applied() { grep -c "reload: .* applied" "$(daemon_log "$1")" || true; }
# tstate NS ID: state of tunnel ID in NS ("none" if absent)
tstate() { jqs "$1" "([.tunnels[] | select(.id == $2) | .state] + [\"none\"])[0]"; }

wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2
ids1_before=$(ids r1)
ids2_before=$(ids r2)
read -r rx_before tx_before <<<"$(rxtx r1)"

log "--- unchanged reloads and a broken one, under a 50 ms ping"
PINGS=160 # 8 s
nbg pc1 ping -n -i 0.05 -c "$PINGS" -W 2 192.168.10.2 >"$OUT/ping.txt" 2>&1
ping_pid=$!
BG_PIDS+=("$ping_pid")
sleep 0.5 # some pings before the first reload (an observation window, not a wait for state)

ctl r1 reload | tee "$OUT/reload-unchanged.txt"
grep -qx "tunnel 1: unchanged" "$OUT/reload-unchanged.txt"
grep -qx "reload: ok" "$OUT/reload-unchanged.txt"

n_applied=$(applied r2)
kill -HUP "${DAEMON_PID[r2]}"
wait_for "r2 applied its SIGHUP reload" 5 eval '(( $(applied r2) > n_applied ))'

# A broken configuration: the running one must stay.
cp "$OUT/r1.conf" "$OUT/r1.conf.good"
{ cat "$OUT/r1.conf.good"; echo "l2tp keepalive use sometimes"; echo "frobnicate the tunnels"; } >"$OUT/r1.conf"
bad_line=$(( $(wc -l <"$OUT/r1.conf.good") + 1 ))
rc=0
ctl r1 reload >"$OUT/reload-broken.out" 2>"$OUT/reload-broken.err" || rc=$?
cat "$OUT/reload-broken.err" >&2
(( rc == 1 ))
grep -q "^$OUT/r1.conf:$bad_line: error: " "$OUT/reload-broken.err"
grep -q "^$OUT/r1.conf:$(( bad_line + 1 )): error: 'frobnicate the tunnels': unknown command" "$OUT/reload-broken.err"
grep -q "running configuration kept" "$OUT/reload-broken.err"
ctl r1 -j reload >"$OUT/reload-broken.json" 2>/dev/null || true
jq -e '.errno == 22 and (.report | length) >= 3' "$OUT/reload-broken.json" >/dev/null
grep -q "reload: $OUT/r1.conf:$bad_line: error" "$(daemon_log r1)"
# the running configuration is still the good one
ctl r1 show config >"$OUT/running.conf"
grep -q "l2tp keepalive use on 1 3" "$OUT/running.conf"
cp "$OUT/r1.conf.good" "$OUT/r1.conf"
ctl r1 reload >/dev/null
# the same through SIGHUP on r2: reported in the log only
cp "$OUT/r2.conf" "$OUT/r2.conf.good"
echo "tunnel select banana" >>"$OUT/r2.conf"
kill -HUP "${DAEMON_PID[r2]}"
wait_for "r2 logs the broken file and keeps running" 5 \
	grep -q "reload: $OUT/r2.conf has errors; running configuration kept" "$(daemon_log r2)"
grep -q "reload: $OUT/r2.conf:$(wc -l <"$OUT/r2.conf"): error: 'tunnel select banana'" "$(daemon_log r2)"
cp "$OUT/r2.conf.good" "$OUT/r2.conf"

# all of that happened while the ping was still running
kill -0 "$ping_pid"
wait "$ping_pid" || true
cat "$OUT/ping.txt" | tail -3 >&2
grep -q "^$PINGS packets transmitted, $PINGS received," "$OUT/ping.txt"
log "ok: $PINGS/$PINGS pings answered across the reloads"
[[ $(ids r1) == "$ids1_before" ]]
[[ $(ids r2) == "$ids2_before" ]]
read -r rx_after tx_after <<<"$(rxtx r1)"
log "r1 session counters: rx $rx_before -> $rx_after, tx $tx_before -> $tx_after"
(( rx_after >= rx_before + PINGS && tx_after >= tx_before + PINGS ))
log "ok: same tunnel and session IDs ($ids1_before), counters kept counting"

log "--- a changed tunnel is restarted"
sed -i 's/l2tp hostname RT1$/l2tp hostname RT1-new/' "$OUT/r1.conf"
ctl r1 reload | tee "$OUT/reload-changed.txt"
grep -qx "tunnel 1: restarted (settings changed)" "$OUT/reload-changed.txt"
wait_for "r2 sees the new host name" 20 eval '[[ $(jqs r2 ".tunnels[0].peer_host_name") == RT1-new ]]'
wait_for "r1 and r2 paired again" 20 paired
[[ $(ids r1) != "$ids1_before" ]]
grep -q "tunnel 1: sent StopCCN to " "$(daemon_log r1)"
grep -q "tunnel 1: received StopCCN from " "$(daemon_log r2)"
wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2

log "--- a second tunnel is added on both sides"
cp "$OUT/r1.conf" "$OUT/r1.conf.one"
cp "$OUT/r2.conf" "$OUT/r2.conf.one"
cat >>"$OUT/r1.conf" <<-EOT
tunnel select 2
 tunnel encapsulation l2tpv3-raw
 tunnel endpoint address 192.168.2.10 203.0.113.2
 l2tp always-on on
 l2tp hostname RT1-two
 l2tp tunnel auth on second-secret
 l2tp keepalive use $KEEPALIVE
 l2tp syslog on
 l2tp local router-id 192.168.2.11
 l2tp remote router-id 192.168.2.20
 l2tp remote end-id two
 tunnel enable 2
EOT
cat >>"$OUT/r2.conf" <<-EOT
tunnel select 2
 tunnel encapsulation l2tpv3-raw
 l2tp hostname RT2-two
 l2tp tunnel auth on second-secret
 l2tp keepalive use $KEEPALIVE
 l2tp syslog on
 l2tp local router-id 192.168.2.20
 l2tp remote router-id 192.168.2.11
 l2tp remote end-id two
 tunnel enable 2
EOT
ids1_before=$(ids r1)
ctl r2 reload | tee "$OUT/reload-add-r2.txt"
grep -qx "tunnel 2: started (new)" "$OUT/reload-add-r2.txt"
grep -qx "tunnel 1: unchanged" "$OUT/reload-add-r2.txt"
ctl r1 reload | tee "$OUT/reload-add-r1.txt"
grep -qx "tunnel 2: started (new)" "$OUT/reload-add-r1.txt"
wait_for "tunnel 2 established on r1" 20 eval '[[ $(tstate r1 2) == established ]]'
wait_for "tunnel 2 established on r2" 5 eval '[[ $(tstate r2 2) == established ]]'
nq r1 ip link show tunnel2 >/dev/null
[[ $(ids r1) == "$ids1_before" ]]
ping_ok pc1 192.168.10.2 3

log "--- the second tunnel is removed from r1"
cp "$OUT/r1.conf.one" "$OUT/r1.conf"
ctl r1 reload | tee "$OUT/reload-remove.txt"
grep -qx "tunnel 2: removed" "$OUT/reload-remove.txt"
wait_for "r2's tunnel 2 leaves established (StopCCN)" 5 eval '[[ $(tstate r2 2) != established ]]'
wait_for "r1 deleted tunnel2's TAP" 5 eval '! nq r1 ip link show tunnel2'
wait_for "tunnel 2 gone from r1's status" 5 eval '[[ $(tstate r1 2) == none ]]'
grep -q "tunnel 2: sent StopCCN to " "$(daemon_log r1)"
grep -q "tunnel 2: received StopCCN from " "$(daemon_log r2)"
grep -q "tunnel 2: removed (TAP tunnel2 deleted)" "$(daemon_log r1)"
[[ $(ids r1) == "$ids1_before" ]]
ping_ok pc1 192.168.10.2 3

log "--- dataplane realtime: on by default, off and back on by reload"
# fifo NS: the scheduling class and priority of NS's data thread ("FF 10")
fifo() { ps -L -o cls=,rtprio= -p "${DAEMON_PID[$1]}" | awk '$1 == "FF"' | xargs; }
_expect "r1 dataplane_realtime" "$(jqs r1 .dataplane_realtime)" 10
_expect "r1 data thread" "$(fifo r1)" "FF 10"
grep -q "data path thread: SCHED_FIFO priority 10" "$(daemon_log r1)"
echo "dataplane realtime off" >>"$OUT/r1.conf"
ctl r1 reload >/dev/null
_expect "r1 dataplane_realtime after 'off'" "$(jqs r1 .dataplane_realtime)" 0
_expect "r1 FIFO threads after 'off'" "$(fifo r1)" ""
sed -i 's/^dataplane realtime off$/dataplane realtime on 20/' "$OUT/r1.conf"
ctl r1 reload >/dev/null
_expect "r1 data thread after 'on 20'" "$(fifo r1)" "FF 20"
[[ $(ids r1) == "$ids1_before" ]]
ping_ok pc1 192.168.10.2 3

log "--- dataplane fastpath: read at start; a reload says it needs a restart"
# fp NS: each session's "fastpath" of NS's status
fp() { jqs "$1" '[.tunnels[].sessions[].fastpath | tostring] | join(" ")'; }
_expect "r1 fastpath (off by default)" "$(fp r1)" "false"
echo "dataplane fastpath on" >>"$OUT/r1.conf"
ctl r1 reload | tee "$OUT/reload-fastpath.txt"
grep -qx "dataplane fastpath: on at the next restart (a reload does not change it)" "$OUT/reload-fastpath.txt"
grep -qx "tunnel 1: unchanged" "$OUT/reload-fastpath.txt"
grep -q "reload: 'dataplane fastpath on' takes effect at the next restart" "$(daemon_log r1)"
[[ $(ids r1) == "$ids1_before" ]]
_expect "r1 fastpath after the reload" "$(fp r1)" "false"
ping_ok pc1 192.168.10.2 3
log "--- restarted with it: the fast path loads (this kernel has BPF and tc clsact) and carries the session"
stop_daemon r1
start_daemon r1 "$OUT/r1.conf"
wait_for "tunnel and session established between r1 and r2 again" 30 paired
grep -q "data path: kernel fast path on ('dataplane fastpath')" "$(daemon_log r1)"
# this topology is the reference scenario: r1's tunnel leaves from an inside
# address through r1's own masquerade, whose mapping the fast path writes
# itself (t_fastpath case h)
_expect "r1 fastpath after the restart" "$(fp r1)" "true"
ping_ok pc1 192.168.10.2 3
# the configuration as started: nothing to say about it on a reload
ctl r1 reload | tee "$OUT/reload-fastpath2.txt"
fails grep -q "fastpath" "$OUT/reload-fastpath2.txt"

stop_daemon r1
stop_daemon r2
