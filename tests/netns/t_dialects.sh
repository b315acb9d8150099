#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Our daemon against itself under each `l2tp compatibility` preset of
# issue 6 (yamaha, cisco, mikrotik, linux; all over UDP): the pair comes
# up, PC1 pings PC2, and tshark, told the preset's cookie size and
# sublayer (-o l2tp.cookie_size / -o l2tp.l2_specific), decodes the pings
# inside the data packets; every data packet carries the cookie that the
# receiving side announced in its Assigned Cookie AVP in the same capture,
# and the Default L2-Specific Sublayer exactly when the preset asks for it.
#
# Then the mismatch diagnosis:
#  - cookie: r1 has a fixed 8-byte `l2tp cookie value`, r2 the cisco preset
#    (4 bytes).  Cookies are announced, not negotiated, so the lengths can
#    differ and the tunnel works (RFC 3931 §5.4.4: each side checks its
#    own): both sides log the difference and `show status` says it
#    ("Mismatch: cookie length: peer asked for ..."); r1's cookie is its
#    configured value on the wire.
#  - pseudowire type: r1 `ethernet-vlan`, r2 `ethernet`: refused, and the
#    log says which setting differs.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

# ts FILE COOKIE L2SS ARGS...: tshark with the dialect's data format forced.
ts() {
	local f=$1 c=$2 l=$3; shift 3
	tshark -n -r "$f" -o "l2tp.cookie_size:cookie$c" -o "l2tp.l2_specific:$l" \
		-d l2tp.pw_type==0,eth "$@" 2>/dev/null
}

