/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the daemon's defences against strangers (src/daemon/guard.c):
 * token buckets for SCCRQ processing and replies, the log limiter, SCCRQ
 * nonce replay detection, and the recently-closed table that re-ACKs a
 * duplicate StopCCN for RFC 3931 §5.7's hold time and then forgets it.
 * Time is passed in; no sockets.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/guard.h"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	return ss;
}

/* A flood is examined at GUARD_SCCRQ_RATE a second after a burst. */
static void test_sccrq_bucket(void **state)
{
	static struct guard g;
	unsigned ok = 0;

	(void)state;
	guard_init(&g, 1000);
	for (int i = 0; i < 1000; i++)
		ok += guard_sccrq_allow(&g, 1000);
	assert_int_equal(ok, GUARD_SCCRQ_BURST);
	assert_int_equal(g.stats.sccrq_rate_limited, 1000 - GUARD_SCCRQ_BURST);
	/* 10 s of 2000 a second: burst + 10 s of refill */
	ok = 0;
	for (uint64_t t = 1000; t < 11000; t++)
		for (int k = 0; k < 2; k++)
			ok += guard_sccrq_allow(&g, t + 1);
	assert_true(ok >= 10 * GUARD_SCCRQ_RATE - 1 && ok <= 10 * GUARD_SCCRQ_RATE + 1);
	/* idle for a minute: only the burst is back */
	ok = 0;
	for (int i = 0; i < 1000; i++)
		ok += guard_sccrq_allow(&g, 71000);
	assert_int_equal(ok, GUARD_SCCRQ_BURST);
	/* the clock going backwards adds nothing */
	assert_false(guard_sccrq_allow(&g, 5000));
}

/*
 * SCCRQs of configured peers (issue 11): a hub of 1,000 that restarts
 * gets a burst of 1,000 and 500 a second after; strangers still 20 a
 * second, and a flood of "peers" falls back to the strangers' budget
 * only, never more.
 */
static void test_peer_sccrq_budget(void **state)
{
	static struct guard g;
	unsigned ok = 0, strangers = 0;

	(void)state;
	guard_init(&g, 1000);
	/* nothing configured: the same as strangers */
	for (int i = 0; i < 1000; i++)
		ok += guard_peer_sccrq_allow(&g, 1000);
	assert_int_equal(ok, GUARD_SCCRQ_BURST + GUARD_SCCRQ_BURST);

	guard_init(&g, 1000);
	guard_set_peers(&g, 1000, 1000);
	ok = 0;
	for (int i = 0; i < 3000; i++)
		ok += guard_peer_sccrq_allow(&g, 1000);
	/* its own burst, then what the strangers' bucket held */
	assert_int_equal(ok, 1000 + GUARD_SCCRQ_BURST);
	assert_int_equal(g.stats.sccrq_rate_limited, 3000 - 1000 - GUARD_SCCRQ_BURST);
	/* the strangers' bucket is spent: strangers wait for its refill */
	assert_false(guard_sccrq_allow(&g, 1000));
	/* 4 s of a peers' flood: 500 a second of their own + 20 of the strangers' */
	ok = 0;
	for (uint64_t t = 1001; t <= 5000; t++)
		for (int k = 0; k < 2; k++)
			ok += guard_peer_sccrq_allow(&g, t);
	assert_true(ok >= 4 * (500 + GUARD_SCCRQ_RATE) - 2 && ok <= 4 * (500 + GUARD_SCCRQ_RATE) + 2);
	/* strangers alone after a quiet minute: their burst, then their rate */
	for (int i = 0; i < 1000; i++)
		strangers += guard_sccrq_allow(&g, 65000);
	assert_int_equal(strangers, GUARD_SCCRQ_BURST);

	/* resized (reload with more peers): full at once; same size: unchanged */
	guard_set_peers(&g, 1000, 65000);
	ok = 0;
	for (int i = 0; i < 3000; i++)
		ok += guard_peer_sccrq_allow(&g, 65000);
	assert_int_equal(ok, 1000);
	guard_set_peers(&g, 1000, 65000);
	assert_false(guard_peer_sccrq_allow(&g, 65000));
	guard_set_peers(&g, 2000, 65000);
	ok = 0;
	for (int i = 0; i < 3000; i++)
		ok += guard_peer_sccrq_allow(&g, 65000);
	assert_int_equal(ok, 2000);
	/* a few peers: never below the strangers' figures */
	guard_set_peers(&g, 3, 65000);
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += guard_peer_sccrq_allow(&g, 65000);
	assert_int_equal(ok, GUARD_SCCRQ_BURST);
}

