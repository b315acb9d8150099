# SPDX-License-Identifier: MIT
#
# Shared topology and helpers for the l2tpv3d network-namespace tests.
# Source it from a test script; it sets `set -eEu -o pipefail`, traps EXIT
# (cleanup) and builds nothing until the test calls topo_create.  Assertions
# are bare `[[ ]]`/`(( ))`; the ERR trap names the line that failed.
#
#        site 1                                                         site 2
#
#   pc1 eth0 192.168.10.1/24                                pc2 eth0 192.168.10.2/24
#        |                                                           |
#      lan1 (bridge1 = {lan1, tunnel1}, 192.168.2.10/24)          lan1 (bridge1 = {lan1, tunnel1}, 192.168.2.20/24)
#   +--------+                                                    +--------+
#   |   r1   | Router1, initiator                                 |   r2   | Router2, responder
#   +--------+ masquerade out lan2,                               +--------+ masquerade out lan2,
#      lan2    dnat udp 1701 -> 192.168.2.10                         lan2    dnat udp 1701 -> 192.168.2.20
#   172.16.0.2/24 (DHCP from nat1)                              203.0.113.2/29
#        |                                                           |
#      lan 172.16.0.1/24                                          e1 203.0.113.1/29
#   +--------+  wan 198.51.100.2/24      e0 198.51.100.1/24       +--------+
#   |  nat1  |------------------------------------------------------|  inet  |
#   +--------+  masquerade out wan                                  +--------+
#   upstream NAT router                                             "the Internet"
#
# Every namespace is named NAME-$$ so parallel runs do not collide.  IPv6 is
# disabled everywhere and no namespace has a route out of the topology: every
# packet a test sends stays inside these six namespaces.
#
# Helpers (see each function's comment):
#   n NS CMD...            run CMD in namespace NS (pc1 r1 nat1 inet r2 pc2)
#   nq NS CMD... / nbg NS CMD...   quietly / in the background ($! is CMD)
#   topo_create            build the topology above (no daemons)
#   bridge_manual NS ADDR  bridge1 by hand, for tests without the daemon
#   nat1_renumber OLD NEW  nat1's outside address OLD becomes NEW (r1 roams)
#   conf_r1 / conf_r2      print the Yamaha configs, tuned by variables
#   conf_with NS LINES...  conf_NS with LINES added to its tunnel block
#   start_daemon NS        write NS's config and start l2tpv3d there
#   stop_daemon NS         SIGTERM, wait bounded, check exit status and log
#   kill_daemon NS         SIGKILL (the peer vanishes without a StopCCN)
#   status_json NS / status_text NS / tunnel_state NS / session_state NS
#   jqs NS FILTER          jq on NS's status JSON
#   paired                 r1 and r2 established with each other (IDs agree)
#   r2_peer_renumbered ADDR   paired, r2 sending to r1 at ADDR as nat1_renumber maps it
#   fails CMD...           CMD must fail
#   wait_for DESC SECS CMD...   poll CMD every 0.2 s until it succeeds
#   hold_never DESC SECS CMD... poll CMD for SECS and fail if it ever succeeds
#   capture_start NS IF FILE / capture_stop FILE
#   ping_ok NS DST [COUNT]      COUNT pings, every one answered
#   pcap_check_scenario FILE A1 A2  tshark checks of a scenario capture

set -eEu -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LIB_DIR/../.." && pwd)
TEST=$(basename "${0%.sh}")

# Build directory with the binaries under test.
B=${B:-$REPO/build-test}
L2TPV3D=${L2TPV3D:-$B/src/daemon/l2tpv3d}
L2TPCTL=${L2TPCTL:-$B/src/ctl/l2tpctl}

# Artifacts (configs, logs, captures) are kept here after the run.
OUT=${OUT:-$REPO/tests/netns/out/$TEST}
rm -rf "$OUT"
mkdir -p "$OUT"
# Control sockets need a short path (sun_path is 108 bytes).
RUN=$(mktemp -d /tmp/l2tpv3d-netns.XXXXXX)

# Sanitizer reports make a daemon fail its test; see stop_daemon.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

NAMES=(pc1 r1 nat1 inet r2 pc2)
declare -A NS
for _n in "${NAMES[@]}"; do
	NS[$_n]=$_n-$$
done
unset _n

declare -A DAEMON_PID   # ns -> pid of its l2tpv3d
declare -A CAPTURE_PID  # pcap file -> pid of its tcpdump
BG_PIDS=()              # other helpers (udhcpd, socat)

