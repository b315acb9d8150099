#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Data path benchmark: plain routing (the ceiling), kernel VXLAN (the
# reference) and l2tpv3d bridging two sites, interleaved round-robin in one
# run, on two WAN profiles.  See shared/benchmarking.md for the method.
#
#   pc1 eth0 ---- lan1 [r1 bridge1] wan ==== wan [r2 bridge1] lan1 ---- eth0 pc2
#   LAN MTU 1450                  WAN MTU 1500                  LAN MTU 1450
#
#   bridged modes: pc1 192.168.10.1/24 <-> pc2 192.168.10.2/24 (one LAN)
#   routing mode:  pc1 192.168.11.1/24 -> r1 192.168.11.254 -> 198.51.100.1
#                  -> 198.51.100.2 -> r2 192.168.12.254 -> pc2 192.168.12.1
#
# Only the active mode's port (vxlan0 or tunnel1) is a member of bridge1;
# the other is detached.  WAN profiles: "nic" (TSO/GSO off on both ends of
# the WAN veth, GRO on: packets are segmented and re-coalesced as on a real
# card; the headline) and "veth" (defaults: UDP GSO super-packets cross
# untouched, an upper bound no NIC gives).
#
# Usage: bench/bench.sh [--smoke]
#   ROUNDS (default 5), SECONDS (per test, default 10), PROFILES
#   ("nic veth"), MODES ("routing vxlan l2tpv3d"; "l2tpv3d:qN" is l2tpv3d
#   with the TAPs' txqueuelen set to N, to compare queue bounds in one run;
#   "l2tpv3d:tN" runs it with `dataplane threads N` (multi-queue TAPs, one
#   UDP socket per thread); "l2tpv3d:pN" with `dataplane busy-poll N` (us);
#   "l2tpv3d:f" with `dataplane fastpath on` (the eBPF tc fast path; the
#   log says whether it loaded and whether the session is on it);
#   "l2tpv3d:base" runs the daemon from $BASE_B instead, e.g. a build of an
#   earlier commit, for before/after figures from one run; "l2tpv3d@NAME"
#   runs the daemon with the environment assignments in $ENV_NAME, e.g.
#   ENV_small="L2TPV3D_X=1"; TXQLEN=N there sets the TAPs' txqueuelen),
#   B (build dir, default build/), OUT (default bench/out), FIGURES (which
#   measures: "idle load rev tcp4 pps", all by default; "load" is TCP 1
#   stream pc1->pc2 with RTT, CPU and the gate; CPU is recorded for each
#   daemon, both together and the machine, during "load" and "pps", hence
#   CPU per Gbit/s and per 100 kpps).  --smoke: 1 round of 3 s,
#   asserts nothing.  --quick: NIC-like WAN only, FIGURES="load pps",
#   ROUNDS 3 and SECONDS 5 unless set: the figures of latency and small
#   frames work, for repeated runs.  --diag: no rounds; one loaded test per
#   mode that captures ICMP echoes at every hop (r1 lan1, r1 wan, r2 wan,
#   r2 lan1) and samples the queues (UDP socket memory and drops, TAP
#   drops, qdiscs) to show where the standing queue under load is
#   (writes $OUT/diag-*).  --hold: build the topology with the first
#   mode of MODES set (l2tpv3d by default), print the namespaces and wait
#   until interrupted, for probing by hand (perf, ss, tcpdump).  Prints a table, writes $OUT/results.csv (every sample),
#   $OUT/summary.csv and $OUT/bench.png.
_ENV_SECONDS=$(printenv SECONDS || true)
set -eEu -o pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
SMOKE=0 DIAG=0
case ${1:-} in
--smoke) SMOKE=1 ;;
--diag) DIAG=1 ;;
--hold) DIAG=2 ;;
esac
QUICK=0
[[ ${1:-} == --quick ]] && QUICK=1
ROUNDS=${ROUNDS:-$(( QUICK ? 3 : 5 ))}
DUR=${_ENV_SECONDS:-$(( QUICK ? 5 : 10 ))}
if (( SMOKE )); then
	ROUNDS=1
	DUR=3
fi
if (( QUICK )); then
	PROFILES=${PROFILES:-nic}
	FIGURES=${FIGURES:-load pps}
