/* SPDX-License-Identifier: MIT */
/*
 * Segmentation, coalescing, checksum and MSS helpers (see gso.h).  Pure:
 * no I/O, no allocation, no globals.
 *
 * Checksums are summed over 16-bit words in host order and stored with
 * memcpy, which gives the right bytes on either endianness (RFC 1071 §2(B));
 * every piece but the last of one sum has an even length, which holds for
 * the pseudo-header and the TCP/UDP headers we add before the payload.
 */
#include "dataplane/gso.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

enum {
	ETH_HLEN = 14,
	ETH_P_IPV4 = 0x0800,
	ETH_P_IPV6 = 0x86dd,
	ETH_P_8021Q = 0x8100,
	ETH_P_8021AD = 0x88a8,
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_URG = 0x20,
	TCP_ECE = 0x40,
	TCP_CWR = 0x80,
	TCPOPT_EOL = 0,
	TCPOPT_NOP = 1,
	TCPOPT_MSS = 2,
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------------- */
/* checksums */

uint32_t gso_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t acc = sum;

	while (len >= 32) {
		uint32_t w[8];

		memcpy(w, p, sizeof(w));
		acc += (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
		p += 32;
		len -= 32;
	}
	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		acc += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = { p[0], 0 };
		uint16_t h;

		memcpy(&h, last, 2);
		acc += h;
	}
	/* fold 64 -> 32 bits, keeping the end-around carries */
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t gso_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Store the complement of a folded sum at p. */
static void csum_store(uint8_t *p, uint32_t sum)
{
	uint16_t c = (uint16_t)~gso_csum_fold(sum);

	memcpy(p, &c, 2);
}

int gso_csum_complete(uint8_t *frame, size_t len, size_t csum_start, size_t csum_offset)
{
	if (csum_start >= len || csum_offset > len - csum_start || len - csum_start - csum_offset < 2)
		return -EINVAL;
	csum_store(frame + csum_start + csum_offset, gso_csum_add(0, frame + csum_start, len - csum_start));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* parsing */

struct pkt {
	size_t l3, l4, end; /* end: first byte after the IP packet */
	uint8_t proto;
	bool v6;
};

/* Ethernet [+ one tag] + IPv4 (unfragmented) / IPv6 (no extension
 * headers) + TCP/UDP with a complete L4 header. */
static bool pkt_parse(const uint8_t *f, size_t len, struct pkt *p)
{
	uint16_t type;
	size_t l3 = ETH_HLEN;

	if (len < ETH_HLEN)
		return false;
	type = rd16(f + 12);
	if (type == ETH_P_8021Q || type == ETH_P_8021AD) {
		if (len < ETH_HLEN + 4)
			return false;
		type = rd16(f + 16);
		l3 += 4;
	}
	p->l3 = l3;
	if (type == ETH_P_IPV4) {
		size_t ihl, tot;

		if (len < l3 + 20 || (f[l3] >> 4) != 4)
			return false;
		ihl = (size_t)(f[l3] & 0x0f) * 4;
		tot = rd16(f + l3 + 2);
		if (ihl < 20 || tot < ihl || l3 + tot > len)
			return false;
		if (rd16(f + l3 + 6) & 0x3fff) /* MF or fragment offset */
			return false;
		p->v6 = false;
		p->proto = f[l3 + 9];
		p->l4 = l3 + ihl;
		p->end = l3 + tot;
	} else if (type == ETH_P_IPV6) {
		if (len < l3 + 40 || (f[l3] >> 4) != 6)
			return false;
		p->v6 = true;
		p->proto = f[l3 + 6];
		p->l4 = l3 + 40;
		p->end = p->l4 + rd16(f + l3 + 4);
		if (p->end > len)
			return false;
	} else {
		return false;
	}
	if (p->proto == IPPROTO_TCP) {
		size_t doff;

		if (p->end < p->l4 + 20)
			return false;
		doff = (size_t)(f[p->l4 + 12] >> 4) * 4;
		if (doff < 20 || p->l4 + doff > p->end)
			return false;
	} else if (p->proto == IPPROTO_UDP) {
		if (p->end < p->l4 + 8)
			return false;
	} else {
		return false;
	}
	return true;
}

static size_t l4_hlen(const uint8_t *f, const struct pkt *p)
{
	return p->proto == IPPROTO_TCP ? (size_t)(f[p->l4 + 12] >> 4) * 4 : 8;
}

/* Sum of the pseudo-header for an L4 segment of l4len bytes. */
static uint32_t pseudo_sum(const uint8_t *f, size_t l3, bool v6, uint8_t proto, size_t l4len)
{
	uint8_t tail[8] = { 0 };
	uint32_t sum;

	if (v6) {
		sum = gso_csum_add(0, f + l3 + 8, 32);
		wr32(tail, (uint32_t)l4len);
		tail[7] = proto;
		return gso_csum_add(sum, tail, 8);
	}
	sum = gso_csum_add(0, f + l3 + 12, 8);
	tail[1] = proto;
	wr16(tail + 2, (uint16_t)l4len);
	return gso_csum_add(sum, tail, 4);
}

static void ipv4_csum_set(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

	ip[10] = ip[11] = 0;
	csum_store(ip + 10, gso_csum_add(0, ip, ihl));
}

int gso_parse(const uint8_t *frame, size_t len, const struct gso_vnet_hdr *vh, struct gso_super *ret)
{
	struct gso_super g;
	struct pkt p;
	uint8_t type = vh->gso_type & (uint8_t)~GSO_TYPE_ECN;

	if (vh->gso_size == 0 || len > GSO_MAX_FRAME)
		return -EINVAL;
	if (!pkt_parse(frame, len, &p))
		return -EPROTONOSUPPORT;
	if ((type == GSO_TYPE_TCPV4 && (p.v6 || p.proto != IPPROTO_TCP)) ||
	    (type == GSO_TYPE_TCPV6 && (!p.v6 || p.proto != IPPROTO_TCP)) ||
	    (type == GSO_TYPE_UDP_L4 && p.proto != IPPROTO_UDP) ||
	    (type != GSO_TYPE_TCPV4 && type != GSO_TYPE_TCPV6 && type != GSO_TYPE_UDP_L4))
		return -EPROTONOSUPPORT;
	memset(&g, 0, sizeof(g));
	g.l3_off = p.l3;
	g.l4_off = p.l4;
	g.hdr_len = p.l4 + l4_hlen(frame, &p);
	if (g.hdr_len > GSO_HDR_MAX || p.end < g.hdr_len)
		return -EINVAL;
	g.payload_len = p.end - g.hdr_len;
	g.gso_size = vh->gso_size;
	g.nsegs = g.payload_len ? (unsigned)((g.payload_len + g.gso_size - 1) / g.gso_size) : 1;
	g.proto = p.proto;
	g.ipv6 = p.v6;
	*ret = g;
	return 0;
}

/* Write the headers of segment i (g->hdr_len bytes) to h and return its
 * payload length; the L4 checksum covers h's L4 header and the payload
 * read in place from the super-frame (nothing is copied). */
static size_t seg_hdr(const uint8_t *frame, const struct gso_super *g, unsigned i, uint8_t *h)
{
	const uint8_t *payload = frame + g->hdr_len;
	size_t l4h = g->hdr_len - g->l4_off;
	size_t off = (size_t)i * g->gso_size;
	size_t plen = g->payload_len - off < g->gso_size ? g->payload_len - off : g->gso_size;
	uint8_t *ip = h + g->l3_off, *l4 = h + g->l4_off;
	uint32_t sum;

	if (g->payload_len == 0)
		plen = 0;
	memcpy(h, frame, g->hdr_len);
	if (g->ipv6) {
		wr16(ip + 4, (uint16_t)(l4h + plen));
	} else {
		wr16(ip + 2, (uint16_t)(g->l4_off - g->l3_off + l4h + plen));
		wr16(ip + 4, (uint16_t)(rd16(frame + g->l3_off + 4) + i));
		ipv4_csum_set(ip);
	}
	/* the L4 header's length is even, so the sum may go on over the
	 * payload (RFC 1071 pieces) */
	if (g->proto == IPPROTO_TCP) {
		wr32(l4 + 4, rd32(frame + g->l4_off + 4) + (uint32_t)off);
		if (i + 1 < g->nsegs)
			l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			l4[13] &= (uint8_t)~TCP_CWR;
		l4[16] = l4[17] = 0;
		sum = pseudo_sum(h, g->l3_off, g->ipv6, IPPROTO_TCP, l4h + plen);
		sum = gso_csum_add(sum, l4, l4h);
		csum_store(l4 + 16, gso_csum_add(sum, payload + off, plen));
	} else {
		wr16(l4 + 4, (uint16_t)(8 + plen));
		l4[6] = l4[7] = 0;
		sum = pseudo_sum(h, g->l3_off, g->ipv6, IPPROTO_UDP, 8 + plen);
		sum = gso_csum_add(sum, l4, 8);
		csum_store(l4 + 6, gso_csum_add(sum, payload + off, plen));
		if (l4[6] == 0 && l4[7] == 0)
			l4[6] = l4[7] = 0xff; /* 0 means "none" in UDP */
	}
	return plen;
}

size_t gso_segment(const uint8_t *frame, const struct gso_super *g, unsigned first, unsigned count,
		   uint8_t *out, size_t stride)
{
	size_t last_len = 0;

	for (unsigned i = first; i < first + count && i < g->nsegs; i++) {
		uint8_t *d = out + (size_t)(i - first) * stride;
		size_t plen = seg_hdr(frame, g, i, d);

		memcpy(d + g->hdr_len, frame + g->hdr_len + (size_t)i * g->gso_size, plen);
		last_len = g->hdr_len + plen;
	}
	return last_len;
}

unsigned gso_segment_iov(const uint8_t *frame, const struct gso_super *g, unsigned first, unsigned count,
			 uint8_t *hdrs, size_t hstride, size_t pre, struct iovec *iov)
{
	unsigned n = 0;

	for (unsigned i = first; i < first + count && i < g->nsegs; i++, n++) {
		uint8_t *h = hdrs + (size_t)n * hstride;
		size_t plen = seg_hdr(frame, g, i, h + pre);

		iov[2 * n].iov_base = h;
		iov[2 * n].iov_len = pre + g->hdr_len;
		iov[2 * n + 1].iov_base = (void *)(frame + g->hdr_len + (size_t)i * g->gso_size);
		iov[2 * n + 1].iov_len = plen;
	}
	return n;
}

static bool l4_csum_ok(const uint8_t *f, const struct pkt *p)
{
	size_t l4len = p->end - p->l4;
	uint32_t sum = pseudo_sum(f, p->l3, p->v6, p->proto, l4len);

	return gso_csum_fold(gso_csum_add(sum, f + p->l4, l4len)) == 0xffff;
}

bool gso_tcp_csum_ok(const uint8_t *frame, size_t len)
{
	struct pkt p;

	return pkt_parse(frame, len, &p) && p.proto == IPPROTO_TCP && l4_csum_ok(frame, &p);
}

/* ---------------------------------------------------------------------- */
/* coalescing */

bool gso_coal_add(struct gso_coal *c, const uint8_t *f, size_t len)
{
	struct pkt p;
	size_t hdr_len, plen;
	uint8_t flags;

	if (!pkt_parse(f, len, &p) || p.proto != IPPROTO_TCP)
		return false;
	if (!p.v6 && (f[p.l3] & 0x0f) != 5)
		return false; /* IPv4 options */
	hdr_len = p.l4 + l4_hlen(f, &p);
	plen = p.end - hdr_len;
	flags = f[p.l4 + 13];
	if (plen == 0 || (flags & (uint8_t)~(TCP_ACK | TCP_PSH)) || !(flags & TCP_ACK))
		return false;
	if (c->n == 0) {
		if (!l4_csum_ok(f, &p))
			return false;
		c->ipv6 = p.v6;
		c->l3_off = p.l3;
		c->l4_off = p.l4;
		c->hdr_len = hdr_len;
		c->seg_size = plen;
		c->payload = plen;
		c->next_seq = rd32(f + p.l4 + 4) + (uint32_t)plen;
		c->first = f;
		c->first_len = len;
		c->closed = (flags & TCP_PSH) != 0;
		c->iov[2].iov_base = (void *)(f + hdr_len);
		c->iov[2].iov_len = plen;
		c->n = 1;
		return true;
	}
	if (c->closed || c->n >= GSO_COAL_MAX || p.v6 != c->ipv6 || p.l3 != c->l3_off || p.l4 != c->l4_off ||
	    hdr_len != c->hdr_len || plen > c->seg_size ||
	    c->hdr_len - c->l3_off + c->payload + plen > 65535)
		return false;
	const uint8_t *a = c->first;

	if (memcmp(a, f, p.l3) != 0) /* Ethernet header and tag */
		return false;
	if (p.v6) {
		/* version, traffic class, flow label; next header, hop limit,
		 * addresses */
		if (memcmp(a + p.l3, f + p.l3, 4) != 0 || memcmp(a + p.l3 + 6, f + p.l3 + 6, 34) != 0)
			return false;
	} else {
		/* TOS; DF; TTL, protocol; addresses */
		if (a[p.l3 + 1] != f[p.l3 + 1] || ((a[p.l3 + 6] ^ f[p.l3 + 6]) & 0x40) ||
		    memcmp(a + p.l3 + 8, f + p.l3 + 8, 2) != 0 || memcmp(a + p.l3 + 12, f + p.l3 + 12, 8) != 0)
			return false;
	}
	/* ports; same ack, window and options; the next sequence number */
	if (memcmp(a + p.l4, f + p.l4, 4) != 0 || memcmp(a + p.l4 + 8, f + p.l4 + 8, 5) != 0 ||
	    memcmp(a + p.l4 + 14, f + p.l4 + 14, 2) != 0 ||
	    memcmp(a + p.l4 + 20, f + p.l4 + 20, hdr_len - p.l4 - 20) != 0 ||
	    rd32(f + p.l4 + 4) != c->next_seq)
		return false;
	if (!l4_csum_ok(f, &p))
		return false;
	c->iov[2 + c->n].iov_base = (void *)(f + hdr_len);
	c->iov[2 + c->n].iov_len = plen;
	c->n++;
	c->payload += plen;
	c->next_seq += (uint32_t)plen;
	if (plen < c->seg_size || (flags & TCP_PSH))
		c->closed = true;
	c->psh = (flags & TCP_PSH) != 0;
	return true;
}

int gso_coal_finish(struct gso_coal *c)
{
	unsigned n = c->n;
	bool psh = c->psh;
	uint8_t *h = c->hdr;
	size_t l4len;

	memset(&c->vh, 0, sizeof(c->vh));
	c->iov[0].iov_base = &c->vh;
	c->iov[0].iov_len = GSO_VNET_HDR_LEN;
	c->n = 0;
	c->closed = false;
	c->psh = false;
	if (n == 0)
		return 0;
	if (n == 1) {
		c->iov[1].iov_base = (void *)c->first;
		c->iov[1].iov_len = c->first_len;
		return 2;
	}
	memcpy(h, c->first, c->hdr_len);
	l4len = c->hdr_len - c->l4_off + c->payload;
	if (c->ipv6) {
		wr16(h + c->l3_off + 4, (uint16_t)l4len);
	} else {
		wr16(h + c->l3_off + 2, (uint16_t)(c->l4_off - c->l3_off + l4len));
		ipv4_csum_set(h + c->l3_off);
	}
	if (psh)
		h[c->l4_off + 13] |= TCP_PSH;
	/* CHECKSUM_PARTIAL convention: the pseudo-header sum, not complemented */
	{
		uint16_t ps = gso_csum_fold(pseudo_sum(h, c->l3_off, c->ipv6, IPPROTO_TCP, l4len));

		memcpy(h + c->l4_off + 16, &ps, 2);
	}
	c->vh.flags = GSO_F_NEEDS_CSUM;
	c->vh.gso_type = c->ipv6 ? GSO_TYPE_TCPV6 : GSO_TYPE_TCPV4;
	c->vh.hdr_len = (uint16_t)c->hdr_len;
	c->vh.gso_size = (uint16_t)c->seg_size;
	c->vh.csum_start = (uint16_t)c->l4_off;
	c->vh.csum_offset = 16;
	c->iov[1].iov_base = h;
	c->iov[1].iov_len = c->hdr_len;
	return (int)n + 2;
}

/* ---------------------------------------------------------------------- */
/* flow hash */

/* FNV-1a over n bytes. */
static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

uint32_t gso_flow_hash(const uint8_t *f, size_t len)
{
	struct pkt p;
	size_t alen;
	const uint8_t *a, *b;
	uint16_t pa, pb;
	int c;
	uint32_t h = 2166136261u;

	if (!pkt_parse(f, len, &p))
		return 0;
	alen = p.v6 ? 16 : 4;
	a = f + p.l3 + (p.v6 ? 8 : 12);
	b = a + alen;
	pa = rd16(f + p.l4);
	pb = rd16(f + p.l4 + 2);
	/* the smaller endpoint first: both directions hash alike */
	c = memcmp(a, b, alen);
	if (c > 0 || (c == 0 && pa > pb)) {
		const uint8_t *t = a;
		uint16_t tp = pa;

		a = b;
		b = t;
		pa = pb;
		pb = tp;
	}
	uint8_t ports[5] = { (uint8_t)(pa >> 8), (uint8_t)pa, (uint8_t)(pb >> 8), (uint8_t)pb, p.proto };

	h = fnv(h, a, alen);
	h = fnv(h, b, alen);
	h = fnv(h, ports, sizeof(ports));
	return h ? h : 1;
}

/* ---------------------------------------------------------------------- */
/* MSS clamping */

bool gso_mss_clamp(uint8_t *f, size_t len, uint16_t mss4, uint16_t mss6)
{
	struct pkt p;
	size_t doff, o;
	uint16_t limit;

	if (!pkt_parse(f, len, &p) || p.proto != IPPROTO_TCP || !(f[p.l4 + 13] & TCP_SYN))
		return false;
	limit = p.v6 ? mss6 : mss4;
	if (limit == 0)
		return false;
	doff = (size_t)(f[p.l4 + 12] >> 4) * 4;
	for (o = p.l4 + 20; o < p.l4 + doff;) {
		uint8_t kind = f[o], olen;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			o++;
			continue;
		}
		if (o + 1 >= p.l4 + doff)
			break;
		olen = f[o + 1];
		if (olen < 2 || o + olen > p.l4 + doff)
			break;
		if (kind == TCPOPT_MSS && olen == 4) {
			uint32_t sum;

			if (rd16(f + o + 2) <= limit)
				return false;
			/* a corrupt SYN is left for its receiver to drop */
			if (!l4_csum_ok(f, &p))
				return false;
			wr16(f + o + 2, limit);
			f[p.l4 + 16] = f[p.l4 + 17] = 0;
			sum = pseudo_sum(f, p.l3, p.v6, IPPROTO_TCP, p.end - p.l4);
			csum_store(f + p.l4 + 16, gso_csum_add(sum, f + p.l4, p.end - p.l4));
			return true;
		}
		o += olen;
	}
	return false;
}
