#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 (L2TPv3 over IPsec), in the test VM: RTX configuration C (main
# mode, both addresses fixed, no names) pasted into l2tpv3d at both ends,
# each daemon driving its own charon over VICI: SA (plain ESP, no NAT) and
# tunnel up, pings, status; the WAN only IKE and ESP, and decrypted with
# the SA keys the L2TPv3 set-up with verified digests.  Guest side:
# tests/vm/ipsec/daemon.sh main.  Needs a daemon with IPsec.
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_daemon_main.sh
# (results in tests/vm/out/t_ipsec_daemon_main/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VMOUT=$HERE/out/t_ipsec_daemon_main
bash "$HERE/vmrun.sh" --out "$VMOUT" tests/vm/ipsec/daemon.sh main
OUT=$VMOUT/host-checks
source "$HERE/ipsec/wire.sh"
check_rtx_wire "$VMOUT" 0 main