fi
FIGURES=" ${FIGURES:-idle load rev tcp4 pps} "
PROFILES=${PROFILES:-nic veth}
MODES=${MODES:-routing vxlan l2tpv3d l2tpv3d:t2}
B=${B:-$REPO/build}
OUT=${OUT:-$REPO/bench/out}
L2TPV3D=$B/src/daemon/l2tpv3d
L2TPCTL=$B/src/ctl/l2tpctl
GEN64=$B/bench/gen64
HZ=$(getconf CLK_TCK)

mkdir -p "$OUT"
RUN=$(mktemp -d /tmp/l2tpv3d-bench.XXXXXX)
CSV=$OUT/results.csv
echo "round,profile,mode,metric,value" >"$CSV"

declare -A NS=([pc1]=bpc1-$$ [r1]=br1-$$ [r2]=br2-$$ [pc2]=bpc2-$$)
declare -A DPID
BG=()

log() { printf '[bench] %s\n' "$*" >&2; }
n() { local ns=$1; shift; ip netns exec "${NS[$ns]}" "$@"; }
trap 'log "FAILED at line $LINENO: $BASH_COMMAND"' ERR

cleanup() {
	local rc=$? ns pid
	set +eE
	trap - ERR
	for pid in "${DPID[@]}" "${BG[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${DPID[@]}" "${BG[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for ns in "${!NS[@]}"; do
		for pid in $(ip netns pids "${NS[$ns]}" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "${NS[$ns]}" 2>/dev/null
	done
	rm -rf "$RUN"
	exit "$rc"
}
trap cleanup EXIT

for b in "$L2TPV3D" "$L2TPCTL" "$GEN64"; do
	[[ -x $b ]] || { log "missing $b (run: bash scripts/build.sh)"; exit 1; }
done

# wait_for SECS CMD...: poll CMD every 0.1 s, bounded.
wait_for() {
	local secs=$1 i; shift
	for (( i = 0; i < secs * 10; i++ )); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	log "timeout: $*"
	return 1
}

# ---------------------------------------------------------------- topology

topo_create() {
	local ns r
	for ns in pc1 r1 r2 pc2; do
		ip netns add "${NS[$ns]}"
		n "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		n "$ns" ip link set lo up
	done
	ip -n "${NS[pc1]}" link add eth0 type veth peer name lan1 netns "${NS[r1]}"
	ip -n "${NS[r1]}" link add wan type veth peer name wan netns "${NS[r2]}"
	ip -n "${NS[r2]}" link add lan1 type veth peer name eth0 netns "${NS[pc2]}"

	n pc1 ip addr add 192.168.10.1/24 dev eth0
	n pc1 ip addr add 192.168.11.1/24 dev eth0
	n pc2 ip addr add 192.168.10.2/24 dev eth0
	n pc2 ip addr add 192.168.12.1/24 dev eth0
	for ns in pc1 pc2; do
		n "$ns" ip link set eth0 mtu 1450 up
	done
	n pc1 ip route add 192.168.12.0/24 via 192.168.11.254
	n pc2 ip route add 192.168.11.0/24 via 192.168.12.254
	for r in r1 r2; do
		# bridge netfilter off (if br_netfilter is loaded at all)
		n "$r" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
			net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
		n "$r" sysctl -qw net.ipv4.ip_forward=1
		n "$r" ip link add bridge1 type bridge
		n "$r" ip link set lan1 mtu 1450 master bridge1 up
		n "$r" ip link set bridge1 up
		n "$r" ip link set wan mtu 1500 up
	done
	n r1 ip addr add 192.168.11.254/24 dev bridge1
	n r2 ip addr add 192.168.12.254/24 dev bridge1
	n r1 ip addr add 198.51.100.1/24 dev wan
	n r2 ip addr add 198.51.100.2/24 dev wan
	n r1 ip route add 192.168.12.0/24 via 198.51.100.2
	n r2 ip route add 192.168.11.0/24 via 198.51.100.1
	n r1 ip link add vxlan0 type vxlan id 42 local 198.51.100.1 remote 198.51.100.2 dstport 4789 dev wan
	n r2 ip link add vxlan0 type vxlan id 42 local 198.51.100.2 remote 198.51.100.1 dstport 4789 dev wan
	for r in r1 r2; do
		n "$r" ip link set vxlan0 mtu 1450 up
	done
}

conf() {
	local me=$1 peer=$2 host=$3 threads=${4:-1} busy=${5:-0} fastpath=${6:-0} ep=
	# r1 initiates; r2 (no endpoint) answers
	[[ $host == B1 ]] && ep=" tunnel endpoint address $me $peer"
	cat <<-EOF
	dataplane threads $threads
	$( (( busy )) && echo "dataplane busy-poll $busy" || true)
	$( (( fastpath )) && echo "dataplane fastpath on" || true)
	bridge member bridge1 lan1 tunnel1
	tunnel select 1
	 tunnel encapsulation l2tpv3-raw
	$ep
	 l2tp always-on on
	 l2tp hostname $host
	 l2tp tunnel auth on bench
	 l2tp tunnel disconnect time off
	 l2tp keepalive use on 60 3
	 l2tp local router-id $me
	 l2tp remote router-id $peer
	 l2tp remote end-id bench
	 ip tunnel tcp mss limit off
	 tunnel enable 1
	l2tp service on l2tpv3
	EOF
}

session_up() {
	n "$1" "$L2TPCTL" -S "$RUN/$1.sock" -j show status l2tp |
		jq -e '.tunnels[0].sessions[0].state == "established"'
}

DAEMON_BIN=
daemons_stop() {
	local r
	for r in r1 r2; do
		[[ -n ${DPID[$r]:-} ]] || continue
		kill -TERM "${DPID[$r]}" 2>/dev/null || true
		wait "${DPID[$r]}" 2>/dev/null || true
		unset "DPID[$r]"
	done
}

# daemons_start [BINARY [ENV...]]: (re)start both daemons, wait for the
# session; THREADS (default 1) data threads each, BUSY (default 0) us of
# busy polling, FASTPATH=1 the kernel fast path
daemons_start() {
	local bin=${1:-$L2TPV3D}
	local envs=("${@:2}") threads=${THREADS:-1} busy=${BUSY:-0} fastpath=${FASTPATH:-0}
	[[ "$bin ${envs[*]} t$threads p$busy f$fastpath" == "$DAEMON_BIN" ]] && return 0
	daemons_stop
	DAEMON_BIN="$bin ${envs[*]} t$threads p$busy f$fastpath"
	log "daemons: $DAEMON_BIN"
	conf 198.51.100.1 198.51.100.2 B1 "$threads" "$busy" "$fastpath" >"$RUN/r1.conf"
	conf 198.51.100.2 198.51.100.1 B2 "$threads" "$busy" "$fastpath" >"$RUN/r2.conf"
	if [[ $bin != "$L2TPV3D" ]] && (( threads == 1 )); then
		# an older build may not know the line
		sed -i '/^dataplane threads/d' "$RUN/r1.conf" "$RUN/r2.conf"
	fi
	for r in r2 r1; do
		ip netns exec "${NS[$r]}" env "${envs[@]}" "$bin" -c "$RUN/$r.conf" -f -S "$RUN/$r.sock" \
			>>"$OUT/daemon-$r.log" 2>&1 &
		DPID[$r]=$!
		wait_for 10 n "$r" "$L2TPCTL" -S "$RUN/$r.sock" show status l2tp
	done
	wait_for 30 session_up r1
	wait_for 30 session_up r2
	if (( fastpath )); then
		# a fast path figure is only one if the session is on it
		local said on
		for r in r1 r2; do
			said=$(grep -ho "data path: kernel fast path on.*\|dataplane fastpath: cannot load.*" \
				"$OUT/daemon-$r.log" | tail -n 1 || true)
			on=$(n "$r" "$L2TPCTL" -S "$RUN/$r.sock" -j show status l2tp |
				jq -r '.tunnels[0].sessions[0].fastpath' || true)
			log "$r: ${said:-no fast path line in the log}; session on the fast path: $on"
		done
	fi
	for r in r1 r2; do
		n "$r" ip link set tunnel1 mtu 1450 nomaster
	done
	TAP_QLEN0=$(n r1 cat /sys/class/net/tunnel1/tx_queue_len)
	log "TAP txqueuelen as the daemon set it: $TAP_QLEN0"
}

# ---------------------------------------------------------------- modes

DST=
mode_set() {
	local mode=$1 r q
	case $mode in
	l2tpv3d:base) daemons_start "$BASE_B/src/daemon/l2tpv3d" ;;
	l2tpv3d:f) FASTPATH=1 daemons_start ;;
	l2tpv3d:t*) THREADS=${mode#l2tpv3d:t} daemons_start ;;
	l2tpv3d:p*) BUSY=${mode#l2tpv3d:p} daemons_start ;;
	l2tpv3d@*)
		local -n envref="ENV_${mode#l2tpv3d@}"
		# shellcheck disable=SC2086 # a list of assignments
		daemons_start "$L2TPV3D" $envref
		;;
	l2tpv3d*) daemons_start ;;
	esac
	for r in r1 r2; do
		n "$r" ip link set vxlan0 nomaster
		n "$r" ip link set tunnel1 nomaster
		case $mode in
		vxlan) n "$r" ip link set vxlan0 master bridge1 ;;
		l2tpv3d*)
			q=$TAP_QLEN0
			[[ $mode == l2tpv3d:q* ]] && q=${mode#l2tpv3d:q}
			if [[ $mode == l2tpv3d@* ]]; then
				local -n qref="ENV_${mode#l2tpv3d@}"
				[[ " $qref " =~ \ TXQLEN=([0-9]+)\  ]] && q=${BASH_REMATCH[1]}
			fi
			n "$r" ip link set tunnel1 txqueuelen "$q" master bridge1
			;;
		esac
	done
	case $mode in
	routing) DST=192.168.12.1 ;;
	*) DST=192.168.10.2 ;;
	esac
	wait_for 15 n pc1 ping -c 1 -W 1 "$DST"
}

