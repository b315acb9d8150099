#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The reference scenario of shared/scenario.md in network namespaces:
# Router1 behind two NATs calls Router2, the tunnel bridges the two LANs,
# PC1 pings PC2 in the same /24 and both routers show their status.
# Everything happens inside namespaces this script creates and deletes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if (( EUID != 0 )); then
	echo "demo.sh needs root (network namespaces): sudo bash scripts/demo.sh" >&2
	exit 1
fi

step "Installing dependencies (build tools, libraries, iproute2, nftables, busybox)"
bash scripts/deps.sh demo

step "Building (build/; a minute the first time)"
bash scripts/build.sh release >/dev/null || bash scripts/build.sh release

# The scenario's own keepalive, commands not echoed, artifacts in a temp dir.
export B=$PWD/build KEEPALIVE="on 60 3" QUIET=1
OUT=$(mktemp -d /tmp/l2tpv3d-demo.XXXXXX)
export OUT
source tests/netns/lib.sh

step "Creating the topology (pc1 - r1 - nat1 - inet - r2 - pc2)"
topo_create
echo "r1 lan2 got $(nq r1 ip -4 -o addr show dev lan2 | awk '{ print $4 }') by DHCP from nat1"

step "Starting l2tpv3d on Router1 (r1) and Router2 (r2)"
start_daemon r2
start_daemon r1
echo "configs and logs: $OUT"

step "Waiting for the tunnel (up to 30 s)"
wait_for "tunnel and session established" 30 paired

step "PC1 (192.168.10.1) pings PC2 (192.168.10.2) across the tunnel"
n pc1 ping -n -c 3 -i 0.5 -W 2 192.168.10.2

step "Router1: show status l2tp"
status_text r1

step "Router2: show status l2tp"
status_text r2

step "Stopping"
stop_daemon r1
stop_daemon r2
echo "Demo finished."
