#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 point 6 (a hub over IPsec), in the test VM: a hub with `l2tp hub
# on` and `ipsec ike remote address 1 any`, three branches each behind its
# own port-rewriting NAT with its own charon and l2tpv3d; every branch's
# SA, tunnel and session up, pings across, a branch's IDs refused from
# another branch's SA and in clear, one branch restarted under the others'
# pings.  Guest side: tests/vm/ipsec/hub.sh.
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_hub.sh
# (results in tests/vm/out/t_ipsec_hub/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
bash "$HERE/vmrun.sh" --mem 3072 --out "$HERE/out/t_ipsec_hub" tests/vm/ipsec/hub.sh
