#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# l2tpctl, command by command, against the scenario's daemons (issue 7,
# point 3), and the log lines of tunnel and session events (point 4):
# show status l2tp (English, Japanese, JSON), show config (text = l2tpv3d
# -nv, JSON), tunnel down/up (StopCCN, no always-on while down), clear
# counters, monitor (text and JSON, events of a down/up), reload; the
# errors: no daemon, no permission, bad words, unknown tunnel, bad requests
# on the socket, a silent client that must not stall the daemon.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
start_pair
wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2

ctl() { local ns=$1; shift; nq "$ns" "$L2TPCTL" -S "$(sock "$ns")" "$@"; }
raw() { nq "$1" socat -t 5 - "UNIX-CONNECT:$(sock "$1")"; }

log "--- show status l2tp"
ctl r1 show status l2tp >"$OUT/status-en.txt"
grep -qF "L2TP information table" "$OUT/status-en.txt"
grep -qF "Tunnel state: established" "$OUT/status-en.txt"
LANG=ja_JP.UTF-8 LC_ALL= ctl r1 show status l2tp >"$OUT/status-ja.txt"
grep -qF "L2TP情報テーブル" "$OUT/status-ja.txt"
grep -qF "トンネルの状態: established" "$OUT/status-ja.txt"
grep -qF "ホスト名: RT2" "$OUT/status-ja.txt"
ctl r1 sh st l2 | cmp - "$OUT/status-en.txt" >/dev/null || ctl r1 sh st l2 | grep -qF "L2TP information table"
ctl r1 -j show status l2tp | jq -e '.errno == 0 and .tunnels[0].admin == "up"' >/dev/null

log "--- show config"
ctl r1 show config >"$OUT/show-config.txt"
n r1 "$L2TPV3D" -n -v -c "$OUT/r1.conf" 2>/dev/null >"$OUT/nv.txt"
diff -u "$OUT/nv.txt" "$OUT/show-config.txt"
ctl r1 -j show config >"$OUT/show-config.json"
jq -e --rawfile t "$OUT/nv.txt" '.errno == 0 and .text == $t and any(.lines[]; . == " l2tp hostname RT1")' \
	"$OUT/show-config.json" >/dev/null

log "--- monitor (text and JSON) while tunnel 1 goes down and up"
nbg r1 "$L2TPCTL" -S "$(sock r1)" monitor >"$OUT/monitor.txt" 2>>"$OUT/monitor.err"
mon_text=$!
BG_PIDS+=("$mon_text")
nbg r1 "$L2TPCTL" -S "$(sock r1)" -j monitor >"$OUT/monitor.json" 2>>"$OUT/monitor.err"
mon_json=$!
BG_PIDS+=("$mon_json")
# both are registered once the daemon has answered them (the reply line is
# not printed); a status request after they connected is served after them
wait_for "both monitors connected" 5 eval "[[ \$(nq r1 ss -xH state connected src $(sock r1) | wc -l) -ge 2 ]]"

ctl r1 tunnel down 1 | tee "$OUT/down.txt"
grep -qx "tunnel 1 down: ok" "$OUT/down.txt"
wait_for "r2 leaves established after r1's StopCCN" 3 not_established r2
grep -q "tunnel 1: sent StopCCN to 203.0.113.2:1701" "$(daemon_log r1)"
[[ $(jqs r1 '.tunnels[0].admin') == down ]]
# always-on would reconnect within ~1.25 s: administratively down it must not
hold_never "r1 reconnects while administratively down" 3 eval '[[ $(tunnel_state r1) != idle ]]'
ctl r1 -j tunnel up 1 | jq -e '.errno == 0' >/dev/null
wait_for "r1 and r2 paired after tunnel up" 20 paired
wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2

wait_for "monitor printed the tunnel coming back up" 5 grep -q "tunnel 1: session-up" "$OUT/monitor.txt"
cat "$OUT/monitor.txt" >&2
grep -qE "^[0-9:.]+ tunnel 1: admin-down, peer 203\.0\.113\.2:1701$" "$OUT/monitor.txt"
grep -qE "^[0-9:.]+ tunnel 1: session-down session [0-9]+/[0-9]+ \(established -> idle\), peer 203\.0\.113\.2:1701: administratively down$" "$OUT/monitor.txt"
grep -qE "^[0-9:.]+ tunnel 1: tunnel-down \(established -> closing\), peer 203\.0\.113\.2:1701: administratively down$" "$OUT/monitor.txt"
grep -qE "^[0-9:.]+ tunnel 1: admin-up$" "$OUT/monitor.txt"
grep -qE "^[0-9:.]+ tunnel 1: tunnel-up \(wait-ctl-reply -> established\), peer 203\.0\.113\.2:1701: " "$OUT/monitor.txt"
wait_for "JSON monitor has the session up" 5 grep -q '"session-up"' "$OUT/monitor.json"
jq -se 'map(select(.tunnel == 1)) | (map(.event) | index("admin-down")) < (map(.event) | index("tunnel-up"))
	and all(.[]; (.time | type) == "number")' "$OUT/monitor.json" >/dev/null
