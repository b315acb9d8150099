/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of SCCRQ admission (src/daemon/admission.c, issue 16): every
 * case of what an arriving SCCRQ means.  The SCCRQs are real ones, built
 * by an initiator state machine (no auth, challenge, digest) and decoded;
 * the tunnels they meet are set up by hand in the states each case needs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/admission.h"

#define PEER_RID 0xc0a8020au /* 192.168.2.10 */

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

/* ---------------------------------------------------------------------- */
/* SCCRQs from an initiator state machine */

struct gen {
	uint8_t buf[L2TP_MAX_MSG_LEN];
	size_t len;
	uint8_t seed;
};

static void g_send(void *ctx, struct fsm_tunnel *t, const uint8_t *buf, size_t len)
{
	struct gen *g = ctx;

	(void)t;
	memcpy(g->buf, buf, len);
	g->len = len;
}

static void g_random(void *ctx, void *buf, size_t len)
{
	struct gen *g = ctx;

	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(g->seed + 31u * i + 1);
	g->seed += 17;
}

static uint32_t g_sid(void *ctx)
{
	(void)ctx;
	return 1;
}

static const struct fsm_ops g_ops = { .send = g_send, .random = g_random, .alloc_session_id = g_sid };

struct sccrq {
	struct gen g;
	struct l2tp_msg m;
	struct fsm_tunnel t; /* the peer's, to see its tie breaker */
};

/* An SCCRQ from a peer with Router ID PEER_RID, auth style a, secret s;
 * seed varies its random fields (CCID, nonce, tie breaker). */
static void make_sccrq(struct sccrq *q, enum fsm_auth a, const char *secret, uint8_t seed, uint32_t ccid)
{
	struct fsm_tunnel_conf c;

	memset(q, 0, sizeof(*q));
	memset(&c, 0, sizeof(c));
	c.id = 9;
	c.initiator = true;
	snprintf(c.host_name, sizeof(c.host_name), "peer");
	c.router_id = PEER_RID;
	c.auth = a;
	c.secret_len = strlen(secret);
	memcpy(c.secret, secret, c.secret_len);
	q->g.seed = seed;
	fsm_tunnel_init(&q->t, &c, ccid, &g_ops, &q->g);
	assert_int_equal(fsm_tunnel_open(&q->t, 1000), 0);
	assert_int_equal(l2tp_ctrl_decode(q->g.buf, q->g.len, &q->m), 0);
	assert_int_equal(q->m.type, L2TP_MSG_SCCRQ);
	fsm_tunnel_release(&q->t);
	while (fsm_tunnel_take_effect(&q->t, &(struct fsm_effect){ 0 }))
		; /* events only: the SCCRQ is all this test wants */
}

/* ---------------------------------------------------------------------- */
/* the tunnels it meets */

struct tun {
	struct cfg_tunnel cfg;
	struct fsm_tunnel_conf fconf;
	struct fsm_tunnel fsm;
	struct sockaddr_storage peer;
};

/* A responder tunnel id with n_pws extra pseudowires, auth style a. */
static void responder(struct tun *t, unsigned id, enum fsm_auth a, size_t n_pws)
{
	memset(t, 0, sizeof(*t));
	t->cfg.id = id;
	t->cfg.enabled = true;
	t->cfg.encap = CFG_ENCAP_UDP;
	t->cfg.dp.local_port = 1701;
	t->cfg.has_remote_router_id = true;
	t->cfg.remote_router_id = PEER_RID;
	t->fconf.id = id;
	t->fconf.router_id = 0x0a000001;
	t->fconf.check_peer_router_id = true;
	t->fconf.peer_router_id = PEER_RID;
	t->fconf.auth = a;
	if (a != FSM_AUTH_NONE) {
		t->cfg.auth = true;
		t->fconf.secret_len = 6;
		memcpy(t->fconf.secret, "yamaha", 6);
	}
	t->fconf.n_pws = n_pws;
	for (size_t i = 0; i < n_pws; i++) {
		snprintf((char *)t->fconf.pws[i].end_id, sizeof(t->fconf.pws[i].end_id), "%zu", 5678 + i);
		t->fconf.pws[i].end_id_len = 4;
	}
	t->fsm.state = FSM_T_IDLE;
}

