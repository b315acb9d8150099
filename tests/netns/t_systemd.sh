#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# l2tpv3d under systemd, without systemd as PID 1:
#  1. the unit built from contrib/systemd/l2tpv3d.service.in passes
#     `systemd-analyze verify` (a copy whose ExecStart/ExecReload name the
#     binaries under test) and `systemd-analyze security` rates it "OK"
#     (exposure at most 3.0);
#  2. sd_notify: the daemon runs in a namespace with $NOTIFY_SOCKET on a
#     datagram socket that sd_notify_listen.py holds; READY=1 arrives, and
#     at that moment the control socket answers and UDP 1701 is bound;
#     SIGTERM brings STOPPING=1 and a clean exit.  It runs as the unit
#     runs it: no new privileges and only CAP_NET_ADMIN,
#     CAP_NET_BIND_SERVICE and CAP_BPF in its bounding set (setpriv), which
#     must be enough to create its bridge, TAP port and address and bind
#     1701;
#  3. journald: with $JOURNAL_STREAM naming its stderr, the daemon prefixes
#     each line with its syslog priority ("<5>" for notice) and no time.
source "$(dirname "$0")/lib.sh"

require_daemon
UNIT_IN=$B/contrib/l2tpv3d.service
[[ -f $UNIT_IN ]] || { log "missing $UNIT_IN (meson builds it from contrib/systemd/)"; false; }

# ------------------------------------------------------------ 1. the unit
mkdir -p "$RUN/unit"
sed -e "s#^ExecStart=[^ ]*l2tpv3d#ExecStart=$L2TPV3D#" \
	-e "s#^ExecReload=[^ ]*l2tpctl#ExecReload=$L2TPCTL#" \
	"$UNIT_IN" >"$RUN/unit/l2tpv3d.service"
grep -qx "ExecStart=$L2TPV3D -f" "$RUN/unit/l2tpv3d.service"
grep -qx "ExecReload=$L2TPCTL reload" "$RUN/unit/l2tpv3d.service"
grep -qx "Type=notify" "$RUN/unit/l2tpv3d.service"
grep -qx "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_BPF" "$RUN/unit/l2tpv3d.service"
# verify prints problems on stderr and may still exit 0: both must be clean.
systemd-analyze verify --man=no "$RUN/unit/l2tpv3d.service" >"$OUT/verify.txt" 2>&1 || {
	cat "$OUT/verify.txt" >&2; false; }
if [[ -s $OUT/verify.txt ]]; then
	cat "$OUT/verify.txt" >&2
	log "systemd-analyze verify reported problems"
	false
fi
log "ok: systemd-analyze verify"
systemd-analyze security --offline=yes --no-pager "$RUN/unit/l2tpv3d.service" >"$OUT/security.txt" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for l2tpv3d.service: \([0-9.]*\).*/\1/p' "$OUT/security.txt")
[[ -n $exposure ]] || { cat "$OUT/security.txt" >&2; false; }
awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }' || { log "exposure $exposure > 3.0"; false; }
log "ok: systemd-analyze security: exposure $exposure"

# --------------------------------------------------------- 2. sd_notify
ip netns add "${NS[r2]}"
nq r2 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
nq r2 ip link set lo up
cat >"$OUT/r2.conf" <<CONF
bridge member bridge1 tunnel1
ip bridge1 address 192.0.2.1/24
tunnel select 1
 tunnel encapsulation l2tpv3-raw
 l2tp tunnel auth on secret
 l2tp remote router-id 192.0.2.2
 l2tp keepalive use $KEEPALIVE
 tunnel enable 1
l2tp service on
CONF

NOTIFY=$RUN/notify.sock
: >"$OUT/notify.log"
nbg r2 /usr/bin/python3 "$LIB_DIR/sd_notify_listen.py" "$NOTIFY" "$OUT/notify.log" "$(sock r2)" 60 \
	>"$RUN/listen.out" 2>"$OUT/listen.err"
LISTENER=$!
BG_PIDS+=("$LISTENER")
wait_for "notify listener bound" 10 grep -q listening "$RUN/listen.out"

