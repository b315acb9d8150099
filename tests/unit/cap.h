/* SPDX-License-Identifier: MIT */
/*
 * Reading the IPv4 packets of a pcap file (tests/captures, Ethernet link
 * type) for tests: cap_open, then cap_next until it returns false.
 */
#ifndef L2TP_TEST_CAP_H
#define L2TP_TEST_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cap {
	FILE *f;
	unsigned frame;		/* 1-based number of the last frame read, as tshark counts */
	uint8_t pkt[65536];	/* the last frame */
	const uint8_t *ip;	/* its IPv4 header */
	size_t ip_len;		/* IPv4 total length (within the frame) */
	size_t ihl;		/* IPv4 header length */
};

static inline uint32_t cap_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline uint16_t cap_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Open path; false if it is not a little-endian Ethernet pcap. */
static inline bool cap_open(struct cap *c, const char *path)
{
	uint8_t gh[24];

	c->frame = 0;
	c->f = fopen(path, "rb");
	if (!c->f)
		return false;
	if (fread(gh, 1, sizeof(gh), c->f) != sizeof(gh) ||
	    (cap_le32(gh) != 0xa1b2c3d4u && cap_le32(gh) != 0xa1b23c4du) || cap_le32(gh + 20) != 1) {
		fclose(c->f);
		c->f = NULL;
		return false;
	}
	return true;
}

/* The next unfragmented IPv4 packet (c->ip, c->ip_len, c->ihl); false at
 * the end of the file (which is then closed). */
static inline bool cap_next(struct cap *c)
{
	uint8_t rh[16];

	while (c->f && fread(rh, 1, sizeof(rh), c->f) == sizeof(rh)) {
		uint32_t caplen = cap_le32(rh + 8);

		if (caplen > sizeof(c->pkt) || fread(c->pkt, 1, caplen, c->f) != caplen)
			break;
		c->frame++;
		if (caplen < 14 + 20 || cap_be16(c->pkt + 12) != 0x0800)
			continue;
		c->ip = c->pkt + 14;
		c->ihl = (size_t)(c->ip[0] & 15) * 4;
		c->ip_len = cap_be16(c->ip + 2);
		if (c->ihl < 20 || c->ip_len > caplen - 14 || c->ip_len < c->ihl ||
		    (cap_be16(c->ip + 6) & 0x3fff) != 0)
			continue; /* truncated, or a fragment */
		return true;
	}
	if (c->f)
		fclose(c->f);
	c->f = NULL;
	return false;
}

#endif
