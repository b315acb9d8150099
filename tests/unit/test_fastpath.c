/* SPDX-License-Identifier: MIT */
/*
 * The kernel fast path's two tc programs (src/dataplane/fastpath.bpf.c),
 * run by the kernel on crafted packets with BPF_PROG_TEST_RUN: the object
 * built into the daemon (fastpath_obj.h) is loaded here with libbpf and its
 * maps filled by hand (fastpath_maps.h), without the loader.
 *
 *   fp_tx: an Ethernet frame seen on a TAP's egress becomes outer IPv4 +
 *          UDP + L2TPv3 (+ cookie, + sublayer) + the frame, redirected
 *          (TC_ACT_REDIRECT); what it must leave to the data thread comes
 *          back TC_ACT_OK with its bytes untouched.
 *   fp_rx: a datagram for a known session comes out as its inner frame,
 *          redirected; everything else TC_ACT_OK and untouched.
 *   The per-CPU counters count exactly what was redirected.
 *
 * BPF_PROG_TEST_RUN gives the program a packet on the loopback device of
 * the caller's namespace, so fp_tx's map is keyed by lo's ifindex (1).
 * Needs root (CAP_BPF, CAP_NET_ADMIN); every test skips otherwise, or when
 * the kernel refuses the programs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/fastpath_maps.h"
#include "dataplane/fastpath_obj.h" /* fp_obj[], fp_obj_len */

#define LO_IFINDEX 1
#define TAP_IFINDEX 4242 /* fp_rx only names it in its redirect */
#define WAN_IFINDEX LO_IFINDEX /* fp_tx asks its MTU (bpf_check_mtu): a device that exists; lo's 65536 leaves max_frame the limit */
#define TX_SLOT 5
#define RX_SLOT 7
#define RX_SID 0x11223344u
#define TX_SID 0xa1b2c3d4u

struct fx {
	struct bpf_object *obj;
	int tx_prog, rx_prog, tx_map, rx_map, stats_map;
	int ncpus;
};

static struct fx fx;
static bool loaded;

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (loaded)
		return 0;
	if (geteuid() != 0)
		return 0;
	libbpf_set_print(quiet);
	fx.obj = bpf_object__open_mem(fp_obj, fp_obj_len, NULL);
	if (!fx.obj)
		return 0;
	if (bpf_object__load(fx.obj) < 0) {
		fprintf(stderr, "the kernel refused the fast path's programs: %s\n", strerror(errno));
		bpf_object__close(fx.obj);
		fx.obj = NULL;
		return 0;
	}
	fx.tx_prog = bpf_program__fd(bpf_object__find_program_by_name(fx.obj, "fp_tx"));
	fx.rx_prog = bpf_program__fd(bpf_object__find_program_by_name(fx.obj, "fp_rx"));
	fx.tx_map = bpf_object__find_map_fd_by_name(fx.obj, "fp_tx_map");
	fx.rx_map = bpf_object__find_map_fd_by_name(fx.obj, "fp_rx_map");
	fx.stats_map = bpf_object__find_map_fd_by_name(fx.obj, "fp_stats_map");
	fx.ncpus = libbpf_num_possible_cpus();
	loaded = fx.tx_prog >= 0 && fx.rx_prog >= 0 && fx.tx_map >= 0 && fx.rx_map >= 0 && fx.stats_map >= 0 &&
		 fx.ncpus > 0;
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	if (fx.obj)
		bpf_object__close(fx.obj);
	return 0;
}

/* Each test starts from empty maps and zero counters. */
static void need(void)
{
	uint32_t key;
	struct fp_counters *zero;

	if (!loaded)
		skip();
	key = LO_IFINDEX;
	(void)bpf_map_delete_elem(fx.tx_map, &key);
	key = 9999;
	(void)bpf_map_delete_elem(fx.tx_map, &key);
	key = RX_SID;
	(void)bpf_map_delete_elem(fx.rx_map, &key);
	zero = calloc((size_t)fx.ncpus, sizeof(*zero));
	assert_non_null(zero);
	for (key = 0; key < 16; key++)
		assert_int_equal(bpf_map_update_elem(fx.stats_map, &key, zero, BPF_ANY), 0);
	free(zero);
}

