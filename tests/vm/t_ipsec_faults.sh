#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 point 5 (faults), in the test VM, one boot: RTX configuration A
# in both daemons (as t_ipsec_daemon), then under a ping every 0.2 s from
# pc1 to pc2: kill -9 and restart of the responder's l2tpv3d, of the
# initiator's, a restart of the responder's charon, a change of nat1's
# mapping (r1's outer port), a flap of r1's WAN link.  Each must recover
# by itself within its bound; the recovery times are printed and kept in
# tests/vm/out/t_ipsec_faults/recovery.txt; after each: paired, one IKE SA
# and two ESP SAs per site, no clear L2TP on the WAN, both daemons alive,
# no sanitizer report.  Guest side: tests/vm/ipsec/daemon.sh faults
# (tests/vm/ipsec/faults.sh: the bounds and their reasons); then this host
# checks the whole WAN capture: only IKE and ESP in UDP.
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_faults.sh
# (results in tests/vm/out/t_ipsec_faults/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VMOUT=$HERE/out/t_ipsec_faults
# one boot for six faults: 900 s for a loaded machine (its own time is
# printed by vmrun.sh)
bash "$HERE/vmrun.sh" --out "$VMOUT" --timeout 900 tests/vm/ipsec/daemon.sh faults
OUT=$VMOUT/host-checks
mkdir -p "$OUT"
source "$HERE/ipsec/wire.sh"
[[ -s $VMOUT/recovery.txt ]] || { log "no recovery times from the guest"; exit 1; }
cat "$VMOUT/recovery.txt"
_expect "clear UDP packets to port 1701 on the WAN" "$(tcount "$VMOUT/wan.pcap" 'udp.port == 1701')" 0
check_wan_only_ike_esp "$VMOUT/wan.pcap"
