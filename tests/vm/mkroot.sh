#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the root disk of the IPsec test VM (tests/vm/vmrun.sh boots it).
#
#   tests/vm/mkroot.sh [CACHE]
#
# A Debian 12 userland made by debootstrap (minbase) plus, from Debian's
# archive with apt-get in the chroot: the cloud kernel (esp4, xfrm_user,
# nf_tables, veth, bridge), strongSwan (charon, swanctl, plugins),
# nftables, tshark, tcpdump, socat, iproute2, ping, busybox (udhcpd for
# tests/netns/lib.sh), jq, and the runtime libraries of l2tpv3d and of its
# ASan/UBSan build.  Debian's libreswan conflicts with strongSwan, so its
# .deb is unpacked with `dpkg -x` into /opt/libreswan (its dependencies are
# installed normally) and /usr/libexec/ipsec points there (pluto runs
# addconn from that path).
#
# Output: CACHE/root-KEY/{root.img,vmlinuz,initrd.img} where KEY hashes
# this script and guest-root/init (the inputs), and the symlink CACHE/root
# to it.  Prints that directory.  A second run with the same inputs does
# nothing; older root-* directories are removed.  CACHE defaults to
# $L2TPV3D_VM_CACHE (default /var/cache/l2tpv3d-vm); the .debs are kept in
# CACHE/debs-root so a rebuild downloads nothing.  The mirror is
# $L2TPV3D_VM_MIRROR (default http://deb.debian.org/debian).
# Needs root, debootstrap and e2fsprogs (scripts/deps.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${1:-${L2TPV3D_VM_CACHE:-/var/cache/l2tpv3d-vm}}
MIRROR=${L2TPV3D_VM_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

say() { echo "mkroot: $*" >&2; }

PKGS=(
	linux-image-cloud-amd64 kmod
	strongswan-charon strongswan-swanctl libstrongswan-standard-plugins
	libstrongswan-extra-plugins libcharon-extra-plugins
	nftables tshark tcpdump socat iproute2 iputils-ping busybox jq procps
	psmisc util-linux
	# l2tpv3d and l2tpctl (scripts/deps.sh DEMO libraries, runtime part)
	libevent-2.1-7 libevent-core-2.1-7 libevent-pthreads-2.1-7
	libevent-extra-2.1-7 libevent-openssl-2.1-7
	libssl3 libnl-3-200 libnl-route-3-200 libnl-genl-3-200 libjansson4
	libsystemd0
	# the ASan/UBSan build (scripts/build.sh test)
	libasan8 libubsan1
)

# The key: the package list, the code of this script (comments and blank
# lines left out) and the guest's init.
key=$( { echo "$SUITE ${PKGS[*]}"; grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$HERE/mkroot.sh";
	cat "$HERE/guest-root/init"; } | sha256sum | cut -c1-12)
DIR=$CACHE/root-$key

exec 9>"$CACHE/root.lock"
flock 9
if [[ -f $DIR/.done ]]; then
	ln -sfn "root-$key" "$CACHE/root"
	echo "$DIR"
	exit 0
fi

t0=$SECONDS
command -v debootstrap >/dev/null || { say "debootstrap missing (scripts/deps.sh)"; exit 1; }
rm -rf "$DIR"
mkdir -p "$DIR" "$CACHE/debs-root"
ROOT=$DIR/tree
mounted=()
cleanup() {
	local m
	for ((m = ${#mounted[@]} - 1; m >= 0; m--)); do
		umount -l "${mounted[m]}" 2>/dev/null || true
	done
	rm -rf "$ROOT"
}
trap cleanup EXIT
mnt() { # mount ARGS... TARGET
	mount "$@"
	mounted+=("${!#}")
}

say "debootstrap $SUITE (minbase) from $MIRROR"
debootstrap --variant=minbase --cache-dir="$CACHE/debs-root" "$SUITE" "$ROOT" "$MIRROR" \
	>"$DIR/debootstrap.log" 2>&1 || { tail -n 30 "$DIR/debootstrap.log" >&2; exit 1; }
say "debootstrap done after $((SECONDS - t0)) s"

sec=${MIRROR%/debian}/debian-security
[[ $sec == "$MIRROR" ]] && sec=http://deb.debian.org/debian-security
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $sec $SUITE-security main
EOF
# No service may start in the chroot; no initramfs of every module.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
mkdir -p "$ROOT/etc/initramfs-tools/conf.d"
# MODULES=dep fails in a chroot (it looks for the device of /): list
# what the guest needs to mount its root, nothing else.
echo 'MODULES=list' >"$ROOT/etc/initramfs-tools/conf.d/l2tpv3d-vm"
printf 'virtio_pci\nvirtio_blk\next4\n' >>"$ROOT/etc/initramfs-tools/modules"
echo 'wireshark-common wireshark-common/install-setuid boolean false' >"$ROOT/tmp/preseed"

mnt -t proc proc "$ROOT/proc"
mnt -t sysfs sys "$ROOT/sys"
mnt --bind /dev "$ROOT/dev"
mnt --bind "$CACHE/debs-root" "$ROOT/var/cache/apt/archives"
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
apt_install() {
	in_root apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold "$@"
}
in_root debconf-set-selections /tmp/preseed
in_root apt-get update -q >"$DIR/apt.log" 2>&1 || { tail -n 30 "$DIR/apt.log" >&2; exit 1; }
say "apt-get install (${#PKGS[@]} packages and their dependencies)"
apt_install "${PKGS[@]}" >>"$DIR/apt.log" 2>&1 || { tail -n 30 "$DIR/apt.log" >&2; exit 1; }

say "libreswan by dpkg -x into /opt/libreswan"
in_root sh -c 'cd /var/cache/apt/archives && apt-get download -q libreswan' \
	>>"$DIR/apt.log" 2>&1 || { tail -n 30 "$DIR/apt.log" >&2; exit 1; }
deb=$(compgen -G "$ROOT/var/cache/apt/archives/libreswan_*.deb" | sort -V | tail -n1)
# Its Depends, first alternative of each, without versions; strongSwan's
# conflicts are not among them.
mapfile -t deps < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | grep -v '^$')
apt_install "${deps[@]}" >>"$DIR/apt.log" 2>&1 || { tail -n 30 "$DIR/apt.log" >&2; exit 1; }
dpkg -x "$deb" "$ROOT/opt/libreswan"
[[ -e $ROOT/usr/libexec/ipsec ]] && { say "/usr/libexec/ipsec already exists in the root"; exit 1; }
ln -s /opt/libreswan/usr/libexec/ipsec "$ROOT/usr/libexec/ipsec"
in_root /opt/libreswan/usr/libexec/ipsec/pluto --version >/dev/null 2>&1 ||
	{ say "pluto does not run in the root"; exit 1; }

install -m 0755 "$HERE/guest-root/init" "$ROOT/sbin/l2tpv3d-vm-init"
echo l2tpv3d-vm >"$ROOT/etc/hostname"
: >"$ROOT/etc/fstab"
rm -f "$ROOT/usr/sbin/policy-rc.d" "$ROOT/tmp/preseed"
in_root apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/*_Packages "$ROOT"/var/lib/apt/lists/*_Translation-*

kver=$(find "$ROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
cp "$ROOT/boot/vmlinuz-$kver" "$DIR/vmlinuz"
cp "$ROOT/boot/initrd.img-$kver" "$DIR/initrd.img"
for m in esp4 xfrm_user veth bridge nf_tables; do
	find "$ROOT/lib/modules/$kver" -name "$m.ko*" | grep -q . ||
		{ say "kernel $kver has no module $m"; exit 1; }
done

for ((m = ${#mounted[@]} - 1; m >= 0; m--)); do
	umount "${mounted[m]}"
done
mounted=()
rm -rf "${ROOT:?}/boot"/*
# Room for what tests write (logs, captures); the image is sparse.
size=$(( $(du -sm "$ROOT" | cut -f1) * 12 / 10 + 512 ))
mkfs.ext4 -q -F -L l2tpv3d-root -d "$ROOT" "$DIR/root.img" "${size}M"
echo "$kver" >"$DIR/kver"
touch "$DIR/.done"
ln -sfn "root-$key" "$CACHE/root"
for old in "$CACHE"/root-*; do
	[[ $old == "$DIR" ]] || rm -rf "$old"
done
say "built $DIR (kernel $kver, ${size} MB image, $(du -sm "$DIR/root.img" | cut -f1) MB used) in $((SECONDS - t0)) s"
echo "$DIR"
