#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Static sessions (`l2tp static session`, no control connection) against
# two data-plane peers we did not write (tests/vm/README.md):
#
#   (a) QEMU's userspace `-netdev l2tpv3` (tests/vm/qemu-peer.sh);
#   (b) the Linux kernel's l2tp_eth in a small TCG VM
#       (tests/vm/kernel-peer.sh), booted once (in the background while (a)
#       runs) and reconfigured between modes without a reboot.
#
# Modes tested with each peer:
#   udp      UDP 1701/1701, no cookie, no L2-Specific Sublayer
#   udp-c4   4-byte cookies, a different one each way, default sublayer
#   udp-c8   8-byte cookies, a different one each way, no sublayer
#   udp-seq  (kernel only) default sublayer with data sequencing both ways
#            (`l2tp data sequencing on` against `seq both`): S=1 and growing
#            numbers each way; with our sequencing off the kernel, which
#            then gets S=0, answers nothing
#   ip       IP protocol 115 (`tunnel encapsulation l2tpv3-ip`), no cookie,
#            no sublayer (QEMU's udp=off, the kernel's encap ip / l2tp_ip)
#   ip-c4    IP protocol 115, 4-byte cookies, default sublayer
#
# Topology (every address inside the namespaces made here):
#
#   [pc: eth0 192.168.30.1/24] --veth-- lan0 [r: br0 = {lan0, tunnel1}]  our l2tpv3d
#   r: u0 198.51.100.1/24 --veth-- u0 198.51.100.2/24 [q]: QEMU's l2tpv3 socket;
#      QEMU's tap in [peer] 192.168.30.2/24
#   r: vk$$ 203.0.113.1/24 --tap-- VM eth0 203.0.113.2/24, l2tpeth0 192.168.30.2/24
#
# Our daemon's configuration is rewritten and reloaded for each mode
# (`l2tpctl reload`: the session is replaced).  For each mode: pings
# pc -> peer and peer -> pc, all answered; a capture of the underlay checked
# with tshark (-d l2tp.pw_type==0,eth and the mode's cookie/sublayer
# preferences): the Session ID, the cookie and the sublayer of each
# direction; the status says static-up with the data seen.  Also: before any
# data the session is static-idle, and after the pings stop it goes
# static-idle again (keepalive `on 1 3`: a 3 s window); a wrong receive
# cookie gets no answers and counts cookie drops.
source "$(dirname "$0")/lib.sh"

require_daemon
VM=$REPO/tests/vm
export L2TPV3D_VM_RUN=$OUT/run # console, QEMU logs, boot time
NAMES=(r pc q peer)
NS=([r]=st-r-$$ [pc]=st-pc-$$ [q]=st-q-$$ [peer]=st-peer-$$)
KNAME=stk-$$
QNAME=stq-$$
KTAP=vk$$
QTAP=vq$$

peers_stop() {
	bash "$VM/qemu-peer.sh" stop "$QNAME" >/dev/null 2>&1 || true
	bash "$VM/kernel-peer.sh" stop "$KNAME" >/dev/null 2>&1 || true
}
# peers first (their processes live in our namespaces), then lib.sh's cleanup
st_cleanup() {
	local rc=$?
	set +eE
	trap - ERR
	peers_stop
	[[ -z ${VM_BOOT_PID:-} ]] || { kill "$VM_BOOT_PID" 2>/dev/null; wait "$VM_BOOT_PID" 2>/dev/null; }
	(exit "$rc")
	cleanup
}
trap st_cleanup EXIT

for ns in "${NAMES[@]}"; do
	ip netns add "${NS[$ns]}"
	nq "$ns" ip link set lo up
	nq "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add lan0 netns "${NS[r]}" type veth peer name eth0 netns "${NS[pc]}"
ip link add u0 netns "${NS[r]}" type veth peer name u0 netns "${NS[q]}"
nq r ip link add br0 type bridge
nq r ip link set lan0 master br0
nq r ip link set lan0 up
nq r ip link set br0 up
nq r ip addr add 198.51.100.1/24 dev u0
nq r ip link set u0 up
nq q ip addr add 198.51.100.2/24 dev u0
nq q ip link set u0 up
nq pc ip addr add 192.168.30.1/24 dev eth0
nq pc ip link set eth0 up

