#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Linux kernel's own L2TP (l2tp_eth, l2tp_ip) as a static data-plane
# peer: a QEMU VM under TCG booting Debian's cloud kernel with the initramfs
# of tests/vm/mkinitramfs.sh, which sets up `ip l2tp add tunnel/session`.
#
#   kernel-peer.sh start NAME NETNS [options] [GUEST_PARAM=VALUE ...]
#   kernel-peer.sh stop NAME
#   kernel-peer.sh exec NAME 'COMMAND'   run COMMAND in the VM, print its output,
#                                        exit with its status
#   kernel-peer.sh reconf NAME GUEST_PARAM=VALUE ...
#                                        replace the VM's tunnel and session
#                                        (l2tp_* parameters as for start; the
#                                        ones not given take their defaults)
#   kernel-peer.sh log NAME              print the VM's console
#
# start options:
#   --tap IF          name of the VM's tap in NETNS [kp-NAME, cut to 15 chars]
#   --tap-addr A/LEN  address for the tap in NETNS
#   --bridge BR       enslave the tap to bridge BR (must exist in NETNS)
#   --timeout SECS    bound for the boot [120]
#   --mem MB          guest memory [128]
# GUEST_PARAM=VALUE pairs go on the kernel command line; tests/vm/guest/init
# and tests/vm/guest/peer.sh list them (vmip= vmgw= l2tp_local= l2tp_remote=
# l2tp_encap= l2tp_sid= l2tp_psid= l2tp_cookie= l2tp_peer_cookie=
# l2tp_l2spec= l2tp_seq= l2tp_pwaddr= ...).
#
# The VM's files (console.log, qemu.log, pid, ctl.sock, boot_seconds) live in
# $L2TPV3D_VM_RUN/NAME (default /run/l2tpv3d-vm/NAME).  start returns once
# the console says PEER-READY and prints "NAME ready in S s"; it fails (and
# stops the VM) on PEER-FAILED, on QEMU exiting, or after the timeout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=${L2TPV3D_VM_RUN:-/run/l2tpv3d-vm}

die() { echo "kernel-peer: $*" >&2; exit 1; }
usage() { sed -n '/^#   kernel-peer.sh/p' "$0" >&2; exit 2; }

vm_pid() { # NAME: print the QEMU pid if it runs
	local f=$RUN/$1/pid p
	[[ -s $f ]] || return 1
	p=$(cat "$f")
	kill -0 "$p" 2>/dev/null || return 1
	echo "$p"
}

cmd_stop() {
	local name=$1 pid i
	if pid=$(vm_pid "$name"); then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$RUN/$name/pid" "$RUN/$name/ctl.sock"
}

