# SPDX-License-Identifier: MIT
#
# A hub and its sites on one WAN bridge, for t_hub and t_hub_hygiene.
# Source it after lib.sh; the test sets SECRET, KEEPALIVE and END_ID.
#
#   wan: bridge br0, one port per namespace
#   hub: WAN 198.51.100.1/24
#   sI:  WAN 198.51.100.(10+I)/24, an l2tpv3d initiator calling the hub,
#        bridge1 = {tunnel1} with 192.168.10.(100+I)/24
#
#   hub_topology N          namespaces hub, wan and s1..sN, wired
#   conf_hub MAX [TLINE] [GLINE]   the hub's configuration (`l2tp hub on
#                           MAX`), TLINE added to its tunnel block, GLINE after it
#   conf_site I             site I's configuration
#   launch sI               start sI's daemon without waiting for it
#   up NS                   NS's tunnel and session are established
#   hub_up N                N instances of the hub established, a session each

hub_topology() {
	local n=$1 i ns
	NAMES=(hub wan)
	for (( i = 1; i <= n; i++ )); do
		NAMES+=("s$i")
	done
	for ns in "${NAMES[@]}"; do
		NS[$ns]=$ns-$$
		ip netns add "${NS[$ns]}"
		nq "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		nq "$ns" ip link set lo up
	done
	nq wan ip link add br0 type bridge
	nq wan ip link set br0 up
	wan_port hub 198.51.100.1
	for (( i = 1; i <= n; i++ )); do
		wan_port "s$i" "198.51.100.$((10 + i))"
	done
	log "topology: hub and $n sites on one WAN"
}

# wan_port NS ADDR: NS's interface wan on the shared bridge
wan_port() {
	ip -n "${NS[$1]}" link add wan type veth peer name "p-$1" netns "${NS[wan]}"
	nq wan ip link set "p-$1" master br0
	nq wan ip link set "p-$1" up
	nq "$1" ip addr add "$2/24" dev wan
	nq "$1" ip link set wan up
}

conf_hub() {
	cat <<-EOF
	bridge member bridge1 tunnel1
	ip bridge1 address 192.168.10.1/24
	tunnel select 1
	 tunnel encapsulation l2tpv3-raw
	 l2tp hostname HUB
	 l2tp tunnel auth on $SECRET
	 l2tp keepalive use $KEEPALIVE
	 l2tp local router-id 10.0.0.254
	 l2tp remote end-id $END_ID
	 l2tp hub on $1${2:+
	 $2}
	 tunnel enable 1
	l2tp service on l2tpv3${3:+
	$3}
	EOF
}

conf_site() {
	cat <<-EOF
	bridge member bridge1 tunnel1
	ip bridge1 address 192.168.10.$((100 + $1))/24
	tunnel select 1
	 tunnel encapsulation l2tpv3-raw
	 tunnel endpoint address 198.51.100.1
	 l2tp always-on on
	 l2tp hostname S$1
	 l2tp tunnel auth on $SECRET
	 l2tp keepalive use $KEEPALIVE
	 l2tp local router-id 10.0.0.$1
	 l2tp remote end-id $END_ID
	 tunnel enable 1
	l2tp service on l2tpv3
	EOF
}

launch() {
	conf_site "${1#s}" >"$OUT/$1.conf"
	nq "$1" "$L2TPV3D" -n -c "$OUT/$1.conf" >>"$(daemon_log "$1")" 2>&1
	rm -f "$(sock "$1")"
	QUIET=1 nbg "$1" "$L2TPV3D" -c "$OUT/$1.conf" -f -S "$(sock "$1")" >>"$(daemon_log "$1")" 2>&1
	DAEMON_PID[$1]=$!
}

up() { [[ $(jqs "$1" '[.tunnels[0].state, .tunnels[0].sessions[0].state // "none"] | join(" ")') == "established established" ]]; }

hub_up() {
	jqs hub "[.tunnels[] | select(.peer_index) | select(.state == \"established\" and
		.sessions[0].state == \"established\")] | length == $1" >/dev/null
}