/* Run prog on in[0..len); the output goes to out, its length to *olen. */
static int run(int prog, const uint8_t *in, size_t len, uint8_t *out, size_t *olen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = 4096, .repeat = 1);
	int r = bpf_prog_test_run_opts(prog, &o);

	assert_int_equal(r, 0);
	*olen = o.data_size_out;
	return (int)o.retval;
}

/* The program must leave the packet alone: TC_ACT_OK, the same bytes. */
static void untouched(int prog, const uint8_t *in, size_t len)
{
	uint8_t out[4096];
	size_t olen;

	assert_int_equal(run(prog, in, len, out, &olen), TC_ACT_OK);
	assert_int_equal(olen, len);
	assert_memory_equal(out, in, len);
}

static void stats(uint32_t slot, struct fp_counters *ret)
{
	struct fp_counters *v = calloc((size_t)fx.ncpus, sizeof(*v));

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(fx.stats_map, &slot, v), 0);
	fp_counters_sum(v, fx.ncpus, ret);
	free(v);
}

/* ------------------------------------------------------------ packets */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t ip_csum(const uint8_t *h, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
/* lo's address: a datagram to it is PACKET_HOST for the kernel */
static const uint8_t mac_lo[6] = { 0 };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };

/* An IPv4 header of total length tot at p (protocol proto, flags/offset
 * frag), with its checksum. */
static void ipv4(uint8_t *p, uint16_t tot, uint8_t proto, uint16_t frag, const char *src, const char *dst)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, tot);
	put16(p + 4, 0x1234);
	put16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	assert_int_equal(inet_pton(AF_INET, src, p + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, p + 16), 1);
	put16(p + 10, ip_csum(p, 20));
}

/*
 * An inner Ethernet frame of len bytes (>= 14 + 20 + 20): IPv4 from
 * 192.168.10.1 to .2 carrying UDP (proto 17), TCP (6, flags tcpflags), or
 * ARP when arp is set.
 */
static size_t inner_frame(uint8_t *f, size_t len, uint8_t proto, uint8_t tcpflags, bool arp)
{
	memcpy(f, mac_b, 6);
	memcpy(f + 6, mac_a, 6);
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7 + 3);
	if (arp) {
		put16(f + 12, 0x0806);
		put16(f + 14, 1);      /* Ethernet */
		put16(f + 16, 0x0800); /* IPv4 */
		f[18] = 6;
		f[19] = 4;
		put16(f + 20, 1); /* request */
		return len;
	}
	put16(f + 12, 0x0800);
	ipv4(f + 14, (uint16_t)(len - 14), proto, 0x4000, "192.168.10.1", "192.168.10.2");
	if (proto == 17) {
		put16(f + 34, 40000);
		put16(f + 36, 9000);
		put16(f + 38, (uint16_t)(len - 34));
		put16(f + 40, 0);
	} else if (proto == 6) {
		put16(f + 34, 40000);
		put16(f + 36, 5201);
		f[46] = 5 << 4; /* data offset: 20 bytes */
		f[47] = tcpflags;
	}
	return len;
}

/* ---------------------------------------------------------------- fp_tx */

/* A tx map entry for lo: from 198.51.100.2:1701 to 203.0.113.2:1702,
 * session TX_SID, cookie of cookie_len bytes, sublayer if l2ss. */
static struct fp_tx tx_entry(size_t cookie_len, bool l2ss, uint16_t max_frame, bool clamp)
{
	static const uint8_t cookie[8] = { 0xc0, 0x0c, 0x1e, 0x55, 0x66, 0x77, 0x88, 0x99 };
	struct fp_tx t;

	memset(&t, 0, sizeof(t));
	t.slot = TX_SLOT;
	assert_int_equal(inet_pton(AF_INET, "198.51.100.2", &t.saddr), 1);
	assert_int_equal(inet_pton(AF_INET, "203.0.113.2", &t.daddr), 1);
	t.sport = htons(1701);
	t.dport = htons(1702);
	t.wan_ifindex = WAN_IFINDEX;
	t.max_frame = max_frame;
	t.clamp_mss = clamp;
	t.hdr[1] = 3;
	put32(t.hdr + 4, TX_SID);
	memcpy(t.hdr + 8, cookie, cookie_len);
	t.hdr_len = (uint8_t)(8 + cookie_len + (l2ss ? 4 : 0));
	return t;
}