# Settings of the configs written by conf_r1/conf_r2.  Tests override them
# before calling start_daemon.  KEEPALIVE is "on INTERVAL COUNT" or "off".
SECRET=${SECRET:-yamaha}
R1_SECRET=${R1_SECRET:-$SECRET}
R2_SECRET=${R2_SECRET:-$SECRET}
R1_RID=${R1_RID:-192.168.2.10}          # router id r1 sends
R2_RID=${R2_RID:-192.168.2.20}          # router id r2 sends
R1_EXPECT_RID=${R1_EXPECT_RID:-192.168.2.20} # router id r1 expects from r2
R2_EXPECT_RID=${R2_EXPECT_RID:-192.168.2.10} # router id r2 expects from r1
END_ID=${END_ID:-yamaha}
R1_END_ID=${R1_END_ID:-$END_ID}
R2_END_ID=${R2_END_ID:-$END_ID}
KEEPALIVE=${KEEPALIVE:-on 1 3}

log() { printf '[%s] %s\n' "$TEST" "$*" >&2; }

# Tell which command failed before the EXIT trap cleans up.
trap 'log "FAILED at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
# Killed by a timeout or ^C: still run cleanup.
trap 'log "terminated by a signal"; exit 143' TERM INT

# Set QUIET=1 to stop n and nbg from printing each command.
QUIET=${QUIET:-}

# n NS CMD...: run CMD in namespace NS, printing it first.
n() {
	local ns=$1; shift
	[[ -n $QUIET ]] || printf '  [%s] %s\n' "$ns" "$*" >&2
	ip netns exec "${NS[$ns]}" "$@"
}

# nq NS CMD...: like n, silently (for polls and captures).
nq() {
	local ns=$1; shift
	ip netns exec "${NS[$ns]}" "$@"
}

# nbg NS CMD...: start CMD in NS in the background; $! is CMD's own pid
# (ip netns exec execs it), so it can be signalled directly.
nbg() {
	local ns=$1; shift
	[[ -n $QUIET ]] || printf '  [%s] %s &\n' "$ns" "$*" >&2
	ip netns exec "${NS[$ns]}" "$@" &
}

# fails CMD...: CMD must fail (a bare `! CMD` does not trip set -e).
fails() {
	if "$@" >/dev/null 2>&1; then
		log "unexpectedly succeeded: $*"
		return 1
	fi
}

# ------------------------------------------------------------------- waits

# Nanoseconds since the epoch; SECS may be fractional.
_now_ns() { date +%s%N; }
_secs_to_ns() { awk -v t="$1" 'BEGIN { printf "%.0f", t * 1000000000 }'; }

# wait_for DESC SECS CMD...: poll CMD every 0.2 s until it succeeds; fail
# after SECS seconds.
wait_for() {
	local desc=$1 secs=$2; shift 2
	local start deadline now
	start=$(_now_ns)
	deadline=$(( start + $(_secs_to_ns "$secs") ))
	while :; do
		if "$@" >/dev/null 2>&1; then
			now=$(_now_ns)
			log "ok: $desc ($(( (now - start) / 1000000 )) ms)"
			return 0
		fi
		now=$(_now_ns)
		if (( now >= deadline )); then
			log "timeout after ${secs}s: $desc"
			return 1
		fi
		sleep 0.2
	done
}

# hold_never DESC SECS CMD...: poll CMD every 0.2 s for SECS seconds; fail as
# soon as it succeeds.  An observation window, not a guess at a delay.
hold_never() {
	local desc=$1 secs=$2; shift 2
	local deadline
	deadline=$(( $(_now_ns) + $(_secs_to_ns "$secs") ))
	while (( $(_now_ns) < deadline )); do
		if "$@" >/dev/null 2>&1; then
			log "unexpected: $desc"
			return 1
		fi
		sleep 0.2
	done
	log "ok: never $desc (${secs}s)"
}

# ---------------------------------------------------------------- topology

