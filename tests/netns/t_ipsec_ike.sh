#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The daemon's VICI glue against two real charons (one per router
# namespace), shared/ipsec.md configuration A: r1 the NAT'd aggressive-mode
# initiator (`ipsec ike local name 1 l2tpv3`), r2 the fixed responder
# (`remote address 1 any`, `remote name 1 l2tpv3`).  IKE needs no ESP, so
# this runs on a kernel without it; the CHILD SA (kernel ESP) and the L2TP
# over it are tested in the VM (tests/vm).
#
#  1. r2's charon without i_dont_care_about_security_and_use_aggressive_mode_psk:
#     r2's daemon says why IKE fails, naming the option (from charon's log
#     events); no IKE SA.
#  2. With the option: the IKE SA is ESTABLISHED on both daemons' status
#     (3DES/SHA1/MODP1024, NAT detected at r1), loaded by the daemons alone;
#     no L2TP in clear on the Internet link while no CHILD SA exists.
#     r1's charon restarted: r1's daemon reconnects, loads its connection
#     again and the IKE SA comes back.
#  3. A reload without changes keeps the IKE SA (same unique id); a new
#     pre-shared key on both sides replaces the connection and brings a new
#     IKE SA up; `tunnel disable 1` unloads the connection (charon lists
#     none) and the SA goes.
#  4. A wrong pre-shared key at r1: IKE never comes up and r1's status
#     counts an authentication failure.
#  5. r1 proposes AES-256 where r2 takes 3DES: both daemons count "no
#     proposal chosen" and r1's log says so.
source "$(dirname "$0")/lib.sh"

require_daemon
[[ -x /usr/lib/ipsec/charon ]] || { log "strongSwan's charon is not installed (scripts/deps.sh)"; exit 1; }
topo_create
# IKE to r2 itself (its NAT forwards only 1701 to the bridge address)

