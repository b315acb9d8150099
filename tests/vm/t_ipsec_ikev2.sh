#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 point 7 (beyond the RTX, between two l2tpv3d), in the test VM:
# RTX configuration A in both daemons with `ipsec ike version 1 2`
# (IKEv2), IKE aes256-cbc/sha256/ecp256, ESP `aes-gcm` (AES-GCM-16,
# 128 bits), transport mode across the port-rewriting NAT with NAT-T.
# The SA and the tunnel come up, pings cross; status (IKE/ESP algorithms,
# ESP in UDP), charon's own list (IKEv2, transport) and the Prometheus
# metrics show the SA; the clear-text injections of t_ipsec_daemon are
# dropped or refused, the peer unchanged; a CHILD SA rekey and an IKEv2
# IKE SA rekey under a ping every 0.1 s lose nothing (one echo tolerated,
# as t_ipsec_rekey), both counted.  The host checks the WAN: only IKE and
# ESP in UDP, IKEv2, and decrypted with the AES-GCM keys of the first and
# the last SAs the L2TPv3 set-up with verified digests.  Guest side:
# tests/vm/ipsec/daemon.sh ikev2.
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_ikev2.sh
# (results in tests/vm/out/t_ipsec_ikev2/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VMOUT=$HERE/out/t_ipsec_ikev2
bash "$HERE/vmrun.sh" --out "$VMOUT" --timeout 900 tests/vm/ipsec/daemon.sh ikev2
OUT=$VMOUT/host-checks
source "$HERE/ipsec/wire.sh"
check_rtx_wire "$VMOUT" 4 ikev2