/* Give t a connection in state st with peer ip:port, remote CCID rccid,
 * auth style a in force, holding the pseudowires of mask. */
static void conn_set(struct tun *t, enum fsm_tunnel_state st, const char *ip, uint16_t port, uint32_t rccid,
		    enum fsm_auth a, unsigned mask)
{
	t->fsm.state = st;
	t->peer = addr(ip, port);
	t->fsm.remote_ccid = rccid;
	t->fsm.local_ccid = rccid + 1000;
	t->fsm.auth = a;
	t->fsm.peer_router_id = PEER_RID;
	t->fsm.n_sessions = 0;
	for (unsigned pw = 0; pw < 8; pw++)
		if (mask & (1u << pw)) {
			struct fsm_session *s = &t->fsm.sessions[t->fsm.n_sessions++];

			memset(s, 0, sizeof(*s));
			s->pw = pw;
			s->local_sid = 100 + pw;
			s->state = FSM_S_ESTABLISHED;
		}
}

static void entry(struct adm_entry *e, struct tun *t, enum adm_kind kind, size_t owner)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->owner = owner;
	e->cfg = &t->cfg;
	e->fconf = &t->fconf;
	e->fsm = &t->fsm;
	e->peer = t->fsm.state != FSM_T_IDLE ? &t->peer : NULL;
}

static void decide(const struct sccrq *s, const char *from, const struct adm_entry *v, size_t n, bool nonce_seen,
		   struct adm_decision *d)
{
	struct sockaddr_storage peer = addr(from, 1701), local = addr("203.0.113.2", 1701);
	struct adm_sccrq q = { .m = &s->m, .raw = s->g.buf, .len = s->g.len, .peer = &peer, .local = &local,
			       .nonce_seen = nonce_seen };

	adm_sccrq(&q, v, n, d);
	print_message("  %s (tunnel %zd): %s\n", adm_action_name(d->action),
		      d->tunnel == SIZE_MAX ? (ssize_t)-1 : (ssize_t)d->tunnel, d->reason);
}

/* ---------------------------------------------------------------------- */
/* cases */

static void test_first_connection(void **state)
{
	static struct tun t;
	static struct sccrq s;
	struct adm_entry v[1];
	struct adm_decision d;

	(void)state;
	responder(&t, 1, FSM_AUTH_NONE, 0);
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_NONE, "", 1, 11);
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_ACCEPT);
	assert_int_equal(d.tunnel, 0);
	assert_false(d.abandoned);
	assert_false(d.new_instance);
}

/* freeRtr: one connection per vpdn, same address and Router ID; the
 * second asks for the other pseudowire. */
static void test_second_connection_beside(void **state)
{
	static struct tun t, b;
	static struct sccrq s;
	struct adm_entry v[2];
	struct adm_decision d;

	(void)state;
	responder(&t, 1, FSM_AUTH_CHALLENGE, 1);
	/* the first still being set up when the second arrives */
	conn_set(&t, FSM_T_WAIT_CTL_CONN, "198.51.100.2", 0, 11, FSM_AUTH_CHALLENGE, 0);
	t.cfg.encap = CFG_ENCAP_IP;
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_CHALLENGE, "yamaha", 2, 12);
	{
		struct sockaddr_storage peer = addr("198.51.100.2", 0), local = addr("198.51.100.1", 0);
		struct adm_sccrq q = { .m = &s.m, .raw = s.g.buf, .len = s.g.len, .peer = &peer, .local = &local };

		adm_sccrq(&q, v, 1, &d);
		assert_int_equal(d.action, ADM_ACCEPT_BESIDE);
		assert_int_equal(d.tunnel, 0);
		assert_false(d.abandoned);
		/* established, holding pseudowire 1: still beside (pseudowire 2 free) */
		conn_set(&t, FSM_T_ESTABLISHED, "198.51.100.2", 0, 11, FSM_AUTH_CHALLENGE, 1);
		adm_sccrq(&q, v, 1, &d);
		assert_int_equal(d.action, ADM_ACCEPT_BESIDE);
		assert_non_null(strstr(d.reason, "1 of its 2 pseudowires free"));
		/* both held (the second connection beside): a third can only
		 * take one over once proven */
		responder(&b, 1, FSM_AUTH_CHALLENGE, 1);
		b.cfg.encap = CFG_ENCAP_IP;
		conn_set(&b, FSM_T_ESTABLISHED, "198.51.100.2", 0, 12, FSM_AUTH_CHALLENGE, 2);
		entry(&v[1], &b, ADM_BESIDE, 0);
		make_sccrq(&s, FSM_AUTH_CHALLENGE, "yamaha", 3, 13);
		adm_sccrq(&q, v, 2, &d);
		assert_int_equal(d.action, ADM_REPLACE_AFTER_AUTH);
		assert_int_equal(d.tunnel, 0);
	}
}

