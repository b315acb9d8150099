#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Static L2TPv3 Ethernet pseudowire with the kernel's own L2TP (l2tp_eth),
# parameters from the kernel command line (defaults in brackets):
#   l2tp_encap=udp|ip [udp]        l2tp_local=ADDR l2tp_remote=ADDR (required)
#   l2tp_sport=N l2tp_dport=N [1701]   l2tp_udpcsum=on|off [off]
#   l2tp_tid=N [1] l2tp_ptid=N [1] (tunnel IDs; never on the wire for data)
#   l2tp_sid=N [0xBBBB]  our Session ID: the one the peer must send
#   l2tp_psid=N [0xAAAA] the peer's Session ID: the one we send
#   l2tp_cookie=HEX      cookie we SEND (8 or 16 hex digits) [none]
#   l2tp_peer_cookie=HEX cookie we CHECK on receive [none]
#   l2tp_l2spec=none|default [none]  (always passed: the kernel default is "default")
#   l2tp_seq=none|send|recv|both [none]
#   l2tp_pwaddr=ADDR/LEN [192.168.30.2/24] address of l2tpeth0
#   l2tp_pwmtu=N         MTU of l2tpeth0 [kernel's choice]
# Prints the resulting tunnel and session; exits non-zero on failure.
#
# `peer.sh down` deletes every L2TP tunnel (and so its sessions).  With
# L2TP_FROM_ENV=1 the parameters come from the environment instead of the
# command line: `kernel-peer.sh reconf` uses it to change modes without a
# reboot.
set -e
ip() { /usr/sbin/ip "$@"; }

if [ "${1:-}" = down ]; then
	for t in $(ip l2tp show tunnel | sed -n 's/^Tunnel \([0-9]*\),.*/\1/p'); do
		ip l2tp del tunnel tunnel_id "$t"
	done
	exit 0
fi

arg() {
	if [ "${L2TP_FROM_ENV:-}" = 1 ]; then
		eval "v=\${$1:-}"
	else
		v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -n 1)
	fi
	echo "${v:-$2}"
}

encap=$(arg l2tp_encap udp)
local=$(arg l2tp_local)
remote=$(arg l2tp_remote)
[ -n "$local" ] && [ -n "$remote" ] || { echo "peer: l2tp_local and l2tp_remote are required"; exit 1; }
tid=$(arg l2tp_tid 1)
ptid=$(arg l2tp_ptid 1)
sid=$(arg l2tp_sid 0xBBBB)
psid=$(arg l2tp_psid 0xAAAA)
cookie=$(arg l2tp_cookie)
pcookie=$(arg l2tp_peer_cookie)
l2spec=$(arg l2tp_l2spec none)
seq=$(arg l2tp_seq none)
pwaddr=$(arg l2tp_pwaddr 192.168.30.2/24)
pwmtu=$(arg l2tp_pwmtu)

set -- tunnel_id "$tid" peer_tunnel_id "$ptid" encap "$encap" local "$local" remote "$remote"
if [ "$encap" = udp ]; then
	set -- "$@" udp_sport "$(arg l2tp_sport 1701)" udp_dport "$(arg l2tp_dport 1701)"
	set -- "$@" udp_csum "$(arg l2tp_udpcsum off)"
fi
ip l2tp add tunnel "$@"

set -- tunnel_id "$tid" session_id "$sid" peer_session_id "$psid" name l2tpeth0
[ -n "$cookie" ] && set -- "$@" cookie "$cookie"
[ -n "$pcookie" ] && set -- "$@" peer_cookie "$pcookie"
set -- "$@" l2spec_type "$l2spec" seq "$seq"
ip l2tp add session "$@"

[ -n "$pwmtu" ] && ip link set l2tpeth0 mtu "$pwmtu"
ip link set l2tpeth0 up
ip addr add "$pwaddr" dev l2tpeth0
ip l2tp show tunnel
ip l2tp show session
ip -br addr
