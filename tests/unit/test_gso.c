/* SPDX-License-Identifier: MIT */
/*
 * The data path's pure helpers (src/dataplane/gso.c): checksums,
 * segmentation of TSO/USO super-frames, coalescing back, MSS clamping,
 * and robustness against truncated input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/gso.h"

enum {
	PAYLOAD = 5000,
	MSS = 1400,
};

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* IPv4 header checksum verifies. */
static bool ip4_ok(const uint8_t *ip)
{
	return gso_csum_fold(gso_csum_add(0, ip, (size_t)(ip[0] & 15) * 4)) == 0xffff;
}

/*
 * Build an Ethernet frame: [tag] IPv4 or IPv6, TCP (with 12 bytes of
 * options: NOP NOP timestamp) or UDP, payload of plen bytes from seed.
 * The L4 checksum is complete (partial = false) or the pseudo-header sum
 * as the kernel leaves it for NEEDS_CSUM.  Returns the length.
 */
static size_t mk(uint8_t *f, bool v6, bool vlan, uint8_t proto, size_t plen, uint8_t tcpflags, bool partial)
{
	size_t l3 = vlan ? 18 : 14, l4, hl;
	uint8_t *ip, *th;

	memset(f, 0, 128);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (vlan) {
		wr16(f + 12, 0x8100);
		wr16(f + 14, 42);
	}
	wr16(f + l3 - 2, v6 ? 0x86dd : 0x0800);
	ip = f + l3;
	l4 = l3 + (v6 ? 40 : 20);
	th = f + l4;
	hl = proto == IPPROTO_TCP ? 32 : 8;
	if (v6) {
		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)(hl + plen));
		ip[6] = proto;
		ip[7] = 64;
		ip[8] = 0x20;
		ip[9] = 0x01;
		ip[23] = 1;
		ip[24] = 0x20;
		ip[25] = 0x01;
		ip[39] = 2;
	} else {
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)(20 + hl + plen));
		wr16(ip + 4, 1000);
		ip[6] = 0x40;
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, "\xc0\xa8\x0a\x01\xc0\xa8\x0a\x02", 8);
		uint16_t c = (uint16_t)~gso_csum_fold(gso_csum_add(0, ip, 20));
		memcpy(ip + 10, &c, 2);
	}
	wr16(th, 40000);
	wr16(th + 2, 5201);
	if (proto == IPPROTO_TCP) {
		th[4] = 0x11; /* seq 0x11223344 */
		th[5] = 0x22;
		th[6] = 0x33;
		th[7] = 0x44;
		th[11] = 7; /* ack */
		th[12] = 8 << 4;
		th[13] = tcpflags;
		wr16(th + 14, 500);
		memcpy(th + 20, "\x01\x01\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x02", 12);
	} else {
		wr16(th + 4, (uint16_t)(8 + plen));
	}
	for (size_t i = 0; i < plen; i++)
		f[l4 + hl + i] = (uint8_t)(i * 13 + 5);

	/* checksum: pseudo-header sum (partial) or complete */
	uint8_t ph[40] = { 0 };
	size_t phl;
	size_t l4len = hl + plen;
	size_t coff = proto == IPPROTO_TCP ? 16 : 6;

	if (v6) {
		memcpy(ph, ip + 8, 32);
		ph[34] = (uint8_t)(l4len >> 8);
		ph[35] = (uint8_t)l4len;
		ph[39] = proto;
		phl = 40;
	} else {
		memcpy(ph, ip + 12, 8);
		ph[9] = proto;
		ph[10] = (uint8_t)(l4len >> 8);
		ph[11] = (uint8_t)l4len;
		phl = 12;
	}
	uint32_t sum = gso_csum_add(0, ph, phl);
	uint16_t c;

	if (partial) {
		c = gso_csum_fold(sum);
	} else {
		c = (uint16_t)~gso_csum_fold(gso_csum_add(sum, th, l4len));
		if (proto == IPPROTO_UDP && c == 0)
			c = 0xffff;
	}
	memcpy(th + coff, &c, 2);
	return l4 + l4len;
}