static void tx_put(uint32_t ifindex, const struct fp_tx *t)
{
	assert_int_equal(bpf_map_update_elem(fx.tx_map, &ifindex, t, BPF_ANY), 0);
}

/* With t as lo's tx map entry, fp_tx turns in into the encapsulated packet
 * t describes. */
static void check_encap(const struct fp_tx *t, const uint8_t *in, size_t len)
{
	uint8_t out[4096];
	size_t olen, hl = t->hdr_len;
	const uint8_t *ip, *udp, *l2;

	tx_put(LO_IFINDEX, t);
	assert_int_equal(run(fx.tx_prog, in, len, out, &olen), TC_ACT_REDIRECT);
	assert_int_equal(olen, 14 + 20 + 8 + hl + len);
	/* outer Ethernet: IPv4 (the neighbour output fills in the MACs) */
	assert_int_equal(get16(out + 12), 0x0800);
	ip = out + 14;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get16(ip + 2), olen - 14);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 17);
	assert_int_equal(get16(ip + 6) & 0x3fff, 0); /* not a fragment */
	assert_int_equal(ip_csum(ip, 20), 0);	     /* the header checksum verifies */
	assert_memory_equal(ip + 12, &t->saddr, 4);
	assert_memory_equal(ip + 16, &t->daddr, 4);
	udp = ip + 20;
	assert_int_equal(get16(udp), 1701);
	assert_int_equal(get16(udp + 2), 1702);
	assert_int_equal(get16(udp + 4), olen - 14 - 20);
	assert_int_equal(get16(udp + 6), 0); /* no UDP checksum */
	l2 = udp + 8;
	assert_int_equal(get16(l2), 0x0003); /* T=0, version 3 */
	assert_int_equal(get16(l2 + 2), 0);
	assert_int_equal((uint32_t)get16(l2 + 4) << 16 | get16(l2 + 6), TX_SID);
	assert_memory_equal(l2 + 8, t->hdr + 8, hl - 8); /* cookie (and a zero sublayer) */
	assert_memory_equal(l2 + hl, in, len); /* the frame, byte for byte */
}

static void tx_encap_udp(void **state)
{
	uint8_t f[200];
	struct fp_tx t;
	struct fp_counters c;
	size_t len = inner_frame(f, sizeof(f), 17, 0, false);

	(void)state;
	need();
	/* 4-byte cookie and the Default sublayer */
	t = tx_entry(4, true, 1460, true);
	check_encap(&t, f, len);
	assert_int_equal(t.hdr_len, 16);
	for (int i = 12; i < 16; i++)
		assert_int_equal(t.hdr[i], 0);
	/* 8-byte cookie, no sublayer, a frame of exactly max_frame bytes */
	t = tx_entry(8, false, (uint16_t)len, false);
	check_encap(&t, f, len);
	/* no cookie */
	t = tx_entry(0, false, 1460, false);
	check_encap(&t, f, len);
	stats(TX_SLOT, &c);
	assert_int_equal(c.tx_packets, 3);
	assert_int_equal(c.tx_octets, 3 * len);
	assert_int_equal(c.rx_packets, 0);
}

static void tx_encap_tcp(void **state)
{
	uint8_t f[1514];
	struct fp_tx t = tx_entry(4, false, 1460, true);
	size_t len = inner_frame(f, 1000, 6, 0x10 /* ACK */, false);

	(void)state;
	need();
	check_encap(&t, f, len);
	/* an IPv6 frame (UDP inside) */
	len = inner_frame(f, 300, 17, 0, false);
	put16(f + 12, 0x86dd);
	memset(f + 14, 0, 40);
	f[14] = 0x60;
	put16(f + 18, (uint16_t)(len - 54));
	f[20] = 17;
	f[21] = 64;
	check_encap(&t, f, len);
	/* a SYN when the MSS is not clamped goes too */
	t.clamp_mss = 0;
	len = inner_frame(f, 80, 6, 0x02, false);
	check_encap(&t, f, len);
}

