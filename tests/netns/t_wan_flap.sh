#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Internet link to r2 goes down long enough for both keepalives ("on 1
# 3") to give up, then comes back: r1 (always-on) sets the tunnel up again
# by itself and the LANs are bridged again.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
start_pair
ping_ok pc1 192.168.10.2

log "--- inet e1 down (r2's lan2 loses carrier)"
n inet ip link set e1 down
# Hold the link down until both sides have declared the peer dead.
wait_for "r1 gives up the tunnel" 15 not_established r1
wait_for "r2 gives up the tunnel" 15 not_established r2
fails ping1 pc1 192.168.10.2
n inet ip link set e1 up

wait_for "r1 and r2 paired again" 40 paired
wait_for "pc1 reaches pc2" 5 ping1 pc1 192.168.10.2
ping_ok pc1 192.168.10.2

log "--- short blip: inet e1 down for less than the keepalive budget"
before=$(jqs r1 '.tunnels[0].local_tunnel_id')
n inet ip link set e1 down
# Down for one keepalive exchange of r1: wait until r1 has sent a HELLO
# into the void, then bring the link back.  Counted by the messages it
# sent, first sends and resends alike (its Ns moves only with a new
# message: a HELLO queued just before the first reading would be missed).
tx0=$(jqs r1 '.tunnels[0].tx_ctrl_messages')
tx_moved() { [[ $(jqs r1 '.tunnels[0].tx_ctrl_messages') != "$tx0" ]]; }
wait_for "r1 sends a control message while the link is down" 5 tx_moved
n inet ip link set e1 up
wait_for "pc1 reaches pc2" 10 ping1 pc1 192.168.10.2
wait_for "r1 and r2 paired" 20 paired
after=$(jqs r1 '.tunnels[0].local_tunnel_id')
log "r1 tunnel id across the blip: $before -> $after"
# Shorter than the keepalive budget (3 HELLOs): the tunnel survives.
[[ $after == "$before" ]]
ping_ok pc1 192.168.10.2

daemon_alive r1
daemon_alive r2
