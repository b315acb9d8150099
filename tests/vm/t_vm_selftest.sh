#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Self-test of the real data-plane peers, without l2tpv3d: the Linux kernel
# peer (kernel-peer.sh, a TCG VM) against the QEMU l2tpv3 peer
# (qemu-peer.sh), one static session per mode:
#
#   udp       UDP 1701/1701, no cookie, no L2-Specific Sublayer
#   udp-c4    UDP, 4-byte cookies (different each way), default sublayer
#   udp-c8    UDP, 8-byte cookies (different each way), no sublayer
#   ip        IP protocol 115, no cookie, no sublayer
#   ip-c4     IP protocol 115, 4-byte cookies, default sublayer
#
# The VM boots once, with the first mode on its command line; later modes
# replace its tunnel and session (kernel-peer.sh reconf), or boot anew with
# REBOOT=1.
# plus a negative check: in udp-c4 QEMU restarted with a wrong cookie must
# get no answer.  Topology (every address inside the two namespaces made
# here):
#
#   [VM: eth0 203.0.113.2/24, l2tpeth0 192.168.30.2/24]
#        | tap vk$$ 203.0.113.1/24, in namespace vmul-$$ (underlay), where
#        | QEMU's l2tpv3 socket (src 203.0.113.1) also lives
#   [vmlan-$$: tap vq$$ 192.168.30.1/24, the QEMU peer's LAN side]
#
# For each mode: pings 192.168.30.1 -> .2 and .2 -> .1 (from inside the VM),
# a capture of the VM's tap checked with tshark (Session IDs, cookies,
# sublayer, encapsulation, inner ICMP decoded).  Standalone:
#   bash tests/vm/t_vm_selftest.sh        (root; MODES="udp ip" for a subset)
# Artifacts in tests/vm/out/t_vm_selftest/.  Ends with "N passed, N failed".
set -eEu -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$HERE/out/t_vm_selftest}
MODES=${MODES:-udp udp-c4 udp-c8 ip ip-c4}
ID=$$
UL=vmul-$ID
LAN=vmlan-$ID
KTAP=vk$ID
QTAP=vq$ID
KNAME=kvm-$ID
QNAME=qpeer-$ID
export L2TPV3D_VM_RUN=$OUT/run

rm -rf "$OUT"
mkdir -p "$OUT"

log() { printf '%s %s\n' "$(date +%T.%3N)" "$*" >&2; }

cleanup() {
	set +e
	capture_kill
	bash "$HERE/qemu-peer.sh" stop "$QNAME" 2>/dev/null
	bash "$HERE/kernel-peer.sh" stop "$KNAME" 2>/dev/null
	ip netns del "$UL" 2>/dev/null
	ip netns del "$LAN" 2>/dev/null
}
trap cleanup EXIT
trap 'log "FAILED at line $LINENO: $BASH_COMMAND"' ERR
trap 'log "terminated by a signal"; exit 143' TERM INT

# wait_for DESC SECS CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
	local desc=$1 secs=$2 t0=$SECONDS; shift 2
	while ! "$@" >/dev/null 2>&1; do
		if (( SECONDS - t0 >= secs )); then
			log "timeout after ${secs}s: $desc"
			return 1
		fi
		sleep 0.2
	done
	log "ok: $desc"
}

ip netns add "$UL"
ip netns add "$LAN"
ip -n "$UL" link set lo up
ip -n "$LAN" link set lo up
ip netns exec "$UL" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip netns exec "$LAN" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

capture_start() { # FILE
	ip netns exec "$UL" tcpdump -n -U --immediate-mode -i "$KTAP" -w "$1" \
		'udp port 1701 or ip proto 115' 2>"$1.log" &
	echo $! > "$OUT/tcpdump.pid"
	wait_for "tcpdump listening" 10 grep -q 'listening on' "$1.log"
}

