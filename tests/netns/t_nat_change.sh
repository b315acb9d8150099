#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The upstream NAT router forgets or changes r1's mapping: first its
# conntrack table is flushed (the mapping comes back the same), then it is
# renumbered: new outside address 198.51.100.3 and ports 20000-20099, so r2
# sees r1 coming from a new address and port.  The tunnel must recover by
# itself (at worst: keepalive failure, then r1 reconnects) and r2 must talk
# to r1's new address and port.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
start_pair
ping_ok pc1 192.168.10.2

log "--- conntrack flushed in nat1"
n nat1 conntrack -F
wait_for "pc1 reaches pc2" 20 ping1 pc1 192.168.10.2
wait_for "r1 and r2 paired" 20 paired
ping_ok pc1 192.168.10.2

log "--- nat1 renumbered: 198.51.100.2:1701 -> 198.51.100.3:20000-20099"
nat1_renumber 198.51.100.2 198.51.100.3
wait_for "r1 and r2 paired, r2 sending to 198.51.100.3:200xx" 45 r2_peer_renumbered 198.51.100.3
wait_for "pc1 reaches pc2" 10 ping1 pc1 192.168.10.2
ping_ok pc1 192.168.10.2
log "r2's peer: $(jqs r2 '.tunnels[0] | "\(.remote_address):\(.remote_port)"')"
# one log line names the tunnel, the old and the new peer
grep -qE "tunnel 1: peer address changed from 198\.51\.100\.2:1701 to 198\.51\.100\.3:200[0-9]{2}" "$(daemon_log r2)"

daemon_alive r1
daemon_alive r2