# The kernel VM boots while the QEMU modes run.
log "booting the kernel peer VM in the background"
bash "$VM/kernel-peer.sh" start "$KNAME" "${NS[r]}" --tap "$KTAP" --tap-addr 203.0.113.1/24 \
	--timeout 60 vmip=203.0.113.2/24 l2tp_local=203.0.113.2 l2tp_remote=203.0.113.1 \
	l2tp_sid=0xBBBB l2tp_psid=0xAAAA l2tp_l2spec=none >"$OUT/vm-start.log" 2>&1 &
VM_BOOT_PID=$!

ctl() { nq r "$L2TPCTL" -S "$(sock r)" "$@"; }

# conf REMOTE LOCAL-SID REMOTE-SID RX-COOKIE TX-COOKIE L2SS
# (the encapsulation is $ENCAP: l2tpv3-raw or l2tpv3-ip)
ENCAP=l2tpv3-raw
conf() {
	cat <<EOF
bridge member br0 lan0 tunnel1
tunnel select 1
 tunnel encapsulation $ENCAP
 tunnel endpoint address $2 $1
 l2tp static session $3 $4
 l2tp static cookie receive ${5:-none}
 l2tp static cookie send ${6:-none}
 l2tp l2-specific-sublayer $7
 l2tp data sequencing ${SEQ:-off}
 l2tp keepalive use $KEEPALIVE
 tunnel enable 1
l2tp service on l2tpv3
EOF
}

# use_conf ARGS...: write conf ARGS; start the daemon, or reload it
use_conf() {
	conf "$@" >"$OUT/r.conf"
	if [[ -z ${DAEMON_PID[r]:-} ]]; then
		start_daemon r "$OUT/r.conf"
	elif cmp -s "$OUT/r.conf" "$OUT/r.conf.old"; then
		ctl reload >"$OUT/reload.txt"
		grep -qx "tunnel 1: unchanged" "$OUT/reload.txt"
	else
		ctl reload >"$OUT/reload.txt"
		grep -qx "tunnel 1: restarted (settings changed)" "$OUT/reload.txt"
	fi
	cp "$OUT/r.conf" "$OUT/r.conf.old"
	wait_for "static session $3/$4 in the status" 5 static_sid_is "$3"
}

static_sid_is() { [[ $(jqs r '.tunnels[0].sessions[0].local_session_id') == $(($1)) ]]; }
sstate() { jqs r '.tunnels[0].sessions[0].state'; }
ago() { status_json r | jq -r '.tunnels[0].sessions[0].last_rx_ago'; }
state_is() { [[ $(sstate) == "$1" ]]; }

