#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Both authentication styles of issue 4 (`l2tp tunnel auth method`):
#  - matching secrets in each style (digest-md5, digest-sha1, challenge):
#    the tunnel comes up, PC1 pings PC2, and the capture shows the style on
#    the wire (Nonce + 16- or 20-byte Message Digest, or Challenge /
#    Challenge Response) with every digest verified by tshark;
#  - a wrong secret in each style: refused with StopCCN result 4 and a log
#    line "authentication failed" naming the peer's address;
#  - r1 and r2 configured for different styles: the responder follows the
#    initiator (RFC 3931 §4.3 lets either style be used; l2tpv3d's `method`
#    is what it sends as initiator), so the tunnel comes up in r1's style.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

# conf_with NS METHOD: NS's configuration with the method after the auth line.
conf_with() {
	"conf_$1" | awk -v m="$2" '{ print } /^ l2tp tunnel auth on / { print " l2tp tunnel auth method " m }'
}

# start_case TAG R1METHOD R2METHOD: fresh daemons for one case.
start_case() {
	LOGTAG=$1
	log "--- $1: r1 $2, r2 $3"
	conf_with r2 "$3" >"$OUT/r2-$1.conf"
	conf_with r1 "$2" >"$OUT/r1-$1.conf"
	start_daemon r2 "$OUT/r2-$1.conf"
	start_daemon r1 "$OUT/r1-$1.conf"
}

stop_case() {
	stop_daemon r1
	stop_daemon r2
}

# wire_style FILE TYPE: the style of the first message of TYPE (1 SCCRQ,
# 2 SCCRP) in FILE: "md5", "sha1", "challenge" or "none".
wire_style() {
	local line nonce chal resp digest
	line=$(tsh "$1" -Y "l2tp.avp.message_type==$2" -T fields -E separator=, \
		-e l2tp.avp.nonce -e l2tp.avp.chap_challenge -e l2tp.avp.chap_challenge_response \
		-e l2tp.avp.message_digest | head -n 1)
	IFS=, read -r nonce chal resp digest <<<"$line"
	# the field holds the digest type byte (0 MD5, 1 SHA-1), then the digest
	digest=${digest//:/}
	if [[ -n $nonce && ${#digest} == 34 && $digest == 00* ]]; then
		echo md5
	elif [[ -n $nonce && ${#digest} == 42 && $digest == 01* ]]; then
		echo sha1
	elif [[ -z $nonce && -z $digest && ( -n $chal || -n $resp ) ]]; then
		echo challenge
	else
		echo "none ($line)"
	fi
}

# up_case TAG R1METHOD R2METHOD WANT: the pair comes up, pings pass, both
# SCCRQ and SCCRP use style WANT, no digest fails tshark's check.
up_case() {
	local tag=$1 want=$4 f=$OUT/$1.pcap bad digests
	capture_start inet e1 "$f"
	start_case "$tag" "$2" "$3"
	wait_for "$tag: r1 and r2 established" 30 paired
	ping_ok pc1 192.168.10.2 3
	capture_stop "$f"
	_expect "$tag: SCCRQ style" "$(wire_style "$f" 1)" "$want"
	_expect "$tag: SCCRP style" "$(wire_style "$f" 2)" "$want"
	digests=$(tcount "$f" 'l2tp.avp.message_digest')
	bad=$(tcount "$f" 'l2tp.incorrect_digest' -o l2tp.shared_secret:"$SECRET")
	if [[ $want == challenge ]]; then
		_expect "$tag: messages with a digest" "$digests" 0
	else
		(( digests > 5 ))
		_expect "$tag: digests tshark finds wrong" "$bad" 0
	fi
	stop_case
}

# grep_log NS PATTERN: NS's log of this case matches PATTERN (extended regex).
grep_log() { grep -qE "$2" "$(daemon_log "$1")"; }

tunnel_up_any() { [[ $(tunnel_state r1) == established || $(tunnel_state r2) == established ]]; }

# refused_case TAG METHOD: r2 has another secret; the refusal is logged with
# the peer's address by the side that detects it, the other side logs the
# StopCCN's result 4, and nothing comes up while r1 retries.
refused_case() {
	local tag=$1 method=$2 detector=$3 pattern=$4 other=$5
	R2_SECRET=not-$SECRET
	start_case "$tag" "$method" "$method"
	R2_SECRET=$SECRET
	wait_for "$tag: $detector logs 'authentication failed' with the peer address" 20 \
		grep_log "$detector" "$pattern"
	wait_for "$tag: $other logs the StopCCN's result 4" 20 grep_log "$other" 'StopCCN, result 4'
	hold_never "$tag: a tunnel reaches established" 3 tunnel_up_any
	daemon_alive r1
	daemon_alive r2
	grep -E "$pattern" "$(daemon_log "$detector")" | head -n 2 >&2
	stop_case
}

up_case md5 digest-md5 digest-md5 md5
up_case sha1 digest-sha1 digest-sha1 sha1
up_case challenge challenge challenge challenge

# The responder checks a digest over the SCCRQ and refuses statelessly.
refused_case bad-md5 digest-md5 r2 'SCCRQ from 198\.51\.100\.2:[0-9]+ .*authentication failed' r1
refused_case bad-sha1 digest-sha1 r2 'SCCRQ from 198\.51\.100\.2:[0-9]+ .*authentication failed' r1
# Challenge style: r1 finds r2's Challenge Response wrong in the SCCRP.
refused_case bad-challenge challenge r1 'authentication failed.*peer 203\.0\.113\.2:1701' r2

# Mixed configurations: the responder answers in the initiator's style.
up_case mixed-md5-challenge digest-md5 challenge md5
up_case mixed-challenge-sha1 challenge digest-sha1 challenge
up_case mixed-sha1-md5 digest-sha1 digest-md5 sha1
log "ok: all authentication cases"
