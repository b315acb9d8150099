#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# L2TPv3/IPsec on this host (its kernel has XFRM but may lack ESP; the
# end-to-end IPsec tests run in the VM of tests/vm):
#
#  1. charon judges the translation: a real charon (strongswan-charon) in
#     r1's namespace, with its own mount namespace and VICI socket, accepts
#     load-shared and load-conn for every RTX configuration of
#     shared/ipsec.md (tests/config/ipsec-*.conf, built by
#     tests/unit/vici-load exactly as the daemon builds them), and lists them
#     as loaded (children, identities, mode).
#  2. The scenario's raw tunnel plus an IPsec tunnel in the same file, that
#     charon running: when the kernel has no ESP (checked independently with
#     `ip xfrm state add ... proto esp`) the daemon logs one clear error,
#     shows it in the IPsec tunnel's status, never sends that tunnel's
#     L2TP in clear, and the raw tunnel comes up and carries pings.  The
#     tunnel's connection is loaded into charon all the same (IKE needs no
#     ESP; its diagnostics stay useful).
source "$(dirname "$0")/lib.sh"

require_daemon
VICI_LOAD=${VICI_LOAD:-$B/tests/unit/vici-load}
[[ -x $VICI_LOAD ]] || { log "missing $VICI_LOAD"; exit 1; }
[[ -x /usr/lib/ipsec/charon ]] || { log "strongSwan's charon is not installed (scripts/deps.sh)"; exit 1; }
topo_create

# charon_start NS: charon in NS with its own /etc/strongswan.conf and /run
charon_start() {
	local ns=$1
	cat >"$RUN/$ns-strongswan.conf" <<-EOC
	charon {
	  plugins {
	    vici { socket = unix://$RUN/$ns.vici }
	  }
	  install_routes = no
	  filelog { log { path = $OUT/$ns-charon.log
	    default = 1
	    ike = 2 } }
	}
	EOC
	nbg "$ns" unshare -m sh -c "mount --bind '$RUN/$ns-strongswan.conf' /etc/strongswan.conf &&
		mount -t tmpfs run /run && exec /usr/lib/ipsec/charon" >"$OUT/$ns-charon.out" 2>&1
	BG_PIDS+=($!)
	wait_for "$ns: charon's VICI socket" 15 test -S "$RUN/$ns.vici"
}
swanctl_ns() { local ns=$1; shift; nq "$ns" swanctl "$@" --uri "unix://$RUN/$ns.vici" 2>>"$OUT/swanctl.err"; }

charon_start r1

# ------------------------------------------------- 1. charon judges the lines
REPO_CONF=$REPO/tests/config
for f in ipsec-a-initiator ipsec-a-responder ipsec-b ipsec-c ipsec-hub; do
	out=$(nq r1 "$VICI_LOAD" "$RUN/r1.vici" "$REPO_CONF/$f.conf") || { printf '%s\n' "$out" >&2; exit 1; }
	printf '%s\n' "$out" >"$OUT/load-$f.txt"
	_expect "$f: accepted by charon" "$(grep -c accepted <<<"$out")" 2
	swanctl_ns r1 --list-conns >"$OUT/conns-$f.txt"
	case $f in
	ipsec-a-responder)
		grep -q 'l2tp: TRANSPORT' "$OUT/conns-$f.txt"
		grep -q 'l2tp-host: TRANSPORT' "$OUT/conns-$f.txt"
		grep -q 'id: l2tpv3' "$OUT/conns-$f.txt"
		grep -q 'remote: %any' "$OUT/conns-$f.txt" ;;
	ipsec-b)
		grep -q 'remote: itm.example.jp' "$OUT/conns-$f.txt"
		grep -q 'dynamic\[udp/l2f\]' "$OUT/conns-$f.txt"
		! grep -q 'l2tp-host' "$OUT/conns-$f.txt" ;;
	ipsec-hub)
		# one connection for every branch: any address, any identity
		grep -q 'remote: %any' "$OUT/conns-$f.txt"
		grep -q 'l2tp: TRANSPORT' "$OUT/conns-$f.txt" ;;
	ipsec-c)
		grep -q 'local:  198.51.100.2' "$OUT/conns-$f.txt"
		grep -q 'remote: 203.0.113.1' "$OUT/conns-$f.txt" ;;
	esac
	nq r1 "$VICI_LOAD" "$RUN/r1.vici" "$REPO_CONF/$f.conf" unload >/dev/null