profile_set() {
	local r
	for r in r1 r2; do
		case $1 in
		nic) n "$r" ethtool -K wan tso off gso off gro on >/dev/null 2>&1 ;;
		veth) n "$r" ethtool -K wan tso on gso on gro off >/dev/null 2>&1 ;;
		esac
	done
}

# ---------------------------------------------------------------- measures

ROUND= PROFILE= MODE=
rec() { echo "$ROUND,$PROFILE,$MODE,$1,$2" >>"$CSV"; }

# percentiles P50 P99 of the ping times in file $1 ("time=X ms")
rtt_pct() {
	grep -o 'time=[0-9.]*' "$1" | cut -d= -f2 | sort -n |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "nan nan"; exit }
			i50 = int(NR * 0.50 + 0.5); if (i50 < 1) i50 = 1
			i99 = int(NR * 0.99 + 0.5); if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR
			print v[i50], v[i99] }'
}

proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# cpu_start / cpu_stop SECONDS: the machine's busy share and each daemon's
# ticks between the two calls (rec'd by cpu_rec)
CPU0=()
cpu_start() {
	local s t
	read -r s t <<<"$(sys_busy)"
	CPU0=("$s" "$t")
	if [[ $MODE == l2tpv3d* ]]; then
		CPU0+=("$(proc_ticks "${DPID[r1]}")" "$(proc_ticks "${DPID[r2]}")")
	fi
}
# cpu_rec PREFIX SECONDS: records PREFIX_machine (% of all CPUs) and, for
# l2tpv3d, PREFIX_r1, PREFIX_r2 and PREFIX_daemons (% of a core, both
# together); prints "r1 r2" (% of a core)
cpu_rec() {
	local pre=$1 d=$2 s t a b
	read -r s t <<<"$(sys_busy)"
	rec "${pre}_machine" "$(awk -v a="${CPU0[0]}" -v b="$s" -v c="${CPU0[1]}" -v d="$t" 'BEGIN { printf "%.1f", (b - a) * 100 / (d - c) }')"
	if [[ $MODE == l2tpv3d* ]]; then
		a=$(awk -v t=$(( $(proc_ticks "${DPID[r1]}") - CPU0[2] )) -v hz="$HZ" -v d="$d" 'BEGIN { printf "%.1f", t * 100 / hz / d }')
		b=$(awk -v t=$(( $(proc_ticks "${DPID[r2]}") - CPU0[3] )) -v hz="$HZ" -v d="$d" 'BEGIN { printf "%.1f", t * 100 / hz / d }')
		rec "${pre}_r1" "$a"
		rec "${pre}_r2" "$b"
		rec "${pre}_daemons" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", a + b }')"
		echo "$a $b"
	fi
}
sys_busy() { awk '/^cpu / { idle = $5 + $6; t = 0; for (i = 2; i <= 9; i++) t += $i; print t - idle, t; exit }' /proc/stat; }