/* A restarted peer with the Message Digest: a new connection that takes
 * the pseudowire over once established; the old one stays until then. */
static void test_restart_digest(void **state)
{
	static struct tun t, n;
	static struct sccrq s;
	struct adm_entry v[2];
	struct adm_decision d;
	char why[320];

	(void)state;
	responder(&t, 1, FSM_AUTH_DIGEST, 0);
	conn_set(&t, FSM_T_ESTABLISHED, "198.51.100.2", 1701, 11, FSM_AUTH_DIGEST, 1);
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_DIGEST, "yamaha", 4, 21);
	assert_true(s.m.n_digests > 0);
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REPLACE_AFTER_AUTH);
	assert_int_equal(d.tunnel, 0);
	/* its connection established (digests verified): the session moves */
	responder(&n, 1, FSM_AUTH_DIGEST, 0);
	conn_set(&n, FSM_T_ESTABLISHED, "198.51.100.2", 1701, 21, FSM_AUTH_DIGEST, 0);
	entry(&v[1], &n, ADM_BESIDE, 0);
	assert_true(adm_session_move(&v[0], &v[1], why, sizeof(why)));
	assert_non_null(strstr(why, "Message Digests"));
	/* not before */
	n.fsm.state = FSM_T_WAIT_CTL_CONN;
	assert_false(adm_session_move(&v[0], &v[1], why, sizeof(why)));
	/* a wrong secret: refused at once */
	make_sccrq(&s, FSM_AUTH_DIGEST, "not-yamaha", 5, 22);
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_int_equal(d.result, L2TP_STOPCCN_NOT_AUTHORIZED);
}

/* A restarted peer with the challenge (freeRtr's only method): the same,
 * proven by the SCCCN's Challenge Response (its connection established). */
static void test_restart_challenge(void **state)
{
	static struct tun t, n;
	static struct sccrq s;
	struct adm_entry v[2];
	struct adm_decision d;
	char why[320];

	(void)state;
	responder(&t, 1, FSM_AUTH_CHALLENGE, 0);
	conn_set(&t, FSM_T_ESTABLISHED, "198.51.100.2", 1701, 11, FSM_AUTH_CHALLENGE, 1);
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_CHALLENGE, "yamaha", 6, 31);
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REPLACE_AFTER_AUTH);
	responder(&n, 1, FSM_AUTH_CHALLENGE, 0);
	conn_set(&n, FSM_T_WAIT_CTL_CONN, "198.51.100.2", 1701, 31, FSM_AUTH_CHALLENGE, 0);
	entry(&v[1], &n, ADM_BESIDE, 0);
	assert_false(adm_session_move(&v[0], &v[1], why, sizeof(why)));
	n.fsm.state = FSM_T_ESTABLISHED; /* its SCCCN's Challenge Response was right */
	assert_true(adm_session_move(&v[0], &v[1], why, sizeof(why)));
	assert_non_null(strstr(why, "Challenge Response"));
	/* the old connection itself is never replaced at SCCRQ time: with
	 * as many as one pseudowire allows (ADM_CONNS_MAX(1) = 3), a new SCCRQ
	 * takes over only the oldest of those still being set up */
	{
		static struct tun n2;
		struct adm_entry w[3] = { v[0], v[1] };

		n.fsm.state = FSM_T_WAIT_CTL_CONN;
		n.fsm.close_until = 5000;
		responder(&n2, 1, FSM_AUTH_CHALLENGE, 0);
		conn_set(&n2, FSM_T_WAIT_CTL_CONN, "198.51.100.2", 1701, 33, FSM_AUTH_CHALLENGE, 0);
		n2.fsm.close_until = 4000;
		entry(&w[2], &n2, ADM_BESIDE, 0);
		make_sccrq(&s, FSM_AUTH_CHALLENGE, "yamaha", 7, 32);
		decide(&s, "198.51.100.2", w, 2, false, &d);
		assert_int_equal(d.action, ADM_REPLACE_AFTER_AUTH); /* two: room for one more */
		decide(&s, "198.51.100.2", w, 3, false, &d);
		assert_int_equal(d.action, ADM_ACCEPT);
		assert_int_equal(d.tunnel, 2);
		assert_true(d.abandoned);
	}
}