# DHCP on r1's lan2, as `ip lan2 address dhcp`: busybox udhcpd in nat1 hands
# out 172.16.0.2 with router 172.16.0.1; udhcpc in r1 applies it through
# this script and exits (-q), leaving the address and default route.
_dhcp_r1() {
	cat >"$RUN/udhcpd.conf" <<-EOF
	interface lan
	start 172.16.0.2
	end 172.16.0.2
	max_leases 1
	lease_file $RUN/udhcpd.leases
	pidfile $RUN/udhcpd.pid
	option subnet 255.255.255.0
	option router 172.16.0.1
	option lease 86400
	EOF
	: >"$RUN/udhcpd.leases"
	cat >"$RUN/udhcpc.script" <<-'EOF'
	#!/bin/sh
	# udhcpc hook: $1 is the event; ip, mask, router come from the lease.
	case "$1" in
	deconfig)
		ip -4 addr flush dev "$interface"
		ip link set "$interface" up
		;;
	bound|renew)
		ip -4 addr flush dev "$interface"
		ip addr add "$ip/${mask:-24}" dev "$interface"
		for r in $router; do
			ip route replace default via "$r" dev "$interface"
			break
		done
		;;
	esac
	exit 0
	EOF
	chmod +x "$RUN/udhcpc.script"

	# -a 100: udhcpd ARP-probes an address before offering it; 100 ms
	# instead of 2 s keeps set-up quick.
	nbg nat1 busybox udhcpd -f -a 100 "$RUN/udhcpd.conf" >"$OUT/udhcpd.log" 2>&1
	BG_PIDS+=($!)
	# udhcpc retries every second (-T 1) up to 10 times (-t 10), then
	# gives up (-n): bounded.
	n r1 busybox udhcpc -i lan2 -s "$RUN/udhcpc.script" -f -q -n -t 10 -T 1 \
		>"$OUT/udhcpc.log" 2>&1 || {
		log "DHCP on r1 lan2 failed"; cat "$OUT/udhcpc.log" "$OUT/udhcpd.log" >&2
		return 1
	}
	[[ $(nq r1 ip -4 -o addr show dev lan2) == *172.16.0.2/24* ]]
	[[ $(nq r1 ip route show default) == *"via 172.16.0.1 dev lan2"* ]]
}

# _nat_router NS WAN LOCAL: Yamaha's `nat descriptor type 1 masquerade` on
# WAN plus `nat descriptor masquerade static 1 1 LOCAL udp 1701`.  The static
# entry DNATs to a local address, so it sits in prerouting.
_nat_router() {
	local ns=$1 wan=$2 local=$3
	nq "$ns" nft -f - <<-EOF
	table ip nat {
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			iifname "$wan" udp dport 1701 dnat to $local
		}
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "$wan" masquerade
		}
	}
	EOF
}

# topo_create: build the six namespaces, links, addresses, routes and NAT.
topo_create() {
	local ns
	for ns in "${NAMES[@]}"; do
		ip netns add "${NS[$ns]}"
		nq "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
		nq "$ns" ip link set lo up
	done
	log "namespaces: ${NS[*]}"

	# veth pairs are created inside the namespaces, so no name ever
	# exists in the caller's namespace.
	ip -n "${NS[pc1]}" link add eth0 type veth peer name lan1 netns "${NS[r1]}"
	ip -n "${NS[r1]}" link add lan2 type veth peer name lan netns "${NS[nat1]}"
	ip -n "${NS[nat1]}" link add wan type veth peer name e0 netns "${NS[inet]}"
	ip -n "${NS[inet]}" link add e1 type veth peer name lan2 netns "${NS[r2]}"
	ip -n "${NS[r2]}" link add lan1 type veth peer name eth0 netns "${NS[pc2]}"

	# PCs: one subnet at both sites.
	nq pc1 ip addr add 192.168.10.1/24 dev eth0
	nq pc1 ip link set eth0 up
	nq pc2 ip addr add 192.168.10.2/24 dev eth0
	nq pc2 ip link set eth0 up

	# LAN ports of the routers: no address, bridged by the daemon.
	nq r1 ip link set lan1 up
	nq r2 ip link set lan1 up

	# nat1: upstream NAT router.
	nq nat1 ip addr add 172.16.0.1/24 dev lan
	nq nat1 ip link set lan up
	nq nat1 ip addr add 198.51.100.2/24 dev wan
	nq nat1 ip link set wan up
	nq nat1 ip route add default via 198.51.100.1
	nq nat1 sysctl -qw net.ipv4.ip_forward=1
	# Keep a secondary address when the primary is removed
	# (t_nat_change renumbers wan).
	nq nat1 sysctl -qw net.ipv4.conf.wan.promote_secondaries=1
	nq nat1 nft -f - <<-EOF
	table ip nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "wan" masquerade
		}
	}
	EOF

	# inet: the Internet, a plain router between the two public subnets.
	nq inet ip addr add 198.51.100.1/24 dev e0
	nq inet ip addr add 203.0.113.1/29 dev e1
	nq inet ip link set e0 up
	nq inet ip link set e1 up
	nq inet sysctl -qw net.ipv4.ip_forward=1

	# r2: fixed global address, `ip route default gateway 203.0.113.1`.
	nq r2 ip addr add 203.0.113.2/29 dev lan2
	nq r2 ip link set lan2 up
	nq r2 ip route add default via 203.0.113.1
	_nat_router r2 lan2 192.168.2.20

	# r1: `ip lan2 address dhcp` behind nat1.
	nq r1 ip link set lan2 up
	_nat_router r1 lan2 192.168.2.10
	_dhcp_r1
	log "topology up"
}

