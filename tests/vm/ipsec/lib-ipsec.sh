# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Helpers of the IPsec tests that run INSIDE the test VM (tests/vm/vmrun.sh
# boots it; tests/vm/t_ipsec_*.sh are the host-side tests).  Sources
# tests/netns/lib.sh (the reference two-site topology) and adds:
#
#   ipsec_topo             topo_create, then the NATs of an IPsec site:
#                          nat1 masquerades with source ports rewritten
#                          into 20000-29999; r1 and r2 keep their own
#                          masquerade but lose the DNAT of udp 1701 (the
#                          router is the L2TP endpoint on its WAN address)
#   conf_ipsec_r1 / conf_ipsec_r2   raw l2tpv3d configs with endpoints on
#                          the WAN addresses (172.16.0.2 -> 203.0.113.2)
#   charon_start NS        a strongSwan charon in NS, in its own mount
#                          namespace with its own strongswan.conf and VICI
#                          socket ($RUN/NS.vici); log $OUT/charon-NS.log
#   swanctl NS ARGS...     swanctl against NS's charon
#   child_installed NS N   NS's kernel holds at least N ESP SAs (both
#                          directions count) and N policies
#   wan_capture_start FILE / wan_capture_stop FILE   everything IPv4 on
#                          inet's e0 (between nat1 and the Internet)
#   esp_sa_file NS DIR     DIR/wireshark/esp_sa from NS's `ip xfrm state`
#                          (AES-CBC + HMAC-SHA1, or AES-GCM-16)
#   xfrm_stat NS NAME      a counter of NS's /proc/net/xfrm_stat
#   pluto_start NS CONF SECRETS   a libreswan pluto in NS (own mount namespace)
#   whack NS ARGS...       libreswan's whack against NS's pluto
#
# Ports: IKE 500 and 4500 (NAT-T) on the WAN addresses; ESP in UDP 4500.

# shellcheck source=../../netns/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../netns" && pwd)/lib.sh"

# The ASan daemon under TCG once needed more than 10 s to answer, and more
# than 30 s with two guests on this loaded 2-core machine.
DAEMON_START_WAIT=${DAEMON_START_WAIT:-60}

# Every tool and module the tests need is there (a clear error if not).
ipsec_require() {
	local t
	for t in /usr/lib/ipsec/charon swanctl nft tshark tcpdump socat jq busybox; do
		command -v "$t" >/dev/null || { log "missing $t in the guest"; return 1; }
	done
	# tun: /dev/net/tun for the daemon's TAP ports (no udev in the guest
	# creates the node before the module is loaded).
	modprobe -a esp4 xfrm_user tun 2>/dev/null || { log "cannot load esp4/xfrm_user/tun"; return 1; }
	require_daemon
	if ldd "$L2TPV3D" | grep -q 'not found'; then
		ldd "$L2TPV3D" >&2
		log "the guest lacks libraries of $L2TPV3D"
		return 1
	fi
}

ipsec_topo() {
	topo_create
	nq nat1 nft flush table ip nat
	# Forwarded UDP gets a new source port; nat1's own packets (the
	# injections of the tests) keep theirs.
	nq nat1 nft add rule ip nat postrouting iifname lan oifname wan meta l4proto udp masquerade to :20000-29999
	nq nat1 nft add rule ip nat postrouting oifname wan masquerade
	local ns
	for ns in r1 r2; do
		nq "$ns" nft delete table ip nat
		nq "$ns" nft -f - <<-EOF
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "lan2" masquerade
			}
		}
		EOF
	done
	log "IPsec NATs: nat1 rewrites UDP source ports to 20000-29999; no DNAT in r1/r2"
}

conf_ipsec_r1() {
	conf_r1 | sed -e 's/^ tunnel endpoint address 192.168.2.10 203.0.113.2$/ tunnel endpoint address 172.16.0.2 203.0.113.2/' \
		-e '/masquerade static/d'
}
conf_ipsec_r2() { conf_r2 | sed -e '/masquerade static/d'; }

