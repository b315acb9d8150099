# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Checks of the IPsec tests' captures, run on the HOST after the VM has
# stopped (tshark needs 8 s to start under TCG; here it takes a fraction of
# a second).  Sourced by tests/vm/t_ipsec_*.sh with OUT set to a directory
# of its own; sources tests/netns/lib.sh for tsh, tcount, _expect and
# pcap_check_scenario (it creates no namespace here).
#
#   check_wan_only_ike_esp FILE   nothing but IKE (500/4500) and ESP in UDP
#                                 4500, no clear L2TP
#   esp_decrypt_on DIR / esp_decrypt_off   every later tsh decrypts ESP with
#                                 DIR/wireshark/esp_sa and checks the ICVs
#   check_rtx_wire DIR            the capture of tests/vm/ipsec/rtx.sh

# shellcheck source=../../netns/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../netns" && pwd)/lib.sh"

check_wan_only_ike_esp() { # FILE [plain]: "plain" also allows ESP (IP 50)
	local f=$1 esp='' k
	[[ ${2:-} == plain ]] && esp=' || (esp && ip.proto == 50)'
	# Full-size frames make ESP packets longer than the WAN's MTU: the
	# router fragments them, and tshark shows the UDP header (port 4500)
	# only in the last fragment, where it reassembles the packet.
	k=$(tcount "$f" "!(udp.port == 500 || udp.port == 4500$esp) && !(ip.flags.mf == 1 && ip.proto == 17)")
	_expect "WAN packets other than IKE and ESP-in-UDP" "$k" 0
	k=$(tcount "$f" 'ip.flags.mf == 1')
	_expect "first fragments = ESP packets reassembled from them" \
		"$(tcount "$f" 'esp && ip.fragments')" "$k"
	k=$(tcount "$f" 'udp.port == 4500 && !(esp || isakmp || udpencap)')
	_expect "port 4500 packets that are neither ESP nor IKE" "$k" 0
	k=$(tcount "$f" 'esp')
	(( k > 0 )) || { log "capture: no ESP at all"; return 1; }
	log "ok: capture: $k ESP packets"
	_expect "clear L2TP on the WAN (no keys given)" "$(tcount "$f" 'l2tp')" 0
}

esp_decrypt_on() {
	export XDG_CONFIG_HOME=$1
	TSH_OPTS=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE)
}
esp_decrypt_off() { unset XDG_CONFIG_HOME; TSH_OPTS=(); }

# check_rtx_wire DIR [N [main]]: DIR/wan.pcap (inet e0) and
# DIR/tshark/wireshark/esp_sa from tests/vm/ipsec/rtx.sh or daemon.sh, with
# N clear packets injected from nat1 (default 2); "main": main mode between
# fixed addresses (r1 is 172.16.0.2, plain ESP); "ikev2": IKEv2 (IKE_SA_INIT,
# 34, instead of aggressive mode) and AES-GCM.
check_rtx_wire() {
	local d=$1 n=${2:-2} mode=${3:-aggressive} f k a1=198.51.100.2 xt=4 plain='' v=IKEv1 min=3
	[[ $mode == main ]] && { a1=172.16.0.2; xt=2; plain=plain; }
	[[ $mode == ikev2 ]] && { xt=34; v=IKEv2; min=2; }
	[[ -s $d/wan.pcap && -s $d/tshark/wireshark/esp_sa ]] ||
		{ log "no capture or no keys in $d"; return 1; }
	# The clear packets injected from nat1 (source ports 1701, 1702)
	# are the only clear UDP to port 1701; set them aside.
	_expect "clear UDP packets to port 1701 on the WAN (the injected ones)" \
		"$(tcount "$d/wan.pcap" 'udp.dstport == 1701')" "$n"
	f=$OUT/wan-esp.pcap
	tshark -n -r "$d/wan.pcap" -Y '!(udp.dstport == 1701)' -w "$f" 2>/dev/null
	check_wan_only_ike_esp "$f" $plain
	k=$(tcount "$f" "isakmp.exchangetype == $xt")
	(( k >= min )) || { log "capture: $k $v $mode-mode messages"; return 1; }
	log "ok: capture: $k $v $mode-mode messages"

	esp_decrypt_on "$d/tshark"
	pcap_check_scenario "$f" "$a1" 203.0.113.2
	k=$(tcount "$f" 'esp.icv_good == 1')
	(( k > 0 )) || { log "capture: no ESP ICV verified"; return 1; }
	log "ok: capture: $k ESP ICVs verified"
	_expect "ESP packets with a bad ICV" "$(tcount "$f" 'esp.icv_bad == 1')" 0
	_expect "ESP packets not decrypted" "$(tcount "$f" 'esp && !(l2tp || isakmp)')" 0
	_expect "expert errors once decrypted" "$(tcount "$f" '_ws.expert.severity == error')" 0
	if [[ -s $d/ping1500.out ]]; then
		k=$(tcount "$f" 'l2tp.type == 0 && icmp && ip.len == 1500')
		(( k >= 6 )) || { log "capture: $k 1500-byte ICMP packets inside ESP"; return 1; }
		log "ok: capture: $k 1500-byte ICMP packets inside ESP"
	fi
	tsh "$f" -Y 'l2tp' >"$OUT/wan-decrypted.txt"
	esp_decrypt_off
}
