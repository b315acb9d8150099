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
#   "l2tpv3d:base" runs the daemon from $BASE_B instead, e.g. a build of an
#   earlier commit, for before/after figures from one run),
#   B (build dir, default build/), OUT (default bench/out).  --smoke: 1 round of 3 s, asserts
#   nothing.  Prints a table, writes $OUT/results.csv (every sample),
#   $OUT/summary.csv and $OUT/bench.png.
_ENV_SECONDS=$(printenv SECONDS || true)
set -eEu -o pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
SMOKE=0
if [[ ${1:-} == --smoke ]]; then
	SMOKE=1
fi
ROUNDS=${ROUNDS:-5}
DUR=${_ENV_SECONDS:-10}
if (( SMOKE )); then
	ROUNDS=1
	DUR=3
fi
PROFILES=${PROFILES:-nic veth}
MODES=${MODES:-routing vxlan l2tpv3d}
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
	local me=$1 peer=$2 host=$3 ep=
	# r1 initiates; r2 (no endpoint) answers
	[[ $host == B1 ]] && ep=" tunnel endpoint address $me $peer"
	cat <<-EOF
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

# daemons_start [BINARY]: (re)start both daemons, wait for the session
daemons_start() {
	local bin=${1:-$L2TPV3D}
	[[ $bin == "$DAEMON_BIN" ]] && return 0
	daemons_stop
	DAEMON_BIN=$bin
	conf 198.51.100.1 198.51.100.2 B1 >"$RUN/r1.conf"
	conf 198.51.100.2 198.51.100.1 B2 >"$RUN/r2.conf"
	for r in r2 r1; do
		ip netns exec "${NS[$r]}" "$bin" -c "$RUN/$r.conf" -f -S "$RUN/$r.sock" \
			>>"$OUT/daemon-$r.log" 2>&1 &
		DPID[$r]=$!
		wait_for 10 n "$r" "$L2TPCTL" -S "$RUN/$r.sock" show status l2tp
	done
	wait_for 30 session_up r1
	wait_for 30 session_up r2
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
sys_busy() { awk '/^cpu / { idle = $5 + $6; t = 0; for (i = 2; i <= 9; i++) t += $i; print t - idle, t; exit }' /proc/stat; }

# iperf3 N REV: prints Gbit/s received
iperf() {
	local omit=0 out
	(( DUR >= 5 )) && omit=1
	out=$(n pc1 iperf3 -c "$DST" -t "$DUR" -O "$omit" -P "$1" $2 -J 2>/dev/null) || { echo nan; return; }
	jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$out"
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

measure() {
	local p t0 t1 s0 s1 c0=() c1=() r cpu best rtt
	# idle RTT
	n pc1 ping -n -c $(( SMOKE ? 50 : 200 )) -i 0.01 -W 1 "$DST" >"$RUN/ping-idle" 2>&1 || true
	read -r p t0 <<<"$(rtt_pct "$RUN/ping-idle")"
	rec rtt_idle_p50 "$p"
	rec rtt_idle_p99 "$t0"

	# TCP, 1 stream forward, with ping every 50 ms and CPU accounting
	n pc1 ping -n -i 0.05 -w "$DUR" "$DST" >"$RUN/ping-load" 2>&1 &
	p=$!
	if [[ $MODE == l2tpv3d && $PROFILE == nic && $ROUND == 1 ]]; then
		gate_capture
	fi
	read -r s0 t0 <<<"$(sys_busy)"
	if [[ $MODE == l2tpv3d* ]]; then
		c0=("$(proc_ticks "${DPID[r1]}")" "$(proc_ticks "${DPID[r2]}")")
	fi
	r=$(iperf 1 "")
	read -r s1 t1 <<<"$(sys_busy)"
	wait "$p" || true
	rec tcp1_fwd "$r"
	rec cpu_machine "$(awk -v a="$s0" -v b="$s1" -v c="$t0" -v d="$t1" 'BEGIN { printf "%.1f", (b - a) * 100 / (d - c) }')"
	if [[ $MODE == l2tpv3d* ]]; then
		c1=("$(proc_ticks "${DPID[r1]}")" "$(proc_ticks "${DPID[r2]}")")
		best=$(( c1[0] - c0[0] > c1[1] - c0[1] ? c1[0] - c0[0] : c1[1] - c0[1] ))
		cpu=$(awk -v t="$best" -v hz="$HZ" -v d="$DUR" 'BEGIN { printf "%.1f", t * 100 / hz / d }')
		rec cpu_daemon "$cpu"
		rec cpu_per_gbit "$(awk -v c="$cpu" -v g="$r" 'BEGIN { printf "%.1f", (g > 0 ? c / g : 0) }')"
	fi
	read -r p rtt <<<"$(rtt_pct "$RUN/ping-load")"
	rec rtt_load_p50 "$p"
	rec rtt_load_p99 "$rtt"
	if [[ $GATE == skipped && $MODE == l2tpv3d && $PROFILE == nic && $ROUND == 1 ]]; then
		wait "${BG[-1]}" 2>/dev/null || true
		gate_check
	fi

	rec tcp1_rev "$(iperf 1 -R)"
	rec tcp4_fwd "$(iperf 4 "")"
	rec tcp4_rev "$(iperf 4 -R)"

	# 64-byte frames delivered per second
	n pc2 "$GEN64" recv 9000 $((DUR + 1)) >"$RUN/gen-recv" &
	p=$!
	wait_for 5 sh -c "ip netns exec ${NS[pc2]} ss -Hnul sport = :9000 | grep -q 9000"
	n pc1 "$GEN64" send "$DST" 9000 "$DUR" >/dev/null
	wait "$p"
	rec pps64_k "$(awk -v n="$(cat "$RUN/gen-recv")" -v d="$DUR" 'BEGIN { printf "%.1f", n / d / 1000 }')"

	if [[ $MODE == l2tpv3d* ]]; then
		local rss=0 v
		for r in r1 r2; do
			v=$(awk '/^VmRSS/ { print $2 }' "/proc/${DPID[$r]}/status")
			(( v > rss )) && rss=$v
		done
		rec rss_mb "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
	fi
}

# ---------------------------------------------------------------- run

topo_create
daemons_start
n pc2 iperf3 -s >/dev/null 2>&1 &
BG+=($!)
wait_for 5 sh -c "ip netns exec ${NS[pc2]} ss -Hntl sport = :5201 | grep -q 5201"

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
if (( ! SMOKE )) && [[ $GATE == FAIL ]]; then
	exit 1
fi