CHARON_PID=()
charon_start() {
	local ns=$1 conf=$RUN/$1-strongswan.conf
	cat >"$conf" <<-EOF
	charon {
		load_modular = yes
		plugins {
			include /etc/strongswan.d/charon/*.conf
			vici {
				socket = unix://$RUN/$ns.vici
			}
			# test-vectors runs every crypto self-test at start
			# (22 s under TCG), af-alg probes the kernel's crypto
			# (it loads modules: 35 s more for the first charon);
			# the others only add noise here.
			test-vectors {
				load = no
			}
			af-alg {
				load = no
			}
			tpm {
				load = no
			}
			forecast {
				load = no
			}
			ha {
				load = no
			}
			pkcs11 {
				load = no
			}
		}
		# Yamaha's aggressive mode with a PSK, as a responder.
		i_dont_care_about_security_and_use_aggressive_mode_psk = yes
		install_routes = no
		filelog {
			$ns {
				path = $OUT/charon-$ns.log
				time_format = %T
				default = 1
				ike = 2
				cfg = 2
				knl = 1
			}
		}
		syslog {
			daemon {
				default = -1
			}
		}
	}
	EOF
	rm -f "$RUN/$ns.vici"
	nbg "$ns" unshare -m sh -c "mount --bind $conf /etc/strongswan.conf && mount -t tmpfs run /run && exec /usr/lib/ipsec/charon" \
		>"$OUT/charon-$ns.out" 2>&1
	CHARON_PID+=($!)
	wait_for "$ns: charon's VICI socket" 60 test -S "$RUN/$ns.vici"
}

swanctl() { local ns=$1; shift; nq "$ns" swanctl "$@" --uri "unix://$RUN/$ns.vici"; }

child_installed() {
	local ns=$1 want=$2
	(( $(nq "$ns" ip xfrm state | grep -c '^src') >= want )) &&
	(( $(nq "$ns" ip xfrm policy | grep -c '^src') >= want ))
}

wan_capture_start() {
	local file=$1
	nbg inet tcpdump -Z root -n -i e0 --immediate-mode -U -s 0 -w "$file" ip 2>"$file.err"
	CAPTURE_PID[$file]=$!
	wait_for "inet: tcpdump listening on e0" 60 grep -q 'listening on' "$file.err" ||
		{ cat "$file.err" >&2; ps aux >&2; return 1; }
}
wan_capture_stop() { capture_stop "$1"; }

# esp_sa_file NS DIR: one line per SA of NS's kernel, in the addresses the
# kernel holds (r2's view: the public ones, as the WAN capture shows them).
esp_sa_file() {
	local ns=$1 dir=$2
	mkdir -p "$dir/wireshark"
	nq "$ns" ip xfrm state | awk '
		function flush() {
			if (spi != "" && gk != "")
				printf "\"IPv4\",\"%s\",\"%s\",\"%s\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"%s\",\"NULL\",\"\"\n", src, dst, spi, gk
			else if (spi != "")
				printf "\"IPv4\",\"%s\",\"%s\",\"%s\",\"AES-CBC [RFC3602]\",\"%s\",\"HMAC-SHA-1-96 [RFC2404]\",\"%s\"\n", src, dst, spi, ek, ak
			spi = ""; gk = ""
		}
		/^src/ { flush(); src = $2; dst = $4 }
		# AES-GCM (IKEv2 test): the key with its 4-byte salt, as tshark wants it
		$1 == "aead" && $2 ~ /^rfc4106\(gcm\(aes\)\)/ { gk = $3 }
		/proto esp spi/ { spi = $4 }
		$1 == "auth-trunc" && $2 == "hmac(sha1)" { ak = $3 }
		$1 == "enc" && $2 == "cbc(aes)" { ek = $3 }
		END { flush() }
	' >"$dir/wireshark/esp_sa"
	(( $(wc -l <"$dir/wireshark/esp_sa") >= 2 ))
}

xfrm_stat() { nq "$1" awk -v n="$2" '$1 == n { print $2 }' /proc/net/xfrm_stat; }

PLUTO_NS=()
pluto_start() {
	local ns=$1 conf=$2 secrets=$3 d=$RUN/pluto-$1
	mkdir -p "$d/nss" "$d/run"
	rm -f "$d/run/pluto.ctl"
	[[ -f $d/nss/cert9.db ]] || nq "$ns" certutil -N -d "sql:$d/nss" --empty-password >/dev/null
	nbg "$ns" unshare -m sh -c "mount -t tmpfs run /run && exec /usr/libexec/ipsec/pluto --nofork --config $conf --secretsfile $secrets --nssdir $d/nss --rundir $d/run --logfile $OUT/pluto-$ns.log" \
		>"$OUT/pluto-$ns.out" 2>&1
	CHARON_PID+=($!)
	PLUTO_NS+=("$ns")
	wait_for "$ns: pluto's control socket" 20 test -S "$d/run/pluto.ctl"
}
whack() { local ns=$1; shift; nq "$ns" /usr/libexec/ipsec/whack --ctlsocket "$RUN/pluto-$ns/run/pluto.ctl" "$@"; }
