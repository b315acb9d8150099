#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Guest side of tests/vm/t_ipsec_libreswan.sh (runs inside the test VM).
#
# A second IKE implementation: Debian's libreswan (pluto, unpacked in
# /opt/libreswan) in r1 as the RTX-style initiator (IKEv1 aggressive,
# KEY_ID l2tpv3 = @#6c3274707633, PSK, transport, NAT-T, PFS off, DPD;
# aes128-sha1-modp2048 since this libreswan has no modp1024) against a
# strongSwan responder in r2, in both selector styles:
#   h2h   libreswan host-to-host   / strongSwan child host-to-host
#   udp   libreswan 17/1701        / strongSwan child dynamic[udp/1701]
# and in each, l2tpv3d (l2tpv3-raw) at both sites over the SA, pings
# across, and the WAN carrying no clear L2TP.  Then the mismatch ipsec.md
# measured: libreswan host-to-host against a udp/1701-only responder is
# refused (no CHILD SA), which is why a responder must take the proposed
# selectors as they are.
source "$(dirname "${BASH_SOURCE[0]}")/lib-ipsec.sh"
T0=$SECONDS
CASES=${CASES:-h2h udp mismatch}

ipsec_require
[[ -x /usr/libexec/ipsec/pluto ]] || { log "no libreswan in the guest"; false; }
ipsec_topo

# secrets and setup for pluto in r1
cat >"$OUT/r1-ipsec.secrets" <<'EOF'
: PSK "yamaha"
EOF

# pluto_conf STYLE: r1's libreswan connection, RTX-style.
pluto_conf() {
	local style=$1
	# (ipsec.conf wants the lines of a section indented: spaces, since
	# <<- strips tabs)
	cat <<-EOF
	config setup
	    ikev1-policy=accept
	    plutodebug=none

	conn rtx
	    ikev2=no
	    aggressive=yes
	    authby=secret
	    type=transport
	    left=172.16.0.2
	    leftid=@#6c3274707633
	    right=203.0.113.2
	    rightid=203.0.113.2
	    ike=aes128-sha1;modp2048
	    esp=aes128-sha1
	    pfs=no
	    encapsulation=auto
	    dpddelay=10
	    dpdtimeout=60
	    dpdaction=restart
	    auto=add
	    # the updown script on PATH is strongSwan's (a different interface)
	    leftupdown=/bin/true
	EOF
	if [[ $style == udp ]]; then
		printf '    leftprotoport=17/1701\n    rightprotoport=17/1701\n'
	fi
}

# swan_conf STYLE: r2's strongSwan responder child, host-to-host or udp/1701.
swan_conf() {
	local ts=dynamic
	[[ $1 == h2h ]] || ts='dynamic[udp/1701]'
	cat <<-EOF
	connections {
		rtx {
			version = 1
			aggressive = yes
			local_addrs = 203.0.113.2
			remote_addrs = %any
			proposals = aes128-sha1-modp2048
			dpd_delay = 10s
			local {
				auth = psk
				id = 203.0.113.2
			}
			remote {
				auth = psk
				id = keyid:l2tpv3
			}
			children {
				l2tp {
					mode = transport
					local_ts = $ts
					remote_ts = $ts
					esp_proposals = aes128-sha1
				}
			}
		}
	}
	secrets {
		ike-rtx {
			secret = yamaha
		}
	}
	EOF
}

charon_start r2