charon_start() { # NS AGGRESSIVE_PSK(yes|no)
	local ns=$1 aggr=$2
	cat >"$RUN/$ns-strongswan.conf" <<-EOC
	charon {
	  plugins {
	    vici { socket = unix://$RUN/$ns.vici }
	  }
	  install_routes = no
	  i_dont_care_about_security_and_use_aggressive_mode_psk = $aggr
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
	CHARON_PID[$ns]=$!
	BG_PIDS+=($!)
	wait_for "$ns: charon's VICI socket" 15 test -S "$RUN/$ns.vici"
}
charon_stop() { _stop_pid "${CHARON_PID[$1]}"; }
declare -A CHARON_PID
swanctl_ns() { local ns=$1; shift; nq "$ns" swanctl "$@" --uri "unix://$RUN/$ns.vici" 2>>"$OUT/swanctl.err"; }

conf_a() { # NS PSK [enable|disable [IKE-ENCRYPTION]]
	local ns=$1 psk=$2 en=${3:-enable} enc=${4:-3des-cbc}
	if [[ $ns == r1 ]]; then
		cat <<-EOC
		tunnel select 1
		 tunnel encapsulation l2tpv3
		 tunnel endpoint address 172.16.0.2 203.0.113.2
		 ipsec tunnel 101
		  ipsec sa policy 101 1 esp aes-cbc sha-hmac
		  ipsec ike keepalive use 1 on dpd 10 3
		  ipsec ike local address 1 172.16.0.2
		  ipsec ike local name 1 l2tpv3 key-id
		  ipsec ike encryption 1 $enc
		  ipsec ike nat-traversal 1 on
		  ipsec ike pre-shared-key 1 text $psk
		  ipsec ike remote address 1 203.0.113.2
		 l2tp always-on on
		 l2tp hostname RT2
		 l2tp tunnel auth on yamaha
		 l2tp local router-id 192.168.100.254
		 l2tp remote router-id 192.168.100.1
		 l2tp remote end-id yamaha
		 tunnel $en 1
		nat descriptor masquerade static 1 1 172.16.0.2 udp 500
		ipsec auto refresh on
		ipsec transport 1 101 udp 1701
		ipsec vici socket unix://$RUN/r1.vici
		metrics listen 127.0.0.1:9180
		l2tp service on l2tpv3
		EOC
	else
		cat <<-EOC
		tunnel select 1
		 tunnel encapsulation l2tpv3
		 ipsec tunnel 101
		  ipsec sa policy 101 1 esp aes-cbc sha-hmac
		  ipsec ike keepalive use 1 on dpd 10 3
		  ipsec ike local address 1 203.0.113.2
		  ipsec ike nat-traversal 1 on
		  ipsec ike pre-shared-key 1 text $psk
		  ipsec ike remote address 1 any
		  ipsec ike remote name 1 l2tpv3 key-id
		 l2tp always-on on
		 l2tp hostname RT1
		 l2tp tunnel auth on yamaha
		 l2tp local router-id 192.168.100.1
		 l2tp remote router-id 192.168.100.254
		 l2tp remote end-id yamaha
		 tunnel $en 1
		ipsec auto refresh on
		ipsec transport 1 101 udp 1701
		ipsec vici socket $RUN/r2.vici
		l2tp service on l2tpv3
		EOC
	fi
}
ike() { jqs "$1" '.tunnels[0].ipsec.ike_state'; }
ike_up() { [[ $(ike "$1") == ESTABLISHED ]]; }
both_up() { ike_up r1 && ike_up r2; }

nbg inet tcpdump -Z root -n -i e1 --immediate-mode -U -w "$OUT/e1.pcap" udp 2>"$OUT/e1.pcap.err"
CAPTURE_PID[$OUT/e1.pcap]=$!
wait_for "tcpdump listening" 10 grep -q 'listening on' "$OUT/e1.pcap.err"

# -------------------------------------------- 1. aggressive PSK refused
charon_start r1 no
charon_start r2 no
conf_a r1 secret-a >"$OUT/r1.conf"
conf_a r2 secret-a >"$OUT/r2.conf"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "r2 explains the refused aggressive mode" 30 grep -q \
	"charon refuses aggressive mode with a pre-shared key as responder; set charon.i_dont_care_about_security_and_use_aggressive_mode_psk = yes" \
	"$(daemon_log r2)"
_expect "r2's aggressive-mode refusals counted" \
	"$(jqs r2 '.tunnels[0].ipsec.ike_failures.aggressive_mode_psk_refused > 0')" true
fails both_up
stop_daemon r1
stop_daemon r2
charon_stop r2
log "ok: 1. refused aggressive mode explained"

# ------------------------------------------------------ 2. IKE SA up
charon_start r2 yes
LOGTAG=up
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "IKE SA established on both daemons" 40 both_up
s1=$(status_json r1)
_expect "r1 IKE algorithms" "$(jq -r '.tunnels[0].ipsec.ike_algorithms' <<<"$s1")" "3DES_CBC/HMAC_SHA1_96/MODP_1024"
_expect "r1 sees NAT here" "$(jq -r '.tunnels[0].ipsec.nat_local' <<<"$s1")" true
_expect "r1 IKE peer" "$(jq -r '.tunnels[0].ipsec.remote_host' <<<"$s1")" 203.0.113.2
_expect "r2 IKE peer (r1's NAT)" "$(jqs r2 '.tunnels[0].ipsec.remote_host')" 198.51.100.2
_expect "r1 L2TP state without CHILD SA" "$(jqs r1 '.tunnels[0].state')" idle
swanctl_ns r2 --list-sas >"$OUT/r2-sas.txt"
grep -q 'l2tpv3d-t1: #.*ESTABLISHED, IKEv1' "$OUT/r2-sas.txt"
grep -q "remote 'l2tpv3' @ 198.51.100.2" "$OUT/r2-sas.txt"
status_text r1 >"$OUT/r1-status.txt"
grep -q '  IPsec: l2tpv3d-t1, IKE SA ESTABLISHED, CHILD SA none' "$OUT/r1-status.txt"
grep -q '  IPsec peer: 203.0.113.2, NAT here' "$OUT/r1-status.txt"
grep -q '  IKE: 3DES_CBC/HMAC_SHA1_96/MODP_1024, rekey in ' "$OUT/r1-status.txt"
nq r1 "$L2TPCTL" -S "$(sock r1)" show ipsec sa >"$OUT/r1-ipsec-sa.txt"
cat "$OUT/r1-ipsec-sa.txt" >&2
grep -q '^Total: isakmp:1 send:0 recv:0' "$OUT/r1-ipsec-sa.txt"
grep -Eq '^1 +1 +isakmp +- +- +[0-9]+ +203.0.113.2 \(ESTABLISHED\)' "$OUT/r1-ipsec-sa.txt"
nq r1 curl -fsS http://127.0.0.1:9180/metrics >"$OUT/r1-metrics.txt"
grep -q '^l2tpv3d_ipsec_ike_sa_up{tunnel="1"} 1$' "$OUT/r1-metrics.txt"
grep -q '^l2tpv3d_ipsec_sa_up{tunnel="1"} 0$' "$OUT/r1-metrics.txt"
grep -q '^l2tpv3d_ipsec_ike_failures_total{tunnel="1",reason="authentication_failed"} 0$' "$OUT/r1-metrics.txt"
grep -q '^l2tpv3d_xfrm_in_tmpl_mismatch_total [0-9]' "$OUT/r1-metrics.txt"
_expect "show ipsec sa -j" "$(nq r1 "$L2TPCTL" -S "$(sock r1)" -j show ipsec sa | jq -r '.[0].ipsec.ike_state')" ESTABLISHED
log "ok: 2. IKE SA up between the daemons' connections"

# ------------------------------------ 2b. charon restarts under the daemon
charon_stop r1
wait_for "r1 notices charon is gone" 10 grep -Eq 'charon closed the VICI connection|VICI connection error' "$(daemon_log r1)"
wait_for "r1's status shows the lost charon" 10 bash -c \
	"[[ \$('$L2TPCTL' -S '$(sock r1)' -j show status l2tp | jq -r '.tunnels[0].ipsec.ike_state') == none ]]"
charon_start r1 no
wait_for "r1 reconnects, reloads and initiates: IKE SA up again" 30 both_up
_expect "r1's connections to charon" "$(grep -c 'ipsec: connected to charon' "$(daemon_log r1)")" 2
log "ok: 2b. charon restarted: the daemon reconnected and the IKE SA is back"

# ----------------------------------- 3. reload unchanged, then disable
uid() { swanctl_ns r2 --list-sas | sed -n 's/^l2tpv3d-t1: #\([0-9]*\),.*/\1/p' | head -1; }
u1=$(uid)
[[ -n $u1 ]]
n r2 kill -HUP "${DAEMON_PID[r2]}"
wait_for "r2 reloaded" 10 grep -q 'reload: .* applied' "$(daemon_log r2)"
sleep 2
_expect "r2's IKE SA after a reload without changes" "$(uid)" "$u1"
ike_up r2
# the key changed on both sides: the connection is replaced, a new IKE SA
conf_a r2 secret-b >"$OUT/r2.conf"
conf_a r1 secret-b >"$OUT/r1.conf"
n r2 kill -HUP "${DAEMON_PID[r2]}"
n r1 kill -HUP "${DAEMON_PID[r1]}"
wait_for "r1 unloads the changed connection" 10 grep -q 'tunnel 1: unloading its connection (IPsec settings changed)' \
	"$(daemon_log r1)"
new_ike_sa() {
	local u
	u=$(uid)
	[[ -n $u && $u != "$u1" ]] && swanctl_ns r2 --list-sas | grep -q "^l2tpv3d-t1: #$u, ESTABLISHED"
}
wait_for "a new IKE SA with the new key" 40 new_ike_sa
wait_for "both daemons see it" 20 both_up
conf_a r2 secret-b disable >"$OUT/r2.conf"
n r2 kill -HUP "${DAEMON_PID[r2]}"
wait_for "r2 unloads the connection" 15 sh -c \
	"! ip netns exec '${NS[r2]}' swanctl --list-conns --uri 'unix://$RUN/r2.vici' 2>/dev/null | grep -q l2tpv3d-t1"
wait_for "r2's IKE SA gone" 15 sh -c \
	"! ip netns exec '${NS[r2]}' swanctl --list-sas --uri 'unix://$RUN/r2.vici' 2>/dev/null | grep -q 'l2tpv3d-t1'"
stop_daemon r1
stop_daemon r2
log "ok: 3. reload keeps the SA, tunnel disable unloads"

# ------------------------------------------------ 4. wrong pre-shared key
LOGTAG=psk
conf_a r2 secret-a >"$OUT/r2.conf"
conf_a r1 wrong-key >"$OUT/r1-psk.conf"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1-psk.conf"
wait_for "r1 counts an authentication failure" 40 \
	bash -c "[[ \$('$L2TPCTL' -S '$(sock r1)' -j show status l2tp | jq '.tunnels[0].ipsec.ike_failures.authentication_failed') -gt 0 ]]"
grep -m1 'IKE failed: authentication failed: wrong pre-shared key' "$(daemon_log r1)" >&2
fails both_up
stop_daemon r1
stop_daemon r2

# ------------------------------------------------ 5. no proposal chosen
LOGTAG=proposal
conf_a r1 secret-a enable aes256-cbc >"$OUT/r1-proposal.conf"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1-proposal.conf"
wait_for "r1 names the proposal mismatch" 40 \
	bash -c "[[ \$('$L2TPCTL' -S '$(sock r1)' -j show status l2tp | jq '.tunnels[0].ipsec.ike_failures.no_proposal_chosen') -gt 0 ]]"
wait_for "r2 (the only responder) names it too" 20 \
	bash -c "[[ \$('$L2TPCTL' -S '$(sock r2)' -j show status l2tp | jq '.tunnels[0].ipsec.ike_failures.no_proposal_chosen') -gt 0 ]]"
grep -m1 'IKE failed: no proposal chosen' "$(daemon_log r1)" >&2
stop_daemon r1
stop_daemon r2
LOGTAG=
capture_stop "$OUT/e1.pcap"
_expect "L2TP (UDP 1701) packets in clear on the Internet link" \
	"$(tshark -n -r "$OUT/e1.pcap" -Y 'udp.port == 1701' 2>/dev/null | wc -l)" 0
k=$(tshark -n -r "$OUT/e1.pcap" -Y 'isakmp' 2>/dev/null | wc -l)
(( k > 0 )) || { log "no IKE seen on the Internet link"; exit 1; }
log "ok: 4. a wrong key never brings IKE up and is named; $k IKE packets, no clear L2TP"
