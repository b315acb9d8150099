#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A hub of 100 branch tunnels with `dataplane fastpath on` at every daemon
# (bench/scale --check --fastpath): as t_hub_scale, and every session on
# the kernel fast path at the hub and at a branch (pings cross it at the
# start and after the restart), again after a changed reload, after the
# hub is killed (-9) and restarted, and after every branch stopped and
# came back (the hub's parked ports).
set -eEu -o pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export B=${B:-$REPO/build-test}
export OUT=${OUT:-$REPO/tests/netns/out/t_hub_fastpath}
exec bash "$REPO/bench/scale" --check --fastpath --tunnels 100 --branches 2 --keepalive "2 3" --idle 3 --no-kmem
