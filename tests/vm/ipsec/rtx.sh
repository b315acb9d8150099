#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Guest side of tests/vm/t_ipsec_rtx.sh (runs inside the test VM).
#
# strongSwan configured BY HAND as a Yamaha RTX pair behaves (IKEv1
# aggressive mode, the NAT'd initiator with KEY_ID identity keyid:l2tpv3,
# Yamaha's proposals 3des-sha1-modp1024 and ESP aes128-sha1, PFS off, DPD,
# transport mode on udp/1701, NAT-T), one charon per router namespace, and
# l2tpv3d in l2tpv3-raw mode over it at both sites.  Shows:
#  - the CHILD SA comes up across both NATs (nat1 rewrites source ports);
#  - the tunnel and session come up and the PCs ping across;
#  - the WAN capture (inet e0) and the keys from `ip xfrm state` for the
#    host's checks (tests/vm/ipsec/wire.sh: only IKE and ESP-in-UDP; once
#    decrypted, the L2TPv3 control messages with verified digests, no
#    expert error, the pings inside);
#  - a 1500-byte IP packet (a 1514-byte frame) crosses with DF set;
#  - clear L2TPv3 from the peer's public address with source port 1701 is
#    dropped by the kernel (XfrmInTmplMismatch counted) and never reaches
#    the daemon; from another source port it does reach the socket (the
#    hole the daemon must close for IPsec tunnels: issue 15 point 3).
source "$(dirname "${BASH_SOURCE[0]}")/lib-ipsec.sh"
T0=$SECONDS

ipsec_require
ipsec_topo

