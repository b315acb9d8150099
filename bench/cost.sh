#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The data path's cost per frame, in counts that do not depend on how busy
# the machine is: system calls per frame on each side (perf's syscall
# tracepoints on each daemon), the daemon's CPU time and context switches
# per frame (task-clock, context-switches) for one TCP stream and for 64-byte frames,
# over the topology of bench.sh (held with --hold, NIC-like WAN).
#
#   sudo bench/cost.sh                       # this build's daemon
#   sudo MODES=l2tpv3d:base BASE_B=/old/build bench/cost.sh
#   sudo MODES=l2tpv3d:t2 bench/cost.sh      # two data threads
#
# Frames: r1's session tx_packets (datagrams sent into the tunnel, each
# segment of a super-frame counted) and r2's rx_packets (frames written to
# its TAP, each coalesced segment counted), read from `l2tpctl show status`.
# Prints, per workload, r1's and r2's calls per frame by kind.
set -eEu -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/bench/out}
DUR=${DUR:-5}
mkdir -p "$OUT"
rm -f "$OUT/hold.env"
PROFILES=nic MODES=${MODES:-l2tpv3d} OUT=$OUT bench/bench.sh --hold >"$OUT/cost-hold.log" 2>&1 &
HOLD=$!
# TERM: a background job of a script ignores SIGINT
trap 'kill -TERM $HOLD 2>/dev/null; wait $HOLD 2>/dev/null' EXIT
for _ in $(seq 600); do
	[[ -s $OUT/hold.env ]] && break
	kill -0 $HOLD 2>/dev/null || { cat "$OUT/cost-hold.log" >&2; exit 1; }
	sleep 0.1
done
pc1='' pc2='' r1='' r2='' d1='' d2='' DST='' RUN=''
# shellcheck disable=SC1091 # written by bench.sh --hold
source "$OUT/hold.env"
B=${B:-$PWD/build}
CTL=$B/src/ctl/l2tpctl
sock() { echo "$RUN/$1.sock"; }
frames() {
	ip netns exec "$r1" "$CTL" -S "$(sock r1)" -j show status l2tp | jq '.tunnels[0].sessions[0].tx_packets'
	ip netns exec "$r2" "$CTL" -S "$(sock r2)" -j show status l2tp | jq '.tunnels[0].sessions[0].rx_packets'
}
EV=read,write,writev,sendmsg,sendmmsg,recvmmsg,epoll_wait
EVS=$(tr ',' '\n' <<<"$EV" | sed 's/^/syscalls:sys_enter_/' | paste -sd,),task-clock,context-switches

# measure NAME CMD...: perf stat on both daemons while CMD runs
measure() {
	local name=$1; shift
	local f0 f1
	mapfile -t f0 < <(frames)
	perf stat -x, -e "$EVS" -p "$d1" -o "$OUT/cost-$name-r1.txt" -- sleep "$((DUR + 1))" &
	local p1=$!
	perf stat -x, -e "$EVS" -p "$d2" -o "$OUT/cost-$name-r2.txt" -- sleep "$((DUR + 1))" &
	local p2=$!
	"$@" >/dev/null 2>&1 || true
	wait $p1 $p2
	mapfile -t f1 < <(frames)
	local n1=$((f1[0] - f0[0])) n2=$((f1[1] - f0[1]))
	for r in r1 r2; do
		local n=$n1
		[[ $r == r2 ]] && n=$n2
		awk -F, -v r="$r" -v n="$n" -v w="$name" '
			/syscalls:sys_enter_/ { sub("syscalls:sys_enter_", "", $3); c[$3] = $1; t += $1 }
			/task-clock/ { ms = $1 }
			/context-switches/ { cs = $1 }
			END { printf "%-6s %s frames %d:", w, r, n
			      for (k in c) if (c[k] > 0) printf " %s %.3f", k, c[k] / (n ? n : 1)
			      printf " | all %.3f per frame | cpu %.2f us, %.3f context switches per frame\n", t / (n ? n : 1),
				  ms * 1000 / (n ? n : 1), cs / (n ? n : 1) }' "$OUT/cost-$name-$r.txt"
	done
}
ip netns exec "$pc2" iperf3 -s -1 >/dev/null 2>&1 &
sleep 0.5
measure tcp1 ip netns exec "$pc1" iperf3 -c "$DST" -t "$DUR"
ip netns exec "$pc2" "$B/bench/gen64" recv 9000 $((DUR + 1)) >/dev/null &
REC=$!
sleep 0.5
measure pps64 ip netns exec "$pc1" "$B/bench/gen64" send "$DST" 9000 "$DUR"
# not a bare wait: the held topology (bench.sh --hold) is a child too and
# only ends when the EXIT trap interrupts it
wait $REC