# Ctrl-C ends it
kill -INT "$mon_text" "$mon_json"
wait_for "monitors end on SIGINT" 5 eval "_pid_gone $mon_text && _pid_gone $mon_json"

log "--- tunnel down on the responder: r1's SCCRQs are refused until tunnel up"
ctl r2 tunnel down 1 >/dev/null
wait_for "r1 leaves established" 3 not_established r1
hold_never "r1 gets the tunnel back while r2 holds it down" 3 paired
grep -qE "warning: SCCRQ from 198\.51\.100\.2:1701 \(host RT1, router id 192\.168\.2\.10\) refused: tunnel 1: administratively down$" "$(daemon_log r2)"
ctl r2 tunnel up 1 >/dev/null
wait_for "r1 and r2 paired after r2's tunnel up (r1's back-off)" 25 paired
wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2

log "--- clear counters"
ping_ok pc1 192.168.10.2 5
rx_before=$(jqs r1 '.tunnels[0].sessions[0].rx_packets')
(( rx_before >= 5 ))
ctl r1 clear counters | grep -qx "clear counters: ok"
rx_cleared=$(jqs r1 '.tunnels[0].sessions[0].rx_packets')
log "r1 rx_packets: $rx_before -> $rx_cleared after clear counters"
(( rx_cleared < rx_before && rx_cleared <= 2 ))
ping_ok pc1 192.168.10.2 3
rx_after=$(jqs r1 '.tunnels[0].sessions[0].rx_packets')
(( rx_after >= rx_cleared + 3 && rx_after < rx_before + 3 ))
# the offload and MSS counters are in the status and cleared too: a SYN
# to a closed port of pc2 is clamped by r1 (`ip tunnel tcp mss limit auto`)
fails nq pc1 timeout 5 bash -c 'exec 3<>/dev/tcp/192.168.10.2/9'
jqs r1 '.tunnels[0].sessions[0] | [.tx_super, .rx_coalesced, .mss_clamped] | all(type == "number")' >/dev/null
mss_before=$(jqs r1 '.tunnels[0].sessions[0].mss_clamped')
(( mss_before >= 1 ))
ctl r1 clear counters >/dev/null
_expect "r1 tx_super rx_coalesced mss_clamped after clear counters" \
	"$(jqs r1 '.tunnels[0].sessions[0] | "\(.tx_super) \(.rx_coalesced) \(.mss_clamped)"')" "0 0 0"
ctl r1 -j clear counters | jq -e '.errno == 0' >/dev/null

log "--- reload"
ctl r1 reload | grep -qx "reload: ok"
ctl r1 -j reload | jq -e '.errno == 0 and (.report | index("tunnel 1: unchanged")) != null' >/dev/null

log "--- errors"
rc=0; ctl r1 tunnel down 99 2>"$OUT/err-tunnel.txt" || rc=$?
(( rc == 1 )); grep -q "no such tunnel" "$OUT/err-tunnel.txt"
rc=0; ctl r1 show bogus 2>"$OUT/err-words.txt" || rc=$?
(( rc == 2 )); grep -q "unknown argument 'bogus'" "$OUT/err-words.txt"; grep -q "valid words: config ipsec status" "$OUT/err-words.txt"
rc=0; ctl r1 tunnel up x 2>"$OUT/err-num.txt" || rc=$?
(( rc == 2 )); grep -q "<tunnel number>" "$OUT/err-num.txt"
rc=0; nq r1 "$L2TPCTL" -S "$RUN/nothing.sock" show status l2tp 2>"$OUT/err-nodaemon.txt" || rc=$?
(( rc == 1 )); grep -q "l2tpv3d is not running (nothing listens on $RUN/nothing.sock)" "$OUT/err-nodaemon.txt"
# socket mode 0660 root:root: another user is refused
[[ $(stat -c %a "$(sock r1)") == 660 ]]
chmod 755 "$RUN"
rc=0; nq r1 setpriv --reuid=65534 --regid=65534 --clear-groups "$L2TPCTL" -S "$(sock r1)" show status l2tp \
	2>"$OUT/err-perm.txt" || rc=$?