# check_data TAG FILE COOKIELEN L2SS: the capture's data packets decode with
# the given cookie length and sublayer, and carry the announced cookies.
check_data() {
	local tag=$1 f=$2 clen=$3 l2ss=$4 announced data icmp bad=0 sid cookie want
	# Session ID -> cookie, from the ICRQ/ICRP that assigned both
	announced=$(ts "$f" "$clen" "$l2ss" -Y 'l2tp.avp.message_type==10 || l2tp.avp.message_type==11' \
		-T fields -E separator=' ' -e l2tp.avp.local_session_id -e l2tp.avp.assigned_cookie)
	log "$tag: announced (session, cookie): $(echo "$announced" | tr '\n' ' ')"
	data=$(ts "$f" "$clen" "$l2ss" -Y 'l2tp.type==0' -T fields -E separator=, \
		-e l2tp.sid -e l2tp.cookie -e icmp.type)
	[[ -n $data ]] || { log "$tag: no data packets in the capture"; return 1; }
	icmp=$(awk -F, '$3 ~ /^(0|8)$/' <<<"$data" | wc -l)
	(( icmp >= 6 )) || { log "$tag: only $icmp ICMP echo packets decoded with cookie$clen/$l2ss"; return 1; }
	log "ok: $tag: $icmp ICMP echo packets decoded inside the pseudowire (cookie$clen, $l2ss)"
	while IFS=, read -r sid cookie _; do
		[[ -n $sid ]] || continue
		sid=$((sid))
		cookie=${cookie//:/}
		if (( clen == 0 )); then
			[[ -z $cookie ]] || { log "$tag: data to session $sid has cookie '$cookie'"; bad=1; }
			continue
		fi
		want=$(awk -v s="$sid" '$1 == s { gsub(":", "", $2); print $2 }' <<<"$announced" | head -n 1)
		if [[ -z $want || ${cookie,,} != "${want,,}" ]]; then
			log "$tag: data to session $sid carries cookie '$cookie', announced '$want'"
			bad=1
		fi
	done <<<"$data"
	(( bad == 0 )) || return 1
	(( clen == 0 )) || log "ok: $tag: every data packet carries the receiver's Assigned Cookie ($clen bytes)"
	local with_l2ss
	with_l2ss=$(ts "$f" "$clen" "$l2ss" -Y 'l2tp.type==0 && l2tp.l2_spec_def' | wc -l)
	if [[ $l2ss == default ]]; then
		_expect "$tag: data packets without the Default L2SS" \
			"$(( $(ts "$f" "$clen" "$l2ss" -Y 'l2tp.type==0' | wc -l) - with_l2ss ))" 0
	else
		_expect "$tag: data packets with a sublayer" "$with_l2ss" 0
	fi
}

# preset_case NAME COOKIELEN L2SS: both sides on the preset; up, ping, wire.
preset_case() {
	local name=$1 clen=$2 l2ss=$3 f=$OUT/$1.pcap
	log "--- preset $name"
	R1_LINES=("l2tp compatibility $name")
	R2_LINES=("l2tp compatibility $name")
	capture_start inet e1 "$f"
	start_case "$name"
	wait_for "$name: r1 and r2 established" 30 paired
	ping_ok pc1 192.168.10.2 3
	capture_stop "$f"
	_expect "$name: r1 rx_cookie_length" "$(jqs r1 '.tunnels[0].sessions[0].rx_cookie_length')" "$clen"
	_expect "$name: r1 tx_cookie_length" "$(jqs r1 '.tunnels[0].sessions[0].tx_cookie_length')" "$clen"
	_expect "$name: r2 rx_l2ss" "$(jqs r2 '.tunnels[0].sessions[0].rx_l2ss')" "$l2ss"
	_expect "$name: r2 tx_l2ss" "$(jqs r2 '.tunnels[0].sessions[0].tx_l2ss')" "$l2ss"
	_expect "$name: r1 mismatch" "$(status_json r1 | jq -r '.tunnels[0].mismatch')" ""
	check_data "$name" "$f" "$clen" "$l2ss"
	stop_case
}

preset_case yamaha 0 none
preset_case mikrotik 0 none
preset_case cisco 4 none
preset_case linux 0 default

# ---- cookie length mismatch: adopted, diagnosed
log "--- cookie mismatch: r1 fixed 8-byte cookie, r2 cisco (4)"
f=$OUT/cookie-mismatch.pcap
R1_LINES=("l2tp cookie value 0123456789abcdef")
R2_LINES=("l2tp compatibility cisco")
capture_start inet e1 "$f"
start_case cookie-mismatch
wait_for "cookie-mismatch: r1 and r2 established" 30 paired
ping_ok pc1 192.168.10.2 3
capture_stop "$f"
grep_log() { grep -qE "$2" "$(daemon_log "$1")"; }
wait_for "cookie-mismatch: r1 logs the difference" 5 grep_log r1 \
	"settings differ from the peer's: cookie length: peer asked for 4, 'l2tp cookie length' is 8"
wait_for "cookie-mismatch: r2 logs the difference" 5 grep_log r2 \
	"settings differ from the peer's: cookie length: peer asked for 8, 'l2tp cookie length' is 4"
st=$(status_text r1)
grep -F "  Mismatch: cookie length: peer asked for 4, 'l2tp cookie length' is 8" <<<"$st" >&2 || {
	log "cookie-mismatch: r1's show status has no Mismatch line"; echo "$st" >&2; exit 1; }
_expect "cookie-mismatch: r2 JSON mismatch" "$(jqs r2 '.tunnels[0].sessions[0].mismatch')" \
	"cookie length: peer asked for 8, 'l2tp cookie length' is 4 (adopted: each side checks its own)"
# r1's configured cookie is announced and used by r2's data
_expect "cookie-mismatch: r1's Assigned Cookie" \
	"$(ts "$f" 8 none -Y 'l2tp.avp.assigned_cookie && ip.src==198.51.100.2' -T fields \
		-e l2tp.avp.assigned_cookie | head -n 1 | tr -d ':')" 0123456789abcdef
_expect "cookie-mismatch: data to r1 with its cookie" \
	"$(ts "$f" 8 none -Y 'l2tp.type==0 && ip.src==203.0.113.2 && icmp' -T fields -e l2tp.cookie |
		tr -d ':' | sort -u)" 0123456789abcdef
_expect "cookie-mismatch: ICMP from r2 decoded with an 8-byte cookie" \
	"$(( $(ts "$f" 8 none -Y 'l2tp.type==0 && ip.src==203.0.113.2 && icmp' | wc -l) >= 3 ))" 1
_expect "cookie-mismatch: ICMP from r1 decoded with a 4-byte cookie" \
	"$(( $(ts "$f" 4 none -Y 'l2tp.type==0 && ip.dst==203.0.113.2 && icmp' | wc -l) >= 3 ))" 1
stop_case

# ---- pseudowire type mismatch: refused, diagnosed
log "--- PW type mismatch: r1 ethernet-vlan, r2 ethernet"
R1_LINES=("l2tp pseudowire type ethernet-vlan")
R2_LINES=()
start_case pw-mismatch
wait_for "pw-mismatch: r2 logs the refused SCCRQ with the reason" 20 grep_log r2 \
	"refused: (tunnel 1: )?pseudowire type mismatch: peer offers types 4, 'l2tp pseudowire type' is ethernet \\(5\\)"
hold_never "pw-mismatch: a tunnel reaches established" 2 established r1
grep -E "pseudowire type" "$(daemon_log r2)" | head -n 1 >&2
stop_case
log "ok: all dialect cases"
