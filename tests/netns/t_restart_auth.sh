#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A restarted peer is back at once, whatever the auth style (issue 16):
# r2 (responder) keeps `l2tp keepalive use on 60 3`, so its keepalive
# would take minutes to notice that r1 (initiator, behind NAT) vanished.
# r1 is killed (SIGKILL: no StopCCN) and started again.  Its new SCCRQ,
# from the same address and port as the old connection, gets a connection
# beside the old one; once that one has proven itself (digest: Message
# Digests; challenge: the SCCCN's Challenge Response) and asks for the
# pseudowire, the session moves to it and the old connection closes.
# Checks, for the digest style and the challenge style:
#  - r1 and r2 pair again, with r2 showing the new connection as its
#    tunnel 1 (the status looks as before);
#  - in r2's log, the session moved at most 2 s after the first new SCCRQ;
#  - the old connection was closed ("its sessions moved"), pings pass.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create
KEEPALIVE="on 60 3"

# ms HH:MM:SS.mmm: milliseconds since midnight
ms() { awk -F'[:.]' '{ printf "%d\n", (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }' <<<"$1"; }

restart_case() {
	local tag=$1 mark after first moved took
	start_case "$tag"
	wait_for "$tag: r1 and r2 paired" 30 paired
	ping_ok pc1 192.168.10.2 3
	kill_daemon r1
	mark=$(wc -l <"$(daemon_log r2)")
	start_daemon r1 "$OUT/r1-$tag.conf"
	wait_for "$tag: the restarted r1 and r2 paired (r2's keepalive: 60 s)" 10 paired
	after=$(tail -n +"$((mark + 1))" "$(daemon_log r2)")
	grep -E "SCCRQ from .*accepted to replace after authentication|moves here|sessions moved|carries on" <<<"$after" >&2
	first=$(grep -m1 -E "SCCRQ from .*accepted to replace after authentication" <<<"$after" | cut -d' ' -f1)
	moved=$(grep -m1 -E "pseudowire 1 moves here" <<<"$after" | cut -d' ' -f1)
	[[ -n $first && -n $moved ]]
	took=$(( $(ms "$moved") - $(ms "$first") ))
	log "$tag: the session moved ${took} ms after the restarted peer's first SCCRQ"
	(( took <= 2000 ))
	grep -qE "its sessions moved to a new connection" <<<"$after"
	grep -qE "carries on as the tunnel's own" <<<"$after"
	ping_ok pc1 192.168.10.2 3
	stop_case
	log "ok: $tag: restarted peer back in ${took} ms"
}

R1_LINES=()
R2_LINES=()
restart_case digest
R1_LINES=("l2tp tunnel auth method challenge")
R2_LINES=("l2tp tunnel auth method challenge")
restart_case challenge