cmd_start() {
	(( $# >= 2 )) || usage
	local name=$1 ns=$2
	shift 2
	local tap=kp-$name tapaddr='' bridge='' timeout=120 mem=128 params=()
	while (( $# )); do
		case $1 in
		--tap) tap=$2; shift 2 ;;
		--tap-addr) tapaddr=$2; shift 2 ;;
		--bridge) bridge=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--mem) mem=$2; shift 2 ;;
		*=*) params+=("$1"); shift ;;
		*) die "unknown argument $1" ;;
		esac
	done
	tap=${tap:0:15}
	ip netns pids "$ns" >/dev/null 2>&1 || die "no namespace $ns"
	vm_pid "$name" >/dev/null && die "$name is already running"

	local dir=$RUN/$name
	# sun_path holds 108 bytes.
	(( ${#dir} + 9 < 108 )) || die "$dir is too long for a unix socket path"
	mkdir -p "$dir"
	rm -f "$dir"/{console.log,qemu.log,pid,ctl.sock,boot_seconds}
	local img=${L2TPV3D_VM_CACHE:-/var/cache/l2tpv3d-vm}
	bash "$HERE/mkinitramfs.sh" "$img" >/dev/null

	local t0 t1
	t0=$(date +%s%N)
	# -M pc: two ISA serial ports (console, command shell) and PCI for
	# virtio-net; romfile= skips iPXE, which a direct kernel boot never uses.
	setsid ip netns exec "$ns" qemu-system-x86_64 \
		-accel tcg -M pc -cpu max -smp 1 -m "$mem" \
		-nodefaults -no-user-config -display none -no-reboot \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
		-append "console=ttyS0 panic=-1 quiet ${params[*]}" \
		-serial "file:$dir/console.log" \
		-serial "unix:$dir/ctl.sock,server=on,wait=off" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device virtio-net-pci,netdev=n0,romfile= \
		-pidfile "$dir/pid" \
		</dev/null >"$dir/qemu.log" 2>&1 &
	local qpid=$! i
	# The tap exists once QEMU has parsed its options; bring it up at once
	# so nothing the guest sends early is lost.
	for ((i = 0; i < 100; i++)); do
		ip -n "$ns" link show "$tap" >/dev/null 2>&1 && break
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
	if ! ip -n "$ns" link show "$tap" >/dev/null 2>&1; then
		cat "$dir/qemu.log" >&2
		cmd_stop "$name"
		die "QEMU did not create tap $tap in $ns"
	fi
	[[ -n $bridge ]] && ip -n "$ns" link set "$tap" master "$bridge"
	[[ -n $tapaddr ]] && ip -n "$ns" addr add "$tapaddr" dev "$tap"
	ip -n "$ns" link set "$tap" up

	local deadline=$((SECONDS + timeout))
	while :; do
		if grep -q '^PEER-READY' "$dir/console.log" 2>/dev/null; then
			break
		fi
		if grep -q '^PEER-FAILED' "$dir/console.log" 2>/dev/null ||
			! kill -0 "$qpid" 2>/dev/null || (( SECONDS >= deadline )); then
			echo "--- $dir/console.log" >&2
			cat "$dir/console.log" >&2 2>/dev/null || true
			echo "--- $dir/qemu.log" >&2
			cat "$dir/qemu.log" >&2 || true
			cmd_stop "$name"
			die "$name did not become ready (bound ${timeout} s)"
		fi
		sleep 0.2
	done
	t1=$(date +%s%N)
	local secs
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	echo "$secs" > "$dir/boot_seconds"
	echo "$name ready in $secs s ($(grep -m1 '^PEER-READY' "$dir/console.log"))"
}

cmd_exec() {
	(( $# == 2 )) || usage
	local name=$1 cmd=$2 sock=$RUN/$1/ctl.sock line rc=
	vm_pid "$name" >/dev/null || die "$name is not running"
	[[ $cmd != *$'\n'* ]] || die "one line only"
	coproc CTL { exec socat - "UNIX-CONNECT:$sock" 2>/dev/null; }
	local cpid=$CTL_PID
	printf '%s\n' "$cmd" >&"${CTL[1]}"
	while IFS= read -r -t 30 line <&"${CTL[0]}"; do
		line=${line%$'\r'}
		if [[ $line =~ ^@@RC=([0-9]+)@@$ ]]; then
			rc=${BASH_REMATCH[1]}
			break
		fi
		printf '%s\n' "$line"
	done
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	[[ -n $rc ]] || die "no answer from $name within 30 s"
	return "$rc"
}

cmd_reconf() {
	(( $# >= 2 )) || usage
	local name=$1 p
	shift
	for p in "$@"; do
		[[ $p =~ ^l2tp_[a-z0-9_]+=[][A-Za-z0-9.:/_-]+$ ]] || die "bad parameter $p"
	done
	cmd_exec "$name" "sh /peer.sh down && env -i PATH=/bin:/sbin L2TP_FROM_ENV=1 $* sh /peer.sh"
}

(( $# >= 1 )) || usage
case $1 in
start) shift; cmd_start "$@" ;;
stop) (( $# == 2 )) || usage; cmd_stop "$2" ;;
exec) shift; cmd_exec "$@" ;;
reconf) shift; cmd_reconf "$@" ;;
log) (( $# == 2 )) || usage; cat "$RUN/$2/console.log" ;;
*) usage ;;
esac
