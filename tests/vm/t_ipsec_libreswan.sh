#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 (L2TPv3 over IPsec), in the test VM: a second IKE implementation.
# Debian's libreswan as the RTX-style initiator (IKEv1 aggressive, KEY_ID
# l2tpv3, PSK, transport, NAT-T, PFS off, DPD) against a strongSwan
# responder, in both selector styles (host-to-host and udp/1701), with
# l2tpv3d (l2tpv3-raw) at both sites over the SA and pings across; then
# libreswan host-to-host against a udp/1701-only responder, refused.  The
# guest side is tests/vm/ipsec/libreswan.sh (CASES="h2h udp mismatch");
# then this host checks each case's WAN capture: only IKE and ESP in UDP.
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_libreswan.sh
# (results in tests/vm/out/t_ipsec_libreswan/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VMOUT=$HERE/out/t_ipsec_libreswan
bash "$HERE/vmrun.sh" --out "$VMOUT" tests/vm/ipsec/libreswan.sh
OUT=$VMOUT/host-checks
source "$HERE/ipsec/wire.sh"
for c in h2h udp; do
	check_wan_only_ike_esp "$VMOUT/wan-$c.pcap"
done