# iperf3 N REV: prints Gbit/s received and the sender's retransmissions
# per 1000 segments (MSS 1398)
iperf() {
	local omit=0 out
	(( DUR >= 5 )) && omit=1
	out=$(n pc1 iperf3 -c "$DST" -t "$DUR" -O "$omit" -P "$1" $2 -J 2>/dev/null) || { echo nan nan; return; }
	jq -r '"\(.end.sum_received.bits_per_second / 1e9) \((.end.sum_sent.retransmits // 0) * 1398 * 1000 / (.end.sum_sent.bytes + 1))"' <<<"$out"
}

GATE=skipped
gate_capture() {
	n r1 timeout $((DUR + 5)) tcpdump -n -i wan -Q out -s 0 -c 3000 -w "$OUT/gate.pcap" udp port 1701 \
		>/dev/null 2>"$RUN/gate.err" &
	BG+=($!)
	wait_for 5 grep -q 'listening on' "$RUN/gate.err"
}

gate_check() {
	local f=$OUT/gate.pcap ts=(-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE
		-o l2tp.cookie_size:cookie0 -o l2tp.l2_specific:none -d l2tp.pw_type==0,eth)
	local total data tcp bad sids
	total=$(tshark -n -r "$f" 2>/dev/null | wc -l)
	data=$(tshark -n -r "$f" "${ts[@]}" -Y 'l2tp.type==0 && eth' 2>/dev/null | wc -l)
	tcp=$(tshark -n -r "$f" "${ts[@]}" -Y 'l2tp.type==0 && tcp.checksum.status==1 && ip.src==192.168.10.1' 2>/dev/null | wc -l)
	bad=$(tshark -n -r "$f" "${ts[@]}" -Y 'ip.checksum.status==0 || tcp.checksum.status==0 || _ws.malformed || _ws.expert.severity==error' 2>/dev/null | wc -l)
	sids=$(tshark -n -r "$f" "${ts[@]}" -Y 'l2tp.type==0' -T fields -e l2tp.sid 2>/dev/null | sort -u | wc -l)
	log "gate: $total packets captured, $data L2TPv3 data with Ethernet inside, $tcp inner TCP with good checksums, $bad bad, $sids session ID(s)"
	if (( total >= 1000 && data == total && tcp >= total * 9 / 10 && bad == 0 && sids == 1 )); then
		GATE=pass
	else
		GATE=FAIL
	fi
}

