#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A refused SCCRQ is logged with the reason of the responder that could
# have taken the peer, not that of another responder kept for another
# Router ID (found by bench/soak: while the hub's tunnel was down with
# `l2tpctl tunnel down`, its peers' SCCRQs were logged as refused because
# "tunnel 2: Router ID ... does not match remote router-id ...", tunnel 2
# being a plain responder for somebody else).
#
# r2 has tunnel 1 for r1, set down with l2tpctl, and a tunnel 2 that
# expects Router ID 10.9.9.9.  r1's SCCRQ must be refused as "tunnel 1:
# administratively down".
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
{
	conf_r2 | grep -v '^l2tp service'
	cat <<-EOF
	tunnel select 2
	 tunnel encapsulation l2tpv3-raw
	 l2tp tunnel auth on $SECRET
	 l2tp local router-id 192.168.2.20
	 l2tp remote router-id 10.9.9.9
	 tunnel enable 2
	l2tp service on l2tpv3
	EOF
} >"$OUT/r2.conf"
start_daemon r2 "$OUT/r2.conf"
n r2 "$L2TPCTL" -S "$(sock r2)" tunnel down 1
start_daemon r1
wait_for "r1's SCCRQ refused" 20 grep -q "SCCRQ from .* refused" "$(daemon_log r2)"
grep "SCCRQ from .* refused" "$(daemon_log r2)" | head -n 2 >&2
grep -q "refused: tunnel 1: administratively down" "$(daemon_log r2)"
fails grep -q "refused: tunnel 2: Router ID" "$(daemon_log r2)"
not_established r1
stop_daemon r1
stop_daemon r2
