#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The unit under a real systemd.  systemd is not PID 1 on the test
# machines, so systemd-nspawn boots one in a container: this host's own
# root file system through an overlay whose writes vanish (--volatile=
# overlay), a network namespace of its own (--private-network: nothing
# it does reaches the host's links), a minimal target that runs only
# a check script.  The script starts l2tpv3d.service (the unit built
# from contrib/, pointed at the binaries under test, with a responder
# configuration) and checks what the hardening must still allow:
#  - `systemctl start` returns with the service active: Type=notify got
#    READY=1 (a start timeout of 20 s would fail it), and STATUS= shows;
#  - the control socket answers at /run/l2tpv3d/control.sock
#    (RuntimeDirectory=, ProtectSystem=strict);
#  - bridge1 with the TAP port tunnel1 and its address exist, UDP 1701 is
#    bound (CAP_NET_ADMIN, CAP_NET_BIND_SERVICE, the system call filter,
#    the address families; DeviceAllow= goes unchecked: the container's
#    systemd has no device controller to enforce it);
#  - the daemon holds exactly those three capabilities, NoNewPrivs, seccomp;
#  - `dataplane fastpath on`: the log says whether the eBPF programs
#    loaded; and a copy of the unit whose ExecStart= is a small Python
#    program loads a tc (sched_cls) eBPF program through bpf(2), as the
#    fast path must (CAP_BPF, CAP_NET_ADMIN, `SystemCallFilter=bpf`), while
#    a copy without `SystemCallFilter=bpf`, and one without CAP_BPF, get
#    EPERM;
#  - its data thread runs under SCHED_FIFO 10 (LimitRTPRIO=, no
#    CAP_SYS_NICE), or, on a kernel with RT group scheduling, where a
#    service's cgroup has no real-time budget, the log says it was refused;
#  - `systemctl stop` ends it cleanly, and the journal has its lines with
#    their priorities (notice for start and stop).
source "$(dirname "$0")/lib.sh"

require_daemon
UNIT_IN=$B/contrib/l2tpv3d.service
[[ -f $UNIT_IN ]]
command -v systemd-nspawn >/dev/null || { log "systemd-nspawn missing (package systemd-container)"; false; }