# The same gate for the kernel fast path (l2tpv3d:f), once, outside the
# timed figures: its packets leave r1 with the inner TCP checksum still to
# be filled in by the card (CHECKSUM_PARTIAL, as VXLAN's do), which a
# capture on a veth shows unfilled; with the WAN's transmit checksum
# offload off for this one transfer, the kernel fills it in before the
# capture, as a card would on the wire.
gate_fastpath() {
	local keep=$GATE
	n r1 ethtool -K wan tx off >/dev/null 2>&1
	gate_capture
	n pc1 iperf3 -c "$DST" -t 2 >/dev/null 2>&1 || true
	wait "${BG[-1]}" 2>/dev/null || true
	GATE=skipped
	gate_check
	GATE_F=$GATE
	GATE=$keep
	n r1 ethtool -K wan tx on >/dev/null 2>&1
}
GATE_F=skipped

want() { [[ $FIGURES == *" $1 "* ]]; }

measure() {
	local p t0 r cpu rtt gate=0 retr c0 c1
	if want idle; then
		n pc1 ping -n -c $(( SMOKE ? 50 : 200 )) -i 0.01 -W 1 "$DST" >"$RUN/ping-idle" 2>&1 || true
		read -r p t0 <<<"$(rtt_pct "$RUN/ping-idle")"
		rec rtt_idle_p50 "$p"
		rec rtt_idle_p99 "$t0"
	fi

	# TCP, 1 stream forward, with ping every 50 ms and CPU accounting
	if want load; then
		n pc1 ping -n -i 0.05 -w "$DUR" "$DST" >"$RUN/ping-load" 2>&1 &
		p=$!
		if [[ $GATE == skipped && $MODE == l2tpv3d && $PROFILE == nic ]]; then
			gate=1
			gate_capture
		fi
		cpu_start
		read -r r retr <<<"$(iperf 1 "")"
		read -r c0 c1 <<<"$(cpu_rec cpu "$DUR")"
		wait "$p" || true
		rec tcp1_fwd "$r"
		rec tcp1_retr "$retr"
		if [[ $MODE == l2tpv3d* ]]; then
			# the busier daemon, and both together, per Gbit/s
			cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print (a > b ? a : b) }')
			rec cpu_daemon "$cpu"
			rec cpu_per_gbit "$(awk -v c="$cpu" -v g="$r" 'BEGIN { printf "%.1f", (g > 0 ? c / g : 0) }')"
			rec cpu_both_per_gbit "$(awk -v a="$c0" -v b="$c1" -v g="$r" 'BEGIN { printf "%.1f", (g > 0 ? (a + b) / g : 0) }')"
		fi
		read -r p rtt <<<"$(rtt_pct "$RUN/ping-load")"
		rec rtt_load_p50 "$p"
		rec rtt_load_p99 "$rtt"
		if (( gate )); then
			wait "${BG[-1]}" 2>/dev/null || true
			gate_check
		fi
		if [[ $GATE_F == skipped && $MODE == l2tpv3d:f && $PROFILE == nic ]]; then
			gate_fastpath
		fi
	fi

	if want rev; then
		read -r r retr <<<"$(iperf 1 -R)"
		rec tcp1_rev "$r"
	fi
	if want tcp4; then
		read -r r retr <<<"$(iperf 4 "")"
		rec tcp4_fwd "$r"
		read -r r retr <<<"$(iperf 4 -R)"
		rec tcp4_rev "$r"
	fi

	# 64-byte frames delivered per second
	if want pps; then
		n pc2 "$GEN64" recv 9000 $((DUR + 1)) >"$RUN/gen-recv" &
		p=$!
		wait_for 5 sh -c "ip netns exec ${NS[pc2]} ss -Hnul sport = :9000 | grep -q 9000"
		cpu_start
		n pc1 "$GEN64" send "$DST" 9000 "$DUR" >/dev/null
		read -r c0 c1 <<<"$(cpu_rec cpu_pps "$DUR")"
		wait "$p"
		r=$(awk -v n="$(cat "$RUN/gen-recv")" -v d="$DUR" 'BEGIN { printf "%.1f", n / d / 1000 }')
		rec pps64_k "$r"
		if [[ $MODE == l2tpv3d* ]]; then
			# % of a core per 100 kpps delivered: the busier daemon, both
			rec cpu_per_100kpps "$(awk -v a="$c0" -v b="$c1" -v k="$r" 'BEGIN { printf "%.1f", (k > 0 ? (a > b ? a : b) * 100 / k : 0) }')"
			rec cpu_both_per_100kpps "$(awk -v a="$c0" -v b="$c1" -v k="$r" 'BEGIN { printf "%.1f", (k > 0 ? (a + b) * 100 / k : 0) }')"
		fi
	fi

	if [[ $MODE == l2tpv3d* ]]; then
		local rss=0 v
		for r in r1 r2; do
			v=$(awk '/^VmRSS/ { print $2 }' "/proc/${DPID[$r]}/status")
			(( v > rss )) && rss=$v
		done
		rec rss_mb "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
	fi
}