# bridge_manual NS ADDR: create bridge1 with lan1 and ADDR the way the daemon
# will, for tests that run without it.
bridge_manual() {
	local ns=$1 addr=$2
	nq "$ns" ip link add bridge1 type bridge
	nq "$ns" ip link set lan1 master bridge1
	nq "$ns" ip addr add "$addr" dev bridge1
	nq "$ns" ip link set bridge1 up
}

# nat1_renumber OLD NEW: nat1's outside address OLD/24 becomes NEW/24, its
# source NAT maps UDP to NEW's ports 20000-20099 (so r2 sees r1 come from a
# new address and port), conntrack forgotten.
nat1_renumber() {
	n nat1 ip addr add "$2/24" dev wan
	# one nftables transaction: no moment without source NAT
	n nat1 nft -f - <<-NFT
		flush chain ip nat postrouting
		add rule ip nat postrouting oifname wan meta l4proto udp snat to $2:20000-20099
		add rule ip nat postrouting oifname wan snat to $2
	NFT
	n nat1 ip addr del "$1/24" dev wan
	n nat1 ip route replace default via 198.51.100.1
	nq nat1 conntrack -F 2>/dev/null
}

# ----------------------------------------------------------------- configs

# conf_r1: Router1 of shared/scenario.md (initiator behind NAT).
conf_r1() {
	cat <<-EOF
	bridge member bridge1 lan1 tunnel1
	ip bridge1 address 192.168.2.10/24
	ip lan2 address dhcp
	ip lan2 nat descriptor 1
	tunnel select 1
	 tunnel encapsulation l2tpv3-raw
	 tunnel endpoint address 192.168.2.10 203.0.113.2
	 l2tp always-on on
	 l2tp hostname RT1
	 l2tp tunnel auth on $R1_SECRET
	 l2tp tunnel disconnect time off
	 l2tp keepalive use $KEEPALIVE
	 l2tp keepalive log on
	 l2tp syslog on
	 l2tp local router-id $R1_RID
	 l2tp remote router-id $R1_EXPECT_RID
	 l2tp remote end-id $R1_END_ID
	 ip tunnel tcp mss limit auto
	 tunnel enable 1
	nat descriptor type 1 masquerade
	nat descriptor address outer 1 primary
	nat descriptor address inner 1 auto
	nat descriptor masquerade static 1 1 192.168.2.10 udp 1701
	telnetd host lan
	l2tp service on l2tpv3
	EOF
}

# conf_r2: Router2 of shared/scenario.md (responder, fixed address).
conf_r2() {
	cat <<-EOF
	ip route default gateway 203.0.113.1
	bridge member bridge1 lan1 tunnel1
	ip bridge1 address 192.168.2.20/24
	ip lan2 address 203.0.113.2/29
	ip lan2 nat descriptor 1
	tunnel select 1
	 tunnel encapsulation l2tpv3-raw
	 l2tp always-on on
	 l2tp hostname RT2
	 l2tp tunnel auth on $R2_SECRET
	 l2tp tunnel disconnect time off
	 l2tp keepalive use $KEEPALIVE
	 l2tp keepalive log on
	 l2tp syslog on
	 l2tp local router-id $R2_RID
	 l2tp remote router-id $R2_EXPECT_RID
	 l2tp remote end-id $R2_END_ID
	 ip tunnel tcp mss limit auto
	 tunnel enable 1
	nat descriptor type 1 masquerade
	nat descriptor address outer 1 primary
	nat descriptor address inner 1 auto
	nat descriptor masquerade static 1 1 192.168.2.20 udp 1701
	telnetd host lan
	dns server 198.51.100.53
	l2tp service on l2tpv3
	EOF
}

# conf_with NS LINES...: NS's configuration with LINES after the
# encapsulation line of its tunnel.
conf_with() {
	local ns=$1; shift
	"conf_$ns" | awk -v add="$(printf ' %s\n' "$@")" \
		'{ print } /^ tunnel encapsulation l2tpv3-raw/ && add != "" { print add }'
}

