#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15: `tunnel endpoint name HOST fqdn` / `ipsec ike remote address 1
# HOST` (shared/ipsec.md configuration B, dynamic DNS at both ends): the
# daemon resolves HOST itself, every `ipsec resolve interval` (2 s here),
# and re-targets its IPsec connection when the address changes.  The name
# is steered by r1's /etc/hosts: `ip netns exec` bind-mounts
# /etc/netns/NS/hosts over it, and the file is rewritten in place.  r2
# answers IKE on two addresses (203.0.113.2 and .3), as a peer whose
# dynamic address moved.  IKE needs no ESP, so this runs here; the CHILD
# SA and L2TP over it are the VM's (tests/vm).
#
#  1. HOST -> 203.0.113.2: r1's connection lists that address before the
#     name, and its IKE SA is with 203.0.113.2.
#  2. HOST -> 203.0.113.3: r1 logs the move (old -> new) within the
#     interval, reloads the connection toward .3, and an IKE SA with .3
#     comes up (r2's charon shows it on .3).
#  3. HOST no longer resolves: r1 keeps 203.0.113.3 and its SA, and logs
#     the failure once (bounded), not at every lookup.
#  4. (the responder race) a clear-text SCCRQ to r2, whose SA is not known:
#     held, then refused and counted as before after the hold (600 ms).
source "$(dirname "$0")/lib.sh"

require_daemon
[[ -x /usr/lib/ipsec/charon ]] || { log "strongSwan's charon is not installed (scripts/deps.sh)"; exit 1; }
topo_create
nq r2 ip addr add 203.0.113.3/29 dev lan2
HOSTS=/etc/netns/${NS[r1]}/hosts
trap 'rc=$?; rm -rf "/etc/netns/${NS[r1]}"; (exit $rc); cleanup' EXIT
mkdir -p "/etc/netns/${NS[r1]}"
sethost() { # ADDRESS|none: rewritten in place (the bind mount holds the inode)
	if [[ $1 == none ]]; then
		printf '127.0.0.1 localhost\n' >"$HOSTS"
	else
		printf '127.0.0.1 localhost\n%s peer.example.jp\n' "$1" >"$HOSTS"
	fi
}
sethost 203.0.113.2