# check_pcap FILE US PEER OUR_SID_RX OUR_SID_TX RXC TXC L2SS: frames from
# us carry TX SID and cookie TXC; frames from the peer RX SID and RXC;
# the sublayer (S=0) present exactly when L2SS=default; ICMP both ways.
# With SEQ=on: S=1 instead, and each side's numbers grow.
check_pcap() {
	local f=$1 us=$2 peer=$3 rsid=$4 tsid=$5 rxc=$6 txc=$7 l2ss=$8 clen=0 cpref lpref
	(( ${#rxc} > ${#txc} )) && clen=$(( ${#rxc} / 2 )) || clen=$(( ${#txc} / 2 ))
	case $clen in 0) cpref=None ;; 4) cpref="4 Byte Cookie" ;; 8) cpref="8 Byte Cookie" ;; esac
	[[ $l2ss == default ]] && lpref="Default L2-Specific" || lpref=None
	local prefs=(-d 'l2tp.pw_type==0,eth' -o "l2tp.cookie_size:$cpref" -o "l2tp.l2_specific:$lpref")
	tshark -n -r "$f" "${prefs[@]}" -Y 'l2tp && icmp' -E occurrence=f -T fields \
		-e ip.src -e udp.srcport -e udp.dstport -e l2tp.sid -e l2tp.cookie \
		-e l2tp.l2_spec_s -e icmp.type -e ip.proto -e l2tp.l2_spec_sequence 2>/dev/null >"$f.tsv"
	local bad
	bad=$(tshark -n -r "$f" "${prefs[@]}" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
	(( bad == 0 )) || { log "$f: $bad malformed frames"; return 1; }
	awk -F'\t' -v us="$us" -v peer="$peer" -v rsid="$(printf '0x%08x' "$rsid")" -v encap="$ENCAP" \
		-v tsid="$(printf '0x%08x' "$tsid")" -v rxc="$rxc" -v txc="$txc" -v l2ss="$l2ss" -v seq="${SEQ:-off}" '
	function fail(m) { print "check_pcap: frame " NR ": " m ": " $0 > "/dev/stderr"; bad = 1 }
	{
		if (encap == "l2tpv3-raw" && ($2 != 1701 || $3 != 1701 || $8 != 17)) fail("not UDP 1701/1701")
		if (encap == "l2tpv3-ip" && ($2 != "" || $8 != 115)) fail("not IP protocol 115")
		if ($1 == us) {
			n["us" $7]++
			if ($4 != tsid) fail("our Session ID")
			if ($5 != txc) fail("our cookie")
		} else if ($1 == peer) {
			n["peer" $7]++
			if ($4 != rsid) fail("the peer Session ID")
			if ($5 != rxc) fail("the peer cookie")
		} else fail("unexpected source")
		if (l2ss == "default" && seq == "on") {
			if ($6 != "1") fail("sequencing but S=0")
			else if (($1 in last) && $9 + 0 <= last[$1]) fail("sequence number not growing")
			last[$1] = $9 + 0
		} else if (l2ss == "default" && $6 != "0") fail("no sublayer (S=0)")
		if (l2ss != "default" && $6 != "") fail("sublayer decoded")
	}
	END {
		# 3 pings each way: requests (8) and replies (0) from both sides
		if (n["us8"] < 3 || n["us0"] < 3 || n["peer8"] < 3 || n["peer0"] < 3) {
			printf "check_pcap: too few frames: us8=%d us0=%d peer8=%d peer0=%d\n", \
				n["us8"], n["us0"], n["peer8"], n["peer0"] > "/dev/stderr"
			bad = 1
		}
		exit bad
	}' "$f.tsv"
	log "ok: $(basename "$f"): $ENCAP, Session IDs $tsid/$rsid, cookies '${txc:-none}'/'${rxc:-none}', sublayer $l2ss each way${SEQ:+, sequencing $SEQ}"
}

# check_status: static-up, data seen in the last few seconds, counters
# fresh_up: one echo answered, then the session static-up with data seen
# within the 3 s liveness window
fresh_up() {
	n pc ping -n -c 1 -W 2 192.168.30.2 >/dev/null || return 1
	state_is static-up && (( $(ago) <= 3 ))
}
check_status() {
	local ago
	# fresh data first: the pcap checks before this can take longer than
	# the 3 s liveness window on a loaded machine, and so can the status
	# call after one echo (a run beside three QEMU guests): a few tries
	wait_for "$1: static-up right after an echo" 20 fresh_up
	ago=$(ago)
	(( $(jqs r '.tunnels[0].sessions[0].rx_packets') >= 6 ))
	(( $(jqs r '.tunnels[0].sessions[0].tx_packets') >= 6 ))
	[[ $(jqs r '.tunnels[0].role') == static ]]
	[[ $(jqs r '.tunnels[0].state') == static ]]
	status_text r >"$OUT/status-$1.txt"
	grep -qE '^    Session state: static-up \(data seen [0-9]+ s ago\)$' "$OUT/status-$1.txt"
	log "ok: $1: status static-up, data seen $ago s ago"
}

capture() { # IF FILE
	nbg r tcpdump -Z root -n -i "$1" --immediate-mode -U -w "$2" 'udp port 1701 or ip proto 115' 2>"$2.err"
	CAPTURE_PID[$2]=$!
	wait_for "tcpdump listening on $1" 10 grep -q 'listening on' "$2.err"
}

passed=()

# ------------------------------------------------------------ (a) QEMU
# QEMU sends 0xBBBB and accepts 0xAAAA: we accept 0xBBBB and send 0xAAAA.
qemu_mode() { # NAME RXC TXC L2SS QEMU-OPTIONS...
	local name=$1 rxc=$2 txc=$3 l2ss=$4; shift 4
	local pcap=$OUT/qemu-$name.pcap
	log "=== QEMU peer, mode $name"
	use_conf 198.51.100.2 198.51.100.1 0xBBBB 0xAAAA "$rxc" "$txc" "$l2ss"
	local udp=(udp=on srcport=1701 dstport=1701)
	[[ $ENCAP == l2tpv3-raw ]] || udp=(udp=off)
	bash "$VM/qemu-peer.sh" start "$QNAME" "${NS[q]}" --tap "$QTAP" --tap-netns "${NS[peer]}" \
		--tap-addr 192.168.30.2/24 src=198.51.100.2 dst=198.51.100.1 "${udp[@]}" \
		txsession=0xBBBB rxsession=0xAAAA "$@" >"$OUT/qemu-$name.start" 2>&1
	nq pc ip neigh flush all # a new QEMU, a new tap MAC
	capture u0 "$pcap"
	wait_for "$name: first ping pc -> QEMU peer" 20 ping1 pc 192.168.30.2
	ping_ok pc 192.168.30.2 3
	ping_ok peer 192.168.30.1 3
	capture_stop "$pcap"
	check_pcap "$pcap" 198.51.100.1 198.51.100.2 0xBBBB 0xAAAA "$rxc" "$txc" "$l2ss"
	check_status "qemu-$name"
	if [[ $name == udp-c4 ]]; then
		# a receive cookie the peer does not send: dropped and counted
		use_conf 198.51.100.2 198.51.100.1 0xBBBB 0xAAAA 55667789 "$txc" "$l2ss"
		fails ping_ok pc 192.168.30.2 2
		(( $(jqs r '.tunnels[0].sessions[0].rx_cookie_drops') > 0 ))
		log "ok: udp-c4 with a wrong receive cookie: no answer, cookie drops counted"
	fi
	bash "$VM/qemu-peer.sh" stop "$QNAME"
	passed+=("qemu-$name")
}

use_conf 198.51.100.2 198.51.100.1 0xBBBB 0xAAAA "" "" none
state_is static-idle
[[ $(ago) == null ]]
status_text r | grep -q '^    Session state: static-idle (no data seen yet)$'
log "ok: before any data the static session is static-idle"
# a static tunnel answers no SCCRQ and sends nothing by itself
[[ $(status_json r | jq -r '.tunnels[0].tx_ctrl_messages') == 0 ]]

qemu_mode udp "" "" none counter=off
qemu_mode udp-c4 55667788 11223344 default txcookie=0x55667788 rxcookie=0x11223344 counter=on
qemu_mode udp-c8 8877665544332211 1122334455667788 none cookie64=on \
	txcookie=0x8877665544332211 rxcookie=0x1122334455667788 counter=off
ENCAP=l2tpv3-ip
qemu_mode ip "" "" none counter=off
qemu_mode ip-c4 55667788 11223344 default txcookie=0x55667788 rxcookie=0x11223344 counter=on
ENCAP=l2tpv3-raw

# No more data: the liveness window (keepalive 1 s x 3) runs out.
wait_for "static-idle once data stops" 10 state_is static-idle
log "ok: static-idle after $(ago) s without data"

# ------------------------------------------------------------ (b) kernel
if ! wait "$VM_BOOT_PID"; then
	VM_BOOT_PID=
	cat "$OUT/vm-start.log" >&2
	log "the kernel peer VM did not boot"
	exit 1
fi
VM_BOOT_PID=
log "kernel peer VM ready in $(cat "$L2TPV3D_VM_RUN/$KNAME/boot_seconds") s"

# The kernel accepts 0xBBBB and sends 0xAAAA: we accept 0xAAAA and send 0xBBBB.
# Its `cookie` is what it sends (our receive), `peer_cookie` what it checks.
kernel_mode() { # NAME RXC TXC L2SS KERNEL-PARAMS...
	local name=$1 rxc=$2 txc=$3 l2ss=$4; shift 4
	local pcap=$OUT/kernel-$name.pcap
	log "=== kernel peer, mode $name"
	use_conf 203.0.113.2 203.0.113.1 0xAAAA 0xBBBB "$rxc" "$txc" "$l2ss"
	if [[ $name != udp ]]; then # udp was on the boot command line
		bash "$VM/kernel-peer.sh" reconf "$KNAME" l2tp_local=203.0.113.2 l2tp_remote=203.0.113.1 \
			l2tp_sid=0xBBBB l2tp_psid=0xAAAA "$@" >"$OUT/kernel-$name.reconf"
	fi
	nq pc ip neigh flush all
	capture "$KTAP" "$pcap"
	wait_for "$name: first ping pc -> kernel peer" 20 ping1 pc 192.168.30.2
	ping_ok pc 192.168.30.2 3
	bash "$VM/kernel-peer.sh" exec "$KNAME" 'ping -c3 -W2 192.168.30.1' >"$OUT/kernel-$name.vmping"
	capture_stop "$pcap"
	check_pcap "$pcap" 203.0.113.1 203.0.113.2 0xAAAA 0xBBBB "$rxc" "$txc" "$l2ss"
	check_status "kernel-$name"
	passed+=("kernel-$name")
}

kernel_mode udp "" "" none l2tp_l2spec=none
kernel_mode udp-c4 11223344 55667788 default l2tp_cookie=11223344 l2tp_peer_cookie=55667788 \
	l2tp_l2spec=default
kernel_mode udp-c8 1122334455667788 8877665544332211 none l2tp_cookie=1122334455667788 \
	l2tp_peer_cookie=8877665544332211 l2tp_l2spec=none
SEQ=on kernel_mode udp-seq "" "" default l2tp_l2spec=default l2tp_seq=both
# counters from here on: before the kernel's reconf our session may have
# seen its packets of the previous mode (an 8-byte cookie read as a
# sublayer with S=0)
seqc() { jqs r '.tunnels[0].sessions[0] | [.rx_sequencing, .tx_sequencing, .rx_seq_drops, .rx_seq_missing]
	| map(tostring) | join(" ")'; }
c0=$(seqc)
[[ $c0 == "true true "* ]]
ping_ok pc 192.168.30.2 5
[[ $(seqc) == "$c0" ]]
log "ok: udp-seq: sequencing both ways, no packet dropped by number, none unnumbered (counters '$c0')"
# the kernel drops what has no number: with ours off it answers nothing
use_conf 203.0.113.2 203.0.113.1 0xAAAA 0xBBBB "" "" default
fails ping_ok pc 192.168.30.2 2
log "ok: udp-seq: the kernel drops our packets once we stop numbering them"
bash "$VM/kernel-peer.sh" reconf "$KNAME" l2tp_local=203.0.113.2 l2tp_remote=203.0.113.1 \
	l2tp_sid=0xBBBB l2tp_psid=0xAAAA l2tp_l2spec=default >"$OUT/kernel-udp-seq-off.reconf"
nq pc ip neigh flush all
wait_for "the kernel without sequencing answers again" 20 ping1 pc 192.168.30.2
ENCAP=l2tpv3-ip
kernel_mode ip "" "" none l2tp_encap=ip l2tp_l2spec=none
kernel_mode ip-c4 11223344 55667788 default l2tp_encap=ip l2tp_cookie=11223344 \
	l2tp_peer_cookie=55667788 l2tp_l2spec=default

# an unchanged reload leaves the static session alone
ctl reload >"$OUT/reload.txt"
grep -qx "tunnel 1: unchanged" "$OUT/reload.txt"
ping_ok pc 192.168.30.2 2
peers_stop
stop_daemon r
log "passed: ${passed[*]}"