# start_case TAG: fresh daemons for one case of a test: r2 with the lines
# in R2_LINES, r1 with those in R1_LINES (conf_with), logging to NS-TAG.log.
start_case() {
	LOGTAG=$1
	conf_with r2 "${R2_LINES[@]}" >"$OUT/r2-$1.conf"
	conf_with r1 "${R1_LINES[@]}" >"$OUT/r1-$1.conf"
	start_daemon r2 "$OUT/r2-$1.conf"
	start_daemon r1 "$OUT/r1-$1.conf"
}

# stop_case: stop both daemons of a case.
stop_case() {
	stop_daemon r1
	stop_daemon r2
}

# ----------------------------------------------------------------- daemons

sock() { echo "$RUN/$1.sock"; }
# Daemon logs are $OUT/NS.log, or $OUT/NS-$LOGTAG.log when LOGTAG is set
# (one log per case in tests that restart daemons with other configs).
daemon_log() { echo "$OUT/$1${LOGTAG:+-$LOGTAG}.log"; }

# require_daemon: fail early, with a clear message, if the binaries are missing.
require_daemon() {
	local b
	for b in "$L2TPV3D" "$L2TPCTL"; do
		if [[ ! -x $b ]]; then
			log "missing binary $b (run: bash scripts/build.sh test)"
			return 1
		fi
	done
}

# start_daemon NS [CONF]: write NS's config (conf_NS unless CONF is given),
# check it with -n, start l2tpv3d in NS and wait until its control socket
# answers (DAEMON_START_WAIT seconds, default 10; the VM tests allow more).
# Logs go to $OUT/NS.log (appended across restarts).
start_daemon() {
	local ns=$1 conf=${2:-$OUT/$1.conf}
	require_daemon
	[[ -n ${2:-} ]] || "conf_$ns" >"$conf"
	n "$ns" "$L2TPV3D" -n -c "$conf" >>"$(daemon_log "$ns")" 2>&1
	echo "=== start $(date +%T.%N)" >>"$(daemon_log "$ns")"
	rm -f "$(sock "$ns")"
	nbg "$ns" "$L2TPV3D" -c "$conf" -f -S "$(sock "$ns")" >>"$(daemon_log "$ns")" 2>&1
	DAEMON_PID[$ns]=$!
	wait_for "$ns: l2tpv3d answers on its socket" "${DAEMON_START_WAIT:-10}" status_json "$ns"
}

# daemon_alive NS: the daemon started in NS is still running.
daemon_alive() {
	local pid=${DAEMON_PID[$1]:-}
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# _check_log NS: no sanitizer report in NS's daemon log.
_check_log() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$(daemon_log "$1")"; then
		log "$1: sanitizer report in $(daemon_log "$1")"
		return 1
	fi
}

# stop_daemon NS: SIGTERM (the daemon sends StopCCN and exits); wait up to
# 10 s; the exit status must be 0 and the log free of sanitizer reports.
stop_daemon() {
	local ns=$1 pid=${DAEMON_PID[$1]:-} rc=0
	[[ -n $pid ]] || return 0
	[[ -n $QUIET ]] || printf '  [%s] kill -TERM %s (l2tpv3d)\n' "$ns" "$pid" >&2
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for "$ns: l2tpv3d exits after SIGTERM" 10 _pid_gone "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		unset "DAEMON_PID[$ns]"
		return 1
	fi
	wait "$pid" || rc=$?
	unset "DAEMON_PID[$ns]"
	if (( rc != 0 )); then
		log "$ns: l2tpv3d exited with status $rc"
		return 1
	fi
	_check_log "$ns"
}

# kill_daemon NS: SIGKILL, the peer sees the daemon vanish.
kill_daemon() {
	local ns=$1 pid=${DAEMON_PID[$1]:-}
	[[ -n $pid ]] || return 0
	[[ -n $QUIET ]] || printf '  [%s] kill -KILL %s (l2tpv3d)\n' "$ns" "$pid" >&2
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "DAEMON_PID[$ns]"
}

# _pid_gone PID: PID has exited (a zombie of ours counts as gone).
_pid_gone() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[[ $stat == Z* ]]
}

status_json() { nq "$1" "$L2TPCTL" -S "$(sock "$1")" -j show status l2tp; }
status_text() { nq "$1" "$L2TPCTL" -S "$(sock "$1")" show status l2tp; }