static void tx_leaves_alone(void **state)
{
	uint8_t f[1514];
	struct fp_tx t = tx_entry(4, true, 1460, true);
	struct fp_counters c;
	size_t len;

	(void)state;
	need();
	/* the reference: a frame of max_frame bytes is taken */
	len = inner_frame(f, 1460, 17, 0, false);
	check_encap(&t, f, len);
	/* ARP */
	len = inner_frame(f, 60, 0, 0, true);
	untouched(fx.tx_prog, f, len);
	/* one byte over max_frame */
	len = inner_frame(f, 1461, 17, 0, false);
	untouched(fx.tx_prog, f, len);
	/* a TCP SYN, and a SYN-ACK, while the MSS is clamped */
	len = inner_frame(f, 80, 6, 0x02, false);
	untouched(fx.tx_prog, f, len);
	len = inner_frame(f, 80, 6, 0x12, false);
	untouched(fx.tx_prog, f, len);
	/* an 802.1Q-tagged frame */
	len = inner_frame(f, 100, 17, 0, false);
	put16(f + 12, 0x8100);
	untouched(fx.tx_prog, f, len);
	/* a WAN interface that is gone: its MTU cannot be asked */
	t.wan_ifindex = 9998;
	tx_put(LO_IFINDEX, &t);
	len = inner_frame(f, 100, 17, 0, false);
	untouched(fx.tx_prog, f, len);
	t.wan_ifindex = WAN_IFINDEX;
	/* an interface the map does not know */
	assert_int_equal(bpf_map_delete_elem(fx.tx_map, &(uint32_t){ LO_IFINDEX }), 0);
	tx_put(9999, &t);
	len = inner_frame(f, 100, 17, 0, false);
	untouched(fx.tx_prog, f, len);
	stats(TX_SLOT, &c);
	assert_int_equal(c.tx_packets, 1); /* the reference alone */
	assert_int_equal(c.tx_octets, 1460);
}

/* ---------------------------------------------------------------- fp_rx */

static const uint8_t rx_cookie[8] = { 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04 };

/* An rx map entry: session RX_SID on port 1701 of 203.0.113.2 (daddr 0:
 * any), cookie_len bytes of rx_cookie, sublayer if l2ss. */
static void rx_put(size_t cookie_len, bool l2ss, bool any_addr, bool clamp)
{
	struct fp_rx r;
	uint32_t key = RX_SID;

	memset(&r, 0, sizeof(r));
	r.slot = RX_SLOT;
	r.tap_ifindex = TAP_IFINDEX;
	if (!any_addr)
		assert_int_equal(inet_pton(AF_INET, "203.0.113.2", &r.daddr), 1);
	r.dport = htons(1701);
	r.hdr_len = (uint8_t)(8 + cookie_len + (l2ss ? 4 : 0));
	r.cookie_len = (uint8_t)cookie_len;
	memcpy(r.cookie, rx_cookie, cookie_len);
	r.clamp_mss = clamp;
	assert_int_equal(bpf_map_update_elem(fx.rx_map, &key, &r, BPF_ANY), 0);
}

/* A datagram from 198.51.100.2:1701 to 203.0.113.2:dport carrying the
 * L2TPv3 data header of sid with cookie (clen bytes), a sublayer if l2ss,
 * and the frame f of flen bytes.  Returns its length. */
static size_t datagram(uint8_t *p, uint16_t dport, uint32_t sid, const uint8_t *cookie, size_t clen, bool l2ss,
		       const uint8_t *f, size_t flen)
{
	size_t hl = 8 + clen + (l2ss ? 4 : 0), len = 14 + 20 + 8 + hl + flen;

	memcpy(p, mac_lo, 6);
	memcpy(p + 6, mac_b, 6);
	put16(p + 12, 0x0800);
	ipv4(p + 14, (uint16_t)(len - 14), 17, 0, "198.51.100.2", "203.0.113.2");
	put16(p + 34, 1701);
	put16(p + 36, dport);
	put16(p + 38, (uint16_t)(len - 34));
	put16(p + 40, 0);
	memset(p + 42, 0, hl);
	p[43] = 3;
	put32(p + 46, sid);
	memcpy(p + 50, cookie, clen);
	memcpy(p + 42 + hl, f, flen);
	return len;
}

/* fp_rx hands on exactly the inner frame f of the datagram of session
 * RX_SID (clen bytes of rx_cookie, a sublayer if l2ss) built in p.
 * Returns the datagram's length. */
static size_t check_decap(uint8_t *p, size_t clen, bool l2ss, const uint8_t *f, size_t flen)
{
	uint8_t out[4096];
	size_t olen, len = datagram(p, 1701, RX_SID, rx_cookie, clen, l2ss, f, flen);

	assert_int_equal(run(fx.rx_prog, p, len, out, &olen), TC_ACT_REDIRECT);
	assert_int_equal(olen, flen);
	assert_memory_equal(out, f, flen);
	return len;
}

