#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 (L2TPv3 over IPsec), in the test VM: RTX configuration A pasted
# into l2tpv3d at both ends (aggressive mode, NAT'd initiator with a KEY_ID
# local name, responder with remote name + remote address any); each
# daemon drives its own charon over VICI.  The SA and the tunnel come up,
# pings cross, status carries the SA; clear-text injections with real IDs
# are dropped by the kernel (port 1701) or refused by the daemon (another
# port), the peer unchanged.  Guest side: tests/vm/ipsec/daemon.sh; then
# this host checks the WAN capture with the SA keys (tests/vm/ipsec/wire.sh).
# Needs a daemon with IPsec (l2tpv3d.conf(5): `tunnel encapsulation l2tpv3`).
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_daemon.sh
# (results in tests/vm/out/t_ipsec_daemon/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VMOUT=$HERE/out/t_ipsec_daemon
bash "$HERE/vmrun.sh" --out "$VMOUT" tests/vm/ipsec/daemon.sh
OUT=$VMOUT/host-checks
source "$HERE/ipsec/wire.sh"
check_rtx_wire "$VMOUT" 4