# jqs NS FILTER: evaluate a jq filter on NS's status (raw output).
jqs() { status_json "$1" | jq -er "$2"; }

tunnel_state() { jqs "$1" '.tunnels[0].state // "none"'; }
session_state() { jqs "$1" '.tunnels[0].sessions[0].state // "none"'; }

# established NS: tunnel and its session are established in NS.
established() {
	[[ $(tunnel_state "$1") == established ]] &&
	[[ $(session_state "$1") == established ]]
}

# paired: r1 and r2 are established with each other: the tunnel and session
# IDs each side holds for its peer are the ones the peer assigned.  Unlike
# `established r1`, this is false while r1 still holds a tunnel its peer
# has lost.
paired() {
	local s1 s2
	s1=$(status_json r1) && s2=$(status_json r2) || return 1
	jq -en --argjson a "$s1" --argjson b "$s2" '
		$a.tunnels[0] as $t1 | $b.tunnels[0] as $t2 |
		$t1.state == "established" and $t2.state == "established" and
		$t1.remote_tunnel_id == $t2.local_tunnel_id and
		$t2.remote_tunnel_id == $t1.local_tunnel_id and
		$t1.sessions[0].state == "established" and
		$t2.sessions[0].state == "established" and
		$t1.sessions[0].remote_session_id == $t2.sessions[0].local_session_id and
		$t2.sessions[0].remote_session_id == $t1.sessions[0].local_session_id
	' >/dev/null
}

# r2_peer_renumbered ADDR: r1 and r2 paired, and r2 sends to r1 at ADDR from
# one of the ports nat1_renumber maps r1 to.
r2_peer_renumbered() {
	paired && jqs r2 ".tunnels[0] | .remote_address == \"$1\"
		and .remote_port >= 20000 and .remote_port <= 20099" >/dev/null
}

# not_established NS: NS's tunnel is anything but established.
not_established() { [[ $(tunnel_state "$1") != established ]]; }

# start_pair: start r2 (responder) then r1 and wait until they pair.
start_pair() {
	start_daemon r2
	start_daemon r1
	wait_for "tunnel and session established between r1 and r2" 30 paired
}

# ---------------------------------------------------------------- traffic

# ping_ok NS DST [COUNT]: send COUNT pings (default 3); all must be answered.
ping_ok() {
	local ns=$1 dst=$2 count=${3:-3} out='' i got=0
	# One echo at a time, each given 2 s: `ping -c N -i 0.2 -W 2` gives
	# the last answers only two round-trip times after the last echo
	# (iputils), and a loaded TCG guest (tests/vm) once answered later
	# than that (4 of 5 counted while none was lost).
	[[ -n $QUIET ]] || printf '  [%s] ping -n -c 1 -W 2 %s (x%s)\n' "$ns" "$dst" "$count" >&2
	for (( i = 0; i < count; i++ )); do
		if out+=$(nq "$ns" ping -n -c 1 -W 2 "$dst" 2>&1)$'\n'; then
			got=$((got + 1))
		fi
	done
	if (( got != count )); then
		printf '%s\n' "$out" >&2
		log "ping $ns -> $dst: $got of $count answered"
		return 1
	fi
	log "ok: ping $ns -> $dst, $count/$count answered"
}

# ping1 NS DST: one ping answered within a second (for polls).
ping1() { nq "$1" ping -n -c 1 -W 1 "$2"; }

# capture_start NS IFACE FILE: tcpdump UDP 1701 on IFACE into FILE, writing
# each packet at once (-U); return when tcpdump is listening.
capture_start() {
	local ns=$1 ifc=$2 file=$3
	nbg "$ns" tcpdump -Z root -n -i "$ifc" -B 8192 --immediate-mode -U -w "$file" udp port 1701 2>"$file.err"
	CAPTURE_PID[$file]=$!
	wait_for "$ns: tcpdump listening on $ifc" 10 grep -q 'listening on' "$file.err"
}

# _pcap_settled FILE: FILE has not grown since the previous call.
_pcap_settled() {
	local size
	size=$(stat -c %s "$1")
	[[ $size == "${_PCAP_SIZE:-}" ]] && return 0
	_PCAP_SIZE=$size
	return 1
}

# capture_stop FILE: stop the tcpdump writing FILE and wait for it.  Packets
# already seen are written first: wait (up to 2 s) until the file stops
# growing between two polls.
capture_stop() {
	local file=$1 pid=${CAPTURE_PID[$1]:-}
	[[ -n $pid ]] || return 0
	_PCAP_SIZE=
	wait_for "capture $(basename "$file") settled" 2 _pcap_settled "$file" || true
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "CAPTURE_PID[$file]"
}