static void rx_decap(void **state)
{
	uint8_t f[1514], p[1600];
	struct fp_counters c;
	size_t flen, total = 0;
	int n = 0;

	(void)state;
	need();
	flen = inner_frame(f, 200, 17, 0, false);
	/* 4-byte cookie and the sublayer, our address given */
	rx_put(4, true, false, false);
	check_decap(p, 4, true, f, flen);
	total += flen, n++;
	/* 8-byte cookie, no sublayer, any address */
	rx_put(8, false, true, false);
	check_decap(p, 8, false, f, flen);
	total += flen, n++;
	/* no cookie, a full-size TCP frame */
	rx_put(0, false, false, true);
	flen = inner_frame(f, 1514, 6, 0x10, false);
	check_decap(p, 0, false, f, flen);
	total += flen, n++;
	/* ARP is fine on this side */
	flen = inner_frame(f, 60, 0, 0, true);
	check_decap(p, 0, false, f, flen);
	total += flen, n++;
	stats(RX_SLOT, &c);
	assert_int_equal(c.rx_packets, n);
	assert_int_equal(c.rx_octets, total);
	assert_true(c.last_rx_ns > 0);
	assert_int_equal(c.tx_packets, 0);
}

static void rx_leaves_alone(void **state)
{
	uint8_t f[1514], p[1600], bad[8];
	struct fp_counters c;
	size_t flen, len;

	(void)state;
	need();
	flen = inner_frame(f, 200, 17, 0, false);
	rx_put(8, true, false, true);
	/* the reference: this one is taken */
	check_decap(p, 8, true, f, flen);

	/* a wrong cookie: its first half, then its second half */
	memcpy(bad, rx_cookie, 8);
	bad[0] ^= 1;
	len = datagram(p, 1701, RX_SID, bad, 8, true, f, flen);
	untouched(fx.rx_prog, p, len);
	memcpy(bad, rx_cookie, 8);
	bad[7] ^= 0x80;
	len = datagram(p, 1701, RX_SID, bad, 8, true, f, flen);
	untouched(fx.rx_prog, p, len);
	/* an unknown session */
	len = datagram(p, 1701, RX_SID + 1, rx_cookie, 8, true, f, flen);
	untouched(fx.rx_prog, p, len);
	/* a control message (T bit), with the session's ID where a CCID goes */
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	p[42] = 0xc8;
	untouched(fx.rx_prog, p, len);
	/* another UDP port */
	len = datagram(p, 1702, RX_SID, rx_cookie, 8, true, f, flen);
	untouched(fx.rx_prog, p, len);
	/* another destination address */
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	p[14 + 19] ^= 1;
	put16(p + 14 + 10, 0);
	put16(p + 14 + 10, ip_csum(p + 14, 20));
	untouched(fx.rx_prog, p, len);
	/* an IP fragment: more fragments, then an offset */
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	put16(p + 14 + 6, 0x2000);
	untouched(fx.rx_prog, p, len);
	put16(p + 14 + 6, 0x0010);
	untouched(fx.rx_prog, p, len);
	/* truncated: shorter than its IP total length */
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	untouched(fx.rx_prog, p, len - 1);
	/* truncated: consistent lengths, but the frame cut inside the
	 * L2TPv3 header, then inside the inner Ethernet header */
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	ipv4(p + 14, 20 + 8 + 6, 17, 0, "198.51.100.2", "203.0.113.2");
	put16(p + 38, 8 + 6);
	untouched(fx.rx_prog, p, 14 + 20 + 8 + 6);
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	ipv4(p + 14, 20 + 8 + 20 + 10, 17, 0, "198.51.100.2", "203.0.113.2");
	put16(p + 38, 8 + 20 + 10);
	untouched(fx.rx_prog, p, 14 + 20 + 8 + 20 + 10);
	/* a UDP checksum the kernel has not verified */
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	put16(p + 40, 0x1234);
	untouched(fx.rx_prog, p, len);
	/* not IPv4 UDP: protocol 115 */
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	p[14 + 9] = 115;
	put16(p + 14 + 10, 0);
	put16(p + 14 + 10, ip_csum(p + 14, 20));
	untouched(fx.rx_prog, p, len);
	/* a TCP SYN inside while the MSS is clamped (the data thread clamps it) */
	flen = inner_frame(f, 80, 6, 0x02, false);
	len = datagram(p, 1701, RX_SID, rx_cookie, 8, true, f, flen);
	untouched(fx.rx_prog, p, len);

	stats(RX_SLOT, &c);
	assert_int_equal(c.rx_packets, 1); /* the reference alone */
	assert_int_equal(c.rx_octets, 200);
}

