#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A bridge the daemon creates keeps one MAC address while TAP ports come
# and go.  Linux gives an unpinned bridge the lowest MAC among its ports,
# and every TAP is born with a random one: each daemon restart (or hub peer
# coming and going) could change the bridge's MAC, and the neighbours that
# hold the old one in their ARP cache (the far site, hosts using the
# router's address) lose it until their entry expires, up to a minute,
# although the tunnel is up (found by bench/soak: pings to the hub's
# address failed for 30 s after a hub restart).
#
# r2's LAN port gets the highest unicast MAC there is, so that its TAP's
# random MAC is lower: unpinned, bridge1 would take the TAP's.  Checks:
# bridge1 keeps lan1's MAC once tunnel1 joins, keeps it across a restart
# of the daemon (SIGKILL, a new TAP), and r1 reaches r2's address again
# as soon as the tunnel is back.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
LAN_MAC=fe:ff:ff:ff:ff:fe
nq r2 ip link set lan1 address "$LAN_MAC"
mac() { nq "$1" cat "/sys/class/net/$2/address"; }

start_pair
_expect "r2 bridge1 MAC with tunnel1 in it" "$(mac r2 bridge1)" "$LAN_MAC"
tap1=$(mac r2 tunnel1)
log "r2 tunnel1 MAC $tap1"
ping_ok r1 192.168.2.20

for round in 1 2; do
	log "--- r2 killed and restarted ($round)"
	kill_daemon r2
	start_daemon r2
	wait_for "r1 and r2 paired again" 40 paired
	tap2=$(mac r2 tunnel1)
	log "r2 tunnel1 MAC now $tap2"
	_expect "r2 bridge1 MAC after the restart" "$(mac r2 bridge1)" "$LAN_MAC"
	# r1's ARP entry for r2 is still the one from before: it must be right
	wait_for "r1 reaches r2's address" 5 ping1 r1 192.168.2.20
done

stop_daemon r1
stop_daemon r2