/* Replies to strangers: bounded too (no amplification). */
static void test_reply_bucket(void **state)
{
	static struct guard g;
	unsigned ok = 0;

	(void)state;
	guard_init(&g, 0);
	for (int i = 0; i < 100; i++)
		ok += guard_reply_allow(&g, 0);
	assert_int_equal(ok, GUARD_REPLY_BURST);
	assert_int_equal(g.stats.replies_suppressed, 100 - GUARD_REPLY_BURST);
	assert_false(guard_reply_allow(&g, 50));
	assert_true(guard_reply_allow(&g, 100 + 1000 / GUARD_REPLY_RATE));
}

/* At most GUARD_LOG_BURST lines a window; the next window learns how many
 * were left out. */
static void test_log_limit(void **state)
{
	static struct guard g;
	uint64_t dropped = 99;
	unsigned ok = 0;

	(void)state;
	guard_init(&g, 0);
	for (int i = 0; i < 50; i++) {
		ok += guard_log_allow(&g, 100, &dropped);
		assert_int_equal(dropped, 0);
	}
	assert_int_equal(ok, GUARD_LOG_BURST);
	assert_true(guard_log_allow(&g, GUARD_LOG_RATE_MS, &dropped));
	assert_int_equal(dropped, 50 - GUARD_LOG_BURST);
	assert_true(guard_log_allow(&g, GUARD_LOG_RATE_MS + 1, &dropped));
	assert_int_equal(dropped, 0);
	assert_int_equal(g.stats.log_suppressed, 50 - GUARD_LOG_BURST);
}

/* An SCCRQ nonce seen before is a replay; the ring keeps the last
 * GUARD_NONCES_MAX; too short a nonce never counts as fresh. */
static void test_nonce_replay(void **state)
{
	static struct guard g;
	uint8_t n[16];

	(void)state;
	guard_init(&g, 0);
	memset(n, 0x42, sizeof(n));
	assert_false(guard_nonce_seen(&g, n, sizeof(n)));
	assert_true(guard_nonce_seen(&g, n, sizeof(n)));
	assert_true(guard_nonce_seen(&g, n, 4));
	for (unsigned i = 0; i < GUARD_NONCES_MAX; i++) {
		uint8_t o[16] = { 0 };

		memcpy(o, &i, sizeof(i));
		assert_false(guard_nonce_seen(&g, o, sizeof(o)));
	}
	assert_false(guard_nonce_seen(&g, n, sizeof(n))); /* pushed out, fresh again */
	assert_int_equal(g.stats.sccrq_replays, 1);
}

static void fake_tunnel(struct fsm_tunnel *t, uint32_t local, uint32_t remote)
{
	memset(t, 0, sizeof(*t));
	t->local_ccid = local;
	t->remote_ccid = remote;
	t->ns = 7;
}

/* RFC 3931 §5.7: a closed connection is remembered for 31 s (duplicate
 * StopCCNs re-acked from the same peer only), then forgotten; the table
 * holds GUARD_CLOSED_MAX entries, the oldest giving way. */
