#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run one guest script in the IPsec test VM and bring its results back.
#
#   tests/vm/vmrun.sh [--out DIR] [--mem MB] [--smp N] [--timeout S] SCRIPT [ARG...]
#
# SCRIPT is a path under tests/ (e.g. tests/vm/ipsec/rtx.sh).  The VM is
# Debian 12 with the cloud kernel under QEMU -accel tcg, its root the disk
# of tests/vm/mkroot.sh (built and cached on first use; the guest writes to
# a throw-away snapshot of it).  A second disk, made here with mkfs.ext4 -d,
# carries the job: tests/netns/lib.sh and tests/vm/ as /vm/repo/tests/...,
# the binaries under test ($B/src/daemon/l2tpv3d and $B/src/ctl/l2tpctl, B
# defaulting to build-test/) as /vm/b/src/..., and /vm/job, which runs
# `bash /vm/repo/SCRIPT ARG...` with B=/vm/b and OUT=/vm/out.  Whatever the
# guest leaves in /vm/out is copied to DIR (default tests/vm/out/NAME, NAME
# the script's name) with debugfs; the console is DIR/console.log.  Exits
# with the script's status (124 when the VM hit the timeout, 125 when it
# could not run).  Prints the boot time (QEMU start to the guest's init) and
# the whole time.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${L2TPV3D_VM_CACHE:-/var/cache/l2tpv3d-vm}
B=${B:-$REPO/build-test}

out='' mem=2048 smp=2 timeout=600
while (( $# )); do
	case $1 in
	--out) out=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-*) echo "vmrun: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
(( $# >= 1 )) || { sed -n '/^#   tests/p' "$0" >&2; exit 2; }
script=$1; shift
[[ -f $REPO/$script ]] || { echo "vmrun: no $REPO/$script" >&2; exit 2; }
name=$(basename "${script%.sh}")
out=${out:-$REPO/tests/vm/out/$name}
say() { echo "[vmrun $name] $*" >&2; }

t0=$(date +%s%N)
root=$(bash "$HERE/mkroot.sh" "$CACHE") || { say "cannot build the root disk"; exit 125; }
t1=$(date +%s%N)

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d /tmp/l2tpv3d-vmrun.XXXXXX)
qpid=''
cleanup() {
	# shellcheck disable=SC2317 # run by the EXIT trap
	if [[ -n $qpid ]]; then kill "$qpid" 2>/dev/null || true; fi
	# shellcheck disable=SC2317
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# --- the job disk -----------------------------------------------------------
stage=$work/stage
mkdir -p "$stage/repo/tests/netns" "$stage/b" "$stage/out"
cp "$REPO/tests/netns/lib.sh" "$stage/repo/tests/netns/"
(cd "$REPO" && tar cf - --exclude=tests/vm/out tests/vm) | tar xf - -C "$stage/repo"
for f in src/daemon/l2tpv3d src/ctl/l2tpctl; do
	if [[ -x $B/$f ]]; then
		mkdir -p "$stage/b/$(dirname "$f")"
		cp "$B/$f" "$stage/b/$f"
	fi
done
{
	echo 'cd /vm/repo'
	echo 'export B=/vm/b OUT=/vm/out'
	# bounded inside the guest too, so that its results always come back
	printf 'exec timeout -k 10 %d bash %q' "$((timeout > 60 ? timeout - 40 : timeout))" "$script"
	printf ' %q' "$@"
	echo
} >"$stage/job"
size=$(( $(du -sm "$stage" | cut -f1) + 1024 ))
mkfs.ext4 -q -F -L l2tpv3d-job -d "$stage" "$work/job.img" "${size}M"

# --- boot -------------------------------------------------------------------
console=$out/console.log
: >"$console"
tq=$(date +%s%N)
qemu-system-x86_64 -accel tcg -M pc -cpu max -smp "$smp" -m "$mem" \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$root/vmlinuz" -initrd "$root/initrd.img" \
	-append "console=ttyS0 root=/dev/vda rw init=/sbin/l2tpv3d-vm-init quiet panic=-1 net.ifnames=0" \
	-drive "file=$root/root.img,if=virtio,format=raw,snapshot=on" \
	-drive "file=$work/job.img,if=virtio,format=raw" \
	-serial "file:$console" </dev/null >"$out/qemu.log" 2>&1 &
qpid=$!
tail -n +1 -f --pid="$qpid" "$console" 2>/dev/null | sed -u 's/\r$//' >&2 &
tailpid=$!

rc=''
booted=''
deadline=$((SECONDS + timeout))
while kill -0 "$qpid" 2>/dev/null; do
	if [[ -z $booted ]] && grep -q '^VM-INIT' "$console"; then
		booted=$(awk -v a="$tq" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	fi
	if (( SECONDS >= deadline )); then
		say "timeout after ${timeout} s: stopping the VM"
		kill "$qpid" 2>/dev/null || true
		rc=124
		break
	fi
	sleep 0.2
done
wait "$qpid" 2>/dev/null || true
qpid=''
wait "$tailpid" 2>/dev/null || true
t2=$(date +%s%N)

debugfs -R "rdump /out $work" "$work/job.img" >/dev/null 2>&1 || true
if [[ -d $work/out ]]; then
	cp -a "$work/out/." "$out/"
fi
if [[ -z $rc ]]; then
	if [[ -s $out/rc ]]; then
		rc=$(cat "$out/rc")
	else
		say "the VM stopped without a result (see $console and $out/qemu.log)"
		cat "$out/qemu.log" >&2
		rc=125
	fi
fi
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
echo "${booted:-?}" >"$out/boot_seconds"
say "root disk ready in $(secs "$t0" "$t1") s; boot to init ${booted:-?} s; VM run $(secs "$tq" "$t2") s; total $(secs "$t0" "$t2") s; exit $rc"
exit "$rc"