# ---------------------------------------------------------------- diagnosis

# diag_sample FILE: every 0.1 s until killed, the queues of both routers
diag_sample() {
	local r
	while :; do
		for r in r1 r2; do
			printf '@ %s %s\n' "$r" "$(date +%s.%N)"
			# UDP sockets with memory (skmem: r rmem_alloc, rb rcvbuf,
			# t wmem_alloc, tb sndbuf, d drops)
			n "$r" ss -Hunam 2>/dev/null | paste - -
			# shellcheck disable=SC2016 # awk and sh scripts, expanded there
			n "$r" awk '/^Udp: [0-9]/ { print "udp", $0 }' /proc/net/snmp
			# shellcheck disable=SC2016
			n "$r" sh -c 'for d in tunnel1 vxlan0 wan lan1; do
				[ -e /sys/class/net/$d ] || continue
				echo "link $d tx_dropped $(cat /sys/class/net/$d/statistics/tx_dropped) rx_dropped $(cat /sys/class/net/$d/statistics/rx_dropped)"
				tc -s qdisc show dev $d | tr -s " \n" " " | sed "s/^/qdisc $d /; s/$/\n/"
			done'
		done
		sleep 0.1
	done
}

# diag_hops: one-way delay of the ICMP echoes per hop, from the captures
diag_hops() {
	local d=$OUT/diag-$MODE f
	# shellcheck disable=SC2054 # the comma belongs to tshark's -d
	local ts=(-o l2tp.cookie_size:cookie0 -o l2tp.l2_specific:none -d l2tp.pw_type==0,eth)
	for f in r1-lan1 r1-wan r2-wan r2-lan1; do
		tshark -n -r "$d-$f.pcap" "${ts[@]}" -Y 'icmp.type==8 || icmp.type==0' \
			-T fields -e frame.time_epoch -e icmp.type -e icmp.seq 2>/dev/null |
			awk -v p="$f" '{ print p, $1, $2, $3 }' || true # a capture cut short
	done | python3 -c '
import sys, statistics
t = {}
for line in sys.stdin:
    pt, ts, ty, seq = line.split()[:4]
    seq = seq.split(",")[0]
    t.setdefault((ty, seq), {}).setdefault(pt, float(ts))
hops = [("8", "r1-lan1", "r1-wan", "request: r1 bridge+TAP queue+daemon"),
        ("8", "r1-wan", "r2-wan", "request: WAN veth"),
        ("8", "r2-wan", "r2-lan1", "request: r2 UDP socket+daemon+TAP write+bridge"),
        ("8", "r2-lan1", "r2-lan1", "-"),
        ("0", "r2-lan1", "r2-wan", "reply: r2 bridge+TAP queue+daemon"),
        ("0", "r2-wan", "r1-wan", "reply: WAN veth"),
        ("0", "r1-wan", "r1-lan1", "reply: r1 UDP socket+daemon+TAP write+bridge")]
def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(len(v) * q))]
print("%-50s %5s %8s %8s %8s (ms)" % ("hop", "n", "p50", "p90", "p99"))
for ty, a, b, name in hops:
    if a == b:
        # pc2 turnaround
        v = [(x["r2-lan1"], y["r2-lan1"]) for (k, x) in t.items() if k[0] == "8" and "r2-lan1" in x
             for y in [t.get(("0", k[1]), {})] if "r2-lan1" in y]
        v = [(b2 - a2) * 1e3 for a2, b2 in v]
        name = "pc2 turnaround (r2 lan1 out -> in)"
    else:
        v = [(x[b] - x[a]) * 1e3 for (k, x) in t.items() if k[0] == ty and a in x and b in x]
    if v:
        print("%-50s %5d %8.3f %8.3f %8.3f" % (name, len(v), pct(v, .5), pct(v, .9), pct(v, .99)))
