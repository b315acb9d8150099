#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A hub at scale (issue 11): bench/scale --check with 200 branch tunnels
# from 4 branch daemons (50 `tunnel select` blocks each, every one its own
# Router ID, all from one address and port per branch) against one
# `l2tp hub on 200`, on the build under test (ASan/UBSan).  Asserts the end
# state only, never timing: all 200 established on the hub and on every
# branch, distinct Router IDs, one TAP port per instance on the hub's
# bridge, pings to the hub and between two branches through it, an
# unchanged reload keeping every connection; then kill -9 of the hub and a
# restart: all 200 back (the branches notice by their keepalives, 2 s x 3
# here), one TAP each again, pings; every daemon exits cleanly with
# nothing from the sanitizers.
set -eEu -o pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export B=${B:-$REPO/build-test}
export OUT=${OUT:-$REPO/tests/netns/out/t_hub_scale}
exec bash "$REPO/bench/scale" --check --tunnels 200 --branches 4 --keepalive "2 3" --idle 3 --no-kmem
