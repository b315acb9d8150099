#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install the Debian/Ubuntu packages l2tpv3d needs, with apt-get.
#   scripts/deps.sh demo   build (scripts/build.sh) and run scripts/demo.sh
#   scripts/deps.sh [all]  the above plus everything scripts/test.sh uses
# Idempotent: packages already present are skipped quickly.
set -euo pipefail

# What scripts/build.sh (without `test`) and scripts/demo.sh use: the
# compiler and Meson, the libraries of the daemon and l2tpctl, and the
# tools tests/netns/lib.sh runs to build the demo's namespaces (ip, nft,
# sysctl, busybox udhcpd/udhcpc, ping, jq on the status JSON).
DEMO=(
	build-essential meson ninja-build pkg-config
	libevent-dev libssl-dev libnl-3-dev libnl-route-3-dev libjansson-dev
	libsystemd-dev
	# the eBPF kernel fast path (dataplane fastpath): compiled with clang for
	# the bpf target, loaded with libbpf
	clang libbpf-dev
	iproute2 nftables procps busybox iputils-ping jq
)

# What only the test suite needs (doc/testing.md): unit tests (cmocka),
# fuzzing (clang, libFuzzer), captures (tshark, tcpdump), the peers in a
# VM (QEMU), systemd and package tests, man page lint, metrics, benchmark.
TEST=(
	clang
	# clang's libFuzzer and sanitizer runtimes (only recommended by clang)
	libclang-rt-dev
	libcmocka-dev
	tshark tcpdump conntrack socat
	systemd systemd-container python3 bash-completion mandoc man-db
	debhelper dpkg-dev fakeroot lintian
	prometheus curl
	qemu-system-x86 cpio
	# the IPsec test VM's root disk (tests/vm/mkroot.sh) and its job disk
	debootstrap e2fsprogs
	iperf3 gnuplot-nox ethtool
	# counting a daemon's system calls (t_fastpath: bpf reads per status)
	strace
	# a real charon for the VICI tests on this host (tests/netns/t_ipsec_*.sh)
	strongswan-charon strongswan-swanctl libstrongswan-standard-plugins
)

case ${1:-all} in
demo) PKGS=("${DEMO[@]}") ;;
all) PKGS=("${DEMO[@]}" "${TEST[@]}") ;;
*)
	echo "usage: $0 [demo|all]" >&2
	exit 2
	;;
esac

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
