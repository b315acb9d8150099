/* SPDX-License-Identifier: MIT */
/*
 * CoDel drop decisions (RFC 8289 §5), one packet per call; see codel.h.
 */
#include "dataplane/codel.h"

#include <string.h>

void codel_init(struct codel *c)
{
	memset(c, 0, sizeof(*c));
}

/* floor(sqrt(n)), digit by digit */
static uint64_t codel_isqrt(uint64_t n)
{
	uint64_t r = 0, bit = (uint64_t)1 << 62;

	while (bit > n)
		bit >>= 2;
	while (bit) {
		if (n >= r + bit) {
			n -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

uint64_t codel_control_law(uint64_t t, uint64_t interval, uint32_t count)
{
	if (interval > CODEL_INTERVAL_MAX_NS)
		interval = CODEL_INTERVAL_MAX_NS;
	if (count == 0)
		count = 1;
	/* floor(sqrt(floor(i^2 / c))) == floor(i / sqrt(c)) */
	return t + codel_isqrt(interval * interval / count);
}

/* Has the sojourn been above target for at least an interval? */
static bool codel_ok_to_drop(struct codel *c, const struct codel_params *p, uint64_t now, uint64_t sojourn,
			     bool backlog_small)
{
	if (sojourn < p->target || backlog_small) {
		c->first_above = 0;
		return false;
	}
	if (c->first_above == 0) {
		c->first_above = now + p->interval;
		return false;
	}
	return now >= c->first_above;
}

bool codel_dequeue(struct codel *c, const struct codel_params *p, uint64_t now, uint64_t sojourn,
		   bool backlog_small)
{
	bool ok = codel_ok_to_drop(c, p, now, sojourn, backlog_small);
	uint32_t delta;

	if (c->dropping) {
		if (!ok) {
			/* below target again: the standing queue is gone */
			c->dropping = false;
			return false;
		}
		if (now < c->drop_next)
			return false;
		c->count++;
		c->drop_next = codel_control_law(c->drop_next, p->interval, c->count);
		return true;
	}
	if (!ok)
		return false;
	c->dropping = true;
	/* re-entering soon after the last dropping state: resume near the
	 * drop rate that state ended with */
	delta = c->count - c->lastcount;
	if (delta > 1 && (int64_t)(now - c->drop_next) < (int64_t)(16 * p->interval))
		c->count = delta;
	else
		c->count = 1;
	c->lastcount = c->count;
	c->drop_next = codel_control_law(now, p->interval, c->count);
	return true;
}
