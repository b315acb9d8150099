#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# QEMU's userspace L2TPv3 (`-netdev l2tpv3`) as a static data-plane peer, no
# guest: `-M none -nodefaults` with a tap and an l2tpv3 netdev joined by two
# ports of hub 0 makes a TAP <-> L2TPv3 bridge.
#
#   qemu-peer.sh start NAME NETNS [options] L2TPV3_OPTION=VALUE ...
#   qemu-peer.sh stop NAME
#   qemu-peer.sh log NAME            print QEMU's messages (header mismatches)
#
# NETNS is where QEMU runs, so where its L2TPv3 socket lives (the underlay).
# start options:
#   --tap IF             name of the tap [qp-NAME, cut to 15 chars]
#   --tap-netns NS       move the tap to NS once QEMU holds it [NETNS]
#   --tap-addr A/LEN     address for the tap (in its namespace)
#   --bridge BR          enslave the tap to bridge BR instead
# L2TPV3_OPTION=VALUE pairs are QEMU's -netdev l2tpv3 options, passed as
# they are: src= dst= udp=on|off srcport= dstport= txsession= rxsession=
# txcookie= rxcookie= cookie64=on counter=on|off ipv6=on|off ...  Two QEMU
# quirks (net/l2tpv3.c, QEMU 7.2): any cookie64= (even cookie64=off) makes
# the cookie 8 bytes, so leave it out for 4-byte cookies; and txcookie and
# rxcookie go together.  counter=on adds a 4-byte sublayer holding a plain
# counter (the S bit is never set); QEMU never checks a received sublayer,
# only the Session ID and the cookie.
#
# Files (qemu.log, pid) live in $L2TPV3D_VM_RUN/NAME (default
# /run/l2tpv3d-vm/NAME).  start returns when QEMU runs with its tap up.
set -euo pipefail

RUN=${L2TPV3D_VM_RUN:-/run/l2tpv3d-vm}

die() { echo "qemu-peer: $*" >&2; exit 1; }
usage() { sed -n '/^#   qemu-peer.sh/p' "$0" >&2; exit 2; }

peer_pid() {
	local f=$RUN/$1/pid p
	[[ -s $f ]] || return 1
	p=$(cat "$f")
	kill -0 "$p" 2>/dev/null || return 1
	echo "$p"
}

cmd_stop() {
	local name=$1 pid i
	if pid=$(peer_pid "$name"); then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$RUN/$name/pid"
}

cmd_start() {
	(( $# >= 2 )) || usage
	local name=$1 ns=$2
	shift 2
	local tap=qp-$name tapns='' tapaddr='' bridge='' opts=()
	while (( $# )); do
		case $1 in
		--tap) tap=$2; shift 2 ;;
		--tap-netns) tapns=$2; shift 2 ;;
		--tap-addr) tapaddr=$2; shift 2 ;;
		--bridge) bridge=$2; shift 2 ;;
		*=*) opts+=("$1"); shift ;;
		*) die "unknown argument $1" ;;
		esac
	done
	tap=${tap:0:15}
	tapns=${tapns:-$ns}
	ip netns pids "$ns" >/dev/null 2>&1 || die "no namespace $ns"
	ip netns pids "$tapns" >/dev/null 2>&1 || die "no namespace $tapns"
	peer_pid "$name" >/dev/null && die "$name is already running"
	(( ${#opts[@]} )) || die "no l2tpv3 options"

	local dir=$RUN/$name l2
	mkdir -p "$dir"
	rm -f "$dir"/{qemu.log,pid}
	l2=$(IFS=,; echo "${opts[*]}")
	setsid ip netns exec "$ns" qemu-system-x86_64 \
		-M none -nodefaults -no-user-config -display none \
		-netdev "tap,id=t,ifname=$tap,script=no,downscript=no" \
		-netdev "l2tpv3,id=l,$l2" \
		-netdev hubport,id=h0,hubid=0,netdev=t \
		-netdev hubport,id=h1,hubid=0,netdev=l \
		-pidfile "$dir/pid" \
		</dev/null >"$dir/qemu.log" 2>&1 &
	local qpid=$! i
	for ((i = 0; i < 100; i++)); do
		[[ -s $dir/pid ]] && ip -n "$ns" link show "$tap" >/dev/null 2>&1 && break
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "$qpid" 2>/dev/null || ! ip -n "$ns" link show "$tap" >/dev/null 2>&1; then
		cat "$dir/qemu.log" >&2
		cmd_stop "$name"
		die "QEMU did not start (options: $l2)"
	fi
	if [[ $tapns != "$ns" ]]; then
		ip -n "$ns" link set "$tap" netns "$tapns"
	fi
	[[ -n $bridge ]] && ip -n "$tapns" link set "$tap" master "$bridge"
	[[ -n $tapaddr ]] && ip -n "$tapns" addr add "$tapaddr" dev "$tap"
	ip -n "$tapns" link set "$tap" up
	echo "$name running (tap $tap in $tapns; l2tpv3 $l2)"
}

(( $# >= 1 )) || usage
case $1 in
start) shift; cmd_start "$@" ;;
stop) (( $# == 2 )) || usage; cmd_stop "$2" ;;
log) (( $# == 2 )) || usage; cat "$RUN/$2/qemu.log" ;;
*) usage ;;
esac
