#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install everything needed to build and test l2tpv3d on Debian/Ubuntu.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail

PKGS=(
	build-essential meson ninja-build pkg-config clang
	# clang's libFuzzer and sanitizer runtimes (only recommended by clang)
	libclang-rt-dev
	libevent-dev libssl-dev libnl-3-dev libnl-route-3-dev libjansson-dev
	libcmocka-dev
	tshark tcpdump nftables iproute2 iputils-ping conntrack jq busybox socat
	libsystemd-dev systemd systemd-container python3 bash-completion mandoc man-db
	debhelper dpkg-dev fakeroot lintian
	prometheus curl
	qemu-system-x86 cpio
	iperf3 gnuplot-nox ethtool
)

SUDO=
if (( EUID != 0 )); then
	SUDO=sudo
fi

missing=()
for p in "${PKGS[@]}"; do
	if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
		missing+=("$p")
	fi
done

if (( ${#missing[@]} == 0 )); then
	echo "deps: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Answer tshark's "should non-superusers capture?" question up front.
echo 'wireshark-common wireshark-common/install-setuid boolean false' |
	$SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}" >/dev/null
echo "deps: done"