# The capture runs in the mode's subshell; its pid is kept in a file so that
# the main shell can end it after a failure.
capture_kill() {
	local pid
	[[ -s $OUT/tcpdump.pid ]] || return 0
	pid=$(cat "$OUT/tcpdump.pid")
	rm -f "$OUT/tcpdump.pid"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

capture_stop() {
	sleep 0.5 # let the last packets of the pings reach the file (-U)
	capture_kill
}

# check_pcap FILE ENCAP COOKIE_PREF L2SS_PREF KCOOKIE QCOOKIE L2SS
# The kernel (203.0.113.2) sends Session ID 0xAAAA with cookie KCOOKIE, QEMU
# (203.0.113.1) sends 0xBBBB with QCOOKIE ("" = none).  L2SS=yes: every
# frame has the default sublayer, S=0; the kernel's sequence stays 0 and
# QEMU's counter grows.
check_pcap() {
	local f=$1 encap=$2 cpref=$3 lpref=$4 kc=$5 qc=$6 l2ss=$7
	local tsv=$f.tsv prefs=(-d 'l2tp.pw_type==0,eth'
		-o "l2tp.cookie_size:$cpref" -o "l2tp.l2_specific:$lpref")
	tshark -r "$f" "${prefs[@]}" -Y 'l2tp && icmp' -E occurrence=f -T fields \
		-e ip.src -e ip.proto -e udp.srcport -e udp.dstport -e l2tp.sid \
		-e l2tp.cookie -e l2tp.l2_spec_s -e l2tp.l2_spec_sequence \
		-e icmp.type 2>/dev/null > "$tsv"
	local bad
	bad=$(tshark -r "$f" "${prefs[@]}" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
	(( bad == 0 )) || { log "$f: $bad malformed frames"; return 1; }
	awk -F'\t' -v encap="$encap" -v kc="$kc" -v qc="$qc" -v l2ss="$l2ss" '
	function fail(msg) { print "check_pcap: frame " NR ": " msg ": " $0 > "/dev/stderr"; bad = 1 }
	{
		src = $1; proto = $2; sp = $3; dp = $4; sid = $5; ck = $6; s = $7; sq = $8; ty = $9
		if (encap == "udp" && (proto != 17 || sp != 1701 || dp != 1701)) fail("not UDP 1701/1701")
		if (encap == "ip" && (proto != 115 || sp != "")) fail("not IP/115")
		if (src == "203.0.113.2") {
			n["k" ty]++
			if (sid != "0x0000aaaa") fail("kernel Session ID")
			if (ck != kc) fail("kernel cookie")
			if (l2ss == "yes" && (s != "0" || sq != "0")) fail("kernel sublayer")
		} else if (src == "203.0.113.1") {
			n["q" ty]++
			if (sid != "0x0000bbbb") fail("QEMU Session ID")
			if (ck != qc) fail("QEMU cookie")
			if (l2ss == "yes") {
				if (s != "0") fail("QEMU S bit")
				if (qlast != "" && sq + 0 <= qlast + 0) fail("QEMU counter not growing")
				qlast = sq
			}
		} else fail("unexpected source")
		if (l2ss != "yes" && s != "") fail("sublayer decoded")
	}
	END {
		# QEMU side: 5 requests from the LAN namespace, 3 replies to the VM.
		if (n["q8"] < 5 || n["q0"] < 3 || n["k0"] < 5 || n["k8"] < 3) {
			printf "check_pcap: too few frames: q8=%d q0=%d k0=%d k8=%d\n", \
				n["q8"], n["q0"], n["k0"], n["k8"] > "/dev/stderr"
			bad = 1
		}
		exit bad
	}' "$tsv"
}

passed=0
failed=0
failures=()

# run_mode NAME ENCAP COOKIE_PREF L2SS_PREF KCOOKIE QCOOKIE L2SS KPARAMS QOPTS
run_mode() {
	local name=$1 encap=$2 cpref=$3 lpref=$4 kc=$5 qc=$6 l2ss=$7
	local -a kparams qopts
	read -ra kparams <<< "$8"
	read -ra qopts <<< "$9"
	local pcap=$OUT/$name.pcap
	log "=== mode $name"
	local kall=(l2tp_local=203.0.113.2 l2tp_remote=203.0.113.1
		l2tp_sid=0xBBBB l2tp_psid=0xAAAA l2tp_encap="$encap" "${kparams[@]}")
	if [[ -n ${REBOOT:-} ]] || ! [[ -s $L2TPV3D_VM_RUN/$KNAME/pid ]]; then
		# First mode (or REBOOT=1): the session comes from the command line.
		bash "$HERE/kernel-peer.sh" start "$KNAME" "$UL" --tap "$KTAP" \
			--tap-addr 203.0.113.1/24 vmip=203.0.113.2/24 "${kall[@]}"
		echo "$name=$(cat "$L2TPV3D_VM_RUN/$KNAME/boot_seconds")s" >> "$OUT/boot_times"
	else
		# Later modes: the same VM, its tunnel and session replaced.
		bash "$HERE/kernel-peer.sh" reconf "$KNAME" "${kall[@]}" >"$OUT/$name.reconf"
		log "ok: $name: kernel peer reconfigured without a reboot"
	fi
	local qbase=(src=203.0.113.1 dst=203.0.113.2 txsession=0xBBBB rxsession=0xAAAA)
	if [[ $encap == udp ]]; then
		qbase+=(udp=on srcport=1701 dstport=1701)
	else
		qbase+=(udp=off)
	fi
	bash "$HERE/qemu-peer.sh" start "$QNAME" "$UL" --tap "$QTAP" \
		--tap-netns "$LAN" --tap-addr 192.168.30.1/24 "${qbase[@]}" "${qopts[@]}"
	capture_start "$pcap"
	wait_for "$name: first ping across" 20 \
		ip netns exec "$LAN" ping -c1 -W1 192.168.30.2
	ip netns exec "$LAN" ping -c5 -i0.2 -W2 192.168.30.2 >"$OUT/$name.ping" ||
		{ log "$name: LAN -> VM pings lost"; return 1; }
	bash "$HERE/kernel-peer.sh" exec "$KNAME" 'ping -c3 -W2 192.168.30.1' \
		>"$OUT/$name.vmping" ||
		{ log "$name: VM -> LAN pings lost"; cat "$OUT/$name.vmping" >&2; return 1; }
	bash "$HERE/kernel-peer.sh" exec "$KNAME" 'ip l2tp show session' \
		>"$OUT/$name.session"
	capture_stop
	check_pcap "$pcap" "$encap" "$cpref" "$lpref" "$kc" "$qc" "$l2ss"
	log "ok: $name capture: Session IDs, cookies, sublayer and encapsulation as configured"

	if [[ $name == udp-c4 ]]; then
		# Negative check: QEMU sends a cookie the kernel does not expect.
		bash "$HERE/qemu-peer.sh" stop "$QNAME"
		bash "$HERE/qemu-peer.sh" start "$QNAME" "$UL" --tap "$QTAP" \
			--tap-netns "$LAN" --tap-addr 192.168.30.1/24 "${qbase[@]}" \
			txcookie=0x55667789 rxcookie=0x11223344 counter=on
		if ip netns exec "$LAN" ping -c3 -i0.3 -W1 192.168.30.2 >/dev/null; then
			log "udp-c4: a wrong cookie got answers"
			return 1
		fi
		log "ok: udp-c4 with a wrong cookie: no answer"
	fi
	bash "$HERE/qemu-peer.sh" stop "$QNAME"
	[[ -z ${REBOOT:-} ]] || bash "$HERE/kernel-peer.sh" stop "$KNAME"
}

for m in $MODES; do
	case $m in
	udp) args=(udp None None "" "" no "l2tp_l2spec=none" "counter=off") ;;
	udp-c4) args=(udp "4 Byte Cookie" "Default L2-Specific" 11223344 55667788 yes
		"l2tp_cookie=11223344 l2tp_peer_cookie=55667788 l2tp_l2spec=default"
		"txcookie=0x55667788 rxcookie=0x11223344 counter=on") ;;
	udp-c8) args=(udp "8 Byte Cookie" None 1122334455667788 8877665544332211 no
		"l2tp_cookie=1122334455667788 l2tp_peer_cookie=8877665544332211 l2tp_l2spec=none"
		"cookie64=on txcookie=0x8877665544332211 rxcookie=0x1122334455667788 counter=off") ;;
	ip) args=(ip None None "" "" no "l2tp_l2spec=none" "counter=off") ;;
	ip-c4) args=(ip "4 Byte Cookie" "Default L2-Specific" 11223344 55667788 yes
		"l2tp_cookie=11223344 l2tp_peer_cookie=55667788 l2tp_l2spec=default"
		"txcookie=0x55667788 rxcookie=0x11223344 counter=on") ;;
	*) log "unknown mode $m"; exit 2 ;;
	esac
	# A subshell with errexit in force (not an `if` condition, which would
	# turn errexit off inside it): the first failing command ends the mode.
	set +e
	(set -e; run_mode "$m" "${args[@]}")
	rc=$?
	set -e
	if (( rc == 0 )); then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$m")
		bash "$HERE/qemu-peer.sh" log "$QNAME" >&2 2>/dev/null || true
		capture_kill
		bash "$HERE/qemu-peer.sh" stop "$QNAME" || true
		bash "$HERE/kernel-peer.sh" stop "$KNAME" || true
	fi
done

log "boot times (TCG, VM start to PEER-READY): $(tr '\n' ' ' < "$OUT/boot_times" 2>/dev/null)"
(( ${#failures[@]} )) && log "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
(( failed == 0 ))