chmod 700 "$RUN"
(( rc == 1 )); grep -q "permission denied on $(sock r1)" "$OUT/err-perm.txt"
# bad requests on the socket itself
raw r1 <<<'not json' | jq -e '.errno == 22' >/dev/null
raw r1 <<<'{"nocmd": 1}' | jq -e '.errno == 22' >/dev/null
raw r1 <<<'{"cmd": "explode"}' | jq -e '.errno == 95' >/dev/null
raw r1 <<<'{"cmd": "tunnel-down", "tunnel": "1"}' | jq -e '.errno == 22' >/dev/null
raw r1 <<<'{"cmd": "tunnel-down", "tunnel": -5}' | jq -e '.errno == 22' >/dev/null
# a client that connects and says nothing does not stall the others
nbg r1 socat -u EXEC:"sleep 8" "UNIX-CONNECT:$(sock r1)"
BG_PIDS+=("$!")
ctl r1 show status l2tp >/dev/null
paired

log "--- the log lines of the events above"
L1=$(daemon_log r1) L2=$(daemon_log r2)
grep -qE "notice: tunnel 1: up with 203\.0\.113\.2:1701 \(host RT2\)" "$L1"
grep -qE "notice: tunnel 1: up with 198\.51\.100\.2:1701 \(host RT1\)" "$L2"
grep -qE "notice: tunnel 1: session [0-9]+/[0-9]+ up, peer 203\.0\.113\.2:1701$" "$L1"
grep -qE "warning: tunnel 1: session [0-9]+/[0-9]+ down, peer 203\.0\.113\.2:1701: administratively down$" "$L1"
grep -qE "warning: tunnel 1: down, peer 198\.51\.100\.2:1701: .*StopCCN" "$L2"
grep -qE "notice: tunnel 1: administratively down, peer 203\.0\.113\.2:1701$" "$L1"
# l2tp syslog on: one line per control message each way
grep -qE "info: tunnel 1: sent SCCRQ to 203\.0\.113\.2:1701 \(ccid 0, Ns 0, Nr 0\)$" "$L1"
grep -qE "info: tunnel 1: received SCCRP from 203\.0\.113\.2:1701 \(ccid [0-9]+, Ns 0, Nr 1\)$" "$L1"
grep -qE "info: tunnel 1: received SCCRQ from 198\.51\.100\.2:1701 " "$L2"
grep -qE "info: tunnel 1: sent StopCCN to 203\.0\.113\.2:1701 " "$L1"
grep -qE "info: tunnel 1: received StopCCN from 198\.51\.100\.2:1701 " "$L2"
# l2tp keepalive log on: the HELLO exchange
grep -qE "info: tunnel 1: sent HELLO to 203\.0\.113\.2:1701 " "$L1"
grep -qE "info: tunnel 1: keepalive: HELLO acknowledged after [0-9]+ ms, peer 203\.0\.113\.2:1701$" "$L1"
# every tunnel line carries the tunnel number; state lines carry the peer
if grep -E "tunnel [0-9]+: .*(->|up|down)" "$L1" "$L2" | grep -vE "peer|with|to [0-9]|from [0-9]|reconnecting|administratively up|unchanged|reload" |
	grep -vE "keepalive" >"$OUT/lines-without-peer.txt"; then
	cat "$OUT/lines-without-peer.txt" >&2
	log "event lines without the peer (above)"
	false
fi

log "--- a daemonized l2tpv3d started with a relative -c path still reloads"
echo "l2tp service off" >"$RUN/pc1.conf"
(cd "$RUN" && nq pc1 "$L2TPV3D" -c pc1.conf -S "$RUN/pc1.sock")
wait_for "pc1's daemon answers" 5 nq pc1 "$L2TPCTL" -S "$RUN/pc1.sock" show config
echo "metrics listen 127.0.0.1:9101" >>"$RUN/pc1.conf"
nq pc1 "$L2TPCTL" -S "$RUN/pc1.sock" reload | grep -qx "reload: ok"
nq pc1 "$L2TPCTL" -S "$RUN/pc1.sock" show config | grep -qx "metrics listen 127.0.0.1:9101"
for pid in $(ip netns pids "${NS[pc1]}"); do
	[[ $(readlink "/proc/$pid/exe") == "$(readlink -f "$L2TPV3D")" ]] || continue
	kill -TERM "$pid"
	wait_for "pc1's daemon exits" 5 eval "! kill -0 $pid 2>/dev/null"
done

stop_daemon r1
stop_daemon r2