done
_expect "connections left after unload" "$(swanctl_ns r1 --list-conns | grep -c '^l2tpv3d-t' || true)" 0
log "ok: charon accepts the four RTX configurations and the hub's"

# ------------------------------------- 2. raw and IPsec tunnels in one file
conf_r1 >"$OUT/r1.conf"
cat >>"$OUT/r1.conf" <<EOF2
tunnel select 2
 tunnel encapsulation l2tpv3
 tunnel endpoint address 203.0.113.2
 ipsec tunnel 102
  ipsec sa policy 102 2 esp aes-cbc sha-hmac
  ipsec ike keepalive use 2 on dpd 10 3
  ipsec ike pre-shared-key 2 text ipsec-secret
  ipsec ike remote address 2 203.0.113.2
 l2tp tunnel auth on $SECRET
 l2tp remote end-id ipsec
 tunnel enable 2
ipsec auto refresh on
ipsec transport 2 102 udp 1701
ipsec vici socket unix://$RUN/r1.vici
EOF2
nbg inet tcpdump -Z root -n -i e1 --immediate-mode -U -w "$OUT/e1.pcap" udp port 1701 2>"$OUT/e1.pcap.err"
CAPTURE_PID[$OUT/e1.pcap]=$!
wait_for "tcpdump listening" 10 grep -q 'listening on' "$OUT/e1.pcap.err"
start_daemon r2
start_daemon r1 "$OUT/r1.conf"
wait_for "raw tunnel 1 paired" 30 paired
ping_ok pc1 192.168.10.2 5

esp_here=yes
k1=0x$(printf '%032x' 1) k2=0x$(printf '%040x' 2)
if ! nq r1 ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4242 mode transport \
	enc 'cbc(aes)' "$k1" auth 'hmac(sha1)' "$k2" 2>"$OUT/xfrm.err"; then
	esp_here=no
fi
nq r1 ip xfrm state flush 2>/dev/null || true
log "kernel ESP (ip xfrm state add): $esp_here ($(cat "$OUT/xfrm.err"))"
t2() { jqs r1 ".tunnels[] | select(.id == 2) | $1"; }
if [[ $esp_here == no ]]; then
	wait_for "tunnel 2's status names the missing ESP" 10 sh -c \
		"'$L2TPCTL' -S '$(sock r1)' -j show status l2tp >/dev/null && true"
	err=$(t2 '.ipsec.error')
	log "tunnel 2 ipsec.error: $err"
	grep -q 'no ESP' <<<"$err"
	_expect "tunnel 2 state" "$(t2 '.state')" idle
	_expect "tunnel 2 CHILD SA state" "$(t2 '.ipsec.child_state')" none
	_expect "ESP error lines in r1's log" "$(grep -c 'the kernel has no ESP' "$(daemon_log r1)")" 1
	grep -q 'waiting for its IPsec SA' "$(daemon_log r1)"
fi
# IKE needs no ESP: the connection is loaded either way (for IKE's diagnostics)
wait_for "the daemon loads tunnel 2's connection into charon" 20 sh -c \
	"ip netns exec '${NS[r1]}' swanctl --list-conns --uri 'unix://$RUN/r1.vici' 2>/dev/null | grep -q '^l2tpv3d-t2'"
_expect "tunnel 2 loaded" "$(t2 '.ipsec.loaded')" true
_expect "tunnel 1 (raw) has no ipsec status" "$(jqs r1 '.tunnels[] | select(.id == 1) | has("ipsec") | tostring')" false
# the raw tunnel is untouched, the IPsec one never spoke L2TP in clear
ping_ok pc1 192.168.10.2 3
hold_never "tunnel 2 leaves idle" 3 bash -c "[[ \$('$L2TPCTL' -S '$(sock r1)' -j show status l2tp | jq -r '.tunnels[] | select(.id == 2) | .state') != idle ]]"
capture_stop "$OUT/e1.pcap"
_expect "L2TP packets with tunnel 2's end-id 'ipsec' in clear" \
	"$(tshark -n -r "$OUT/e1.pcap" -Y 'l2tp.avp.remote_end_id == "ipsec" || frame contains "ipsec"' 2>/dev/null | wc -l)" 0
stop_daemon r1
stop_daemon r2
log "ok: raw tunnel up, IPsec tunnel down with one clear error (ESP: $esp_here)"
