/* SPDX-License-Identifier: MIT */
/*
 * Defences against strangers' control messages; see guard.h.
 */
#include "daemon/guard.h"

#include "common/addr.h"

#include <netinet/in.h>
#include <string.h>

static void bucket_init(struct guard_bucket *b, unsigned rate, unsigned burst, uint64_t now)
{
	b->rate = rate;
	b->burst = burst;
	b->milli = (uint64_t)burst * 1000u;
	b->last_ms = now;
}

static bool bucket_take(struct guard_bucket *b, uint64_t now)
{
	uint64_t cap = (uint64_t)b->burst * 1000u;

	if (now > b->last_ms) {
		uint64_t add = (now - b->last_ms) * b->rate; /* ms * tokens/s = milli-tokens */

		b->milli = add >= cap - b->milli ? cap : b->milli + add;
		b->last_ms = now;
	}
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}

void guard_init(struct guard *g, uint64_t now)
{
	memset(g, 0, sizeof(*g));
	bucket_init(&g->sccrq, GUARD_SCCRQ_RATE, GUARD_SCCRQ_BURST, now);
	bucket_init(&g->reply, GUARD_REPLY_RATE, GUARD_REPLY_BURST, now);
	guard_set_peers(g, 0, now);
	g->log_window = now;
}

void guard_set_peers(struct guard *g, unsigned peers, uint64_t now)
{
	unsigned rate, burst;

	if (peers > GUARD_PEER_SCCRQ_MAX)
		peers = GUARD_PEER_SCCRQ_MAX;
	if (g->peer_sccrq.burst && peers == g->peers)
		return;
	g->peers = peers;
	rate = peers / 2 > GUARD_SCCRQ_RATE ? peers / 2 : GUARD_SCCRQ_RATE;
	burst = peers > GUARD_SCCRQ_BURST ? peers : GUARD_SCCRQ_BURST;
	bucket_init(&g->peer_sccrq, rate, burst, now);
}

bool guard_peer_sccrq_allow(struct guard *g, uint64_t now)
{
	if (bucket_take(&g->peer_sccrq, now))
		return true;
	return guard_sccrq_allow(g, now);
}

bool guard_sccrq_allow(struct guard *g, uint64_t now)
{
	if (bucket_take(&g->sccrq, now))
		return true;
	g->stats.sccrq_rate_limited++;
	return false;
}

bool guard_reply_allow(struct guard *g, uint64_t now)
{
	if (bucket_take(&g->reply, now))
		return true;
	g->stats.replies_suppressed++;
	return false;
}

bool guard_log_allow(struct guard *g, uint64_t now, uint64_t *ret_dropped)
{
	*ret_dropped = 0;
	if (now - g->log_window >= GUARD_LOG_RATE_MS) {
		*ret_dropped = g->log_dropped;
		g->log_window = now;
		g->log_lines = 0;
		g->log_dropped = 0;
	}
	if (g->log_lines < GUARD_LOG_BURST) {
		g->log_lines++;
		return true;
	}
	g->log_dropped++;
	g->stats.log_suppressed++;
	return false;
}

bool guard_nonce_known(const struct guard *g, const uint8_t *nonce, size_t len)
{
	uint8_t key[16] = { 0 };

	if (len < 8)
		return true;
	memcpy(key, nonce, len < sizeof(key) ? len : sizeof(key));
	for (size_t i = 0; i < g->n_nonces; i++)
		if (!memcmp(g->nonces[i], key, sizeof(key)))
			return true;
	return false;
}

bool guard_nonce_seen(struct guard *g, const uint8_t *nonce, size_t len)
{
	uint8_t key[16] = { 0 };

	if (len < 8)
		return true;
	memcpy(key, nonce, len < sizeof(key) ? len : sizeof(key));
	for (size_t i = 0; i < g->n_nonces; i++) {
		if (!memcmp(g->nonces[i], key, sizeof(key))) {
			g->stats.sccrq_replays++;
			return true;
		}
	}
	memcpy(g->nonces[g->nonce_next], key, sizeof(key));
	g->nonce_next = (g->nonce_next + 1) % GUARD_NONCES_MAX;
	if (g->n_nonces < GUARD_NONCES_MAX)
		g->n_nonces++;
	return false;
}

static void closed_expire(struct guard *g, uint64_t now)
{
	size_t j = 0;

	for (size_t i = 0; i < g->n_closed; i++)
		if (g->closed[i].until > now)
			g->closed[j++] = g->closed[i];
	g->n_closed = j;
}

void guard_closed_add(struct guard *g, const struct fsm_tunnel *t, const struct sockaddr_storage *peer,
		      uint64_t now)
{
	struct guard_closed *c = NULL;
	uint32_t local_ccid = t->local_ccid;

	closed_expire(g, now);
	for (size_t i = 0; i < g->n_closed && !c; i++)
		if (g->closed[i].local_ccid == local_ccid)
			c = &g->closed[i];
	if (!c && g->n_closed < GUARD_CLOSED_MAX)
		c = &g->closed[g->n_closed++];
	if (!c) {
		/* full: the oldest goes (entries are added in time order) */
		memmove(&g->closed[0], &g->closed[1], (GUARD_CLOSED_MAX - 1) * sizeof(g->closed[0]));
		c = &g->closed[GUARD_CLOSED_MAX - 1];
	}
	c->local_ccid = local_ccid;
	c->peer_ccid = t->remote_ccid;
	c->ns = t->ns;
	c->peer = *peer;
	fsm_tunnel_sign_save(t, &c->sign);
	c->until = now + GUARD_CLOSED_HOLD_MS;
}

const struct guard_closed *guard_closed_find(struct guard *g, uint32_t local_ccid,
					     const struct sockaddr_storage *peer, uint64_t now)
{
	closed_expire(g, now);
	for (size_t i = 0; i < g->n_closed; i++)
		if (g->closed[i].local_ccid == local_ccid && sockaddr_equal(&g->closed[i].peer, peer))
			return &g->closed[i];
	return NULL;
}