/* A spoofed SCCRQ never takes an established tunnel down. */
static void test_spoofed_sccrq(void **state)
{
	static struct tun t, n;
	static struct sccrq s;
	struct adm_entry v[2];
	struct adm_decision d;
	char why[320];

	(void)state;
	/* challenge: it gets at most a connection of its own, which cannot
	 * become established without the secret */
	responder(&t, 1, FSM_AUTH_CHALLENGE, 0);
	conn_set(&t, FSM_T_ESTABLISHED, "198.51.100.2", 1701, 11, FSM_AUTH_CHALLENGE, 1);
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_CHALLENGE, "whatever", 8, 41);
	decide(&s, "198.51.100.77", v, 1, false, &d);
	assert_int_not_equal(d.action, ADM_ACCEPT);
	assert_int_equal(d.action, ADM_REPLACE_AFTER_AUTH);
	/* no auth: from another host it is refused while the old one answers keepalives */
	responder(&t, 1, FSM_AUTH_NONE, 0);
	conn_set(&t, FSM_T_ESTABLISHED, "198.51.100.2", 1701, 11, FSM_AUTH_NONE, 1);
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_NONE, "", 9, 42);
	decide(&s, "198.51.100.77", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_int_equal(d.result, L2TP_STOPCCN_EXISTS);
	assert_non_null(strstr(d.reason, "still answers keepalives"));
	/* no auth, from the peer's host (another port): a connection beside,
	 * which takes the session over only if its handshake completes */
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REPLACE_AFTER_AUTH);
	responder(&n, 1, FSM_AUTH_NONE, 0);
	conn_set(&n, FSM_T_WAIT_CTL_CONN, "198.51.100.2", 40002, 42, FSM_AUTH_NONE, 0);
	entry(&v[1], &n, ADM_BESIDE, 0);
	assert_false(adm_session_move(&v[0], &v[1], why, sizeof(why)));
	/* an established one from another host without auth does not move it either */
	conn_set(&n, FSM_T_ESTABLISHED, "198.51.100.77", 1701, 42, FSM_AUTH_NONE, 0);
	assert_false(adm_session_move(&v[0], &v[1], why, sizeof(why)));
	assert_non_null(strstr(why, "still answers keepalives"));
	conn_set(&n, FSM_T_ESTABLISHED, "198.51.100.2", 40002, 42, FSM_AUTH_NONE, 0);
	assert_true(adm_session_move(&v[0], &v[1], why, sizeof(why)));
}

