/* SPDX-License-Identifier: MIT */
/* ARP probes across a static session: frames and bookkeeping (probe.h). */
#include <string.h>

#include "daemon/probe.h"

#define ETH_HLEN_ 14
#define ETHERTYPE_ARP_ 0x0806
#define ETHERTYPE_IPV4_ 0x0800
#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

size_t probe_build(uint8_t *buf, size_t len, const uint8_t mac[PROBE_ETH_ALEN], uint32_t target)
{
	uint8_t *arp = buf + ETH_HLEN_;

	if (len < PROBE_FRAME_LEN)
		return 0;
	memset(buf, 0, PROBE_FRAME_LEN);
	memset(buf, 0xff, PROBE_ETH_ALEN); /* broadcast */
	memcpy(buf + 6, mac, PROBE_ETH_ALEN);
	put16(buf + 12, ETHERTYPE_ARP_);
	put16(arp, ARP_HTYPE_ETHER);
	put16(arp + 2, ETHERTYPE_IPV4_);
	arp[4] = PROBE_ETH_ALEN;
	arp[5] = 4;
	put16(arp + 6, ARP_OP_REQUEST);
	memcpy(arp + 8, mac, PROBE_ETH_ALEN); /* sender hardware address */
	/* sender IP 0.0.0.0 (arp + 14) and target hardware address zero (arp + 18): a probe */
	memcpy(arp + 24, &target, 4);
	return PROBE_FRAME_LEN;
}

bool probe_is_answer(const uint8_t *frame, size_t len, const uint8_t mac[PROBE_ETH_ALEN], uint32_t target)
{
	const uint8_t *arp;

	if (!frame || len < PROBE_ARP_LEN)
		return false;
	arp = frame + ETH_HLEN_;
	if (get16(frame + 12) != ETHERTYPE_ARP_ || get16(arp) != ARP_HTYPE_ETHER ||
	    get16(arp + 2) != ETHERTYPE_IPV4_ || arp[4] != PROBE_ETH_ALEN || arp[5] != 4 ||
	    get16(arp + 6) != ARP_OP_REPLY)
		return false;
	return !memcmp(arp + 14, &target, 4) && !memcmp(arp + 18, mac, PROBE_ETH_ALEN);
}

void probe_state_init(struct probe_state *s, unsigned count)
{
	memset(s, 0, sizeof(*s));
	s->verdict = PROBE_UNKNOWN;
	s->count = count ? count : 1;
}

static enum probe_verdict become(struct probe_state *s, enum probe_verdict v, bool *changed)
{
	*changed = s->verdict != v;
	s->verdict = v;
	return v;
}

enum probe_verdict probe_on_send(struct probe_state *s, bool *changed)
{
	enum probe_verdict v = s->verdict;

	if (s->outstanding >= s->count)
		v = PROBE_DOWN;
	if (s->outstanding < UINT32_MAX)
		s->outstanding++;
	s->sent++;
	return become(s, v, changed);
}

enum probe_verdict probe_on_answer(struct probe_state *s, uint64_t now_ms, bool *changed)
{
	if (!s->outstanding) {
		*changed = false;
		return s->verdict;
	}
	s->outstanding = 0;
	s->answered++;
	s->last_answer_ms = now_ms;
	return become(s, PROBE_UP, changed);
}

const char *probe_verdict_name(enum probe_verdict v)
{
	switch (v) {
	case PROBE_UP:
		return "up";
	case PROBE_DOWN:
		return "down";
	case PROBE_UNKNOWN:
		break;
	}
	return "unknown";
}