/* The veth pair's ifindex in fp_conf_map (0: none). */
static void gro_put(uint32_t ifindex)
{
	struct fp_conf conf = { .gro_ifindex = ifindex };
	uint32_t zero = 0;

	assert_int_equal(bpf_map_update_elem(bpf_object__find_map_fd_by_name(fx.obj, "fp_conf_map"), &zero, &conf,
					     BPF_ANY),
			 0);
}

/*
 * With the private veth pair for GRO configured (fp_conf_map), decapsulated
 * TCP goes there and the rest to the TAP; either way redirected, with the
 * inner frame's bytes (the slot travels in the skb's VLAN tag, not in the
 * bytes).  fp_gro, on the pair's far end, drops what carries no tag.
 */
static void rx_gro_pair(void **state)
{
	uint8_t f[1514], p[1600], out[4096];
	struct fp_counters c;
	size_t flen, olen;
	int gro_prog;

	(void)state;
	need();
	gro_prog = bpf_program__fd(bpf_object__find_program_by_name(fx.obj, "fp_gro"));
	if (gro_prog < 0)
		skip(); /* a build without the pair */
	gro_put(77);
	rx_put(4, false, false, true);
	flen = inner_frame(f, 1514, 6, 0x10, false);
	check_decap(p, 4, false, f, flen);
	flen = inner_frame(f, 300, 17, 0, false);
	check_decap(p, 4, false, f, flen);
	stats(RX_SLOT, &c);
	assert_int_equal(c.rx_packets, 2);
	assert_int_equal(run(gro_prog, f, flen, out, &olen), TC_ACT_SHOT);
	gro_put(0);
}

/* Session RX_SID with a 4-byte cookie and no sublayer, and the reference:
 * its datagram carrying a 200-byte UDP frame, built in p, is taken.
 * Returns the datagram's length. */
static size_t rx_reference(uint8_t *p)
{
	uint8_t f[1514];
	size_t flen = inner_frame(f, 200, 17, 0, false);

	need();
	rx_put(4, false, false, false);
	return check_decap(p, 4, false, f, flen);
}

/*
 * The UDP length disagrees with the IP total length: longer than the
 * datagram (the kernel's UDP drops it as a short packet), or shorter (the
 * socket reads only that much, the rest is padding).  The data thread
 * would never hand on such a frame as it stands, so the fast path must
 * leave it alone too.
 */
static void rx_udp_length(void **state)
{
	uint8_t p[1600];
	size_t len;

	(void)state;
	len = rx_reference(p);
	put16(p + 38, (uint16_t)(len - 34 + 1));
	untouched(fx.rx_prog, p, len);
	put16(p + 38, (uint16_t)(len - 34 - 10));
	untouched(fx.rx_prog, p, len);
}

/*
 * A datagram on the WAN addressed to another host's MAC address (the WAN in
 * promiscuous mode: a capture, a bridge or macvlan port): the kernel drops
 * it before IP (PACKET_OTHERHOST), so the data thread never sees it and
 * the fast path must not deliver it either.
 */
static void rx_other_host(void **state)
{
	uint8_t p[1600];
	size_t len;

	(void)state;
	len = rx_reference(p); /* to our (lo's) MAC: taken */
	memcpy(p, mac_a, 6);
	untouched(fx.rx_prog, p, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tx_encap_udp),
		cmocka_unit_test(tx_encap_tcp),
		cmocka_unit_test(tx_leaves_alone),
		cmocka_unit_test(rx_decap),
		cmocka_unit_test(rx_leaves_alone),
		cmocka_unit_test(rx_gro_pair),
		cmocka_unit_test(rx_udp_length),
		cmocka_unit_test(rx_other_host),
	};

	if (geteuid() != 0)
		fprintf(stderr, "test_fastpath: not root: every test skips\n");
	return cmocka_run_group_tests(tests, setup, teardown_all);
}