/* RFC 3931 §5.4.3: our initiator calling that peer at the same moment. */
static void test_simultaneous_open(void **state)
{
	static struct tun t;
	static struct sccrq ours, s;
	struct adm_entry v[1];
	struct adm_decision d;

	(void)state;
	responder(&t, 1, FSM_AUTH_NONE, 0);
	t.cfg.has_endpoint = true;
	t.cfg.remote = addr("198.51.100.2", 1701);
	t.fconf.initiator = true;
	make_sccrq(&ours, FSM_AUTH_NONE, "", 10, 51);
	t.fsm.state = FSM_T_WAIT_CTL_REPLY;
	t.fsm.opened = true;
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_NONE, "", 11, 52);
	assert_true(l2tp_msg_has(&s.m, L2TP_AVP_TIE_BREAKER));
	memset(t.fsm.tie_breaker, 0x00, sizeof(t.fsm.tie_breaker)); /* ours lower: we win */
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_DROP);
	assert_false(d.replay);
	memset(t.fsm.tie_breaker, 0xff, sizeof(t.fsm.tie_breaker)); /* theirs lower */
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_ACCEPT);
	assert_true(d.tie_lost);
	assert_int_equal(d.tunnel, 0);
	/* an initiator that is not calling it: refused, no responder here */
	t.fsm.state = FSM_T_ESTABLISHED;
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
}

