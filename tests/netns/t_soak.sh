#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A short soak (bench/soak, 60 s by default) on the build under test: a hub
# with 15 branch tunnels and a plain responder, branches behind a NAT,
# faults of every kind (tunnel down/up, daemons killed and restarted, clean
# stop/start, WAN link drops, random loss, NAT flush and renumbering,
# reloads unchanged and changed) while pings cross every tunnel.
#
# Assertions on the end state only, never on timing: every tunnel up at
# both ends with matching IDs, counters moved by exactly the frames sent,
# fds and threads back to their warm-up level (RSS within the ASan
# tolerance), control sockets answer, clean exit on SIGTERM, no sanitizer
# report.  The seed is random (SOAK_SEED to replay) and printed.
source "$(dirname "$0")/lib.sh"

require_daemon
SOAK_SEED=${SOAK_SEED:-$(( $(date +%s%N) % 1000000 ))}
SOAK_DURATION=${SOAK_DURATION:-60}
log "seed $SOAK_SEED (replay: SOAK_SEED=$SOAK_SEED), ${SOAK_DURATION}s"

rc=0
B=$B L2TPV3D=$L2TPV3D L2TPCTL=$L2TPCTL "$REPO/bench/soak" --duration "$SOAK_DURATION" \
	--seed "$SOAK_SEED" --out "$OUT/soak" --csv "$OUT/soak.csv" >"$OUT/soak.txt" 2>&1 || rc=$?
cat "$OUT/soak.txt" >&2
# the soak's own verdict: every check of its end state passed
_expect "bench/soak exit status" "$rc" 0

# and the figures behind it, from its CSV
csv() { awk -F, -v s="$1" -v n="$2" -v k="$3" '$1 == s && $2 == n && $3 == k { print $4 }' "$OUT/soak.csv"; }
_expect "failed checks" "$(csv result '' failed_checks)" 0
tunnels=$(csv run '' tunnels)
(( tunnels >= 10 ))
_expect "tunnels whose counters moved exactly" "$(csv run '' count_tunnels_exact)" "$tunnels"
faults=0
for k in tunnel_bounce kill_branch stop_branch kill_hub wan_flap loss nat_flush nat_renumber \
	reload_same reload_changed; do
	faults=$(( faults + $(csv fault "$k" applied) ))
done
log "faults applied: $faults"
(( faults >= 5 ))
# the hub is restarted in the first half of every run
(( $(csv daemon hub restarts) >= 1 ))
for d in hub b1 b2 b3 b4 b5; do
	_expect "$d: fds at the end" "$(csv daemon "$d" fds_end)" "$(csv daemon "$d" fds_warm)"
	_expect "$d: threads at the end" "$(csv daemon "$d" threads_end)" "$(csv daemon "$d" threads_warm)"
done
# the witnesses b1 and b4 are never restarted: their memory is checked
_expect "b1 RSS checked" "$(csv daemon b1 rss_checked)" 1
_expect "b4 RSS checked" "$(csv daemon b4 rss_checked)" 1
# no sanitizer report in any daemon log (the soak checks too)
for f in "$OUT"/soak/*.log; do
	fails grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"
done
