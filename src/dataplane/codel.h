/* SPDX-License-Identifier: MIT */
/*
 * CoDel ("controlled delay", RFC 8289) drop decisions for one queue: pure
 * state machine, no I/O, no clock (times are passed in, in nanoseconds).
 *
 * The caller dequeues packets from a queue it cannot shape directly (the
 * data path: the UDP socket's receive queue) and knows, for each, how long
 * it waited there (its sojourn time).  codel_dequeue() says whether to
 * drop it.  While the sojourn stays above `target` for a whole `interval`,
 * the queue is a standing one: the first packet past that point is dropped
 * and the state turns to "dropping"; further packets are dropped at
 * drop_next, which the control law advances by interval / sqrt(count)
 * after each drop, so the drop rate grows until the senders slow down and
 * the sojourn falls below target (which ends the dropping state).  When a
 * new dropping state starts soon after the last one (within 16 intervals),
 * count resumes from where the last one ended rather than from 1.
 * Packets are never dropped while the queue holds at most about one
 * packet (the caller says so): dropping then would only idle the link.
 */
#ifndef L2TP_CODEL_H
#define L2TP_CODEL_H

#include <stdbool.h>
#include <stdint.h>

enum {
	/* largest interval: its square must fit in 64 bits */
	CODEL_INTERVAL_MAX_NS = 4000000000u,
};

struct codel_params {
	uint64_t target;   /* ns: sojourn accepted as a standing queue */
	uint64_t interval; /* ns: how long above target before dropping (1..CODEL_INTERVAL_MAX_NS) */
};

struct codel {
	uint64_t first_above; /* when the sojourn will have been above target for an interval; 0: below */
	uint64_t drop_next;   /* next drop while dropping */
	uint32_t count;	      /* drops in this dropping state */
	uint32_t lastcount;   /* count when the last dropping state started */
	bool dropping;
};

void codel_init(struct codel *c);

/* t + floor(interval / sqrt(count)), count >= 1 (0 is taken as 1);
 * exact integer arithmetic. */
uint64_t codel_control_law(uint64_t t, uint64_t interval, uint32_t count);

/*
 * One packet leaves the queue at `now` after waiting `sojourn`;
 * `backlog_small`: what stays queued behind it is at most one packet.
 * Returns true if the caller must drop it.  `now` must not go backwards.
 */
bool codel_dequeue(struct codel *c, const struct codel_params *p, uint64_t now, uint64_t sojourn,
		   bool backlog_small);

#endif