static void test_hub(void **state)
{
	static struct tun hub, a, b;
	static struct sccrq s;
	struct adm_entry v[3];
	struct adm_decision d;

	(void)state;
	responder(&hub, 1, FSM_AUTH_NONE, 0);
	hub.cfg.hub_max = 2;
	hub.cfg.has_remote_router_id = false;
	hub.fconf.check_peer_router_id = false;
	responder(&a, 1, FSM_AUTH_NONE, 0);
	responder(&b, 1, FSM_AUTH_NONE, 0);
	conn_set(&a, FSM_T_ESTABLISHED, "198.51.100.3", 1701, 61, FSM_AUTH_NONE, 1);
	entry(&v[0], &hub, ADM_HUB, 0);
	entry(&v[1], &a, ADM_HUB_INSTANCE, 0);
	v[1].hub_router_id = 0x01010101;
	v[1].peer_index = 1;
	make_sccrq(&s, FSM_AUTH_NONE, "", 12, 62);
	/* a new Router ID, room for it: a new instance */
	decide(&s, "198.51.100.2", v, 2, false, &d);
	assert_int_equal(d.action, ADM_ACCEPT);
	assert_true(d.new_instance);
	assert_int_equal(d.hub_index, 2);
	assert_int_equal(d.tunnel, 0);
	/* full: both instances held by others */
	conn_set(&b, FSM_T_ESTABLISHED, "198.51.100.4", 1701, 63, FSM_AUTH_NONE, 1);
	entry(&v[2], &b, ADM_HUB_INSTANCE, 0);
	v[2].hub_router_id = 0x02020202;
	v[2].peer_index = 2;
	decide(&s, "198.51.100.2", v, 3, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_int_equal(d.result, L2TP_STOPCCN_ERROR);
	assert_non_null(strstr(d.reason, "the hub is full"));
	/* an idle instance is reused */
	b.fsm.state = FSM_T_IDLE;
	v[2].peer = NULL;
	decide(&s, "198.51.100.2", v, 3, false, &d);
	assert_int_equal(d.action, ADM_ACCEPT);
	assert_int_equal(d.tunnel, 2);
	assert_false(d.new_instance);
	/* not while an extra connection of it still holds its ports */
	{
		static struct tun x;
		struct adm_entry w[4] = { v[0], v[1], v[2] };

		responder(&x, 1, FSM_AUTH_NONE, 0);
		conn_set(&x, FSM_T_ESTABLISHED, "198.51.100.4", 1701, 64, FSM_AUTH_NONE, 1);
		entry(&w[3], &x, ADM_BESIDE, 2);
		decide(&s, "198.51.100.2", w, 4, false, &d);
		assert_int_equal(d.action, ADM_REFUSE);
		assert_non_null(strstr(d.reason, "the hub is full"));
	}
	/* its own instance, by Router ID: the group rules (beside it) */
	v[1].hub_router_id = PEER_RID;
	a.peer = addr("198.51.100.2", 1701);
	decide(&s, "198.51.100.2", v, 3, false, &d);
	assert_int_equal(d.action, ADM_REPLACE_AFTER_AUTH);
	assert_int_equal(d.tunnel, 1);
}

static void test_stranger(void **state)
{
	static struct tun t;
	static struct sccrq s;
	struct adm_entry v[1];
	struct adm_decision d;
	struct sockaddr_storage p = addr("198.51.100.2", 1701);

	(void)state;
	responder(&t, 1, FSM_AUTH_NONE, 0);
	t.fconf.peer_router_id = t.cfg.remote_router_id = 0x0b0b0b0b;
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_NONE, "", 13, 71);
	decide(&s, "198.51.100.99", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_int_equal(d.result, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_non_null(strstr(d.reason, "tunnel 1: "));
	assert_false(adm_sccrq_expected(&s.m, &p, v, 1));
	/* no tunnel at all */
	decide(&s, "198.51.100.99", v, 0, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_string_equal(d.reason, "no responder tunnel is configured");
	/* its Router ID configured: expected */
	t.fconf.peer_router_id = t.cfg.remote_router_id = PEER_RID;
	assert_true(adm_sccrq_expected(&s.m, &p, v, 1));
}

/* Issue 15: an IPsec responder whose SA the glue does not know yet
 * (charon asked, no answer since) holds an SCCRQ it would otherwise take,
 * and refuses it as before once charon has answered with no SA, or when
 * the SCCRQ fails another check (a stranger's Router ID); with the SA up
 * it accepts; through another host or port of an SA that is up: refused. */
static void test_ipsec_sa_not_known_yet(void **state)
{
	static struct tun t;
	static struct sccrq s;
	struct adm_entry v[1];
	struct adm_decision d;

	(void)state;
	responder(&t, 1, FSM_AUTH_NONE, 0);
	t.cfg.ipsec.on = true;
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_NONE, "", 21, 91);
	/* the SA not known yet: held */
	v[0].ipsec_refusal = "no SA up";
	v[0].ipsec_wait = true;
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_HOLD);
	assert_int_equal(d.tunnel, 0);
	assert_non_null(strstr(d.reason, "tunnel 1's IPsec SA is not known yet"));
	assert_string_equal(adm_action_name(d.action), "held");
	/* charon answered: still no SA, refused as before */
	v[0].ipsec_wait = false;
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_int_equal(d.result, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_non_null(strstr(d.reason, "not through tunnel 1's IPsec SA (no SA up)"));
	/* the SA up, the SCCRQ through it: accepted */
	v[0].ipsec_refusal = NULL;
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_ACCEPT);
	/* the SA up, the SCCRQ from elsewhere: refused, never held */
	v[0].ipsec_refusal = "another host or port";
	v[0].ipsec_wait = false;
	decide(&s, "198.51.100.9", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_non_null(strstr(d.reason, "another host or port"));
	/* not known yet, but an SCCRQ the tunnel would refuse anyway (another
	 * Router ID): refused at once, with the IPsec reason */
	v[0].ipsec_refusal = "no SA up";
	v[0].ipsec_wait = true;
	t.fconf.peer_router_id = t.cfg.remote_router_id = 0x0b0b0b0b;
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_non_null(strstr(d.reason, "not through tunnel 1's IPsec SA (no SA up)"));
}

static void test_replayed_nonce(void **state)
{
	static struct tun t;
	static struct sccrq s;
	struct adm_entry v[1];
	struct adm_decision d;

	(void)state;
	responder(&t, 1, FSM_AUTH_DIGEST, 0);
	conn_set(&t, FSM_T_ESTABLISHED, "198.51.100.2", 1701, 11, FSM_AUTH_DIGEST, 1);
	entry(&v[0], &t, ADM_TUNNEL, 0);
	make_sccrq(&s, FSM_AUTH_DIGEST, "yamaha", 14, 81);
	decide(&s, "198.51.100.2", v, 1, true, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_int_equal(d.result, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_non_null(strstr(d.reason, "replayed SCCRQ (its nonce was seen before)"));
}

/* The SCCRQ of the current connection: again from its peer it is a
 * retransmission, from anywhere else a replay. */
static void test_retransmission(void **state)
{
	static struct tun t;
	static struct sccrq s;
	struct adm_entry v[1];
	struct adm_decision d;

	(void)state;
	responder(&t, 1, FSM_AUTH_NONE, 0);
	make_sccrq(&s, FSM_AUTH_NONE, "", 15, 91);
	conn_set(&t, FSM_T_WAIT_CTL_CONN, "198.51.100.2", 1701, s.m.assigned_ccid, FSM_AUTH_NONE, 0);
	entry(&v[0], &t, ADM_TUNNEL, 0);
	decide(&s, "198.51.100.2", v, 1, false, &d);
	assert_int_equal(d.action, ADM_RETRANSMIT);
	assert_int_equal(d.tunnel, 0);
	decide(&s, "198.51.100.66", v, 1, false, &d);
	assert_int_equal(d.action, ADM_DROP);
	assert_true(d.replay);
}

/* A peer that leaves each connection after our SCCRP (a wrong secret
 * on a challenge peer): its pending connections are taken over, counted,
 * and after a few the note names the likely cause. */
static void test_abandoned(void **state)
{
	static struct tun t, b, c;
	static struct sccrq s;
	struct adm_entry v[3];
	struct adm_decision d;
	char note[FSM_MISMATCH_MAX];

	(void)state;
	responder(&t, 1, FSM_AUTH_CHALLENGE, 0);
	responder(&b, 1, FSM_AUTH_CHALLENGE, 0);
	responder(&c, 1, FSM_AUTH_CHALLENGE, 0);
	conn_set(&t, FSM_T_WAIT_CTL_CONN, "198.51.100.2", 1701, 101, FSM_AUTH_CHALLENGE, 0);
	conn_set(&b, FSM_T_WAIT_CTL_CONN, "198.51.100.2", 1701, 102, FSM_AUTH_CHALLENGE, 0);
	conn_set(&c, FSM_T_WAIT_CTL_CONN, "198.51.100.2", 1701, 103, FSM_AUTH_CHALLENGE, 0);
	t.fsm.close_until = 1000; /* the oldest, but the tunnel's own */
	b.fsm.close_until = 2000;
	c.fsm.close_until = 3000;
	entry(&v[0], &t, ADM_TUNNEL, 0);
	entry(&v[1], &b, ADM_BESIDE, 0);
	entry(&v[2], &c, ADM_BESIDE, 0);
	make_sccrq(&s, FSM_AUTH_CHALLENGE, "yamaha", 16, 104);
	decide(&s, "198.51.100.2", v, 3, false, &d);
	assert_int_equal(d.action, ADM_ACCEPT);
	assert_int_equal(d.tunnel, 1); /* the oldest extra one */
	assert_true(d.abandoned);
	/* from another host it may not */
	decide(&s, "198.51.100.9", v, 3, false, &d);
	assert_int_equal(d.action, ADM_REFUSE);
	assert_int_equal(d.result, L2TP_STOPCCN_EXISTS);
	adm_abandon_note(ADM_ABANDON_REPORT - 1, &t.fconf, note, sizeof(note));
	assert_string_equal(note, "");
	adm_abandon_note(ADM_ABANDON_REPORT, &t.fconf, note, sizeof(note));
	assert_non_null(strstr(note, "likely a secret or authentication method mismatch"));
	assert_non_null(strstr(note, "method challenge"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_connection),
		cmocka_unit_test(test_second_connection_beside),
		cmocka_unit_test(test_restart_digest),
		cmocka_unit_test(test_restart_challenge),
		cmocka_unit_test(test_spoofed_sccrq),
		cmocka_unit_test(test_simultaneous_open),
		cmocka_unit_test(test_hub),
		cmocka_unit_test(test_stranger),
		cmocka_unit_test(test_replayed_nonce),
		cmocka_unit_test(test_retransmission),
		cmocka_unit_test(test_abandoned),
		cmocka_unit_test(test_ipsec_sa_not_known_yet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