run_case() { # NAME LIBRESWAN-STYLE STRONGSWAN-STYLE EXPECT(up|refused)
	local name=$1 ls=$2 ss=$3 expect=$4 t
	log "=== case $name: libreswan $ls, strongSwan child $ss, expect $expect"
	pluto_conf "$ls" >"$OUT/r1-$name-ipsec.conf"
	swan_conf "$ss" >"$OUT/r2-$name-swanctl.conf"
	swanctl r2 --load-all --clear --file "$OUT/r2-$name-swanctl.conf" >"$OUT/r2-$name-load.out"
	pluto_start r1 "$OUT/r1-$name-ipsec.conf" "$OUT/r1-ipsec.secrets"
	nq r1 /usr/libexec/ipsec/addconn --config "$OUT/r1-$name-ipsec.conf" \
		--ctlsocket "$RUN/pluto-r1/run/pluto.ctl" rtx >"$OUT/r1-$name-addconn.out" 2>&1 ||
		{ cat "$OUT/r1-$name-addconn.out" >&2; false; }
	t=$SECONDS
	est0=$(grep -c 'IPsec SA established' "$OUT/pluto-r1.log" || true)
	whack r1 --name rtx --initiate --asynchronous >"$OUT/r1-$name-whack.out" 2>&1 || true
	if [[ $expect == up ]]; then
		wait_for "$name: CHILD SA installed in r1 (libreswan) and r2 (strongSwan)" 30 \
			eval 'child_installed r1 2 && child_installed r2 2'
		log "$name: CHILD SA up $((SECONDS - t)) s after whack --initiate"
		nq r2 ip xfrm state >"$OUT/r2-$name-xfrm-state.out"
		nq r2 ip xfrm policy >"$OUT/r2-$name-xfrm-policy.out"
		grep -q 'encap type espinudp' "$OUT/r2-$name-xfrm-state.out"
		if [[ $ss == udp ]]; then
			grep -q 'proto udp sport 1701 dport 1701' "$OUT/r2-$name-xfrm-policy.out"
		else
			fails grep -q 'proto udp' "$OUT/r2-$name-xfrm-policy.out"
		fi
		swanctl r2 --list-sas >"$OUT/r2-$name-sas.out"
		grep -q "remote 'l2tpv3' @ 198.51.100.2" "$OUT/r2-$name-sas.out"
		grep -q 'INSTALLED, TRANSPORT-in-UDP, ESP:AES_CBC-128/HMAC_SHA1_96' "$OUT/r2-$name-sas.out"

		wan_capture_start "$OUT/wan-$name.pcap"
		LOGTAG=$name
		conf_ipsec_r2 >"$OUT/r2-$name.conf"
		conf_ipsec_r1 >"$OUT/r1-$name.conf"
		start_daemon r2 "$OUT/r2-$name.conf"
		start_daemon r1 "$OUT/r1-$name.conf"
		wait_for "$name: tunnel and session established over libreswan's SA" 40 paired
		wait_for "$name: first ping pc1 -> pc2 across" 20 ping1 pc1 192.168.10.2
		ping_ok pc1 192.168.10.2 5
		ping_ok pc2 192.168.10.1 3
		stop_daemon r1
		stop_daemon r2
		LOGTAG=
		wan_capture_stop "$OUT/wan-$name.pcap"
		# (the host checks the capture: tests/vm/t_ipsec_libreswan.sh)
	else
		# Quick Mode refused: libreswan answers strongSwan's narrowed
		# IDs with INVALID_ID_INFORMATION and never establishes the
		# IPsec SA.  (Both sides may hold a transient half of it: pluto
		# installs its inbound SA before checking the answer, and
		# strongSwan its own before the notify arrives; the SA counts
		# are only logged.)
		wait_for "$name: libreswan sends INVALID_ID_INFORMATION" 30 \
			grep -q 'sending encrypted notification INVALID_ID_INFORMATION' "$OUT/pluto-r1.log"
		hold_never "$name: libreswan establishes an IPsec SA" 10 \
			eval '(( $(grep -c "IPsec SA established" "$OUT/pluto-r1.log") > est0 ))'
		grep 'INVALID_ID_INFORMATION' "$OUT/charon-r2.log" >&2 || log "note: charon logged no INVALID_ID_INFORMATION (yet)"
		log "ok: $name: libreswan refused the narrowed answer (INVALID_ID_INFORMATION); ESP SAs held: r1 $(nq r1 ip xfrm state | grep -c '^src'), r2 $(nq r2 ip xfrm state | grep -c '^src')"
	fi
	# Down: pluto stopped (its SAs deleted), strongSwan's IKE SA terminated.
	whack r1 --shutdown >/dev/null 2>&1 || true
	wait_for "$name: pluto gone" 15 eval '! pgrep -x pluto >/dev/null'
	swanctl r2 --terminate --ike rtx --force >/dev/null 2>&1 || true
	nq r1 ip xfrm state flush
	nq r1 ip xfrm policy flush
	wait_for "$name: r2 holds no SA" 15 eval '! child_installed r2 1'
	log "=== case $name done ($((SECONDS - t)) s)"
}

for c in $CASES; do
	case $c in
	h2h) run_case h2h h2h h2h up ;;
	udp) run_case udp udp udp up ;;
	mismatch) run_case mismatch h2h udp refused ;;
	esac
done
log "test time $((SECONDS - T0)) s"