static void test_csum_rfc1071(void **state)
{
	/* RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to dd f2 */
	static const uint8_t d[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint16_t s = gso_csum_fold(gso_csum_add(0, d, 8));
	uint8_t b[2];

	(void)state;
	memcpy(b, &s, 2);
	assert_int_equal(b[0], 0xdd);
	assert_int_equal(b[1], 0xf2);
	/* an odd length pads with a zero byte */
	s = gso_csum_fold(gso_csum_add(0, d, 7));
	memcpy(b, &s, 2);
	assert_int_equal(rd16(b), (0xddf2 - 0xf7 + 0xffff) % 0xffff);
	/* long input: same as summing in two halves */
	uint8_t big[1001];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(gso_csum_fold(gso_csum_add(0, big, sizeof(big))),
			 gso_csum_fold(gso_csum_add(gso_csum_add(0, big, 500), big + 500, 501)));
}

static void test_csum_complete(void **state)
{
	static uint8_t f[2048];
	size_t len;

	(void)state;
	for (int v6 = 0; v6 < 2; v6++) {
		len = mk(f, v6, false, IPPROTO_TCP, 777, 0x18, true);
		assert_false(gso_tcp_csum_ok(f, len));
		assert_int_equal(gso_csum_complete(f, len, v6 ? 54 : 34, 16), 0);
		assert_true(gso_tcp_csum_ok(f, len));
	}
	assert_int_equal(gso_csum_complete(f, 100, 100, 0), -EINVAL);
	assert_int_equal(gso_csum_complete(f, 100, 90, 9), -EINVAL);
	assert_int_equal(gso_csum_complete(f, 100, 90, 8), 0);
}

/* Segment a super-frame, check each segment, coalesce them back and check
 * the result against the original. */
static void seg_and_back(bool v6, bool vlan, uint8_t proto)
{
	static uint8_t f[65536], out[65536], back[65536];
	size_t len = mk(f, v6, vlan, proto, PAYLOAD, 0x18 /* ACK PSH */, true);
	size_t l3 = vlan ? 18 : 14, l4 = l3 + (v6 ? 40 : 20), hl = proto == IPPROTO_TCP ? 32 : 8;
	struct gso_vnet_hdr vh = {
		.flags = GSO_F_NEEDS_CSUM,
		.gso_type = proto == IPPROTO_UDP ? GSO_TYPE_UDP_L4 : v6 ? GSO_TYPE_TCPV6 : GSO_TYPE_TCPV4,
		.hdr_len = (uint16_t)(l4 + hl),
		.gso_size = MSS,
		.csum_start = (uint16_t)l4,
		.csum_offset = proto == IPPROTO_TCP ? 16 : 6,
	};
	struct gso_super g;
	const size_t stride = 1600;
	size_t last;

	assert_int_equal(gso_parse(f, len, &vh, &g), 0);
	assert_int_equal(g.nsegs, 4);
	assert_int_equal(g.hdr_len, l4 + hl);
	assert_int_equal(g.payload_len, PAYLOAD);
	/* in two calls, as the data path does when a batch is full */
	last = gso_segment(f, &g, 0, 3, out, stride);
	assert_int_equal(last, l4 + hl + MSS);
	last = gso_segment(f, &g, 3, 1, out + 3 * stride, stride);
	assert_int_equal(last, l4 + hl + PAYLOAD - 3 * MSS);

	/* scatter-gather: the same bytes with headers apart and the payloads
	 * left in place (8 bytes of the caller's in front of each header) */
	{
		static uint8_t hdrs[4 * 200];
		struct iovec iov[8];

		memset(hdrs, 0xa5, sizeof(hdrs));
		assert_int_equal(gso_segment_iov(f, &g, 0, 3, hdrs, 200, 8, iov), 3);
		assert_int_equal(gso_segment_iov(f, &g, 3, 5, hdrs + 3 * 200, 200, 8, iov + 6), 1);
		for (unsigned i = 0; i < 4; i++) {
			size_t plen = i < 3 ? MSS : PAYLOAD - 3 * MSS;

			assert_ptr_equal(iov[2 * i].iov_base, hdrs + i * 200);
			assert_int_equal(iov[2 * i].iov_len, 8 + l4 + hl);
			assert_memory_equal(hdrs + i * 200, "\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5", 8);
			assert_memory_equal(hdrs + i * 200 + 8, out + i * stride, l4 + hl);
			/* the payload is not copied: a slice of the super-frame */
			assert_ptr_equal(iov[2 * i + 1].iov_base, f + l4 + hl + i * MSS);
			assert_int_equal(iov[2 * i + 1].iov_len, plen);
		}
	}

	for (unsigned i = 0; i < 4; i++) {
		uint8_t *s = out + i * stride;
		size_t plen = i < 3 ? MSS : PAYLOAD - 3 * MSS;
		size_t slen = l4 + hl + plen;

		assert_memory_equal(s, f, l3);
		assert_memory_equal(s + l4 + hl, f + l4 + hl + i * MSS, plen);
		if (v6) {
			assert_int_equal(rd16(s + l3 + 4), hl + plen);
		} else {
			assert_int_equal(rd16(s + l3 + 2), 20 + hl + plen);
			assert_int_equal(rd16(s + l3 + 4), 1000 + i);
			assert_true(ip4_ok(s + l3));
		}
		if (proto == IPPROTO_TCP) {
			assert_int_equal(rd32(s + l4 + 4), 0x11223344u + i * MSS);
			assert_int_equal(s[l4 + 13], i == 3 ? 0x18 : 0x10);
			assert_true(gso_tcp_csum_ok(s, slen));
		} else {
			/* the UDP checksum verifies over the pseudo-header */
			uint8_t ph[12] = { 0 };

			assert_int_equal(rd16(s + l4 + 4), 8 + plen);
			memcpy(ph, s + l3 + 12, 8);
			ph[9] = IPPROTO_UDP;
			wr16(ph + 10, (uint16_t)(8 + plen));
			assert_int_equal(gso_csum_fold(gso_csum_add(gso_csum_add(0, ph, 12), s + l4, 8 + plen)), 0xffff);
			assert_true(ip4_ok(s + l3));
		}
	}
	if (proto != IPPROTO_TCP)
		return;

	/* coalesce back */
	struct gso_coal *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	for (unsigned i = 0; i < 4; i++)
		assert_true(gso_coal_add(c, out + i * stride, l4 + hl + (i < 3 ? MSS : PAYLOAD - 3 * MSS)));
	int n = gso_coal_finish(c);
	assert_int_equal(n, 6);
	assert_int_equal(c->vh.flags, GSO_F_NEEDS_CSUM);
	assert_int_equal(c->vh.gso_type, v6 ? GSO_TYPE_TCPV6 : GSO_TYPE_TCPV4);
	assert_int_equal(c->vh.gso_size, MSS);
	assert_int_equal(c->vh.hdr_len, l4 + hl);
	assert_int_equal(c->vh.csum_start, l4);
	assert_int_equal(c->vh.csum_offset, 16);
	assert_int_equal(c->iov[0].iov_len, GSO_VNET_HDR_LEN);
	size_t blen = 0;
	for (int i = 1; i < n; i++) {
		memcpy(back + blen, c->iov[i].iov_base, c->iov[i].iov_len);
		blen += c->iov[i].iov_len;
	}
	assert_int_equal(blen, len);
	/* same frame as the original super-frame, partial checksum included
	 * (IPv4 ID: the first segment's) */
	assert_memory_equal(back, f, len);
	assert_int_equal(gso_csum_complete(back, blen, l4, 16), 0);
	assert_true(gso_tcp_csum_ok(back, blen));
	assert_int_equal(c->n, 0);
	free(c);
}

static void test_tcp4(void **state)
{
	(void)state;
	seg_and_back(false, false, IPPROTO_TCP);
}

static void test_tcp6_vlan(void **state)
{
	(void)state;
	seg_and_back(true, true, IPPROTO_TCP);
}

static void test_udp4(void **state)
{
	(void)state;
	seg_and_back(false, false, IPPROTO_UDP);
}

static void test_parse_refuses(void **state)
{
	static uint8_t f[8192];
	size_t len = mk(f, false, false, IPPROTO_TCP, 3000, 0x10, true);
	struct gso_vnet_hdr vh = { .gso_type = GSO_TYPE_TCPV6, .gso_size = MSS };
	struct gso_super g;

	(void)state;
	/* type does not match the frame */
	assert_int_equal(gso_parse(f, len, &vh, &g), -EPROTONOSUPPORT);
	vh.gso_type = GSO_TYPE_UDP_L4;
	assert_int_equal(gso_parse(f, len, &vh, &g), -EPROTONOSUPPORT);
	vh.gso_type = 3; /* UFO */
	assert_int_equal(gso_parse(f, len, &vh, &g), -EPROTONOSUPPORT);
	vh.gso_type = GSO_TYPE_TCPV4 | GSO_TYPE_ECN;
	vh.gso_size = 0;
	assert_int_equal(gso_parse(f, len, &vh, &g), -EINVAL);
	vh.gso_size = MSS;
	assert_int_equal(gso_parse(f, len, &vh, &g), 0);
	/* every truncation is refused, none read beyond the end (ASan) */
	for (size_t l = 0; l < len; l++) {
		uint8_t *t = malloc(l ? l : 1);

		memcpy(t, f, l);
		assert_int_not_equal(gso_parse(t, l, &vh, &g), 0);
		assert_false(gso_mss_clamp(t, l, 1000, 1000));
		struct gso_coal *c = calloc(1, sizeof(*c));
		assert_false(gso_coal_add(c, t, l));
		free(c);
		free(t);
	}
	/* a fragment is not ours */
	f[14 + 6] |= 0x20;
	assert_int_equal(gso_parse(f, len, &vh, &g), -EPROTONOSUPPORT);
}

static void test_coal_refuses(void **state)
{
	static uint8_t a[2048], b[2048];
	size_t la, lb;
	struct gso_coal *c = calloc(1, sizeof(*c));

	(void)state;
	assert_non_null(c);
	/* not TCP, or not a plain ACK segment, or no payload: never taken */
	la = mk(a, false, false, IPPROTO_UDP, 100, 0, false);
	assert_false(gso_coal_add(c, a, la));
	la = mk(a, false, false, IPPROTO_TCP, 100, 0x12 /* SYN ACK */, false);
	assert_false(gso_coal_add(c, a, la));
	la = mk(a, false, false, IPPROTO_TCP, 0, 0x10, false);
	assert_false(gso_coal_add(c, a, la));
	la = mk(a, false, false, IPPROTO_TCP, 100, 0x10, true); /* bad checksum */
	assert_false(gso_coal_add(c, a, la));
	assert_int_equal(c->n, 0);

	/* a lone segment comes back unchanged with an empty header */
	la = mk(a, false, false, IPPROTO_TCP, 1000, 0x10, false);
	assert_true(gso_coal_add(c, a, la));
	/* wrong sequence number (the same segment again) */
	assert_false(gso_coal_add(c, a, la));
	/* next in sequence but another port */
	lb = mk(b, false, false, IPPROTO_TCP, 1000, 0x10, false);
	{
		uint32_t seq = 0x11223344u + 1000;
		b[34 + 4] = (uint8_t)(seq >> 24);
		b[34 + 5] = (uint8_t)(seq >> 16);
		b[34 + 6] = (uint8_t)(seq >> 8);
		b[34 + 7] = (uint8_t)seq;
		wr16(b + 34 + 2, 5202);
		b[34 + 16] = b[34 + 17] = 0;
		uint8_t ph[12] = { 0 };
		memcpy(ph, b + 14 + 12, 8);
		ph[9] = IPPROTO_TCP;
		wr16(ph + 10, (uint16_t)(lb - 34));
		uint16_t cs = (uint16_t)~gso_csum_fold(gso_csum_add(gso_csum_add(0, ph, 12), b + 34, lb - 34));
		memcpy(b + 34 + 16, &cs, 2);
	}
	assert_true(gso_tcp_csum_ok(b, lb));
	assert_false(gso_coal_add(c, b, lb));
	assert_int_equal(gso_coal_finish(c), 2);
	assert_int_equal(c->vh.gso_type, GSO_TYPE_NONE);
	assert_int_equal(c->vh.flags, 0);
	assert_ptr_equal(c->iov[1].iov_base, a);
	assert_int_equal(c->iov[1].iov_len, la);
	assert_int_equal(gso_coal_finish(c), 0);
	free(c);
}

/* TCP SYN with an MSS option (after a NOP, so it sits at an odd offset
 * from the options' start). */
static size_t mk_syn(uint8_t *f, bool v6, uint16_t mss, uint8_t flags)
{
	size_t len = mk(f, v6, false, IPPROTO_TCP, 0, flags, false);
	size_t l4 = v6 ? 54 : 34;
	uint8_t *o = f + l4 + 20;

	/* options: NOP, MSS (4), NOP, NOP, NOP, NOP, NOP, NOP, EOL */
	memcpy(o, "\x01\x02\x04\x00\x00\x01\x01\x01\x01\x01\x01\x00", 12);
	wr16(o + 3, mss);
	f[l4 + 16] = f[l4 + 17] = 0;
	uint8_t ph[40] = { 0 };
	size_t phl;
	if (v6) {
		memcpy(ph, f + 14 + 8, 32);
		ph[35] = 32;
		ph[39] = IPPROTO_TCP;
		phl = 40;
	} else {
		memcpy(ph, f + 14 + 12, 8);
		ph[9] = IPPROTO_TCP;
		ph[11] = 32;
		phl = 12;
	}
	uint16_t cs = (uint16_t)~gso_csum_fold(gso_csum_add(gso_csum_add(0, ph, phl), f + l4, 32));
	memcpy(f + l4 + 16, &cs, 2);
	assert_true(gso_tcp_csum_ok(f, len));
	return len;
}

static void test_mss_clamp(void **state)
{
	uint8_t f[256];
	size_t len;

	(void)state;
	len = mk_syn(f, false, 1460, 0x02);
	assert_true(gso_mss_clamp(f, len, 1410, 1390));
	assert_int_equal(rd16(f + 34 + 20 + 3), 1410);
	assert_true(gso_tcp_csum_ok(f, len));
	/* already small enough */
	assert_false(gso_mss_clamp(f, len, 1410, 1390));
	/* SYN-ACK too */
	len = mk_syn(f, false, 1460, 0x12);
	assert_true(gso_mss_clamp(f, len, 1410, 1390));
	assert_int_equal(rd16(f + 34 + 20 + 3), 1410);
	assert_true(gso_tcp_csum_ok(f, len));
	/* IPv6 gets its own limit */
	len = mk_syn(f, true, 1440, 0x02);
	assert_true(gso_mss_clamp(f, len, 1410, 1390));
	assert_int_equal(rd16(f + 54 + 20 + 3), 1390);
	assert_true(gso_tcp_csum_ok(f, len));
	/* limit 0: left alone */
	len = mk_syn(f, true, 1440, 0x02);
	assert_false(gso_mss_clamp(f, len, 1410, 0));
	/* not a SYN */
	len = mk_syn(f, false, 1460, 0x10);
	assert_false(gso_mss_clamp(f, len, 1410, 1390));
	assert_int_equal(rd16(f + 34 + 20 + 3), 1460);
	/* a corrupt SYN is not "repaired" */
	len = mk_syn(f, false, 1460, 0x02);
	f[len - 1] ^= 1;
	assert_false(gso_mss_clamp(f, len, 1410, 1390));
	/* an option running past the header stops the walk */
	len = mk_syn(f, false, 1460, 0x02);
	f[34 + 20 + 2] = 40;
	assert_false(gso_mss_clamp(f, len, 1410, 1390));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_rfc1071),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_tcp4),
		cmocka_unit_test(test_tcp6_vlan),
		cmocka_unit_test(test_udp4),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_coal_refuses),
		cmocka_unit_test(test_mss_clamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
