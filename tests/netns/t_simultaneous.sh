#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Simultaneous open (RFC 3931 §5.4.3): r2 is configured as an initiator
# too, calling r1's public address (nat1 forwards r2's packets to r1 once
# r1's own SCCRQ has opened the mapping).  Both SCCRQs carry a Control
# Connection Tie Breaker; the side whose value is higher gives up its own
# attempt and answers the other's SCCRQ, the winner drops the loser's
# SCCRQ.  One connection results, with one session, and PC1 pings PC2.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

# r2 as an initiator towards r1's public (NAT) address.
conf_r2 | awk '{ print } /^ tunnel encapsulation / { print " tunnel endpoint address 192.168.2.20 198.51.100.2" }' \
	>"$OUT/r2-initiator.conf"

answered() { cat "$(daemon_log r1)" "$(daemon_log r2)" | grep -c 'simultaneous open with .*answering its SCCRQ' || true; }

# r1 first: its SCCRQ opens nat1's mapping for r2's SCCRQs to come back.
start_daemon r1
wait_for "r1 calling r2" 10 eval '[[ $(tunnel_state r1) == wait-ctl-reply ]]'
start_daemon r2 "$OUT/r2-initiator.conf"
wait_for "the tie breaker decided: one side answers the other's SCCRQ" 30 eval '(( $(answered) >= 1 ))'
wait_for "r1 and r2 established with each other" 30 paired
grep -h 'simultaneous open' "$(daemon_log r1)" "$(daemon_log r2)" >&2
_expect "sides that gave up their own SCCRQ" "$(answered)" 1
[[ $(jqs r1 '.tunnels[0].role') == initiator && $(jqs r2 '.tunnels[0].role') == initiator ]]
_expect "sessions on r1" "$(jqs r1 '.tunnels[0].sessions | length')" 1
_expect "sessions on r2" "$(jqs r2 '.tunnels[0].sessions | length')" 1
ping_ok pc1 192.168.10.2 3
stop_daemon r1
stop_daemon r2
