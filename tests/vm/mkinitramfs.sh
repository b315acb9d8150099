#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the kernel and initramfs of the Linux L2TP peer VM.
#
#   tests/vm/mkinitramfs.sh [OUTDIR]
#
# Fetches Debian's cloud kernel with `apt-get download` (never installs it on
# this host), extracts it with `dpkg -x` into a cache, and packs a tiny cpio
# initramfs: busybox-static (also fetched with apt-get download, because the
# busybox-static package conflicts with the busybox package scripts/deps.sh
# installs), this host's iproute2 `ip` with its shared libraries and dynamic
# loader, the L2TP and virtio-net modules with their dependencies (read from
# each module's modinfo, as the package ships no modules.dep), and
# tests/vm/guest/{init,peer.sh}.
#
# Writes OUTDIR/vmlinuz and OUTDIR/initrd.img (symlinks to files named after
# the kernel version and a hash of the inputs) and prints the kernel version.
# A second run with the same kernel, scripts and ip binary does nothing.
# OUTDIR defaults to $L2TPV3D_VM_CACHE (default /var/cache/l2tpv3d-vm).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${L2TPV3D_VM_CACHE:-/var/cache/l2tpv3d-vm}
OUT=${1:-$CACHE}
mkdir -p "$CACHE/debs" "$OUT"
CACHE=$(cd "$CACHE" && pwd)
OUT=$(cd "$OUT" && pwd)

say() { echo "mkinitramfs: $*" >&2; }

# Modules the peer needs; dependencies are added below.
WANT=(virtio_pci virtio_net l2tp_core l2tp_netlink l2tp_eth l2tp_ip l2tp_ip6
	udp_tunnel ip6_udp_tunnel)

# --- 1. kernel package name and version --------------------------------------
fetch() { # PACKAGE: download its .deb into $CACHE/debs unless present
	local p=$1
	compgen -G "$CACHE/debs/${p}_*.deb" >/dev/null && return 0
	say "apt-get download $p"
	# apt's sandbox user cannot write here; the warning about it is noise.
	(cd "$CACHE/debs" && apt-get download -q "$p" 2>&1 |
		grep -v -e unsandboxed -e '^Get:' -e '^Fetched' >&2 || true)
	compgen -G "$CACHE/debs/${p}_*.deb" >/dev/null
}

resolve() { # print the versioned package linux-image-cloud-amd64 depends on
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1
}

# `apt-cache depends` reads the local package lists only.  If they name no
# kernel, or one the archive no longer has (a security update replaced it),
# refresh them once; failing that, use the newest kernel already cached.
kpkg=$(resolve || true)
if [[ -z $kpkg || ! -f $CACHE/$kpkg/.done ]] && ! { [[ -n $kpkg ]] && fetch "$kpkg"; }; then
	say "refreshing the apt lists"
	apt-get update -qq >&2 || true
	kpkg=$(resolve || true)
	if [[ -z $kpkg ]] || ! fetch "$kpkg"; then
		kpkg=$(cd "$CACHE" && ls -d linux-image-*-cloud-amd64 2>/dev/null | sort -V | tail -n1 || true)
		[[ -n $kpkg && -f $CACHE/$kpkg/.done ]] ||
			{ say "cannot get linux-image-cloud-amd64 with apt"; exit 1; }
		say "using cached $kpkg"
	fi