# --- strongSwan as the RTX pair, by hand --------------------------------------
# r1: the NAT'd initiator, RTX configuration A (`ipsec ike local name 1
# l2tpv3` with key-id, `ipsec sa policy 101 1 esp aes-cbc sha-hmac`,
# `ipsec ike keepalive use 1 on dpd`, `ipsec auto refresh on`,
# `ipsec transport 1 101 udp 1701`).
cat >"$OUT/r1-swanctl.conf" <<'EOF'
connections {
	rtx {
		version = 1
		aggressive = yes
		local_addrs = 172.16.0.2
		remote_addrs = 203.0.113.2
		proposals = 3des-sha1-modp1024
		dpd_delay = 10s
		rekey_time = 6h
		local {
			auth = psk
			id = keyid:l2tpv3
		}
		remote {
			auth = psk
			id = 203.0.113.2
		}
		children {
			l2tp {
				mode = transport
				local_ts = dynamic[udp/1701]
				remote_ts = dynamic[udp/1701]
				esp_proposals = aes128-sha1
				dpd_action = restart
				start_action = start
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
# r2: the fixed responder (`ipsec ike remote name 1 l2tpv3 key-id`,
# `ipsec ike remote address 1 any`): answers only.
cat >"$OUT/r2-swanctl.conf" <<'EOF'
connections {
	rtx {
		version = 1
		aggressive = yes
		local_addrs = 203.0.113.2
		remote_addrs = %any
		proposals = 3des-sha1-modp1024
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
				local_ts = dynamic[udp/1701]
				remote_ts = dynamic[udp/1701]
				esp_proposals = aes128-sha1
				dpd_action = clear
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

wan_capture_start "$OUT/wan.pcap"
charon_start r2
charon_start r1
swanctl r2 --load-all --file "$OUT/r2-swanctl.conf" >"$OUT/r2-load.out"
t_load=$SECONDS
swanctl r1 --load-all --file "$OUT/r1-swanctl.conf" >"$OUT/r1-load.out"
wait_for "CHILD SA installed in r1 and r2 (2 SAs, 2 policies each)" 30 \
	eval 'child_installed r1 2 && child_installed r2 2'
log "CHILD SA up $((SECONDS - t_load)) s after loading the initiator"
swanctl r1 --list-sas >"$OUT/r1-sas.out"
swanctl r2 --list-sas >"$OUT/r2-sas.out"
cat "$OUT/r1-sas.out" >&2
grep -q 'ESTABLISHED, IKEv1' "$OUT/r1-sas.out"
grep -q 'AES_CBC-128/HMAC_SHA1_96' "$OUT/r1-sas.out"
grep -q '3DES_CBC/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024' "$OUT/r1-sas.out"
grep -q 'INSTALLED, TRANSPORT-in-UDP, ESP:AES_CBC-128/HMAC_SHA1_96' "$OUT/r1-sas.out"
grep -q "local  'l2tpv3' @ 172.16.0.2" "$OUT/r1-sas.out"
grep -q "remote 'l2tpv3' @ 198.51.100.2" "$OUT/r2-sas.out"
# NAT-T: the SAs are UDP-encapsulated, and r2 sees r1 on a rewritten port.
nq r2 ip xfrm state >"$OUT/r2-xfrm-state.out"
grep -q 'encap type espinudp' "$OUT/r2-xfrm-state.out"
natport=$(awk '/encap type espinudp/ { for (i = 1; i <= NF; i++) if ($i == "sport") print $(i + 1) }' "$OUT/r2-xfrm-state.out" |
	grep -v '^4500$' | head -n1)
[[ -n $natport ]] && (( natport >= 20000 && natport <= 29999 ))
log "ok: NAT-T, r1 seen by r2 at 198.51.100.2:$natport"
nq r2 ip xfrm policy >"$OUT/r2-xfrm-policy.out"
grep -q 'proto udp sport 1701 dport 1701' "$OUT/r2-xfrm-policy.out"

# --- clear-text injection from the peer's public address ------------------------
# Before the daemons: a plain socket on r2's UDP 1701 tells what the kernel
# lets through.  nat1 owns 198.51.100.2, the address r2 knows r1 by.
nbg r2 socat -u UDP4-RECV:1701,reuseaddr OPEN:"$OUT/sock1701.out",creat,append
sockpid=$!
wait_for "r2: test socket on udp 1701" 5 eval "nq r2 ss -uln | grep -q ':1701 '"
# Source port 1701: the `in` policy on udp 1701<->1701 requires ESP.
mm0=$(xfrm_stat r2 XfrmInTmplMismatch)
printf 'clear-from-1701\n' | n nat1 socat -u - UDP4-SENDTO:203.0.113.2:1701,sourceport=1701,bind=198.51.100.2
wait_for "r2's kernel drops the clear packet from port 1701 (XfrmInTmplMismatch counted)" 5 \
	eval '(( $(xfrm_stat r2 XfrmInTmplMismatch) > mm0 ))'
log "XfrmInTmplMismatch $mm0 -> $(xfrm_stat r2 XfrmInTmplMismatch)"
# Another source port: no policy covers it; it reaches the socket.
printf 'clear-from-1702\n' | n nat1 socat -u - UDP4-SENDTO:203.0.113.2:1701,sourceport=1702,bind=198.51.100.2
wait_for "the clear packet from port 1702 reaches r2's socket on 1701" 5 grep -q clear-from-1702 "$OUT/sock1701.out"
fails grep -q clear-from-1701 "$OUT/sock1701.out"
log "ok: clear UDP from 198.51.100.2:1702 reaches udp/1701 (the daemon must refuse it), from :1701 it does not"
kill "$sockpid"
wait "$sockpid" 2>/dev/null || true
wait_for "r2: test socket closed" 5 eval "! nq r2 ss -uln | grep -q ':1701 '"

# --- l2tpv3d (raw) over it ----------------------------------------------------
conf_ipsec_r2 >"$OUT/r2.conf"
conf_ipsec_r1 >"$OUT/r1.conf"
start_daemon r2 "$OUT/r2.conf"
start_daemon r1 "$OUT/r1.conf"
wait_for "tunnel and session established between r1 and r2 over ESP" 40 paired
[[ $(jqs r2 '.tunnels[0].peer_address // .tunnels[0].remote_address // ""') == *198.51.100.2* ]] ||
	log "note: r2's status names its peer as $(jqs r2 '.tunnels[0] | tostring' | head -c 300)"
wait_for "first ping pc1 -> pc2 across" 20 ping1 pc1 192.168.10.2
ping_ok pc1 192.168.10.2 5
ping_ok pc2 192.168.10.1 3
# 1500-byte IP packets with DF: a 1514-byte Ethernet frame in L2TPv3 (50
# bytes) in ESP in UDP (46-61 bytes): the outer packet is fragmented by the
# router's kernel, never the LAN's frame.
n pc1 ping -n -c 3 -i 0.3 -W 3 -M do -s 1472 192.168.10.2 >"$OUT/ping1500.out" 2>&1 ||
	{ cat "$OUT/ping1500.out" >&2; false; }
log "ok: 1500-byte packets with DF cross (3/3)"

wan_capture_stop "$OUT/wan.pcap"

# The keys for tshark (the host checks the capture: tshark takes 8 s to
# start under TCG, and the checks run it some twenty times).
esp_sa_file r2 "$OUT/tshark"
cat "$OUT/tshark/wireshark/esp_sa" >&2
stop_daemon r1
stop_daemon r2
log "test time $((SECONDS - T0)) s"