STAGE=$RUN/stage
mkdir -p "$STAGE/dropin" "$RUN/result"
# The binaries under test appear in the container as /l2tpbuild.
bin_d=/l2tpbuild/${L2TPV3D#"$B"/}
bin_c=/l2tpbuild/${L2TPCTL#"$B"/}
sed -e "s#^ExecStart=[^ ]*l2tpv3d#ExecStart=$bin_d#" \
	-e "s#^ExecReload=[^ ]*l2tpctl#ExecReload=$bin_c#" "$UNIT_IN" >"$STAGE/l2tpv3d.service"
grep -qx "ExecStart=$bin_d -f" "$STAGE/l2tpv3d.service"
# Test-only drop-in: fail fast; the sanitizers' leak check at exit needs
# ptrace, which the system call filter rightly forbids (other tests check
# leaks).
cat >"$STAGE/dropin/test.conf" <<'CONF'
[Service]
TimeoutStartSec=20s
TimeoutStopSec=20s
Restart=no
Environment=ASAN_OPTIONS=detect_leaks=0
CONF
cat >"$STAGE/l2tpv3d.conf" <<'CONF'
bridge member bridge1 tunnel1
ip bridge1 address 192.0.2.1/24
tunnel select 1
 tunnel encapsulation l2tpv3-raw
 l2tp tunnel auth on secret
 l2tp remote router-id 192.0.2.2
 l2tp keepalive use on 1 3
 tunnel enable 1
dataplane fastpath on
l2tp service on
CONF
chmod 0600 "$STAGE/l2tpv3d.conf"
# bpf_check.py: load "r0 = 0; exit" as a sched_cls program (what tc runs),
# print the result; exit 0 when it loaded
cat >"$STAGE/bpf_check.py" <<'PY'
import ctypes, os, struct, sys
nr = {"x86_64": 321, "aarch64": 280}[os.uname().machine]
insns = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
ibuf = ctypes.create_string_buffer(insns, len(insns))
lic = ctypes.create_string_buffer(b"GPL")
attr = ctypes.create_string_buffer(128)
# union bpf_attr, BPF_PROG_LOAD: prog_type (3: sched_cls), insn_cnt, insns, license
struct.pack_into("<IIQQ", attr, 0, 3, 2, ctypes.addressof(ibuf), ctypes.addressof(lic))
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(nr, 5, attr, 128)  # BPF_PROG_LOAD
if fd < 0:
    e = ctypes.get_errno()
    print("bpf: sched_cls program refused: %s (%s)" % (os.strerror(e), e), flush=True)
    sys.exit(1)
print("bpf: a sched_cls program loaded", flush=True)
PY
cat >"$STAGE/l2tptest.target" <<'UNIT'
[Unit]
Description=l2tpv3d unit test boot
Requires=basic.target
After=basic.target
Wants=l2tptest.service
AllowIsolate=yes
UNIT
cat >"$STAGE/l2tptest.service" <<'UNIT'
[Unit]
Description=l2tpv3d unit checks
After=basic.target
[Service]
Type=oneshot
ExecStart=/bin/bash /l2tpstage/check.sh
ExecStopPost=/bin/systemctl --no-block poweroff
UNIT
# CONFIG_RT_GROUP_SCHED: real-time tasks only in cgroups given a budget
RT_GROUP=no
kconfig=$(zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null || true)
if grep -qx 'CONFIG_RT_GROUP_SCHED=y' <<<"$kconfig"; then
	RT_GROUP=yes
fi
log "kernel RT group scheduling: $RT_GROUP"
cat >"$STAGE/check.sh" <<CHECK
#!/bin/bash
# Runs inside the container; the last line says RESULT ok or where it failed.
exec >/l2tpresult/check.log 2>&1
set -eEux -o pipefail
trap 'echo "RESULT failed at line \$LINENO"' ERR
systemctl start l2tpv3d.service
[[ \$(systemctl is-active l2tpv3d.service) == active ]]
[[ \$(systemctl show -P StatusText l2tpv3d.service) == "1 tunnel(s) configured" ]]
pid=\$(systemctl show -P MainPID l2tpv3d.service)
$bin_c -j show status l2tp | tee /l2tpresult/status.json
grep -q '"state": *"idle"' /l2tpresult/status.json || grep -q '"state":"idle"' /l2tpresult/status.json
[[ \$(stat -c %a /run/l2tpv3d/control.sock) == 660 ]]
ip -o link show master bridge1 | grep -q ' tunnel1: '
ip -4 -o addr show dev bridge1 | grep -q ' 192.0.2.1/24 '
ss -Hulnp 'sport = :1701' | grep -q "pid=\$pid,"
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/\$pid/status
grep -qx \$'CapEff:\\t0000008000001400' /proc/\$pid/status
grep -qx \$'CapBnd:\\t0000008000001400' /proc/\$pid/status
grep -qx \$'NoNewPrivs:\\t1' /proc/\$pid/status
grep -qx \$'Seccomp:\\t2' /proc/\$pid/status
# the data thread got SCHED_FIFO 10 through LimitRTPRIO=, no capability;
# or, on a kernel with RT group scheduling (a service's cgroup has no
# real-time budget), it was refused, said so, and runs normally
if [[ $RT_GROUP == no ]]; then
	grep -Eq '"dataplane_realtime": *10' /l2tpresult/status.json
	[[ \$(ps -L -o cls=,rtprio= -p \$pid | awk '\$1 == "FF"' | xargs) == "FF 10" ]]
else
	grep -Eq '"dataplane_realtime": *0' /l2tpresult/status.json
	journalctl -u l2tpv3d.service --no-pager | grep -q 'data path thread: cannot use SCHED_FIFO priority 10'
	[[ -z \$(ps -L -o cls= -p \$pid | grep FF || true) ]]
fi
# jgrep UNIT ERE: UNIT's journal has a line matching ERE (within 5 s)
jgrep() {
	for _ in {1..50}; do
		journalctl -u "\$1" --no-pager | grep -E "\$2" && return 0
		sleep 0.1
	done
	return 1
}
# the unit's capabilities and system call filter let it load (this kernel has BPF)
jgrep l2tpv3d.service "data path: kernel fast path on \\('dataplane fastpath'\\)"
# the unit's sandbox lets a tc program load (ExecStart= a check instead)
sed -e 's#^ExecStart=.*#ExecStart=/usr/bin/python3 /l2tpstage/bpf_check.py#' -e 's/^Type=notify/Type=oneshot/' \
	-e '/^ExecReload=/d' -e '/^NotifyAccess=/d' -e '/^Restart/d' -e 's/^SyslogIdentifier=.*/SyslogIdentifier=l2tpbpf/' \
	/etc/systemd/system/l2tpv3d.service >/etc/systemd/system/l2tpbpf.service
grep -qx 'SystemCallFilter=bpf' /etc/systemd/system/l2tpbpf.service
sed '/^SystemCallFilter=bpf\$/d' /etc/systemd/system/l2tpbpf.service >/etc/systemd/system/l2tpbpf-nobpf.service
sed 's/^CapabilityBoundingSet=.*/CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE/' \
	/etc/systemd/system/l2tpbpf.service >/etc/systemd/system/l2tpbpf-nocap.service
systemctl daemon-reload
systemctl start l2tpbpf.service
jgrep l2tpbpf.service 'bpf: a sched_cls program loaded'
if systemctl start l2tpbpf-nobpf.service; then false; fi
jgrep l2tpbpf-nobpf.service 'bpf: sched_cls program refused: Operation not permitted'
if systemctl start l2tpbpf-nocap.service; then false; fi
jgrep l2tpbpf-nocap.service 'bpf: sched_cls program refused: Operation not permitted'
systemctl stop l2tpv3d.service
[[ \$(systemctl show -P Result l2tpv3d.service) == success ]]
[[ \$(systemctl show -P ExecMainStatus l2tpv3d.service) == 0 ]]
journalctl -u l2tpv3d.service -o json --no-pager >/l2tpresult/journal.json
grep -q '"PRIORITY":"5".*"MESSAGE":"l2tpv3d starting' /l2tpresult/journal.json ||
	grep -q '"MESSAGE":"l2tpv3d starting.*"PRIORITY":"5"' /l2tpresult/journal.json
grep -q '"PRIORITY":"5".*"MESSAGE":"l2tpv3d stopped"' /l2tpresult/journal.json ||
	grep -q '"MESSAGE":"l2tpv3d stopped".*"PRIORITY":"5"' /l2tpresult/journal.json
echo "RESULT ok"
CHECK

# The bind mount of / lives in a mount namespace of this test only.
# nspawn keeps CAP_BPF and bpf(2) from its container unless told (a host's
# systemd as PID 1 has both to give).
start=$SECONDS
unshare -m --propagation private bash -c '
	set -e
	mkdir -p "$1/root"
	mount --bind / "$1/root"
	exec systemd-nspawn -q -D "$1/root" --volatile=overlay --private-network \
		-M "l2tptest-$2" --register=no --link-journal=no --keep-unit \
		--capability=CAP_BPF --system-call-filter=bpf \
		--bind-ro="$3":/l2tpbuild --bind-ro="$1/stage":/l2tpstage --bind="$1/result":/l2tpresult \
		--bind-ro="$1/stage/l2tpv3d.service":/etc/systemd/system/l2tpv3d.service \
		--bind-ro="$1/stage/dropin":/etc/systemd/system/l2tpv3d.service.d \
		--bind-ro="$1/stage/l2tpv3d.conf":/etc/l2tpv3d/l2tpv3d.conf \
		--bind-ro="$1/stage/l2tptest.target":/etc/systemd/system/l2tptest.target \
		--bind-ro="$1/stage/l2tptest.service":/etc/systemd/system/l2tptest.service \
		-b -- systemd.unit=l2tptest.target
' nspawn "$RUN" "$$" "$B" >"$OUT/console.log" 2>&1 </dev/null || true
log "container booted, checked and powered off in $((SECONDS - start)) s"
cp -r "$RUN/result/." "$OUT/" 2>/dev/null || true
if [[ ! -s $OUT/check.log ]]; then
	tail -n 40 "$OUT/console.log" >&2
	log "the check script did not run in the container"
	false
fi
cat "$OUT/check.log" >&2
[[ $(tail -n 1 "$OUT/check.log") == "RESULT ok" ]]
log "ok: l2tpv3d.service under systemd: notify, socket, bridge, TAP, port 1701, capabilities, journal"
