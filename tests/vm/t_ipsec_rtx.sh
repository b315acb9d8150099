#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 (L2TPv3 over IPsec), in the test VM: strongSwan configured by
# hand as a Yamaha RTX pair (IKEv1 aggressive, keyid:l2tpv3, 3des-sha1-
# modp1024 / ESP aes128-sha1, PFS off, DPD, transport udp/1701, NAT-T across
# a port-rewriting NAT), l2tpv3d (l2tpv3-raw) over it at both sites, pings,
# 1500-byte packets, and the clear-text injections the kernel stops (source
# port 1701, counted) and does not (another port).  The guest side is
# tests/vm/ipsec/rtx.sh; then this host checks the WAN capture with the SA
# keys (tests/vm/ipsec/wire.sh): only IKE and ESP-in-UDP, and once
# decrypted the L2TPv3 set-up with verified digests and the pings inside.
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_rtx.sh
# (results in tests/vm/out/t_ipsec_rtx/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VMOUT=$HERE/out/t_ipsec_rtx
bash "$HERE/vmrun.sh" --out "$VMOUT" tests/vm/ipsec/rtx.sh
OUT=$VMOUT/host-checks
source "$HERE/ipsec/wire.sh"
check_rtx_wire "$VMOUT"