charon_start() { # NS
	local ns=$1
	cat >"$RUN/$ns-strongswan.conf" <<-EOC
	charon {
	  plugins {
	    vici { socket = unix://$RUN/$ns.vici }
	  }
	  install_routes = no
	  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
	  retransmit_tries = 3
	  retransmit_timeout = 1
	  filelog { log { path = $OUT/$ns-charon.log
	    append = yes
	    default = 1 } }
	}
	EOC
	rm -f "$RUN/$ns.vici"
	nbg "$ns" unshare -m sh -c "mount --bind '$RUN/$ns-strongswan.conf' /etc/strongswan.conf &&
		mount -t tmpfs run /run && exec /usr/lib/ipsec/charon" >>"$OUT/$ns-charon.out" 2>&1
	BG_PIDS+=($!)
	wait_for "$ns: charon's VICI socket" 15 test -S "$RUN/$ns.vici"
}
swanctl_ns() { local ns=$1; shift; nq "$ns" swanctl "$@" --uri "unix://$RUN/$ns.vici" 2>>"$OUT/swanctl.err"; }

# r1: configuration B's lines (the peer by name), KEY_ID local name.
cat >"$OUT/r1.conf" <<EOC
tunnel select 1
 tunnel encapsulation l2tpv3
 tunnel endpoint name peer.example.jp fqdn
 ipsec tunnel 101
  ipsec sa policy 101 1 esp aes-cbc sha-hmac
  ipsec ike keepalive use 1 on dpd 10 3
  ipsec ike local name 1 l2tpv3 key-id
  ipsec ike nat-traversal 1 on
  ipsec ike pre-shared-key 1 text yamaha-ipsec
  ipsec ike remote address 1 peer.example.jp
 l2tp always-on on
 l2tp hostname RT2
 l2tp local router-id 192.168.100.254
 l2tp remote router-id 192.168.100.1
 tunnel enable 1
ipsec auto refresh on
ipsec transport 1 101 udp 1701
ipsec vici socket unix://$RUN/r1.vici
ipsec resolve interval 2
l2tp service on l2tpv3
EOC
# r2: the responder, answering on any of its addresses.
cat >"$OUT/r2.conf" <<EOC
tunnel select 1
 tunnel encapsulation l2tpv3
 ipsec tunnel 101
  ipsec sa policy 101 1 esp aes-cbc sha-hmac
  ipsec ike keepalive use 1 on dpd 10 3
  ipsec ike nat-traversal 1 on
  ipsec ike pre-shared-key 1 text yamaha-ipsec
  ipsec ike remote address 1 any
  ipsec ike remote name 1 l2tpv3 key-id
 l2tp always-on on
 l2tp hostname RT1
 l2tp local router-id 192.168.100.1
 l2tp remote router-id 192.168.100.254
 tunnel enable 1
ipsec auto refresh on
ipsec transport 1 101 udp 1701
ipsec vici socket unix://$RUN/r2.vici
l2tp service on l2tpv3
EOC
nq r1 "$L2TPV3D" -n -c "$OUT/r1.conf" >"$OUT/r1-check.out" 2>&1 || { cat "$OUT/r1-check.out" >&2; exit 1; }
sed 's/^ipsec resolve interval 2$/ipsec resolve interval 0/' "$OUT/r1.conf" >"$OUT/r1-bad.conf"
! nq r1 "$L2TPV3D" -n -c "$OUT/r1-bad.conf" >"$OUT/r1-bad.out" 2>&1 || { log "a bad interval was accepted"; exit 1; }
grep -q "r1-bad.conf:19: error: 'ipsec resolve interval 0': expected 'ipsec resolve interval SECONDS' (1..86400)" "$OUT/r1-bad.out" ||
	{ cat "$OUT/r1-bad.out" >&2; exit 1; }

charon_start r1
charon_start r2
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"

ike_with() { # ADDRESS: r1's IKE SA is established with it
	local s
	s=$(status_json r1) || return 1
	[[ $(jq -r '.tunnels[0].ipsec.ike_state' <<<"$s") == ESTABLISHED &&
		$(jq -r '.tunnels[0].ipsec.remote_host' <<<"$s") == "$1" ]]
}
# ------------------------------------------------------------ 1. first address
wait_for "r1's IKE SA with 203.0.113.2 (peer.example.jp)" 40 ike_with 203.0.113.2
_expect "r1: the name's address" "$(jqs r1 '.tunnels[0].ipsec.remote_name_address')" 203.0.113.2
_expect "r1: the name" "$(jqs r1 '.tunnels[0].ipsec.remote_name')" peer.example.jp
grep -q 'tunnel 1: peer.example.jp resolves to 203.0.113.2' "$(daemon_log r1)"
swanctl_ns r1 --list-conns >"$OUT/r1-conns-1.txt"
# (loaded before the first answer: the name alone, charon resolved it too)
grep -q '^  remote: *peer.example.jp$' "$OUT/r1-conns-1.txt" || { cat "$OUT/r1-conns-1.txt" >&2; exit 1; }
log "ok: 1. peer.example.jp -> 203.0.113.2: IKE SA with it"

# ------------------------------------------------------------ 2. the name moves
t0=$(date +%s%N)
sethost 203.0.113.3
wait_for "r1 logs the move" 10 grep -q \
	'tunnel 1: peer.example.jp moved from 203.0.113.2 to 203.0.113.3: its IPsec connection now targets 203.0.113.3' \
	"$(daemon_log r1)"
t1=$(date +%s%N)
wait_for "r1's IKE SA with 203.0.113.3" 40 ike_with 203.0.113.3
t2=$(date +%s%N)
_expect "r1: the name's address" "$(jqs r1 '.tunnels[0].ipsec.remote_name_address')" 203.0.113.3
swanctl_ns r1 --list-conns >"$OUT/r1-conns-2.txt"
# the new address first (charon initiates to it), then the name
grep -A1 '^  remote: *203.0.113.3$' "$OUT/r1-conns-2.txt" | grep -q '^  remote: *peer.example.jp$' ||
	{ cat "$OUT/r1-conns-2.txt" >&2; exit 1; }
swanctl_ns r2 --list-sas >"$OUT/r2-sas-2.txt"
grep -q "local *'[^']*' @ 203.0.113.3\[" "$OUT/r2-sas-2.txt" || { cat "$OUT/r2-sas-2.txt" >&2; exit 1; }
log "ok: 2. hosts changed -> move logged after $(( (t1 - t0) / 1000000 )) ms (interval 2 s), IKE SA with the new address after $(( (t2 - t0) / 1000000 )) ms"

# ------------------------------------------------ 3. the name stops resolving
sethost none
wait_for "r1 logs the failure" 10 grep -q \
	'tunnel 1: cannot resolve peer.example.jp (.*); keeping its last address 203.0.113.3' "$(daemon_log r1)"
sleep 7 # three more lookups at 2 s
_expect "r1: failure lines over ~4 lookups" "$(grep -c 'cannot resolve peer.example.jp' "$(daemon_log r1)")" 1
ike_with 203.0.113.3
_expect "r1: the name's address kept" "$(jqs r1 '.tunnels[0].ipsec.remote_name_address')" 203.0.113.3
sethost 203.0.113.3
wait_for "r1 says it resolves again" 10 grep -q 'peer.example.jp resolves again, to 203.0.113.3 (unchanged)' \
	"$(daemon_log r1)"
ike_with 203.0.113.3
log "ok: 3. a failed lookup keeps 203.0.113.3 and the SA, logged once"

# ------------------------------ 4. an SCCRQ while the SA is not known yet
# r2's connection is loaded and no CHILD SA exists (no ESP here): a
# clear-text SCCRQ that r2's tunnel would otherwise take (its peer's
# Router ID, no auth) is held for charon's answer (the responder race:
# the initiator's SCCRQ through a new SA comes before charon tells r2),
# then refused and counted as before once the hold (600 ms) is over.
ref0=$(jqs r2 '.counters.sccrq_refused')
nq r2 nft delete table ip nat # (its static NAT sends 1701 to a LAN address this test does not use)
n r1 python3 - <<'EOPY'
import socket, struct
def avp(t, v):
    return struct.pack(">HHH", 0x8000 | (6 + len(v)), 0, t) + v
body = (avp(0, b"\x00\x01") + avp(2, b"\x01\x00") + avp(7, b"stranger") + avp(61, struct.pack(">I", 0x1234)) +
        avp(60, socket.inet_aton("192.168.100.254")) + avp(62, b"\x00\x05"))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 1702))
s.sendto(struct.pack(">HHIHH", 0xC803, 12 + len(body), 0, 0, 0) + body, ("203.0.113.2", 1701))
EOPY
wait_for "r2 holds the SCCRQ" 5 grep -q \
	"SCCRQ from 198.51.100.2:[0-9]* (host stranger) held: tunnel 1's IPsec SA is not known yet" "$(daemon_log r2)"
wait_for "r2 refuses it after the hold (600 ms)" 5 grep -q \
	"SCCRQ from 198.51.100.2:[0-9]* (host stranger, router id 192.168.100.254) refused: tunnel 1: not through tunnel 1's IPsec SA (no SA up)" \
	"$(daemon_log r2)"
_expect "r2: SCCRQs refused" "$(jqs r2 '.counters.sccrq_refused')" $((ref0 + 1))
held=$(grep -m1 'SCCRQ from 198.51.100.2:[0-9]* .* held' "$(daemon_log r2)" | cut -d' ' -f1)
refd=$(grep -m1 'SCCRQ from 198.51.100.2:[0-9]* .* refused' "$(daemon_log r2)" | cut -d' ' -f1)
log "ok: 4. a clear SCCRQ held at $held, refused and counted at $refd"
stop_daemon r1
stop_daemon r2