'
}

diag() {
	local d=$OUT/diag-$MODE p r f sp retr
	local icmp_in_udp='udp and udp[39] = 1'
	rm -f "$d"-*
	n r1 tcpdump -n -i lan1 -s 128 -w "$d-r1-lan1.pcap" icmp >/dev/null 2>"$RUN/td1" &
	BG+=($!)
	n r1 tcpdump -n -i wan -s 128 -w "$d-r1-wan.pcap" "$icmp_in_udp" >/dev/null 2>"$RUN/td2" &
	BG+=($!)
	n r2 tcpdump -n -i wan -s 128 -w "$d-r2-wan.pcap" "$icmp_in_udp" >/dev/null 2>"$RUN/td3" &
	BG+=($!)
	n r2 tcpdump -n -i lan1 -s 128 -w "$d-r2-lan1.pcap" icmp >/dev/null 2>"$RUN/td4" &
	BG+=($!)
	for f in td1 td2 td3 td4; do
		wait_for 5 grep -q 'listening on' "$RUN/$f"
	done
	diag_sample >"$d-queues.txt" 2>&1 &
	sp=$!
	n pc1 ping -n -i 0.01 -w "$DUR" "$DST" >"$RUN/ping-load" 2>&1 &
	p=$!
	read -r r retr <<<"$(iperf 1 "")"
	wait "$p" || true
	kill "$sp"
	wait "$sp" 2>/dev/null || true
	sleep 0.5
	for f in 1 2 3 4; do
		kill "${BG[-$f]}" 2>/dev/null || true
	done
	for f in 1 2 3 4; do
		wait "${BG[-1]}" 2>/dev/null || true
		unset 'BG[-1]'
	done
	read -r p rtt <<<"$(rtt_pct "$RUN/ping-load")"
	{
		echo "== $MODE, $PROFILE WAN: TCP 1 stream $r Gbit/s ($retr retransmissions per 1000 segments), ping every 10 ms: RTT p50 $p ms, p99 $rtt ms"
		diag_hops
		# queue samples: the UDP 1701/4789 sockets' rmem (r) and drops
		# (d), the TAP's drops, qdisc backlog
		awk '/^@/ { r = $2 } /skmem/ && /:(1701|4789) / {
			match($0, /skmem:\([^)]*\)/); sk = substr($0, RSTART + 6, RLENGTH - 7)
			split(sk, kv, ","); for (i in kv) { k = kv[i]; sub(/[0-9]+$/, "", k); v = kv[i]; sub(/^[a-z_]+/, "", v)
				if (k == "r") { n[r]++; s[r] += v; if (v > m[r]) m[r] = v }
				if (k == "d") dr[r] = v } }
			/^link tunnel1/ { td[r] = $4 }
			END { for (x in n) printf "%s UDP socket rmem_alloc mean %.0f max %d bytes, socket drops %s, TAP tx_dropped %s\n",
				x, s[x] / n[x], m[x], dr[x], td[x] }' "$d-queues.txt" | sort
	} | tee -a "$OUT/diag.txt"
}

