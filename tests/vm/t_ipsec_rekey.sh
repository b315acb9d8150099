#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 point 5 (faults), in the test VM: RTX configuration A in both
# daemons (as t_ipsec_daemon), then charon rekeys the CHILD SA and the IKE
# SA (asked over VICI) while pc1 pings pc2 every 0.1 s for 30 s: nothing
# lost, still paired, both rekeys counted by the daemon; the WAN checked
# with the keys of the first and the last SAs.  Guest side:
# tests/vm/ipsec/daemon.sh rekey.  Needs a daemon with IPsec.
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_rekey.sh
# (results in tests/vm/out/t_ipsec_rekey/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VMOUT=$HERE/out/t_ipsec_rekey
bash "$HERE/vmrun.sh" --out "$VMOUT" tests/vm/ipsec/daemon.sh rekey
OUT=$VMOUT/host-checks
source "$HERE/ipsec/wire.sh"
check_rtx_wire "$VMOUT" 0
