#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# r2's daemon goes away and comes back; r1 (always-on) gets the tunnel back
# by itself.  First a crash (SIGKILL: no StopCCN, r1 finds out through its
# keepalive, "on 1 3"), then a clean stop (SIGTERM: StopCCN, r1 finds out
# at once).
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
start_pair
ping_ok pc1 192.168.10.2

old=$(jqs r1 '.tunnels[0].remote_tunnel_id')

log "--- r2 crashes and restarts"
kill_daemon r2
start_daemon r2
# paired compares r1's view with the new r2's: true only once r1 has given
# up the dead tunnel and set up a new one.
wait_for "r1 and the new r2 paired" 40 paired
new=$(jqs r1 '.tunnels[0].remote_tunnel_id')
log "r1's remote tunnel id: $old -> $new"
wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2
ping_ok pc1 192.168.10.2

log "--- r2 stops cleanly and restarts"
stop_daemon r2
# StopCCN: r1 drops the tunnel well before 3 keepalives could fail.
wait_for "r1 leaves established after r2's StopCCN" 2 not_established r1
grep -qi 'stopccn' "$(daemon_log r1)" || log "note: r1's log does not mention StopCCN"
start_daemon r2
wait_for "r1 and the new r2 paired" 40 paired
wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2
ping_ok pc1 192.168.10.2

log "--- r1 restarts (the initiator)"
stop_daemon r1
wait_for "r2 leaves established after r1's StopCCN" 2 not_established r2
start_daemon r1
wait_for "new r1 and r2 paired" 30 paired
wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2
ping_ok pc1 192.168.10.2

daemon_alive r1
daemon_alive r2
