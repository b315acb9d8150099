#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Peers that must not connect: a wrong shared secret, a Router ID the other
# side does not expect (each way), a wrong Remote End ID.  Each case starts
# fresh daemons; the refusal must be logged, nothing may reach established
# while r1 keeps trying, and both daemons must stay up.
source "$(dirname "$0")/lib.sh"

require_daemon
topo_create

# grep_logs PATTERN: some line of r1's or r2's log of this case matches the
# extended regex PATTERN (case-insensitive).
grep_logs() { cat "$(daemon_log r1)" "$(daemon_log r2)" 2>/dev/null | grep -qiE "$1"; }

tunnel_up_any() { [[ $(tunnel_state r1) == established || $(tunnel_state r2) == established ]]; }
session_up_any() { [[ $(session_state r1) == established || $(session_state r2) == established ]]; }

# refused CASE WHAT PATTERN: run one case with the settings already exported;
# WHAT is "tunnel" (the control connection must not come up) or "session".
refused() {
	local case=$1 what=$2 pattern=$3
	log "--- $case"
	LOGTAG=$case
	start_daemon r2
	start_daemon r1
	wait_for "$case: refusal logged (/$pattern/)" 20 grep_logs "$pattern"
	# r1 is always-on and retries: watch a few seconds of that.
	hold_never "$case: a $what reaches established" 4 "${what}_up_any"
	daemon_alive r1
	daemon_alive r2
	status_json r1 >"$OUT/status-r1-$case.json"
	status_json r2 >"$OUT/status-r2-$case.json"
	stop_daemon r1
	stop_daemon r2
	# show a few of the refusal lines (grep -m: no SIGPIPE under pipefail)
	grep -m 3 -ihE "$pattern" "$(daemon_log r1)" "$(daemon_log r2)" >&2
}

R2_SECRET=not-yamaha
refused secret tunnel 'authentication failed'
R2_SECRET=$SECRET

# r1 announces 192.168.2.99; r2 expects 192.168.2.10.
R1_RID=192.168.2.99
refused r1-router-id tunnel 'router[ -]id.*does not match|does not match.*router[ -]id'
R1_RID=192.168.2.10

# r2 answers with 192.168.2.98; r1 expects 192.168.2.20.
R2_RID=192.168.2.98
refused r2-router-id tunnel 'router[ -]id.*does not match|does not match.*router[ -]id'
R2_RID=192.168.2.20

# The control connection is fine; the session is refused.
R2_END_ID=not-yamaha
refused end-id session 'remote end[ -]id'
R2_END_ID=$END_ID