fi
KVER=${kpkg#linux-image-}
KROOT=$CACHE/$kpkg

if [[ ! -f $KROOT/.done ]]; then
	rm -rf "$KROOT"
	mkdir -p "$KROOT"
	dpkg -x "$(compgen -G "$CACHE/debs/${kpkg}_*.deb" | head -n1)" "$KROOT"
	touch "$KROOT/.done"
fi
BBROOT=$CACHE/busybox-static
if [[ ! -f $BBROOT/.done ]]; then
	fetch busybox-static || { say "could not download busybox-static"; exit 1; }
	rm -rf "$BBROOT"
	mkdir -p "$BBROOT"
	dpkg -x "$(compgen -G "$CACHE/debs/busybox-static_*.deb" | head -n1)" "$BBROOT"
	touch "$BBROOT/.done"
fi

VMLINUZ=$KROOT/boot/vmlinuz-$KVER
MODDIR=$KROOT/lib/modules/$KVER
[[ -f $VMLINUZ && -d $MODDIR ]] || { say "bad kernel package layout in $KROOT"; exit 1; }
BUSYBOX=$BBROOT/bin/busybox
[[ -x $BUSYBOX ]] || { say "no busybox in $BBROOT"; exit 1; }
IP=$(command -v ip) || { say "iproute2 ip not found"; exit 1; }
IP=$(readlink -f "$IP")

# --- 2. cache key ----------------------------------------------------------------
key=$( { echo "$KVER"; cat "$HERE/mkinitramfs.sh" "$HERE/guest/init" \
	"$HERE/guest/peer.sh" "$HERE/guest/ctlshell" "$IP" "$BUSYBOX"; } | sha256sum | cut -c1-12)
INITRD=$OUT/initrd-$KVER-$key.img
KERNEL=$OUT/vmlinuz-$KVER
if [[ -f $INITRD && -f $KERNEL ]]; then
	ln -sfn "$(basename "$INITRD")" "$OUT/initrd.img"
	ln -sfn "$(basename "$KERNEL")" "$OUT/vmlinuz"
	echo "$KVER"
	exit 0
fi

# --- 3. modules in load order -------------------------------------------------
declare -A modpath=()
while IFS= read -r f; do
	b=$(basename "$f")
	b=${b%%.ko*}
	modpath[${b//-/_}]=$f
done < <(find "$MODDIR/kernel" -name '*.ko*')

declare -A seen=()
order=()
visit() { # MODULE: append its dependencies, then itself, to order[]
	local m=${1//-/_} f deps d
	[[ -n ${seen[$m]:-} ]] && return 0
	seen[$m]=1
	f=${modpath[$m]:-}
	if [[ -z $f ]]; then
		# Built into this kernel (modules.builtin) or absent: nothing to load.
		grep -q "/${m//_/[-_]}\.ko" "$MODDIR/modules.builtin" 2>/dev/null ||
			say "module $m not found (skipped)"
		return 0
	fi
	case $f in
	*.ko) ;;
	*) say "compressed module $f: busybox insmod cannot load it"; exit 1 ;;
	esac
	deps=$(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | head -n1)
	for d in ${deps//,/ }; do
		visit "$d"
	done
	order+=("$m")
}
for m in "${WANT[@]}"; do
	visit "$m"
done

# --- 4. the tree ----------------------------------------------------------------
STAGE=$(mktemp -d "$OUT/stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,dev,proc,sys,tmp,run,lib/modules,etc}
cp "$BUSYBOX" "$STAGE/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[[ $a == busybox || $a == ip ]] && continue
	ln -sf busybox "$STAGE/bin/$a"
done
# iproute2 ip (busybox's ip has no `l2tp`), with what ldd says it loads.  It
# is /usr/sbin/ip and the guest scripts call it by that path: Debian's
# busybox shell runs its own applets before anything found in PATH.
mkdir -p "$STAGE/usr/sbin"
cp "$IP" "$STAGE/usr/sbin/ip"
while read -r lib; do
	[[ -f $lib ]] || continue
	mkdir -p "$STAGE$(dirname "$lib")"
	cp -L "$lib" "$STAGE$lib"
done < <(ldd "$IP" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p')
: > "$STAGE/lib/modules/load"
for m in "${order[@]}"; do
	cp "${modpath[$m]}" "$STAGE/lib/modules/$m.ko"
	echo "$m" >> "$STAGE/lib/modules/load"
done
echo "$KVER" > "$STAGE/etc/kver"
install -m 0755 "$HERE/guest/init" "$STAGE/init"
install -m 0755 "$HERE/guest/peer.sh" "$STAGE/peer.sh"
install -m 0755 "$HERE/guest/ctlshell" "$STAGE/ctlshell"

tmp=$INITRD.tmp.$$
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet) | gzip -1 > "$tmp"
mv "$tmp" "$INITRD"
cp "$VMLINUZ" "$KERNEL.tmp.$$" && mv "$KERNEL.tmp.$$" "$KERNEL"
# Older initrds of the same kernel are stale.
for old in "$OUT"/initrd-"$KVER"-*.img; do
	[[ $old == "$INITRD" ]] || rm -f "$old"
done
ln -sfn "$(basename "$INITRD")" "$OUT/initrd.img"
ln -sfn "$(basename "$KERNEL")" "$OUT/vmlinuz"
say "built $(basename "$INITRD") ($(du -k "$INITRD" | cut -f1) KiB; modules: ${order[*]})"
echo "$KVER"