# The unit's CapabilityBoundingSet= and NoNewPrivileges=, by setpriv.
cat >"$RUN/l2tpv3d-capped" <<WRAP
#!/bin/sh
exec setpriv --bounding-set=-all,+net_admin,+net_bind_service,+bpf --no-new-privs -- "$L2TPV3D" "\$@"
WRAP
chmod +x "$RUN/l2tpv3d-capped"
L2TPV3D_REAL=$L2TPV3D
L2TPV3D=$RUN/l2tpv3d-capped
NOTIFY_SOCKET=$NOTIFY start_daemon r2 "$OUT/r2.conf"
L2TPV3D=$L2TPV3D_REAL
# CAP_NET_BIND_SERVICE is bit 10, CAP_NET_ADMIN bit 12, CAP_BPF bit 39.
grep -qx $'CapEff:\t0000008000001400' "/proc/${DAEMON_PID[r2]}/status"
grep -qx $'CapBnd:\t0000008000001400' "/proc/${DAEMON_PID[r2]}/status"
grep -qx $'NoNewPrivs:\t1' "/proc/${DAEMON_PID[r2]}/status"
[[ $(nq r2 ip -o link show master bridge1) == *" tunnel1: "* ]]
[[ $(nq r2 ip -4 -o addr show dev bridge1) == *" 192.0.2.1/24 "* ]]
log "ok: runs with CAP_NET_ADMIN, CAP_NET_BIND_SERVICE and CAP_BPF only: bridge1, tunnel1, address, port 1701"
# no CAP_SYS_NICE and no RLIMIT_RTPRIO here: SCHED_FIFO is refused, said
# once, and the data thread runs under normal scheduling
grep -q "data path thread: cannot use SCHED_FIFO priority 10 (needs CAP_SYS_NICE or an RLIMIT_RTPRIO of 10)" \
	"$(daemon_log r2)"
[[ $(jqs r2 .dataplane_realtime) == 0 ]]
log "ok: without the privilege the data thread keeps normal scheduling, and the log says why"
wait_for "READY=1 from l2tpv3d" 10 grep -qx 'READY=1' "$OUT/notify.log"
cat "$OUT/notify.log" >&2
grep -qx 'CHECK control=ok udp=bound' "$OUT/notify.log" || {
	log "at READY=1 the control socket or UDP 1701 was not ready"; false; }
grep -qx 'STATUS=1 tunnel(s) configured' "$OUT/notify.log"
fails grep -q 'STOPPING=1' "$OUT/notify.log"
log "ok: READY=1 once the control socket answers and UDP 1701 is bound"

# `l2tpctl reload` (the unit's ExecReload=): RELOADING=1 with the
# monotonic time, then READY=1 again once the reload is applied.
nready=$(grep -cx 'READY=1' "$OUT/notify.log")
nq r2 "$L2TPCTL" -S "$(sock r2)" reload
wait_for "RELOADING=1 with MONOTONIC_USEC on reload" 5 \
	grep -Eqx 'RELOADING=1\|MONOTONIC_USEC=[0-9]+' "$OUT/notify.log"
wait_for "READY=1 after the reload" 5 \
	test "$(grep -cx 'READY=1' "$OUT/notify.log")" -gt "$nready"
log "ok: RELOADING=1 (with MONOTONIC_USEC) then READY=1 on l2tpctl reload"

stop_daemon r2
wait_for "STOPPING=1 after SIGTERM" 5 grep -qx 'STOPPING=1' "$OUT/notify.log"
# READY=1 came first, STOPPING=1 last.
[[ $(grep -nx 'READY=1' "$OUT/notify.log" | head -n 1 | cut -d: -f1) -lt \
   $(grep -nx 'STOPPING=1' "$OUT/notify.log" | cut -d: -f1) ]]
wait "$LISTENER"
BG_PIDS=()
log "ok: STOPPING=1 on SIGTERM, clean exit"

# ---------------------------------------------------------- 3. journald
export LOGTAG=journal
JLOG=$(daemon_log r2)
: >"$JLOG"
# journald's stream is a socket; any file works, the daemon compares
# the device and inode of its stderr with $JOURNAL_STREAM.
JOURNAL_STREAM=$(stat -c '%d:%i' "$JLOG") start_daemon r2 "$OUT/r2.conf"
stop_daemon r2
cat "$JLOG" >&2
grep -q '^<5>l2tpv3d starting, configuration ' "$JLOG"
grep -qx '<5>l2tpv3d stopped' "$JLOG"
# every line the daemon logged carries a priority prefix, none a time
fails grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' "$JLOG"
log "ok: journal stream lines carry <priority> prefixes"