# --------------------------------------------------------- capture checks

# tsh FILE ARGS...: tshark on FILE with the Yamaha pseudowire forced: no
# cookie, no L2-Specific Sublayer, payload decoded as Ethernet (see
# shared/protocol.md §10).  TSH_OPTS (an array) adds options to every call
# (the IPsec tests in tests/vm/ipsec turn ESP decryption on with it).
TSH_OPTS=()
tsh() {
	local file=$1; shift
	tshark -n -r "$file" -o l2tp.cookie_size:cookie0 -o l2tp.l2_specific:none \
		-d l2tp.pw_type==0,eth ${TSH_OPTS[@]+"${TSH_OPTS[@]}"} "$@" 2>/dev/null
}

# tcount FILE FILTER [TSHARK-ARGS...]: number of packets matching FILTER.
tcount() { tsh "$1" "${@:3}" -Y "$2" | wc -l; }

# _expect WHAT GOT WANT: compare and say so.
_expect() {
	if [[ $2 != "$3" ]]; then
		log "capture: $1 is '$2', expected '$3'"
		return 1
	fi
	log "ok: capture: $1 = $3"
}

# _all_equal WHAT WANT: every line of stdin is WANT (numerically), and
# there is at least one.
_all_equal() {
	local what=$1 want=$2 v k=0
	while read -r v; do
		if (( v != want )); then
			log "capture: $what: $v, expected $want"
			return 1
		fi
		k=$((k + 1))
	done
	if (( k == 0 )); then
		log "capture: no packet for $what"
		return 1
	fi
	log "ok: capture: $what = $want in all $k packets"
}