# ---------------------------------------------------------------- run

topo_create
daemons_start
n pc2 iperf3 -s >/dev/null 2>&1 &
BG+=($!)
wait_for 5 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"

if (( DIAG == 2 )); then
	PROFILE=${PROFILES%% *}
	MODE=${MODES##* }
	profile_set "$PROFILE"
	mode_set "$MODE"
	log "holding: $PROFILE WAN, $MODE; pc1=${NS[pc1]} r1=${NS[r1]} r2=${NS[r2]} pc2=${NS[pc2]} daemons r1=${DPID[r1]:-} r2=${DPID[r2]:-}"
	printf '%s\n' "pc1=${NS[pc1]}" "r1=${NS[r1]}" "r2=${NS[r2]}" "pc2=${NS[pc2]}" \
		"d1=${DPID[r1]:-}" "d2=${DPID[r2]:-}" "DST=$DST" "RUN=$RUN" >"$OUT/hold.env"
	sleep infinity &
	BG+=($!)
	wait "${BG[-1]}" || true
	exit 0
fi
if (( DIAG == 1 )); then
	: >"$OUT/diag.txt"
	for PROFILE in $PROFILES; do
		profile_set "$PROFILE"
		for MODE in $MODES; do
			[[ $MODE == routing ]] && continue
			log "diag: $PROFILE WAN, $MODE"
			mode_set "$MODE"
			diag
		done
	done
	exit 0
fi

log "$ROUNDS round(s) of $DUR s per test; profiles: $PROFILES; modes: $MODES; $(nproc) CPUs, kernel $(uname -r)"
for (( ROUND = 1; ROUND <= ROUNDS; ROUND++ )); do
	for PROFILE in $PROFILES; do
		profile_set "$PROFILE"
		for MODE in $MODES; do
			log "round $ROUND, $PROFILE WAN, $MODE"
			mode_set "$MODE"
			measure
		done
	done
done
for r in r1 r2; do
	n "$r" "$L2TPCTL" -S "$RUN/$r.sock" -j show status l2tp >"$OUT/status-$r.json" || true
done

python3 "$REPO/bench/summary.py" "$CSV" "$OUT" "$GATE" "$(date -u +%F) $(nproc) CPUs, kernel $(uname -r), ${ROUNDS}x${DUR}s"
if command -v gnuplot >/dev/null; then
	gnuplot "$OUT/bench.gp" && log "plot: $OUT/bench.png"
fi
log "gate: $GATE"
[[ $GATE_F == skipped ]] || log "gate (kernel fast path, l2tpv3d:f): $GATE_F"
if (( ! SMOKE )) && [[ $GATE == FAIL || $GATE_F == FAIL ]]; then
	exit 1
fi
