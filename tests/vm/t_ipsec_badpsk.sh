#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 15 point 5 (faults), in the test VM: RTX configuration A in both
# daemons with a different `ipsec ike pre-shared-key` at r1: no SA, no
# tunnel, no ping for 40 s; the daemons count and log the IKE failure.
# Guest side: tests/vm/ipsec/daemon.sh badpsk.  Needs a daemon with IPsec.
#
# Run as root: B=$PWD/build-test bash tests/vm/t_ipsec_badpsk.sh
# (results in tests/vm/out/t_ipsec_badpsk/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec bash "$HERE/vmrun.sh" --out "$HERE/out/t_ipsec_badpsk" tests/vm/ipsec/daemon.sh badpsk
