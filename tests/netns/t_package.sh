#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Debian package: build it with `dpkg-buildpackage -us -uc -b` from a
# copy of the source tree (cached in build-deb/ by a hash of the sources),
# lint it (lintian: no error), install it on this machine with dpkg -i,
# check what it installed (binaries, unit, man pages, completion, the
# example configuration as a root-only conffile), then run the reference
# scenario with the installed binaries, Router1 using the installed example
# configuration, and finally purge the package and check it is gone.
# The machine is a throwaway test host: if l2tpv3d was installed before,
# it is purged at the end all the same.
L2TPV3D=/usr/sbin/l2tpv3d
L2TPCTL=/usr/sbin/l2tpctl
source "$(dirname "$0")/lib.sh"

DEB_DIR=${DEB_DIR:-$REPO/build-deb}
PKG=l2tpv3d
mkdir -p "$DEB_DIR"

# ----------------------------------------------------------------- build

# The sources that go into the package: tracked and new files, not ignored.
src_files() { git -C "$REPO" ls-files -z -co --exclude-standard; }
key=$(cd "$REPO" && src_files | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
deb=$(ls "$DEB_DIR"/${PKG}_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1 || true)
if [[ -n $deb && $(cat "$DEB_DIR/key" 2>/dev/null) == "$key" ]]; then
	log "ok: cached $(basename "$deb") matches the sources"
else
	rm -rf "${DEB_DIR:?}"/*
	mkdir -p "$DEB_DIR/src"
	src_files | tar -C "$REPO" --null -T - -cf - | tar -C "$DEB_DIR/src" -xf -
	start=$SECONDS
	if ! (cd "$DEB_DIR/src" && dpkg-buildpackage -us -uc -b) >"$OUT/dpkg-buildpackage.log" 2>&1; then
		tail -n 40 "$OUT/dpkg-buildpackage.log" >&2
		log "dpkg-buildpackage failed"
		false
	fi
	deb=$(ls "$DEB_DIR"/${PKG}_*_"$(dpkg --print-architecture)".deb)
	echo "$key" >"$DEB_DIR/key"
	log "ok: dpkg-buildpackage -us -uc -b: $(basename "$deb") in $((SECONDS - start)) s"
fi

# lintian: errors fail the test; warnings are shown.
lintian --fail-on error \
	"$DEB_DIR"/${PKG}_*.changes >"$OUT/lintian.txt" 2>&1 || {
	cat "$OUT/lintian.txt" >&2; log "lintian reports errors"; false; }
cat "$OUT/lintian.txt" >&2
log "ok: lintian: $(grep -c '^E:' "$OUT/lintian.txt" || true) errors, $(grep -c '^W:' "$OUT/lintian.txt" || true) warnings"

# --------------------------------------------------------------- install

# _dpkg ARGS...: dpkg, output kept; another apt/dpkg run holding the lock
# makes it fail, so callers retry with wait_for.
_dpkg() { dpkg "$@" >>"$OUT/dpkg.log" 2>&1; }
PURGED=
purge() {
	[[ -n $PURGED ]] && return 0
	PURGED=1
	wait_for "dpkg -P $PKG" 120 _dpkg -P "$PKG"
}
trap '_rc=$?; purge; (exit $_rc); cleanup' EXIT

if ! wait_for "dpkg -i $(basename "$deb")" 120 _dpkg -i "$deb"; then
	cat "$OUT/dpkg.log" >&2
	false
fi
[[ $(dpkg-query -W -f='${Status}' "$PKG") == "install ok installed" ]]
for f in /usr/sbin/l2tpv3d /usr/sbin/l2tpctl /lib/systemd/system/l2tpv3d.service \
	/usr/share/man/man8/l2tpv3d.8.gz /usr/share/man/man8/l2tpctl.8.gz \
	/usr/share/man/man5/l2tpv3d.conf.5.gz /usr/share/bash-completion/completions/l2tpctl \
	/usr/share/doc/l2tpv3d/copyright; do
	[[ -e $f ]] || { log "not installed: $f"; false; }
done
# the example configuration: a conffile, root only, Router1 of the scenario
dpkg-query -W -f='${Conffiles}\n' "$PKG" | grep -q '^ /etc/l2tpv3d/l2tpv3d.conf '
[[ $(stat -c '%a %U' /etc/l2tpv3d/l2tpv3d.conf) == "600 root" ]]
"$L2TPV3D" -n -c /etc/l2tpv3d/l2tpv3d.conf 2>"$OUT/example-check.txt"
fails grep -qE ': (warning|error):' "$OUT/example-check.txt"
# the installed unit, now with its real binaries and man pages
grep -qx 'ExecStart=/usr/sbin/l2tpv3d -f' /lib/systemd/system/l2tpv3d.service
systemd-analyze verify /lib/systemd/system/l2tpv3d.service >"$OUT/verify.txt" 2>&1
[[ ! -s $OUT/verify.txt ]] || { cat "$OUT/verify.txt" >&2; false; }
[[ $(man -w 5 l2tpv3d.conf) == /usr/share/man/man5/l2tpv3d.conf.5.gz ]]
[[ $(man -w 8 l2tpctl) == /usr/share/man/man8/l2tpctl.8.gz ]]
# bash completion as bash-completion loads it
words=$(bash -c 'source /usr/share/bash-completion/bash_completion
	__load_completion l2tpctl || exit 1
	COMP_WORDS=(l2tpctl show ""); COMP_CWORD=2; COMP_LINE="l2tpctl show "
	COMP_POINT=${#COMP_LINE}; _l2tpctl; echo "${COMPREPLY[*]}"')
[[ $words == "status config ipsec" ]] || { log "completion of 'l2tpctl show': '$words'"; false; }
log "ok: installed files, conffile, unit, man pages, completion"

# ----------------------------------------- the scenario, installed binaries

topo_create
# Router1 is the installed example; only the keepalive is quicker.
sed 's/^ l2tp keepalive use on 60 3 .*/ l2tp keepalive use on 1 3/' \
	/etc/l2tpv3d/l2tpv3d.conf >"$OUT/r1.conf"
diff /etc/l2tpv3d/l2tpv3d.conf "$OUT/r1.conf" >"$OUT/r1.diff" || true
[[ $(grep -c '^>' "$OUT/r1.diff") == 1 ]]
start_daemon r2
start_daemon r1 "$OUT/r1.conf"
wait_for "tunnel and session established between r1 and r2" 30 paired
ping_ok pc1 192.168.10.2 3
status_text r1 | tee "$OUT/status-r1.txt"
grep -qF "Tunnel state: established" "$OUT/status-r1.txt"
grep -qF "Host name: RT2" "$OUT/status-r1.txt"
stop_daemon r1
stop_daemon r2

# ------------------------------------------------------------------ purge
purge
[[ $(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true) != *" installed" ]]
for f in /usr/sbin/l2tpv3d /usr/sbin/l2tpctl /lib/systemd/system/l2tpv3d.service /etc/l2tpv3d; do
	[[ ! -e $f ]] || { log "left after purge: $f"; false; }
done
log "ok: purged, nothing left"