static void test_closed_table(void **state)
{
	static struct guard g;
	struct sockaddr_storage p = addr("198.51.100.2", 1701), q = addr("198.51.100.2", 1702);
	struct fsm_tunnel t;
	const struct guard_closed *c;

	(void)state;
	guard_init(&g, 0);
	fake_tunnel(&t, 0x1111, 0x2222);
	guard_closed_add(&g, &t, &p, 1000);
	c = guard_closed_find(&g, 0x1111, &p, 1000 + GUARD_CLOSED_HOLD_MS - 1);
	assert_non_null(c);
	assert_int_equal(c->peer_ccid, 0x2222);
	assert_int_equal(c->ns, 7);
	assert_null(guard_closed_find(&g, 0x1111, &q, 2000)); /* other port */
	assert_null(guard_closed_find(&g, 0x1112, &p, 2000));
	assert_null(guard_closed_find(&g, 0x1111, &p, 1000 + GUARD_CLOSED_HOLD_MS));
	assert_int_equal(g.n_closed, 0);

	for (uint32_t i = 0; i <= GUARD_CLOSED_MAX; i++) {
		fake_tunnel(&t, 0x100 + i, 0x900 + i);
		guard_closed_add(&g, &t, &p, 5000 + i);
	}
	assert_int_equal(g.n_closed, GUARD_CLOSED_MAX);
	assert_null(guard_closed_find(&g, 0x100, &p, 6000));
	assert_non_null(guard_closed_find(&g, 0x101, &p, 6000));
	assert_non_null(guard_closed_find(&g, 0x100 + GUARD_CLOSED_MAX, &p, 6000));
	/* the same CCID again updates its entry */
	fake_tunnel(&t, 0x101, 0x777);
	guard_closed_add(&g, &t, &q, 6000);
	assert_int_equal(g.n_closed, GUARD_CLOSED_MAX);
	assert_int_equal(guard_closed_find(&g, 0x101, &q, 6000)->peer_ccid, 0x777);
}

/* The re-ACK of a digest connection carries a digest the peer verifies
 * (RFC 3931 §6.15: no ZLB, an ACK with a Message Digest). */
static void test_signed_ack(void **state)
{
	struct fsm_tunnel t;
	struct fsm_sign s;
	struct l2tp_msg m;
	uint8_t buf[128], peer_nonce[16];
	int n;

	(void)state;
	fake_tunnel(&t, 1, 2);
	t.auth = FSM_AUTH_DIGEST;
	t.digest_type = L2TP_DIGEST_HMAC_SHA1;
	l2tp_auth_shared_key("yamaha", 6, t.key);
	memset(t.nonce, 0x11, sizeof(t.nonce));
	memset(peer_nonce, 0x22, sizeof(peer_nonce));
	memcpy(t.peer_nonce, peer_nonce, sizeof(peer_nonce));
	t.peer_nonce_len = sizeof(peer_nonce);
	fsm_tunnel_sign_save(&t, &s);
	n = fsm_stateless_ack_signed(&s, 0x2222, 9, 4, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.type, L2TP_MSG_ACK);
	assert_int_equal(m.ccid, 0x2222);
	assert_int_equal(m.ns, 9);
	assert_int_equal(m.nr, 4);
	assert_int_equal(m.n_digests, 1);
	assert_int_equal(m.digest_type[0], L2TP_DIGEST_HMAC_SHA1);
	/* the peer: our nonce is its peer nonce */
	assert_true(l2tp_auth_digest_verify(t.key, t.nonce, 16, peer_nonce, 16, buf, (size_t)n, &m));
	buf[n - 1] ^= 1;
	assert_false(l2tp_auth_digest_verify(t.key, t.nonce, 16, peer_nonce, 16, buf, (size_t)n, &m));
	/* without digest auth: a plain ACK */
	s.auth = FSM_AUTH_CHALLENGE;
	n = fsm_stateless_ack_signed(&s, 0x2222, 9, 4, buf, sizeof(buf));
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.n_digests, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sccrq_bucket),
		cmocka_unit_test(test_peer_sccrq_budget),
		cmocka_unit_test(test_reply_bucket),
		cmocka_unit_test(test_log_limit),
		cmocka_unit_test(test_nonce_replay),
		cmocka_unit_test(test_closed_table),
		cmocka_unit_test(test_signed_ack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