# pcap_check_scenario FILE R1ADDR R2ADDR: FILE holds one clean set-up of
# the reference scenario, seen between R1ADDR (r1 after both NATs) and
# R2ADDR, plus pings from 192.168.10.1 to 192.168.10.2.  Checks the
# identities in SCCRQ/SCCRP, that each control message carries the
# receiver's control connection ID and each data packet the receiver's
# session ID without a cookie, that the pings travel inside, and that every
# Message Digest verifies with the secret "yamaha".
pcap_check_scenario() {
	local f=$1 a1=$2 a2=$3 line ccid1 ccid2 sid1 sid2 k
	local -a v

	# SCCRQ from r1: CCID 0 in the header, Router ID 192.168.2.10.
	line=$(tsh "$f" -Y 'l2tp.avp.message_type==1' -T fields -E occurrence=f \
		-e ip.src -e l2tp.ccid -e l2tp.avp.router_id -e l2tp.avp.host_name \
		-e l2tp.avp.assigned_control_conn_id | head -n 1)
	IFS=$'\t' read -r -a v <<<"$line"
	_expect "SCCRQ source" "${v[0]:-}" "$a1"
	_expect "SCCRQ header CCID" "$(( ${v[1]:-1} ))" 0
	_expect "SCCRQ Router ID" "${v[2]:-}" 3232236042
	_expect "SCCRQ Host Name" "${v[3]:-}" RT1
	ccid1=${v[4]:-0}
	(( ccid1 != 0 ))

	# SCCRP from r2: Router ID 192.168.2.20, addressed to r1's CCID.
	line=$(tsh "$f" -Y 'l2tp.avp.message_type==2' -T fields -E occurrence=f \
		-e ip.src -e l2tp.ccid -e l2tp.avp.router_id -e l2tp.avp.host_name \
		-e l2tp.avp.assigned_control_conn_id | head -n 1)
	IFS=$'\t' read -r -a v <<<"$line"
	_expect "SCCRP source" "${v[0]:-}" "$a2"
	_expect "SCCRP header CCID" "$(( ${v[1]:-0} ))" "$ccid1"
	_expect "SCCRP Router ID" "${v[2]:-}" 3232236052
	_expect "SCCRP Host Name" "${v[3]:-}" RT2
	ccid2=${v[4]:-0}
	(( ccid2 != 0 ))

	# Every other control message, ZLB ACKs included, carries the
	# receiver's CCID.
	tsh "$f" -Y "l2tp.type==1 && ip.src==$a1 && !(l2tp.avp.message_type==1)" \
		-T fields -e l2tp.ccid | _all_equal "CCID in control r1 -> r2" "$ccid2"
	tsh "$f" -Y "l2tp.type==1 && ip.src==$a2" \
		-T fields -e l2tp.ccid | _all_equal "CCID in control r2 -> r1" "$ccid1"

	# The whole set-up is there.
	for k in 3 10 11 12; do
		if (( $(tcount "$f" "l2tp.avp.message_type==$k") == 0 )); then
			log "capture: no message of type $k"
			return 1
		fi
	done
	_expect "SCCCN/ICRQ/ICCN source" \
		"$(tsh "$f" -Y 'l2tp.avp.message_type in {3,10,12}' -T fields -e ip.src | sort -u)" "$a1"
	_expect "ICRP source" \
		"$(tsh "$f" -Y 'l2tp.avp.message_type==11' -T fields -e ip.src | sort -u)" "$a2"

	# Session IDs: each side announces its own in Local Session ID.
	sid1=$(tsh "$f" -Y 'l2tp.avp.message_type==10' -T fields -E occurrence=f \
		-e l2tp.avp.local_session_id | head -n 1)
	line=$(tsh "$f" -Y 'l2tp.avp.message_type==11' -T fields -E occurrence=f \
		-e l2tp.avp.local_session_id -e l2tp.avp.remote_session_id | head -n 1)
	IFS=$'\t' read -r -a v <<<"$line"
	sid1=${sid1:-0} sid2=${v[0]:-0}
	(( sid1 != 0 && sid2 != 0 ))
	_expect "ICRP Remote Session ID" "${v[1]:-}" "$sid1"

	# No cookie offered (Assigned Cookie AVP), none used.
	_expect "Assigned Cookie AVPs" "$(tcount "$f" 'l2tp.avp.assigned_cookie')" 0

	# Data packets carry the receiver's session ID ...
	tsh "$f" -Y "l2tp.type==0 && ip.src==$a1" -T fields -e l2tp.sid |
		_all_equal "session ID in data r1 -> r2" "$sid2"
	tsh "$f" -Y "l2tp.type==0 && ip.src==$a2" -T fields -e l2tp.sid |
		_all_equal "session ID in data r2 -> r1" "$sid1"

	# ... and right after it the Ethernet frame: the pings are inside.
	k=$(tcount "$f" "l2tp.type==0 && ip.src==$a1 && icmp.type==8 && ip.src==192.168.10.1 && ip.dst==192.168.10.2")
	(( k >= 3 )) || { log "capture: $k echo requests inside r1 -> r2 data"; return 1; }
	k=$(tcount "$f" "l2tp.type==0 && ip.src==$a2 && icmp.type==0 && ip.src==192.168.10.2 && ip.dst==192.168.10.1")
	(( k >= 3 )) || { log "capture: $k echo replies inside r2 -> r1 data"; return 1; }
	log "ok: capture: echo requests and replies inside the data packets"

	# Digests verify with the shared secret; nothing malformed.
	_expect "packets with an incorrect digest or malformed" \
		"$(tcount "$f" 'l2tp.incorrect_digest || _ws.malformed' -o l2tp.shared_secret:yamaha)" 0
	log "capture: $(tcount "$f" 'l2tp.avp.message_digest') control messages carry a Message Digest"
}

# ---------------------------------------------------------------- cleanup

_stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for (( i = 0; i < 25; i++ )); do
		_pid_gone "$pid" && break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# cleanup: on any exit, stop what we started, delete the namespaces; after
# a failure, show the tail of each daemon log.
cleanup() {
	local rc=$? ns pid f
	set +eE
	trap - ERR
	for f in "${!CAPTURE_PID[@]}"; do
		capture_stop "$f"
	done
	for ns in "${!DAEMON_PID[@]}"; do
		_stop_pid "${DAEMON_PID[$ns]}"
	done
	for pid in "${BG_PIDS[@]}"; do
		_stop_pid "$pid"
	done
	# Anything else still running in our namespaces was started by this
	# test (by its pid, not by name).
	for ns in "${NAMES[@]}"; do
		for pid in $(ip netns pids "${NS[$ns]}" 2>/dev/null); do
			_stop_pid "$pid"
		done
		ip netns del "${NS[$ns]}" 2>/dev/null
	done
	rm -rf "$RUN"
	if (( rc != 0 )); then
		for f in "$OUT"/*.log; do
			[[ -s $f ]] || continue
			echo "----- tail of $f"
			tail -n 40 "$f"
		done
		log "FAIL (artifacts in $OUT)"
	else
		log "PASS"
	fi
	exit "$rc"
}
trap cleanup EXIT
