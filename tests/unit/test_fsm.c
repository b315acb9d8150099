/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the control connection and session state machines
 * (src/fsm/ctrl.c): two tunnels, initiator A and responder B, joined by a
 * link that can drop, duplicate and reorder datagrams, under a virtual
 * clock.  A fake struct fsm_ops captures every datagram sent (decoded with
 * the wire codec for the assertions), hands out counter-based random bytes
 * and session IDs, and records session up/down and events.  Some tests
 * play the peer by hand ("fake peer") to control Ns/Nr exactly.
 *
 * Sections cited are RFC 3931 unless noted; shared/protocol.md §4-§7.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/ctrl.h"
#include "fsm_harness.h"
#include "wire/l2tp_wire.h"

#define QCAP 64 /* datagrams waiting on one side of the link */
#define LOGCAP 1024 /* sent messages remembered per side */
#define EVCAP 256
#define CCID_A 0x0a0a0a0au
#define CCID_B 0x0b0b0b0bu
#define RID_A 0xc0a80001u /* 192.168.0.1 */
#define RID_B 0xc0a80002u

/* ---------------------------------------------------------------------- */
/* harness */

struct pkt {
	size_t len;
	uint64_t due; /* soak: when a late datagram arrives */
	uint8_t buf[L2TP_MAX_MSG_LEN];
};

struct sent {
	uint16_t type, ns, nr;
	uint32_t ccid;
	uint64_t at;
	bool digest;
};

struct world;

struct side {
	struct world *w;
	struct fsm_tunnel t;
	struct fsm_tunnel_conf conf;
	bool fresh; /* t initialised and never opened/accepted */
	struct pkt out[QCAP]; /* sent, not yet delivered (FIFO) */
	size_t nout;
	struct sent log[LOGCAP];
	size_t nlog; /* total sent; log holds the first LOGCAP */
	struct fsm_fake fake; /* the glue's stand-in (fsm_harness.h): its ctx is &fake */
	struct fsm_fake_event ev[EVCAP]; /* fake.ev */
	struct fsm_tunnel_stats total; /* of tunnels re-initialised */
};

static struct world *live; /* the current test's world */

struct world {
	struct side a, b;
	uint64_t now;
	uint32_t next_ccid;
	int last_check; /* fsm_sccrq_check result of the last SCCRQ delivered */
	char last_why[256];
	unsigned unknown_ccid; /* datagrams for no tunnel */
};

static void failed(const char *what)
{
	fail_msg("%s", what);
}

/* What a side sent: queued for the link, and remembered in its log. */
static void on_sent(struct fsm_fake *f, struct fsm_tunnel *t, const uint8_t *buf, size_t len,
		    const struct l2tp_msg *m)
{
	struct side *s = (struct side *)((char *)f - offsetof(struct side, fake));

	assert_ptr_equal(t, &s->t);
	assert_true(s->nout < QCAP);
	memcpy(s->out[s->nout].buf, buf, len);
	s->out[s->nout++].len = len;
	if (s->nlog < LOGCAP)
		s->log[s->nlog] = (struct sent){ .type = m->type, .ns = m->ns, .nr = m->nr, .ccid = m->ccid,
						 .at = s->w->now, .digest = m->n_digests > 0 };
	s->nlog++;
}

static void conf_init(struct fsm_tunnel_conf *c, bool initiator, enum fsm_auth auth, const char *secret)
{
	memset(c, 0, sizeof(*c));
	c->id = initiator ? 1 : 2;
	c->initiator = initiator;
	snprintf(c->host_name, sizeof(c->host_name), "%s", initiator ? "rtA" : "rtB");
	c->router_id = initiator ? RID_A : RID_B;
	c->auth = auth;
	if (secret) {
		c->secret_len = strlen(secret);
		memcpy(c->secret, secret, c->secret_len);
	}
	memcpy(c->end_id, "vpn1", 4);
	c->end_id_len = 4;
}

/* Forget s->t (the glue starting over), keeping its counters. */
static void side_reinit(struct world *w, struct side *s)
{
	s->total.retransmissions += s->t.stats.retransmissions;
	s->total.rx_duplicates += s->t.stats.rx_duplicates;
	s->total.rx_out_of_order += s->t.stats.rx_out_of_order;
	s->total.auth_failures += s->t.stats.auth_failures;
	fsm_tunnel_release(&s->t);
	fsm_tunnel_init(&s->t, &s->conf, w->next_ccid++, &fsm_fake_ops, &s->fake);
}

static void side_init(struct world *w, struct side *s, uint32_t ccid)
{
	s->w = w;
	fsm_tunnel_init(&s->t, &s->conf, ccid, &fsm_fake_ops, &s->fake);
	s->fresh = true;
}

/* A world with both confs set up; tweak w->a.conf / w->b.conf, then start(). */
static struct world *world_new(enum fsm_auth auth, const char *secret_a, const char *secret_b)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->next_ccid = 0x100;
	w->a.fake.rnd_seed = 0x11;
	w->b.fake.rnd_seed = 0x77;
	w->a.fake.next_sid = 0x1001;
	w->b.fake.next_sid = 0x2001;
	for (struct side *s = &w->a; s; s = s == &w->a ? &w->b : NULL) {
		s->fake.rnd_mul = 37;
		s->fake.sent = on_sent;
		s->fake.fail = failed;
		s->fake.ev = s->ev;
		s->fake.evcap = EVCAP;
	}
	assert_null(live);
	live = w;
	conf_init(&w->a.conf, true, auth, secret_a);
	conf_init(&w->b.conf, false, auth, secret_b);
	return w;
}

static void start(struct world *w)
{
	side_init(w, &w->a, CCID_A);
	side_init(w, &w->b, CCID_B);
}

static void world_free(struct world *w)
{
	fsm_tunnel_release(&w->a.t);
	fsm_tunnel_release(&w->b.t);
	free(w);
	live = NULL;
}

/* Frees the world of a test that failed half-way (ASan stays quiet). */
static int teardown(void **state)
{
	(void)state;
	if (live)
		world_free(live);
	return 0;
}

static struct side *peer_of(struct world *w, struct side *s)
{
	return s == &w->a ? &w->b : &w->a;
}

static void open_a(struct world *w)
{
	assert_int_equal(fsm_tunnel_open(&w->a.t, w->now), 0);
	w->a.fresh = false;
}

/* Deliver one datagram to side `to`, routing it as the daemon does
 * (daemon.c handle_ctrl/handle_sccrq): SCCRQ with CCID 0 -> retransmission
 * of the current connection, or fsm_sccrq_check + fsm_tunnel_accept
 * (replacing any old connection); otherwise by header CCID. */
static void deliver(struct world *w, struct side *to, const uint8_t *buf, size_t len)
{
	struct l2tp_msg m;

	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), 0);
	if (m.ccid == 0 && m.type == L2TP_MSG_SCCRQ && !to->conf.initiator) {
		if (to->t.state != FSM_T_IDLE && to->t.remote_ccid == m.assigned_ccid) {
			fsm_tunnel_input(&to->t, &m, buf, len, w->now);
			return;
		}
		w->last_why[0] = '\0';
		w->last_check = fsm_sccrq_check(&to->conf, &m, buf, len, w->last_why, sizeof(w->last_why));
		if (w->last_check) {
			struct pkt *p;
			int n;

			assert_true(to->nout < QCAP);
			p = &to->out[to->nout];
			n = fsm_stateless_stopccn(&m, (uint16_t)w->last_check, "not authorized", p->buf,
						  sizeof(p->buf));
			assert_true(n > 0);
			p->len = (size_t)n;
			to->nout++;
			return;
		}
		if (!to->fresh)
			side_reinit(w, to);
		to->fresh = false;
		assert_int_equal(fsm_tunnel_accept(&to->t, &m, buf, len, w->now), 0);
		return;
	}
	if (m.ccid && m.ccid == to->t.local_ccid && to->t.state != FSM_T_IDLE) {
		fsm_tunnel_input(&to->t, &m, buf, len, w->now);
		return;
	}
	w->unknown_ccid++;
}

static void pop(struct side *s, struct pkt *p)
{
	assert_true(s->nout > 0);
	*p = s->out[0];
	s->nout--;
	memmove(&s->out[0], &s->out[1], s->nout * sizeof(s->out[0]));
}

/* Move the oldest datagram `from` sent to its peer; decoded copy in m. */
static void xfer(struct world *w, struct side *from, struct l2tp_msg *m)
{
	static struct pkt p;

	pop(from, &p);
	assert_int_equal(l2tp_ctrl_decode(p.buf, p.len, m), 0);
	deliver(w, peer_of(w, from), p.buf, p.len);
}

static void drop(struct side *s, struct l2tp_msg *m)
{
	static struct pkt p;

	pop(s, &p);
	if (m)
		assert_int_equal(l2tp_ctrl_decode(p.buf, p.len, m), 0);
}

/* Peek at the i-th pending datagram of s. */
static void peek(struct side *s, size_t i, struct l2tp_msg *m)
{
	assert_true(i < s->nout);
	assert_int_equal(l2tp_ctrl_decode(s->out[i].buf, s->out[i].len, m), 0);
}

static void flush(struct world *w)
{
	struct l2tp_msg m;

	for (int guard = 0; w->a.nout || w->b.nout; guard++) {
		assert_true(guard < 10000);
		if (w->a.nout)
			xfer(w, &w->a, &m);
		if (w->b.nout)
			xfer(w, &w->b, &m);
	}
}

enum link_mode { HOLD, FLUSH, DROP };

/* Advance the clock to `until`, ticking each tunnel at its deadline;
 * datagrams are delivered (FLUSH), discarded (DROP) or left (HOLD). */
static void run(struct world *w, uint64_t until, enum link_mode mode)
{
	for (int guard = 0;; guard++) {
		uint64_t da, db, d;

		assert_true(guard < 100000);
		if (mode == FLUSH)
			flush(w);
		if (mode == DROP)
			w->a.nout = w->b.nout = 0;
		da = fsm_tunnel_deadline(&w->a.t);
		db = fsm_tunnel_deadline(&w->b.t);
		d = da < db ? da : db;
		if (d > until) {
			w->now = until;
			return;
		}
		if (d > w->now)
			w->now = d;
		if (da <= w->now)
			fsm_tunnel_tick(&w->a.t, w->now);
		if (db <= w->now)
			fsm_tunnel_tick(&w->b.t, w->now);
	}
}

/* Bring both up over a perfect link and let the last ACK go. */
static void establish(struct world *w)
{
	open_a(w);
	flush(w);
	run(w, w->now + 100, FLUSH);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.t.n_sessions, 1);
	assert_int_equal(w->b.t.n_sessions, 1);
	assert_int_equal(w->a.t.sessions[0].state, FSM_S_ESTABLISHED);
	assert_int_equal(w->b.t.sessions[0].state, FSM_S_ESTABLISHED);
	assert_int_equal(w->a.t.txq_len, 0);
	assert_int_equal(w->b.t.txq_len, 0);
}

static size_t count_sent(const struct side *s, uint16_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nlog && i < LOGCAP; i++)
		n += s->log[i].type == type;
	return n;
}

static size_t count_ev(const struct side *s, enum fsm_event_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < s->fake.nev && i < EVCAP; i++)
		n += s->ev[i].kind == kind;
	return n;
}

static bool has_ev(const struct side *s, enum fsm_event_kind kind, const char *needle)
{
	for (size_t i = 0; i < s->fake.nev && i < EVCAP; i++)
		if (s->ev[i].kind == kind && strstr(s->ev[i].reason, needle))
			return true;
	return false;
}

static void expect_hdr(const struct l2tp_msg *m, uint16_t type, uint32_t ccid, uint16_t ns, uint16_t nr)
{
	assert_int_equal(m->type, type);
	assert_int_equal(m->ccid, ccid);
	assert_int_equal(m->ns, ns);
	assert_int_equal(m->nr, nr);
}

/* Fake peer: a message to encode by hand. */
static void mk(struct l2tp_msg *m, uint16_t type, uint32_t ccid, uint16_t ns, uint16_t nr)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	l2tp_msg_set(m, L2TP_AVP_MESSAGE_TYPE);
	m->ccid = ccid;
	m->ns = ns;
	m->nr = nr;
}

static void mk_sids(struct l2tp_msg *m, uint32_t local, uint32_t remote)
{
	l2tp_msg_set(m, L2TP_AVP_LOCAL_SESSION_ID);
	m->local_session_id = local;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_SESSION_ID);
	m->remote_session_id = remote;
}

static void mk_identity(struct l2tp_msg *m, const char *host, uint32_t rid, uint32_t ccid, uint16_t rws)
{
	l2tp_msg_set(m, L2TP_AVP_HOST_NAME);
	snprintf(m->host_name, sizeof(m->host_name), "%s", host);
	l2tp_msg_set(m, L2TP_AVP_ROUTER_ID);
	m->router_id = rid;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_CCID);
	m->assigned_ccid = ccid;
	l2tp_msg_set(m, L2TP_AVP_PW_CAPABILITIES);
	m->pw_caps[0] = L2TP_PW_TYPE_ETH;
	m->n_pw_caps = 1;
	if (rws) {
		l2tp_msg_set(m, L2TP_AVP_RECV_WINDOW);
		m->recv_window = rws;
	}
}

/* An ICRQ from the fake peer "A" that B accepts. */
static void mk_icrq(struct l2tp_msg *m, uint16_t ns, uint16_t nr, uint32_t sid)
{
	mk(m, L2TP_MSG_ICRQ, CCID_B, ns, nr);
	mk_sids(m, sid, 0);
	l2tp_msg_set(m, L2TP_AVP_PW_TYPE);
	m->pw_type = L2TP_PW_TYPE_ETH;
	l2tp_msg_set(m, L2TP_AVP_REMOTE_END_ID);
	memcpy(m->remote_end_id, "vpn1", 4);
	m->remote_end_id_len = 4;
}

/* Pseudowires "pw2".."pw8" besides "vpn1" (FSM_MAX_PW in all). */
static void conf_pws(struct fsm_tunnel_conf *c, size_t n)
{
	c->n_pws = n;
	for (size_t i = 0; i < n; i++) {
		c->pws[i].end_id_len = (size_t)snprintf((char *)c->pws[i].end_id, sizeof(c->pws[i].end_id), "pw%zu",
							i + 2);
	}
}

/* An ICRQ for pseudowire pw (0: "vpn1", else "pw<pw+1>"). */
static void mk_icrq_pw(struct l2tp_msg *m, uint16_t ns, uint16_t nr, uint32_t sid, unsigned pw)
{
	mk_icrq(m, ns, nr, sid);
	if (pw)
		m->remote_end_id_len = (size_t)snprintf((char *)m->remote_end_id, sizeof(m->remote_end_id), "pw%u",
							pw + 1);
}

/* Encode m and deliver it to `to`. */
static void inject(struct world *w, struct side *to, struct l2tp_msg *m)
{
	uint8_t buf[L2TP_MAX_MSG_LEN];
	int n = l2tp_ctrl_encode(m, buf, sizeof(buf));

	assert_true(n > 0);
	deliver(w, to, buf, (size_t)n);
}

/* Fake peer "A" (CCID_A) talking to a real responder B; returns after B
 * is established.  Our Ns continues at 2, B's at 1. */
static void fake_establish_b(struct world *w, uint16_t rws)
{
	struct l2tp_msg m;

	mk(&m, L2TP_MSG_SCCRQ, 0, 0, 0);
	mk_identity(&m, "fake", RID_A, CCID_A, rws);
	inject(w, &w->b, &m);
	assert_int_equal(w->last_check, 0);
	assert_int_equal(w->b.t.state, FSM_T_WAIT_CTL_CONN);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_SCCRP, CCID_A, 0, 1);
	mk(&m, L2TP_MSG_SCCCN, CCID_B, 1, 1);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
}

/* ---------------------------------------------------------------------- */
/* set-up */

static void check_identity(const struct l2tp_msg *m, const char *host, uint32_t rid, uint32_t ccid)
{
	assert_true(l2tp_msg_has(m, L2TP_AVP_HOST_NAME));
	assert_string_equal(m->host_name, host);
	assert_true(l2tp_msg_has(m, L2TP_AVP_ROUTER_ID));
	assert_int_equal(m->router_id, rid);
	assert_true(l2tp_msg_has(m, L2TP_AVP_ASSIGNED_CCID));
	assert_int_equal(m->assigned_ccid, ccid);
	assert_true(l2tp_msg_has(m, L2TP_AVP_PW_CAPABILITIES));
	assert_int_equal(m->n_pw_caps, 1);
	assert_int_equal(m->pw_caps[0], L2TP_PW_TYPE_ETH);
}

static void check_no_session_extras(const struct l2tp_msg *m)
{
	assert_false(l2tp_msg_has(m, L2TP_AVP_ASSIGNED_COOKIE));
	assert_false(l2tp_msg_has(m, L2TP_AVP_L2SS));
}

/* Check the digest of a message from `from` with the nonces of both ends
 * (shared/protocol.md §6.1); the SCCRQ is signed without nonces. */
static void check_digest(struct world *w, struct side *from, const struct l2tp_msg *m)
{
	struct side *to = peer_of(w, from);
	uint8_t key[16];
	uint8_t buf[L2TP_MAX_MSG_LEN];
	struct l2tp_msg mm = *m;
	int n;

	assert_int_equal(m->n_digests, 1);
	/* re-encoding our decoded copy gives the same bytes, digest zeroed */
	n = l2tp_ctrl_encode(&mm, buf, sizeof(buf));
	assert_true(n > 0);
	memcpy(buf + mm.digest_off[0] + 1, m->digest[0], 16);
	l2tp_auth_shared_key(from->conf.secret, from->conf.secret_len, key);
	if (m->type == L2TP_MSG_SCCRQ)
		assert_true(l2tp_auth_digest_verify(key, NULL, 0, NULL, 0, buf, (size_t)n, &mm));
	else
		assert_true(l2tp_auth_digest_verify(key, from->t.nonce, 16, to->t.nonce, 16, buf, (size_t)n, &mm));
}

/* RFC 3931 §3.3, §6.1-§6.3, §6.6-§6.8, App. B.1: SCCRQ/SCCRP/SCCCN then
 * ICRQ/ICRP/ICCN, Ns/Nr as in App. B, every AVP we need and none we don't. */
static void happy_path(enum fsm_auth auth)
{
	struct world *w = world_new(auth, auth ? "yamaha" : NULL, auth ? "yamaha" : NULL);
	struct l2tp_msg m;
	uint32_t sid_a, sid_b;

	w->a.conf.check_peer_router_id = true;
	w->a.conf.peer_router_id = RID_B;
	w->b.conf.check_peer_router_id = true;
	w->b.conf.peer_router_id = RID_A;
	start(w);

	open_a(w);
	assert_int_equal(w->a.t.state, FSM_T_WAIT_CTL_REPLY);
	assert_int_equal(fsm_tunnel_open(&w->a.t, w->now), -EBUSY);

	/* SCCRQ: CCID 0, Ns 0, Nr 0 */
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_SCCRQ, 0, 0, 0);
	check_identity(&m, "rtA", RID_A, CCID_A);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_RECV_WINDOW));
	assert_int_equal(m.recv_window, FSM_RECV_WINDOW);
	assert_int_equal(l2tp_msg_has(&m, L2TP_AVP_NONCE), auth == FSM_AUTH_DIGEST);
	assert_int_equal(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE), auth == FSM_AUTH_CHALLENGE);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE_RESPONSE));
	if (auth == FSM_AUTH_DIGEST)
		check_digest(w, &w->a, &m);
	else
		assert_int_equal(m.n_digests, 0);
	xfer(w, &w->a, &m);
	assert_int_equal(w->last_check, 0);
	assert_int_equal(w->b.t.state, FSM_T_WAIT_CTL_CONN);
	assert_int_equal(w->b.t.remote_ccid, CCID_A);
	assert_int_equal(w->b.t.auth, auth);

	/* SCCRP: to A's CCID, Ns 0, Nr 1 */
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_SCCRP, CCID_A, 0, 1);
	check_identity(&m, "rtB", RID_B, CCID_B);
	assert_int_equal(l2tp_msg_has(&m, L2TP_AVP_NONCE), auth == FSM_AUTH_DIGEST);
	assert_int_equal(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE), auth == FSM_AUTH_CHALLENGE);
	assert_int_equal(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE_RESPONSE), auth == FSM_AUTH_CHALLENGE);
	xfer(w, &w->b, &m);
	if (auth == FSM_AUTH_DIGEST)
		check_digest(w, &w->b, &m);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.t.remote_ccid, CCID_B);
	assert_string_equal(w->a.t.peer_host_name, "rtB");
	assert_int_equal(w->a.t.peer_router_id, RID_B);
	/* slow start: the SCCRP acked the SCCRQ, cwnd 2: SCCCN and ICRQ go together */
	assert_int_equal(w->a.t.cwnd, 2);
	assert_int_equal(w->a.nout, 2);

	/* SCCCN: Ns 1, Nr 1 */
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_SCCCN, CCID_B, 1, 1);
	assert_int_equal(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE_RESPONSE), auth == FSM_AUTH_CHALLENGE);
	if (auth == FSM_AUTH_DIGEST)
		check_digest(w, &w->a, &m);
	xfer(w, &w->a, &m);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.txq_len, 0); /* SCCRP acked by the SCCCN's Nr */

	/* ICRQ: Ns 2, Nr 1 */
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_ICRQ, CCID_B, 2, 1);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_LOCAL_SESSION_ID));
	sid_a = m.local_session_id;
	assert_int_equal(sid_a, 0x1001);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_REMOTE_SESSION_ID));
	assert_int_equal(m.remote_session_id, 0);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_SERIAL_NUMBER));
	assert_true(l2tp_msg_has(&m, L2TP_AVP_PW_TYPE));
	assert_int_equal(m.pw_type, L2TP_PW_TYPE_ETH);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_REMOTE_END_ID));
	assert_int_equal(m.remote_end_id_len, 4);
	assert_memory_equal(m.remote_end_id, "vpn1", 4);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_CIRCUIT_STATUS));
	assert_true(m.circuit_status & L2TP_CIRCUIT_ACTIVE);
	check_no_session_extras(&m);
	if (auth == FSM_AUTH_DIGEST)
		check_digest(w, &w->a, &m);
	xfer(w, &w->a, &m);

	/* ICRP: Ns 1, Nr 3 */
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_ICRP, CCID_A, 1, 3);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_LOCAL_SESSION_ID));
	sid_b = m.local_session_id;
	assert_int_equal(sid_b, 0x2001);
	assert_int_equal(m.remote_session_id, sid_a);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_CIRCUIT_STATUS));
	check_no_session_extras(&m);
	assert_int_equal(w->b.t.sessions[0].state, FSM_S_WAIT_CONNECT);
	assert_int_equal(w->b.fake.ups, 0);
	xfer(w, &w->b, &m);
	if (auth == FSM_AUTH_DIGEST)
		check_digest(w, &w->b, &m);
	assert_int_equal(w->a.fake.ups, 1);
	assert_int_equal(w->a.fake.up_local, sid_a);
	assert_int_equal(w->a.fake.up_remote, sid_b);

	/* ICCN: Ns 3, Nr 2 */
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_ICCN, CCID_B, 3, 2);
	assert_int_equal(m.local_session_id, sid_a);
	assert_int_equal(m.remote_session_id, sid_b);
	check_no_session_extras(&m);
	if (auth == FSM_AUTH_DIGEST)
		check_digest(w, &w->a, &m);
	xfer(w, &w->a, &m);
	assert_int_equal(w->b.fake.ups, 1);
	assert_int_equal(w->b.fake.up_local, sid_b);
	assert_int_equal(w->b.fake.up_remote, sid_a);
	assert_int_equal(w->a.nout + w->b.nout, 0);

	/* B owes an ACK, explicit, 50 ms later (§4.2; ZLB never with digests) */
	run(w, w->now + FSM_ACK_DELAY_MS - 1, HOLD);
	assert_int_equal(w->b.nout, 0);
	run(w, w->now + 1, HOLD);
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_ACK, CCID_A, 2, 4);
	if (auth == FSM_AUTH_DIGEST)
		check_digest(w, &w->b, &m);
	xfer(w, &w->b, &m);
	assert_int_equal(w->a.t.txq_len, 0);
	assert_int_equal(w->b.t.txq_len, 0);
	run(w, w->now + 10000, FLUSH); /* nothing more to say without keepalive */
	assert_int_equal(w->a.nlog, 4); /* SCCRQ SCCCN ICRQ ICCN */
	assert_int_equal(w->b.nlog, 3); /* SCCRP ICRP ACK */

	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.t.sessions[0].state, FSM_S_ESTABLISHED);
	assert_int_equal(w->b.t.sessions[0].state, FSM_S_ESTABLISHED);
	assert_int_equal(w->a.fake.ups, 1);
	assert_int_equal(w->b.fake.ups, 1);
	assert_int_equal(w->a.fake.downs + w->b.fake.downs, 0);
	assert_int_equal(w->a.t.stats.established_count, 1);
	assert_int_equal(w->b.t.stats.established_count, 1);
	assert_int_equal(w->a.t.stats.retransmissions + w->b.t.stats.retransmissions, 0);
	assert_int_equal(w->a.t.stats.auth_failures + w->b.t.stats.auth_failures, 0);
	/* a Message Digest on every message with digest auth, none without;
	 * acknowledgements are explicit ACKs, never ZLBs (§6.15) */
	for (size_t i = 0; i < w->a.nlog; i++) {
		assert_int_equal(w->a.log[i].digest, auth == FSM_AUTH_DIGEST);
		assert_int_not_equal(w->a.log[i].type, L2TP_MSG_ZLB);
	}
	for (size_t i = 0; i < w->b.nlog; i++) {
		assert_int_equal(w->b.log[i].digest, auth == FSM_AUTH_DIGEST);
		assert_int_not_equal(w->b.log[i].type, L2TP_MSG_ZLB);
	}
	world_free(w);
}

static void test_happy_path_no_auth(void **state)
{
	(void)state;
	happy_path(FSM_AUTH_NONE);
}

static void test_happy_path_digest(void **state)
{
	(void)state;
	happy_path(FSM_AUTH_DIGEST);
}

static void test_happy_path_challenge(void **state)
{
	(void)state;
	happy_path(FSM_AUTH_CHALLENGE);
}

/* ---------------------------------------------------------------------- */
/* authentication */

/* §4.3, §5.4.1: a message whose digest does not verify is dropped without
 * any effect; the genuine copy still works afterwards. */
static void test_digest_tampered_message_dropped(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "yamaha", "yamaha");
	struct l2tp_msg m;
	struct pkt p, bad;
	uint16_t nr;

	(void)state;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	xfer(w, &w->b, &m);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);

	/* SCCCN with one bit of its Nr flipped: dropped, B unchanged */
	pop(&w->a, &p);
	bad = p;
	bad.buf[11] ^= 0x01;
	nr = w->b.t.nr;
	deliver(w, &w->b, bad.buf, bad.len);
	assert_int_equal(w->b.t.state, FSM_T_WAIT_CTL_CONN);
	assert_int_equal(w->b.t.stats.auth_failures, 1);
	assert_int_equal(w->b.t.nr, nr);
	assert_int_equal(w->b.t.txq_len, 1); /* the SCCRP is still unacked */
	assert_true(has_ev(&w->b, FSM_EV_AUTH_FAILED, "authentication failed"));
	assert_int_equal(w->b.nout, 0);

	/* a flipped digest byte: same */
	bad = p;
	assert_int_equal(l2tp_ctrl_decode(bad.buf, bad.len, &m), 0);
	bad.buf[m.digest_off[0] + 5] ^= 0x80;
	deliver(w, &w->b, bad.buf, bad.len);
	assert_int_equal(w->b.t.state, FSM_T_WAIT_CTL_CONN);
	assert_int_equal(w->b.t.stats.auth_failures, 2);

	/* the genuine one */
	deliver(w, &w->b, p.buf, p.len);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);

	/* ICRQ with a byte of its Remote End ID changed: no session */
	pop(&w->a, &p);
	assert_int_equal(l2tp_ctrl_decode(p.buf, p.len, &m), 0);
	assert_int_equal(m.type, L2TP_MSG_ICRQ);
	bad = p;
	bad.buf[bad.len - 1] ^= 0x20; /* last AVP byte */
	deliver(w, &w->b, bad.buf, bad.len);
	assert_int_equal(w->b.t.n_sessions, 0);
	assert_int_equal(w->b.t.stats.auth_failures, 3);
	deliver(w, &w->b, p.buf, p.len);
	assert_int_equal(w->b.t.n_sessions, 1);
	flush(w);
	run(w, w->now + 100, FLUSH);
	assert_int_equal(w->a.fake.ups, 1);
	assert_int_equal(w->b.fake.ups, 1);
	world_free(w);
}

/* §4.3: different secrets: the digest over the SCCRQ does not verify. */
static void test_digest_wrong_secret_refused(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "yamaha", "cisco");
	struct l2tp_msg m;

	(void)state;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	assert_int_equal(w->last_check, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_non_null(strstr(w->last_why, "authentication failed"));
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	/* the glue's stateless StopCCN stops A */
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_A, 0, 1);
	assert_int_equal(m.result_code, L2TP_STOPCCN_NOT_AUTHORIZED);
	xfer(w, &w->b, &m);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_non_null(strstr(w->a.t.reason, "result 4"));
	world_free(w);
}

/* RFC 2661 §4.4.3 (shared/protocol.md §6.2): the initiator refuses an SCCRP
 * with a wrong Challenge Response: StopCCN result 4, CLOSING. */
static void test_challenge_wrong_secret_initiator_refuses(void **state)
{
	struct world *w = world_new(FSM_AUTH_CHALLENGE, "yamaha", "cisco");
	struct l2tp_msg m;

	(void)state;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	assert_int_equal(w->last_check, 0); /* checked when the response comes */
	xfer(w, &w->b, &m);
	assert_int_equal(w->a.t.state, FSM_T_CLOSING);
	assert_int_equal(w->a.t.stats.auth_failures, 1);
	assert_true(has_ev(&w->a, FSM_EV_AUTH_FAILED, "Challenge Response"));
	assert_int_equal(w->a.nout, 1);
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_B, 1, 1);
	assert_int_equal(m.result_code, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID));
	assert_int_equal(m.assigned_ccid, CCID_A);
	assert_int_equal(w->a.t.down_result, L2TP_STOPCCN_NOT_AUTHORIZED);
	/* B acks it and goes idle; the ACK lets A go idle */
	xfer(w, &w->a, &m);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	xfer(w, &w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_ACK);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->a.fake.ups + w->b.fake.ups, 0);
	world_free(w);
}

/* The responder refuses an SCCCN whose Challenge Response is wrong. */
static void test_challenge_bad_scccn_responder_refuses(void **state)
{
	struct world *w = world_new(FSM_AUTH_CHALLENGE, "yamaha", "yamaha");
	struct l2tp_msg m;
	struct pkt p;

	(void)state;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	xfer(w, &w->b, &m);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	drop(&w->a, &m);
	assert_int_equal(m.type, L2TP_MSG_SCCCN);
	m.challenge_response[0] ^= 1;
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	assert_int_equal(w->b.t.stats.auth_failures, 1);
	pop(&w->b, &p);
	assert_int_equal(l2tp_ctrl_decode(p.buf, p.len, &m), 0);
	assert_int_equal(m.type, L2TP_MSG_STOPCCN);
	assert_int_equal(m.result_code, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_int_equal(m.ccid, CCID_A);

	/* missing response: refused too */
	world_free(w);
	w = world_new(FSM_AUTH_CHALLENGE, "yamaha", "yamaha");
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	xfer(w, &w->b, &m);
	drop(&w->a, &m);
	mk(&m, L2TP_MSG_SCCCN, CCID_B, 1, 1);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	world_free(w);
}

/* §6.3 of protocol.md: "both directions or neither": auth on one side only
 * is refused, whichever side. */
static void test_auth_one_side_only_refused(void **state)
{
	struct world *w;
	struct l2tp_msg m;

	(void)state;
	/* initiator without auth, responder with */
	for (int mode = FSM_AUTH_DIGEST; mode <= FSM_AUTH_CHALLENGE; mode++) {
		w = world_new(FSM_AUTH_NONE, NULL, "yamaha");
		w->b.conf.auth = (enum fsm_auth)mode;
		start(w);
		open_a(w);
		xfer(w, &w->a, &m);
		assert_int_equal(w->last_check, L2TP_STOPCCN_NOT_AUTHORIZED);
		assert_non_null(strstr(w->last_why, "authentication failed"));
		world_free(w);
	}
	/* initiator with auth, responder without */
	for (int mode = FSM_AUTH_DIGEST; mode <= FSM_AUTH_CHALLENGE; mode++) {
		w = world_new((enum fsm_auth)mode, "yamaha", NULL);
		w->b.conf.auth = FSM_AUTH_NONE;
		start(w);
		open_a(w);
		xfer(w, &w->a, &m);
		assert_int_equal(w->last_check, L2TP_STOPCCN_NOT_AUTHORIZED);
		assert_non_null(strstr(w->last_why, "requires authentication"));
		world_free(w);
	}
	/* an SCCRP with a Nonce to an initiator without auth */
	w = world_new(FSM_AUTH_NONE, NULL, NULL);
	start(w);
	open_a(w);
	drop(&w->a, NULL);
	mk(&m, L2TP_MSG_SCCRP, CCID_A, 0, 1);
	mk_identity(&m, "fake", RID_B, CCID_B, 0);
	l2tp_msg_set(&m, L2TP_AVP_NONCE);
	memset(m.nonce, 0x42, 16);
	m.nonce_len = 16;
	inject(w, &w->a, &m);
	assert_int_equal(w->a.t.state, FSM_T_CLOSING);
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_B, 1, 1);
	assert_int_equal(m.result_code, L2TP_STOPCCN_NOT_AUTHORIZED);
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* identity checks */

/* Router ID (§5.4.3 AVP 60) checked by the responder on the SCCRQ. */
static void test_router_id_mismatch_sccrq(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	w->b.conf.check_peer_router_id = true;
	w->b.conf.peer_router_id = RID_A + 1;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	assert_int_equal(w->last_check, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_non_null(strstr(w->last_why, "Router ID 192.168.0.1"));
	assert_non_null(strstr(w->last_why, "192.168.0.2"));
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	world_free(w);
}

/* ... and by the initiator on the SCCRP: StopCCN result 4 (§7.2). */
static void test_router_id_mismatch_sccrp(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	w->a.conf.check_peer_router_id = true;
	w->a.conf.peer_router_id = 0x0a000001;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	xfer(w, &w->b, &m);
	assert_int_equal(w->a.t.state, FSM_T_CLOSING);
	assert_non_null(strstr(w->a.t.reason, "Router ID"));
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_B, 1, 1);
	assert_int_equal(m.result_code, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_int_equal(m.assigned_ccid, CCID_A);
	assert_int_equal(w->a.t.stats.auth_failures, 0); /* not an auth failure */
	flush(w);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_non_null(strstr(w->b.t.reason, "result 4"));
	world_free(w);
}

/* §5.4.4 Remote End ID, §7.3: the responder refuses the ICRQ with a CDN;
 * the initiator, left without a session, clears the connection (StopCCN 1). */
static void test_remote_end_id_mismatch(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	memcpy(w->b.conf.end_id, "vpn2", 4);
	start(w);
	open_a(w);
	xfer(w, &w->a, &m); /* SCCRQ */
	xfer(w, &w->b, &m); /* SCCRP */
	xfer(w, &w->a, &m); /* SCCCN */
	xfer(w, &w->a, &m); /* ICRQ */
	assert_int_equal(w->b.t.n_sessions, 0);
	assert_true(has_ev(&w->b, FSM_EV_SESSION_REFUSED, "vpn1"));
	assert_true(has_ev(&w->b, FSM_EV_SESSION_REFUSED, "vpn2"));
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_CDN, CCID_A, 1, 3);
	assert_int_equal(m.local_session_id, 0);
	assert_int_equal(m.remote_session_id, 0x1001);
	assert_int_equal(m.result_code, L2TP_CDN_ERROR);
	xfer(w, &w->b, &m);
	assert_int_equal(w->a.t.n_sessions, 0);
	assert_int_equal(w->a.fake.downs, 0); /* never up */
	assert_int_equal(w->a.t.state, FSM_T_CLOSING);
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_B, 3, 2);
	assert_int_equal(m.result_code, L2TP_STOPCCN_CLEAR);
	flush(w);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_int_equal(w->a.fake.ups + w->b.fake.ups, 0);
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* reliable delivery (§4.2, App. A, App. B; protocol.md §4) */

static void test_lost_sccrq_retransmitted(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	start(w);
	open_a(w);
	drop(&w->a, NULL);
	run(w, 999, HOLD);
	assert_int_equal(w->a.nout, 0);
	run(w, 1000, HOLD);
	assert_int_equal(w->a.nout, 1);
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_SCCRQ, 0, 0, 0);
	assert_int_equal(w->a.t.stats.retransmissions, 1);
	assert_int_equal(w->a.t.cwnd, 1);
	flush(w);
	run(w, 1100, FLUSH);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.fake.ups, 1);
	assert_int_equal(w->b.fake.ups, 1);
	world_free(w);
}

/* A lost SCCRP (digest auth): B resends it; A's own SCCRQ retransmission
 * meanwhile is a duplicate for B: its digest (no nonces, §4.3) verifies,
 * it is ACKed (§4.2) and not accepted twice. */
static void test_lost_sccrp_retransmitted(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "s", "s");
	struct l2tp_msg m;

	(void)state;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	drop(&w->b, NULL);
	run(w, 1000, HOLD);
	assert_int_equal(w->a.nout, 1);
	assert_int_equal(w->b.nout, 1);
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_SCCRP, CCID_A, 0, 1);
	/* the retransmitted SCCRQ reaches B: duplicate, ACKed at once */
	xfer(w, &w->a, &m);
	assert_int_equal(w->b.t.stats.rx_duplicates, 1);
	assert_int_equal(w->b.t.local_ccid, CCID_B);
	assert_int_equal(w->b.nout, 2);
	peek(&w->b, 1, &m);
	expect_hdr(&m, L2TP_MSG_ACK, CCID_A, 1, 1);
	assert_int_equal(m.n_digests, 1);
	/* A cannot verify that ACK before it has B's nonce (it comes in the
	 * SCCRP): dropped quietly, not an authentication failure */
	deliver(w, &w->a, w->b.out[1].buf, w->b.out[1].len);
	w->b.nout = 1;
	assert_int_equal(w->a.t.state, FSM_T_WAIT_CTL_REPLY);
	assert_int_equal(w->a.t.stats.auth_failures, 0);
	assert_true(has_ev(&w->a, FSM_EV_PROTOCOL, "cannot be authenticated yet"));
	assert_int_equal(w->a.t.txq_len, 1);
	flush(w);
	run(w, 1100, FLUSH);
	assert_int_equal(w->a.t.stats.auth_failures + w->b.t.stats.auth_failures, 0);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.t.stats.established_count, 1);
	assert_int_equal(w->b.t.stats.established_count, 1);
	world_free(w);
}

/* fsm_tunnel_input says what it did with each message (issue 16, 6a):
 * taken, duplicate, an acknowledgement, or dropped as not authentic. */
static void test_input_result(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "s", "s");
	struct l2tp_msg m;
	struct pkt p, bad;

	(void)state;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m); /* SCCRQ */
	xfer(w, &w->b, &m); /* SCCRP */
	pop(&w->a, &p); /* SCCCN */
	bad = p;
	bad.buf[bad.len - 1] ^= 1; /* inside the last AVP: the digest no longer verifies */
	assert_int_equal(l2tp_ctrl_decode(bad.buf, bad.len, &m), 0);
	assert_int_equal(fsm_tunnel_input(&w->b.t, &m, bad.buf, bad.len, w->now), FSM_IN_AUTH_FAILED);
	assert_int_equal(w->b.t.state, FSM_T_WAIT_CTL_CONN);
	assert_int_equal(l2tp_ctrl_decode(p.buf, p.len, &m), 0);
	assert_int_equal(fsm_tunnel_input(&w->b.t, &m, p.buf, p.len, w->now), FSM_IN_TAKEN);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(fsm_tunnel_input(&w->b.t, &m, p.buf, p.len, w->now), FSM_IN_DUPLICATE);
	/* B's ACK of it, to A */
	assert_true(w->b.nout >= 1);
	pop(&w->b, &p);
	assert_int_equal(l2tp_ctrl_decode(p.buf, p.len, &m), 0);
	assert_int_equal(m.type, L2TP_MSG_ACK);
	assert_int_equal(fsm_tunnel_input(&w->a.t, &m, p.buf, p.len, w->now), FSM_IN_ACK);
	fsm_tunnel_release(&w->a.t);
	assert_int_equal(fsm_tunnel_input(&w->a.t, &m, p.buf, p.len, w->now), FSM_IN_IGNORED);
	world_free(w);
}

/* Duplicate SCCCN and HELLO: re-acknowledged at once, processed once. */
static void test_duplicates_reacked_not_reprocessed(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	struct pkt p;

	(void)state;
	w->a.conf.hello_interval = 1;
	w->b.conf.hello_interval = 1;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	xfer(w, &w->b, &m);
	pop(&w->a, &p); /* SCCCN */
	deliver(w, &w->b, p.buf, p.len);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.nout, 0);
	deliver(w, &w->b, p.buf, p.len);
	assert_int_equal(w->b.t.stats.rx_duplicates, 1);
	assert_int_equal(w->b.t.stats.established_count, 1);
	assert_int_equal(w->b.nout, 1);
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_ACK, CCID_A, 1, 2);
	flush(w);
	run(w, 100, FLUSH);
	assert_int_equal(w->b.fake.ups, 1);

	/* A's HELLO delivered twice */
	run(w, 1000, HOLD);
	assert_int_equal(w->a.nout, 1);
	peek(&w->a, 0, &m);
	assert_int_equal(m.type, L2TP_MSG_HELLO);
	pop(&w->a, &p);
	deliver(w, &w->b, p.buf, p.len);
	/* B's own HELLO, due at the same time, and the ACK of A's, at once */
	assert_int_equal(w->b.nout, 2);
	peek(&w->b, 1, &m);
	assert_int_equal(m.type, L2TP_MSG_ACK);
	deliver(w, &w->b, p.buf, p.len);
	assert_int_equal(w->b.t.stats.rx_duplicates, 2);
	assert_int_equal(w->b.nout, 3);
	peek(&w->b, 2, &m);
	assert_int_equal(m.type, L2TP_MSG_ACK);
	assert_int_equal(m.nr, (uint16_t)(p.buf[8] << 8 | p.buf[9]) + 1);
	flush(w);
	run(w, 1500, FLUSH);
	assert_int_equal(w->a.t.txq_len, 0);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.n_sessions, 1);
	world_free(w);
}

/* Out of order: SCCCN and ICRQ leave A together; the ICRQ arrives first,
 * is held, and goes through once the SCCCN fills the gap. */
static void test_out_of_order_held_until_gap_filled(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "k", "k");
	struct l2tp_msg m;
	struct pkt sccn, icrq;

	(void)state;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	xfer(w, &w->b, &m);
	pop(&w->a, &sccn);
	pop(&w->a, &icrq);
	deliver(w, &w->b, icrq.buf, icrq.len);
	assert_int_equal(w->b.t.stats.rx_out_of_order, 1);
	assert_int_equal(w->b.t.state, FSM_T_WAIT_CTL_CONN);
	assert_int_equal(w->b.t.nr, 1);
	assert_int_equal(w->b.nout, 0);
	deliver(w, &w->b, icrq.buf, icrq.len); /* twice: kept once */
	deliver(w, &w->b, sccn.buf, sccn.len);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.nr, 3);
	assert_int_equal(w->b.t.n_sessions, 1);
	assert_int_equal(w->b.nout, 1);
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_ICRP, CCID_A, 1, 3);
	flush(w);
	run(w, 200, FLUSH);
	assert_int_equal(w->a.fake.ups, 1);
	assert_int_equal(w->b.fake.ups, 1);
	assert_int_equal(w->a.t.stats.retransmissions, 0);
	world_free(w);
}

/* §4.2 / App. A: 1, 2, 4, 8, 8... s; after rtx_retries retransmissions
 * the connection is cleared. */
static void test_backoff_and_give_up(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	static const uint64_t at[] = { 0, 1000, 3000, 7000, 15000, 23000, 31000, 39000, 47000, 55000, 63000 };

	(void)state;
	start(w);
	open_a(w);
	run(w, 70999, DROP);
	assert_int_equal(w->a.nlog, 11); /* 1 + rtx_retries (10) */
	for (size_t i = 0; i < 11; i++) {
		assert_int_equal(w->a.log[i].type, L2TP_MSG_SCCRQ);
		assert_int_equal(w->a.log[i].ns, 0);
		assert_int_equal(w->a.log[i].at, at[i]);
	}
	assert_int_equal(w->a.t.state, FSM_T_WAIT_CTL_REPLY);
	run(w, 71000, DROP);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_non_null(strstr(w->a.t.reason, "peer not responding"));
	assert_int_equal(fsm_tunnel_deadline(&w->a.t), FSM_NO_DEADLINE);
	assert_int_equal(w->a.t.stats.retransmissions, 10);

	/* configurable: 2 retries, 500 ms first, 1 s cap */
	world_free(w);
	w = world_new(FSM_AUTH_NONE, NULL, NULL);
	w->a.conf.rtx_retries = 2;
	w->a.conf.rtx_initial_ms = 500;
	w->a.conf.rtx_max_ms = 1000;
	start(w);
	open_a(w);
	run(w, 10000, DROP);
	assert_int_equal(w->a.nlog, 3);
	assert_int_equal(w->a.log[1].at, 500);
	assert_int_equal(w->a.log[2].at, 1500);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	world_free(w);
}

/* §4.2: an Nr acknowledging more than we sent is ignored; an ACK's Ns
 * never moves our Nr (protocol.md §4). */
static void test_bogus_nr_ignored_ack_ns_ignored(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	uint16_t a_ns, b_nr;

	(void)state;
	w->a.conf.hello_interval = 5;
	start(w);
	establish(w);
	run(w, 5000, HOLD);
	drop(&w->a, &m);
	assert_int_equal(m.type, L2TP_MSG_HELLO);
	assert_int_equal(w->a.t.txq_len, 1);
	a_ns = w->a.t.ns; /* HELLO's Ns + 1 */

	mk(&m, L2TP_MSG_ACK, CCID_A, w->b.t.ns, (uint16_t)(a_ns + 1));
	inject(w, &w->a, &m);
	assert_int_equal(w->a.t.txq_len, 1);
	mk(&m, L2TP_MSG_ACK, CCID_A, w->b.t.ns, (uint16_t)(a_ns + 3000));
	inject(w, &w->a, &m);
	assert_int_equal(w->a.t.txq_len, 1);
	mk(&m, L2TP_MSG_ACK, CCID_A, w->b.t.ns, a_ns);
	inject(w, &w->a, &m);
	assert_int_equal(w->a.t.txq_len, 0);
	assert_true(has_ev(&w->a, FSM_EV_KEEPALIVE_ACKED, "HELLO"));

	/* ACK and ZLB with Ns = B's Nr: B's Nr stays */
	b_nr = w->b.t.nr;
	mk(&m, L2TP_MSG_ACK, CCID_B, b_nr, w->b.t.ns);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.nr, b_nr);
	memset(&m, 0, sizeof(m));
	m.type = L2TP_MSG_ZLB;
	m.ccid = CCID_B;
	m.ns = b_nr;
	m.nr = w->b.t.ns;
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.nr, b_nr);
	assert_int_equal(w->b.t.stats.rx_out_of_order + w->b.t.stats.rx_duplicates, 0);
	assert_int_equal(w->b.nout, 0); /* ACKs are never acked */
	world_free(w);
}

/* §5.4.3 Receive Window Size: with the peer's RWS 1 only one message is
 * unacknowledged at a time. */
static void test_peer_rws_honoured(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	conf_pws(&w->b.conf, FSM_MAX_PW - 1);
	start(w);
	fake_establish_b(w, 1);
	assert_int_equal(w->b.t.peer_rws, 1);
	for (uint16_t i = 0; i < 3; i++) {
		mk_icrq_pw(&m, (uint16_t)(2 + i), 1, 0x9000u + i, i);
		inject(w, &w->b, &m);
	}
	assert_int_equal(w->b.t.n_sessions, 3);
	assert_int_equal(w->b.t.txq_len, 3);
	assert_int_equal(w->b.nout, 1);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_ICRP, CCID_A, 1, 3); /* the rest waits */
	/* B's delayed ACK for the other two is due 50 ms later */
	run(w, w->now + 50, HOLD);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_ACK, CCID_A, 4, 5);
	assert_int_equal(w->b.nout, 0);
	mk(&m, L2TP_MSG_ACK, CCID_B, 5, 2);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.nout, 1);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_ICRP, CCID_A, 2, 5);
	mk(&m, L2TP_MSG_ACK, CCID_B, 5, 3);
	inject(w, &w->b, &m);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_ICRP, CCID_A, 3, 5);
	assert_int_equal(w->b.nout, 0);
	world_free(w);
}

/* App. A slow start: cwnd starts at 1, +1 per ACK below ssthresh,
 * +1 per cwnd ACKs above; a retransmission halves ssthresh, cwnd 1. */
static void test_slow_start(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	conf_pws(&w->b.conf, FSM_MAX_PW - 1);
	start(w);
	fake_establish_b(w, 8);
	assert_int_equal(w->b.t.cwnd, 2); /* the SCCCN acked the SCCRP */
	assert_int_equal(w->b.t.ssthresh, 8);
	for (uint16_t i = 0; i < 8; i++) {
		mk_icrq_pw(&m, (uint16_t)(2 + i), 1, 0x9000u + i, i);
		inject(w, &w->b, &m);
	}
	assert_int_equal(w->b.t.txq_len, 8); /* ICRPs Ns 1..8 */
	assert_int_equal(w->b.nout, 2);
	w->b.nout = 0;
	mk(&m, L2TP_MSG_ACK, CCID_B, 10, 2); /* acks Ns 1 */
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.cwnd, 3);
	assert_int_equal(w->b.nout, 2); /* 3 in flight */
	w->b.nout = 0;
	mk(&m, L2TP_MSG_ACK, CCID_B, 10, 4); /* acks Ns 2, 3 */
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.cwnd, 5);
	assert_int_equal(w->b.nout, 4); /* Ns 4 + 4 more: 5 in flight */
	w->b.nout = 0;
	/* ack Ns 4..7: cwnd 6, 7, 8, then ssthresh reached: 8 */
	mk(&m, L2TP_MSG_ACK, CCID_B, 10, 8);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.cwnd, 8);
	assert_int_equal(w->b.t.txq_len, 1);
	/* Ns 8 times out: ssthresh = 8/2, cwnd = 1 */
	run(w, w->now + 1000, HOLD);
	assert_int_equal(w->b.t.stats.retransmissions, 1);
	assert_int_equal(w->b.t.cwnd, 1);
	assert_int_equal(w->b.t.ssthresh, 4);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_ICRP, CCID_A, 8, 10);
	mk(&m, L2TP_MSG_ACK, CCID_B, 10, 9);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.cwnd, 2);
	/* six more ICRPs (Ns 9..14), acknowledged one by one */
	for (uint16_t i = 0; i < 6; i++) {
		mk_icrq(&m, (uint16_t)(10 + i), 9, 0x9100u + i);
		inject(w, &w->b, &m);
	}
	assert_int_equal(w->b.nout, 2);
	w->b.t.cwnd_acc = 0; /* (a fraction left from before the timeout) */
	{
		static const unsigned want[] = { 3, 4, 4, 4, 4, 5 }; /* +1/cwnd from 4 */

		for (uint16_t i = 0; i < 6; i++) {
			mk(&m, L2TP_MSG_ACK, CCID_B, 16, (uint16_t)(10 + i));
			inject(w, &w->b, &m);
			assert_int_equal(w->b.t.cwnd, want[i]);
		}
	}
	assert_int_equal(w->b.t.txq_len, 0);
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* keepalive (§4.4, protocol.md §7) */

static void test_keepalive_and_dead_peer(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "y", "y");
	size_t first;
	uint64_t t0;

	(void)state;
	w->a.conf.hello_interval = 1;
	w->a.conf.hello_count = 3;
	w->b.conf.hello_interval = 1;
	w->b.conf.hello_count = 3;
	start(w);
	establish(w); /* at ~0.1 s */
	first = w->a.nlog;
	run(w, 5050, FLUSH);
	/* one HELLO a second from each side, each acknowledged */
	assert_int_equal(count_sent(&w->a, L2TP_MSG_HELLO), 5);
	assert_int_equal(count_sent(&w->b, L2TP_MSG_HELLO), 5);
	for (size_t i = first, k = 0; i < w->a.nlog; i++) {
		if (w->a.log[i].type != L2TP_MSG_HELLO)
			continue;
		assert_int_equal(w->a.log[i].at, 1000 * ++k);
		assert_true(w->a.log[i].digest);
	}
	assert_int_equal(count_ev(&w->a, FSM_EV_KEEPALIVE_SENT), 5);
	assert_int_equal(count_ev(&w->a, FSM_EV_KEEPALIVE_ACKED), 5);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_ZLB) + count_sent(&w->b, L2TP_MSG_ZLB), 0);
	assert_int_equal(w->a.t.stats.retransmissions, 0);
	assert_int_equal(w->a.t.stats.last_hello_rtt_ms, 0); /* a HELLO is acknowledged at once */

	/* the peer goes silent: the 6 s HELLO is sent, then resent at 7 s and
	 * 8 s (hello_count 3 in all); at 9 s the peer is dead */
	t0 = 6000;
	run(w, t0 + 2999, DROP);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_HELLO), 8);
	assert_int_equal(w->a.fake.downs, 0);
	run(w, t0 + 3000, DROP);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_non_null(strstr(w->a.t.reason, "peer not responding"));
	assert_non_null(strstr(w->a.t.reason, "3 keepalives"));
	assert_int_equal(w->a.fake.downs, 1);
	assert_int_equal(w->b.fake.downs, 1);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_int_equal(w->a.t.n_sessions, 0);
	world_free(w);
}


/*
 * hello_spread: tunnels that come up in the same millisecond (a hub's
 * branches after the hub restarted) send their first HELLO at a random
 * point of the first interval, then one interval after the previous one,
 * so their keepalives stay apart; without it (the other tests) the first
 * HELLO is exactly one interval after set-up.
 */
static void test_keepalive_spread(void **state)
{
	uint64_t first[8];
	size_t distinct = 0;

	(void)state;
	for (unsigned k = 0; k < 8; k++) {
		struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
		uint64_t at[3];
		size_t n = 0;

		w->a.fake.rnd_seed = (uint8_t)(0x11 + 29 * k);
		w->a.conf.hello_interval = w->b.conf.hello_interval = 10;
		w->a.conf.hello_spread = w->b.conf.hello_spread = true;
		start(w);
		establish(w);
		assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
		run(w, w->a.t.established_ms + 30000, FLUSH);
		assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
		/* the caller sends them, the other side only acknowledges
		 * (test_keepalive_one_sender) once the caller's first came */
		assert_true(count_sent(&w->b, L2TP_MSG_HELLO) <= 1);
		for (size_t i = 0; i < w->a.nlog && i < LOGCAP && n < 3; i++)
			if (w->a.log[i].type == L2TP_MSG_HELLO)
				at[n++] = w->a.log[i].at;
		assert_int_equal(n, 3);
		/* within the first interval, never at set-up itself */
		assert_true(at[0] > w->a.t.established_ms);
		assert_true(at[0] <= w->a.t.established_ms + 10000);
		/* then every interval, from the previous HELLO */
		assert_int_equal(at[1] - at[0], 10000);
		assert_int_equal(at[2] - at[1], 10000);
		assert_int_equal(w->a.t.stats.retransmissions, 0);
		first[k] = at[0] - w->a.t.established_ms;
		world_free(w);
	}
	/* different random draws: different points of the interval */
	for (unsigned k = 0; k < 8; k++) {
		bool seen = false;

		for (unsigned j = 0; j < k; j++)
			seen = seen || first[j] == first[k];
		distinct += !seen;
	}
	assert_true(distinct >= 6);
}

/*
 * Of two keepalive timers only the caller's sends: its HELLO, acknowledged
 * at once, pushes the answering side's own to 1.5 intervals on, and the
 * caller's next one comes first.  An idle tunnel costs one HELLO and one
 * ACK per interval.  When the caller falls silent, the other side's HELLO
 * goes 1.5 intervals after the last one it received and counts down as
 * usual.
 */
static void test_keepalive_one_sender(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "y", "y");
	size_t ha, hb, acks, before;
	uint64_t last = 0;

	(void)state;
	w->a.conf.hello_interval = w->b.conf.hello_interval = 10;
	w->a.conf.hello_count = w->b.conf.hello_count = 3;
	w->a.conf.hello_spread = w->b.conf.hello_spread = true;
	w->a.fake.rnd_seed = 0x40; /* A's first HELLO after B's: B sends one, then stops */
	w->b.fake.rnd_seed = 0x03;
	start(w);
	establish(w);
	acks = count_sent(&w->a, L2TP_MSG_ACK) + count_sent(&w->b, L2TP_MSG_ACK); /* set-up's */
	run(w, w->now + 100000, FLUSH);
	ha = count_sent(&w->a, L2TP_MSG_HELLO);
	hb = count_sent(&w->b, L2TP_MSG_HELLO);
	acks = count_sent(&w->a, L2TP_MSG_ACK) + count_sent(&w->b, L2TP_MSG_ACK) - acks;
	print_message("100 s idle: A (caller) sent %zu HELLOs, B %zu; %zu ACKs\n", ha, hb, acks);
	assert_true(ha >= 9 && ha <= 10);
	assert_true(hb <= 1);
	assert_int_equal(acks, ha + hb);
	assert_int_equal(w->a.t.stats.retransmissions + w->b.t.stats.retransmissions, 0);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	/* A's timer stops (it still answers): B sends 1.5 intervals after A's
	 * last HELLO, then each interval, and gives up after 3 */
	for (size_t i = 0; i < w->a.nlog && i < LOGCAP; i++)
		if (w->a.log[i].type == L2TP_MSG_HELLO)
			last = w->a.log[i].at;
	w->a.t.conf.hello_interval = 0;
	w->a.t.hello_at = FSM_NO_DEADLINE;
	before = count_sent(&w->b, L2TP_MSG_HELLO);
	run(w, last + 15000 - 1, FLUSH);
	assert_int_equal(count_sent(&w->b, L2TP_MSG_HELLO), before);
	run(w, last + 15000, FLUSH);
	assert_int_equal(count_sent(&w->b, L2TP_MSG_HELLO), before + 1);
	run(w, last + 15000 + 20000, DROP); /* now A is gone */
	assert_int_equal(count_sent(&w->b, L2TP_MSG_HELLO), before + 3);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	run(w, last + 15000 + 30000 + 10000, DROP);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_non_null(strstr(w->b.t.reason, "peer not responding"));
	world_free(w);
}

/*
 * A dead peer while one of our messages waits for its ACK: the message is
 * retransmitted (the window shrinks to 1), so the HELLO queued behind it
 * is never sent and the HELLO count cannot expire; the retransmission
 * cycle alone would take about a minute.  Nothing received for
 * hello_count + 1 intervals ends the connection (found by t_isolation: an
 * ICCN's ACK lost as the peer vanished).
 */
static void test_dead_peer_behind_unacked_message(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	uint64_t t0;

	(void)state;
	w->b.conf.hello_interval = 1;
	w->b.conf.hello_count = 3;
	start(w);
	fake_establish_b(w, 0);
	mk_icrq(&m, 2, 1, 0x5001);
	inject(w, &w->b, &m);
	t0 = w->now; /* the peer's last message */
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRP);
	/* from now on the peer answers nothing */
	for (uint64_t at = t0 + 100; at < t0 + 4000; at += 100) {
		w->now = at;
		fsm_tunnel_tick(&w->b.t, w->now);
		while (w->b.nout)
			drop(&w->b, &m);
		assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	}
	assert_true(w->b.t.stats.retransmissions >= 1);
	assert_true(fsm_tunnel_deadline(&w->b.t) <= t0 + 4000);
	w->now = t0 + 4000;
	fsm_tunnel_tick(&w->b.t, w->now);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_non_null(strstr(w->b.t.reason, "peer not responding: nothing received for 4 s"));
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* tear-down */

/* §3.3.2, §5.7, §6.4: StopCCN from the peer: ACKed at once, sessions down,
 * idle with the result code in the reason. */
static void test_peer_stopccn(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "y", "y");
	struct l2tp_msg m;

	(void)state;
	start(w);
	establish(w);
	fsm_tunnel_close(&w->b.t, L2TP_STOPCCN_SHUTDOWN, "administratively shut down", w->now);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	assert_int_equal(w->b.fake.downs, 1);
	assert_int_equal(w->b.t.n_sessions, 0);
	peek(&w->b, 0, &m);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_A, 2, 4);
	assert_int_equal(m.result_code, L2TP_STOPCCN_SHUTDOWN);
	assert_string_equal(m.error_msg, "administratively shut down");
	assert_true(l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID));
	assert_int_equal(m.assigned_ccid, CCID_B);
	assert_int_equal(m.n_digests, 1);
	fsm_tunnel_close(&w->b.t, 1, "again", w->now); /* no-op while closing */
	assert_int_equal(w->b.nout, 1);
	xfer(w, &w->b, &m);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->a.fake.downs, 1);
	assert_int_equal(w->a.t.down_result, L2TP_STOPCCN_SHUTDOWN);
	assert_non_null(strstr(w->a.t.reason, "result 6"));
	assert_non_null(strstr(w->a.t.reason, "administratively shut down"));
	assert_int_equal(w->a.nout, 1);
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_ACK, CCID_B, 4, 3);
	assert_int_equal(m.n_digests, 1);
	xfer(w, &w->a, &m);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_string_equal(w->b.t.reason, "administratively shut down");
	assert_int_equal(fsm_tunnel_deadline(&w->a.t), FSM_NO_DEADLINE);
	assert_int_equal(fsm_tunnel_deadline(&w->b.t), FSM_NO_DEADLINE);
	world_free(w);
}

/* §5.7: a StopCCN never acknowledged: kept for a full retransmission cycle
 * (31 s), then idle. */
static void test_close_unacked_gives_up(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);

	(void)state;
	start(w);
	establish(w);
	w->now = 1000;
	fsm_tunnel_close(&w->a.t, L2TP_STOPCCN_CLEAR, "bye", w->now);
	assert_int_equal(w->a.t.state, FSM_T_CLOSING);
	assert_int_equal(w->a.fake.downs, 1);
	run(w, 1000 + 30999, DROP);
	assert_int_equal(w->a.t.state, FSM_T_CLOSING);
	assert_true(count_sent(&w->a, L2TP_MSG_STOPCCN) >= 5); /* 0, 1, 3, 7, 15, 23 s */
	run(w, 1000 + 31000, DROP);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_string_equal(w->a.t.reason, "bye");
	world_free(w);
}

/* The path to the peer is gone (an IPsec tunnel's SA): idle at once,
 * sessions down, nothing sent, no deadline left; the same from CLOSING
 * (its StopCCN no longer retransmitted), and nothing more when idle. */
static void test_drop_at_once(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	size_t before;

	(void)state;
	start(w);
	establish(w);
	before = w->a.nout;
	fsm_tunnel_drop(&w->a.t, L2TP_STOPCCN_CLEAR, "IPsec SA down");
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->a.fake.downs, 1);
	assert_int_equal(w->a.t.n_sessions, 0);
	assert_int_equal(w->a.nout, before);
	assert_int_equal(w->a.t.down_result, L2TP_STOPCCN_CLEAR);
	assert_string_equal(w->a.t.reason, "IPsec SA down");
	assert_int_equal(fsm_tunnel_deadline(&w->a.t), FSM_NO_DEADLINE);
	fsm_tunnel_drop(&w->a.t, L2TP_STOPCCN_CLEAR, "again");
	assert_string_equal(w->a.t.reason, "IPsec SA down");

	fsm_tunnel_close(&w->b.t, L2TP_STOPCCN_CLEAR, "bye", w->now);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	fsm_tunnel_drop(&w->b.t, L2TP_STOPCCN_CLEAR, "IPsec SA down");
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_int_equal(fsm_tunnel_deadline(&w->b.t), FSM_NO_DEADLINE);
	before = w->b.fake.ntraced;
	run(w, w->now + 40000, DROP);
	assert_int_equal(w->b.fake.ntraced, before); /* nothing sent (every message is traced) */
	world_free(w);
}

/* §7.3: a CDN clears the session (session_down); an initiator left without
 * a session clears the connection; a responder stays up. */
static void test_peer_cdn(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	uint32_t sa, sb;

	(void)state;
	start(w);
	establish(w);
	sa = w->a.t.sessions[0].local_sid;
	sb = w->b.t.sessions[0].local_sid;

	/* "B" sends a CDN to A, on B's sequence numbers */
	mk(&m, L2TP_MSG_CDN, CCID_A, w->b.t.ns++, w->b.t.nr);
	mk_sids(&m, sb, sa);
	l2tp_msg_set(&m, L2TP_AVP_RESULT_CODE);
	m.result_code = L2TP_CDN_ADMIN;
	inject(w, &w->a, &m);
	assert_int_equal(w->a.t.n_sessions, 0);
	assert_int_equal(w->a.fake.downs, 1);
	assert_true(has_ev(&w->a, FSM_EV_SESSION_STATE, "peer sent CDN, result 3"));
	assert_int_equal(w->a.t.state, FSM_T_CLOSING);
	peek(&w->a, 0, &m);
	assert_int_equal(m.type, L2TP_MSG_STOPCCN);
	assert_int_equal(m.result_code, L2TP_STOPCCN_CLEAR);
	world_free(w);

	/* "A" sends a CDN to B: B drops the session, keeps the connection */
	w = world_new(FSM_AUTH_NONE, NULL, NULL);
	start(w);
	establish(w);
	sa = w->a.t.sessions[0].local_sid;
	sb = w->b.t.sessions[0].local_sid;
	mk(&m, L2TP_MSG_CDN, CCID_B, w->a.t.ns++, w->a.t.nr);
	mk_sids(&m, sa, sb);
	l2tp_msg_set(&m, L2TP_AVP_RESULT_CODE);
	m.result_code = L2TP_CDN_LOST_CARRIER;
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.n_sessions, 0);
	assert_int_equal(w->b.fake.downs, 1);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	/* a CDN for a session we do not have: ignored */
	mk(&m, L2TP_MSG_CDN, CCID_B, w->a.t.ns++, w->a.t.nr);
	mk_sids(&m, 0x7777, 0x8888);
	l2tp_msg_set(&m, L2TP_AVP_RESULT_CODE);
	m.result_code = 1;
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.fake.downs, 1);
	run(w, w->now + 100, FLUSH);
	assert_int_equal(w->a.t.txq_len, 0); /* B's ACK covered the forged Ns */
	world_free(w);
}

/* §6.16 SLI: Circuit Status updates circuit_remote_up. */
static void test_sli_circuit_status(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	struct fsm_session *s;

	(void)state;
	start(w);
	establish(w);
	s = &w->b.t.sessions[0];
	assert_true(s->circuit_remote_up);
	mk(&m, L2TP_MSG_SLI, CCID_B, w->a.t.ns++, w->a.t.nr);
	mk_sids(&m, w->a.t.sessions[0].local_sid, s->local_sid);
	l2tp_msg_set(&m, L2TP_AVP_CIRCUIT_STATUS);
	m.circuit_status = 0;
	inject(w, &w->b, &m);
	assert_false(s->circuit_remote_up);
	mk(&m, L2TP_MSG_SLI, CCID_B, w->a.t.ns++, w->a.t.nr);
	mk_sids(&m, w->a.t.sessions[0].local_sid, s->local_sid);
	l2tp_msg_set(&m, L2TP_AVP_CIRCUIT_STATUS);
	m.circuit_status = L2TP_CIRCUIT_ACTIVE;
	inject(w, &w->b, &m);
	assert_true(s->circuit_remote_up);
	assert_int_equal(s->state, FSM_S_ESTABLISHED);
	world_free(w);
}

/* The glue failing to start the data path (the harness calls
 * fsm_session_start_failed): CDN result 4 to the peer, no SESSION_DOWN. */
static void test_session_up_failure_sends_cdn(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);

	(void)state;
	w->b.fake.up_ret = -ENOMEM;
	start(w);
	open_a(w);
	flush(w);
	assert_int_equal(w->b.fake.ups, 1);
	assert_int_equal(w->b.fake.downs, 0);
	assert_int_equal(w->b.t.n_sessions, 0);
	assert_int_equal(count_sent(&w->b, L2TP_MSG_CDN), 1);
	/* A lost its session to the CDN and, as initiator, closed */
	assert_int_equal(w->a.fake.downs, 1);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* effects: what a call did, taken by the caller after it (ctrl.h) */

/* Encode m and hand it to B's machine itself, not the harness's wrapper:
 * the effects stay in B's outbox for the test to take. */
static void input_raw(struct world *w, struct l2tp_msg *m)
{
	uint8_t buf[L2TP_MAX_MSG_LEN];
	int n = l2tp_ctrl_encode(m, buf, sizeof(buf));
	struct l2tp_msg d;

	assert_true(n > 0);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &d), 0);
	(void)(fsm_tunnel_input)(&w->b.t, &d, buf, (size_t)n, w->now);
}

/* An ICCN: the session's state change (for the log), then SESSION_UP,
 * both left in the outbox when the call returns and nothing called back
 * in the middle of it; a StopCCN: SESSION_DOWN, then the events. */
static void test_effects_in_order(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	struct fsm_effect e;
	uint32_t sid;

	(void)state;
	start(w);
	fake_establish_b(w, 0);
	mk_icrq(&m, 2, 1, 0x5001);
	inject(w, &w->b, &m);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRP);
	sid = w->b.t.sessions[0].local_sid;
	mk(&m, L2TP_MSG_ICCN, CCID_B, 3, 2);
	mk_sids(&m, 0x5001, sid);
	input_raw(w, &m);
	assert_int_equal(w->b.fake.ups, 0); /* nothing acted on yet */
	assert_true(fsm_tunnel_take_effect(&w->b.t, &e));
	assert_int_equal(e.kind, FSM_FX_EVENT);
	assert_int_equal(e.ev.kind, FSM_EV_SESSION_STATE);
	assert_int_equal(e.ev.to, FSM_S_ESTABLISHED);
	assert_true(e.has_session);
	assert_int_equal(e.session.local_sid, sid);
	assert_true(fsm_tunnel_take_effect(&w->b.t, &e));
	assert_int_equal(e.kind, FSM_FX_SESSION_UP);
	assert_int_equal(e.session.local_sid, sid);
	assert_int_equal(e.session.remote_sid, 0x5001);
	assert_ptr_equal(fsm_session_find(&w->b.t, sid), &w->b.t.sessions[0]);
	assert_false(fsm_tunnel_take_effect(&w->b.t, &e));
	assert_null(w->b.t.fx); /* freed once taken */

	/* the peer closes: the session's data path stops before the log lines */
	mk(&m, L2TP_MSG_STOPCCN, CCID_B, 4, 2);
	mk_identity(&m, "fake", RID_A, CCID_A, 0);
	l2tp_msg_set(&m, L2TP_AVP_RESULT_CODE);
	m.result_code = L2TP_STOPCCN_CLEAR;
	input_raw(w, &m);
	assert_true(fsm_tunnel_take_effect(&w->b.t, &e));
	assert_int_equal(e.kind, FSM_FX_SESSION_DOWN);
	assert_int_equal(e.session.local_sid, sid);
	assert_true(fsm_tunnel_take_effect(&w->b.t, &e));
	assert_int_equal(e.kind, FSM_FX_EVENT);
	assert_int_equal(e.ev.kind, FSM_EV_SESSION_STATE);
	assert_int_equal(e.ev.from, FSM_S_ESTABLISHED);
	assert_int_equal(e.ev.to, FSM_S_IDLE);
	assert_true(fsm_tunnel_take_effect(&w->b.t, &e));
	assert_int_equal(e.kind, FSM_FX_EVENT);
	assert_int_equal(e.ev.kind, FSM_EV_TUNNEL_STATE);
	assert_int_equal(e.ev.from, FSM_T_ESTABLISHED);
	while (fsm_tunnel_take_effect(&w->b.t, &e))
		assert_int_equal(e.kind, FSM_FX_EVENT);
	world_free(w);
}

/* The glue cannot start the data path (SESSION_UP): after the machine's
 * call it says so with fsm_session_start_failed, which sends CDN result 4
 * and forgets the session without a SESSION_DOWN (nothing was started). */
static void test_effects_start_failed_sends_cdn(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	struct fsm_effect e;
	uint32_t sid;
	size_t cdns;

	(void)state;
	start(w);
	fake_establish_b(w, 0);
	mk_icrq(&m, 2, 1, 0x5001);
	inject(w, &w->b, &m);
	drop(&w->b, &m);
	sid = w->b.t.sessions[0].local_sid;
	mk(&m, L2TP_MSG_ICCN, CCID_B, 3, 2);
	mk_sids(&m, 0x5001, sid);
	input_raw(w, &m);
	cdns = count_sent(&w->b, L2TP_MSG_CDN);
	assert_int_equal(cdns, 0); /* the machine did not decide for the glue */
	assert_true(fsm_tunnel_take_effect(&w->b.t, &e));
	assert_true(fsm_tunnel_take_effect(&w->b.t, &e));
	assert_int_equal(e.kind, FSM_FX_SESSION_UP);
	assert_int_equal(fsm_session_start_failed(&w->b.t, e.session.local_sid, w->now), 0);
	assert_int_equal(w->b.t.n_sessions, 0);
	assert_int_equal(count_sent(&w->b, L2TP_MSG_CDN), 1);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_CDN);
	assert_int_equal(m.result_code, L2TP_CDN_NO_RESOURCES_TEMP);
	assert_int_equal(m.remote_session_id, 0x5001);
	while (fsm_tunnel_take_effect(&w->b.t, &e))
		assert_int_not_equal(e.kind, FSM_FX_SESSION_DOWN);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED); /* the responder keeps the connection */
	assert_int_equal(fsm_session_start_failed(&w->b.t, sid, w->now), -ENOENT);
	world_free(w);
}

/* The outbox is bounded, but a caller that lets events pile up loses
 * events only: every SESSION_DOWN of a connection going down still fits. */
static void test_effects_overflow_keeps_session_down(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	struct fsm_effect e;
	uint16_t ns = 2;
	unsigned ups = 0, downs = 0, events = 0;

	(void)state;
	conf_pws(&w->b.conf, FSM_MAX_PW - 1);
	start(w);
	fake_establish_b(w, 0);
	for (unsigned pw = 0; pw < FSM_MAX_PW; pw++) {
		mk_icrq_pw(&m, ns++, 1, 0x9000u + pw, pw);
		inject(w, &w->b, &m);
		mk(&m, L2TP_MSG_ICCN, CCID_B, ns++, 1);
		mk_sids(&m, 0x9000u + pw, w->b.t.sessions[pw].local_sid);
		inject(w, &w->b, &m);
	}
	assert_int_equal(w->b.fake.ups, FSM_MAX_PW);
	/* events only (an ICCN for no session), never taken, past the bound */
	for (unsigned i = 0; i < FSM_FX_MAX; i++) {
		mk(&m, L2TP_MSG_ICCN, CCID_B, ns++, 1);
		mk_sids(&m, 0x7777, 0x8888);
		input_raw(w, &m);
	}
	assert_true(w->b.t.fx_dropped > 0);
	mk(&m, L2TP_MSG_STOPCCN, CCID_B, ns++, 1);
	mk_identity(&m, "fake", RID_A, CCID_A, 0);
	l2tp_msg_set(&m, L2TP_AVP_RESULT_CODE);
	m.result_code = L2TP_STOPCCN_CLEAR;
	input_raw(w, &m);
	assert_int_equal(w->b.t.n_sessions, 0);
	while (fsm_tunnel_take_effect(&w->b.t, &e)) {
		ups += e.kind == FSM_FX_SESSION_UP;
		downs += e.kind == FSM_FX_SESSION_DOWN;
		events += e.kind == FSM_FX_EVENT;
	}
	assert_int_equal(ups, 0);
	assert_int_equal(downs, FSM_MAX_PW);
	assert_int_equal(events, FSM_FX_MAX - FSM_FX_SESSION_RESERVE);
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* Ns/Nr wrap-around (§4.2, modulo 2^16; cf. OpenVPN test_packet_id) */

static void test_seq_lt_boundaries(void **state)
{
	(void)state;
	assert_false(fsm_seq_lt(0, 0));
	assert_false(fsm_seq_lt(65535, 65535));
	assert_true(fsm_seq_lt(0, 1));
	assert_false(fsm_seq_lt(1, 0));
	assert_true(fsm_seq_lt(65535, 0));
	assert_false(fsm_seq_lt(0, 65535));
	assert_true(fsm_seq_lt(65534, 65535));
	assert_true(fsm_seq_lt(65535, 1));
	assert_true(fsm_seq_lt(0, 32767));
	assert_false(fsm_seq_lt(32767, 0));
	assert_true(fsm_seq_lt(32767, 32768));
	assert_true(fsm_seq_lt(65535, 32766));
	assert_false(fsm_seq_lt(65535, 32768)); /* 32769 ahead = 32767 behind */
	/* exactly half-way: both "behind"; the RFC's duplicate window
	 * [last-32767, last] = [nr-32768, nr-1] puts it among duplicates */
	assert_true(fsm_seq_lt(0, 32768));
	assert_true(fsm_seq_lt(32768, 0));
	assert_true(fsm_seq_lt(65535, 32767));
	assert_true(fsm_seq_lt(32767, 65535));
}

/* HELLOs both ways across 65535 -> 0 on a live pair. */
static void test_wrap_hellos(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "y", "y");

	(void)state;
	w->a.conf.hello_interval = 1;
	w->b.conf.hello_interval = 1;
	start(w);
	establish(w);
	w->a.t.ns = w->b.t.nr = 65534;
	w->b.t.ns = w->a.t.nr = 65533;
	run(w, 6050, FLUSH);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.t.ns, (uint16_t)(65534 + 6));
	assert_int_equal(w->b.t.nr, w->a.t.ns);
	assert_int_equal(w->b.t.ns, (uint16_t)(65533 + 6));
	assert_int_equal(w->a.t.nr, w->b.t.ns);
	assert_int_equal(w->a.t.stats.retransmissions + w->b.t.stats.retransmissions, 0);
	assert_int_equal(w->a.t.stats.rx_duplicates + w->b.t.stats.rx_duplicates, 0);
	assert_int_equal(w->a.t.stats.rx_out_of_order + w->b.t.stats.rx_out_of_order, 0);
	assert_int_equal(count_ev(&w->a, FSM_EV_KEEPALIVE_ACKED), 6);
	assert_int_equal(count_ev(&w->b, FSM_EV_KEEPALIVE_ACKED), 6);
	assert_int_equal(w->a.t.txq_len + w->b.t.txq_len, 0);
	world_free(w);
}

/* Reordering, duplicates and Nr across the wrap with a fake peer. */
static void test_wrap_reorder_duplicate(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	start(w);
	fake_establish_b(w, 0);
	w->b.t.nr = 65535;
	w->b.t.ns = 65535;
	/* Ns 0 before Ns 65535: held, then both delivered */
	mk(&m, L2TP_MSG_HELLO, CCID_B, 0, 65535);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.stats.rx_out_of_order, 1);
	assert_int_equal(w->b.t.nr, 65535);
	mk(&m, L2TP_MSG_HELLO, CCID_B, 65535, 65535);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.nr, 1);
	assert_int_equal(w->b.t.stats.rx_msgs, 4); /* SCCRQ, SCCCN, 2 HELLOs */
	assert_int_equal(w->b.nout, 2); /* each HELLO acknowledged at once */
	w->b.nout = 0;
	/* a late copy of 65535 (now behind Nr 1): duplicate, ACKed at once */
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.stats.rx_duplicates, 1);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_ACK, CCID_A, 65535, 1);
	/* Ns 32768 behind Nr 1 is ahead (32767 ahead); 32769 is behind */
	mk(&m, L2TP_MSG_HELLO, CCID_B, 32768, 65535);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.stats.rx_out_of_order, 2);
	mk(&m, L2TP_MSG_HELLO, CCID_B, 32769, 65535);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.stats.rx_duplicates, 2);
	drop(&w->b, &m);

	/* B's messages across its wrap: a HELLO at Ns 65535, then one at 0 */
	w->b.t.conf.hello_interval = 1;
	w->b.t.hello_at = w->now;
	w->b.t.conf.hello_count = 3;
	fsm_tunnel_tick(&w->b.t, w->now);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_HELLO, CCID_A, 65535, 1);
	assert_int_equal(w->b.t.ns, 0);
	/* Nr 1 claims Ns 0 too, which B never sent: ignored */
	mk(&m, L2TP_MSG_ACK, CCID_B, 1, 1);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.txq_len, 1);
	mk(&m, L2TP_MSG_ACK, CCID_B, 1, 0);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.txq_len, 0);
	w->now += 1000;
	fsm_tunnel_tick(&w->b.t, w->now);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_HELLO, CCID_A, 0, 1);
	mk(&m, L2TP_MSG_ACK, CCID_B, 1, 1);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.txq_len, 0);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* unexpected messages (§7.2, §5.2) */

static void test_sccrq_when_established_stopccn_7(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	start(w);
	establish(w);
	mk(&m, L2TP_MSG_SCCRQ, CCID_B, w->a.t.ns++, w->a.t.nr);
	mk_identity(&m, "rtA", RID_A, CCID_A, 0);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	assert_int_equal(w->b.fake.downs, 1);
	peek(&w->b, 0, &m);
	assert_int_equal(m.type, L2TP_MSG_STOPCCN);
	assert_int_equal(m.result_code, L2TP_STOPCCN_FSM);
	assert_non_null(strstr(m.error_msg, "SCCRQ"));
	world_free(w);
}

/* An unknown message type (RFC 3931 §3.1 with the M bit set on its
 * Message Type AVP): StopCCN result 2. */
static void test_unknown_message_type_stopccn(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	start(w);
	establish(w);
	mk(&m, 30, CCID_B, w->a.t.ns++, w->a.t.nr);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	peek(&w->b, 0, &m);
	assert_int_equal(m.type, L2TP_MSG_STOPCCN);
	assert_int_equal(m.result_code, L2TP_STOPCCN_ERROR);
	world_free(w);
}

/* Append an unknown IETF AVP (type 100) with M=1 to an encoded message. */
static size_t add_unknown_mandatory(uint8_t *buf, size_t len)
{
	static const uint8_t avp[] = { 0x80, 0x08, 0x00, 0x00, 0x00, 100, 0xab, 0xcd };

	memcpy(buf + len, avp, sizeof(avp));
	len += sizeof(avp);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	return len;
}

/* §5.2: "If the M bit is set on an unrecognized AVP within a message
 * associated with a control connection, the control connection MUST be
 * closed": a HELLO carrying one clears the connection (StopCCN 2). */
static void test_unknown_mandatory_avp_in_hello_stopccn(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m, d;
	uint8_t buf[L2TP_MAX_MSG_LEN];
	int n;

	(void)state;
	start(w);
	establish(w);
	mk(&m, L2TP_MSG_HELLO, CCID_B, w->a.t.ns++, w->a.t.nr);
	n = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	n = (int)add_unknown_mandatory(buf, (size_t)n);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &d), 0);
	assert_true(d.unknown_mandatory);
	deliver(w, &w->b, buf, (size_t)n);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	peek(&w->b, 0, &m);
	assert_int_equal(m.type, L2TP_MSG_STOPCCN);
	assert_int_equal(m.result_code, L2TP_STOPCCN_ERROR);
	assert_true(m.has_error_code); /* §5.4.2 error 8, naming the AVP */
	assert_int_equal(m.error_code, L2TP_ERR_UNKNOWN_MANDATORY);
	assert_non_null(strstr(m.error_msg, "unknown mandatory AVP 100"));
	world_free(w);
}

/* An SCCRQ carrying an unknown M=1 AVP is refused (§5.2). */
static void test_unknown_mandatory_avp_in_sccrq_refused(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	uint8_t buf[L2TP_MAX_MSG_LEN];
	int n;

	(void)state;
	start(w);
	mk(&m, L2TP_MSG_SCCRQ, 0, 0, 0);
	mk_identity(&m, "fake", RID_A, CCID_A, 0);
	n = l2tp_ctrl_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	n = (int)add_unknown_mandatory(buf, (size_t)n);
	deliver(w, &w->b, buf, (size_t)n);
	assert_int_equal(w->last_check, L2TP_STOPCCN_ERROR);
	assert_non_null(strstr(w->last_why, "unknown mandatory AVP 100"));
	world_free(w);
}

/* HELLO while waiting for the SCCRP: not in the table, ignored (§7.2). */
static void test_hello_in_wait_ctl_reply_ignored(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	size_t sent;

	(void)state;
	start(w);
	open_a(w);
	drop(&w->a, NULL);
	sent = w->a.nlog;
	mk(&m, L2TP_MSG_HELLO, CCID_A, 0, 1);
	inject(w, &w->a, &m);
	assert_int_equal(w->a.t.state, FSM_T_WAIT_CTL_REPLY);
	assert_true(has_ev(&w->a, FSM_EV_PROTOCOL, "HELLO ignored"));
	assert_int_equal(w->a.t.txq_len, 0); /* its Nr acked the SCCRQ anyway */
	assert_int_equal(count_sent(&w->a, L2TP_MSG_STOPCCN), 0);
	assert_true(w->a.nlog - sent <= 1); /* at most an ACK */
	world_free(w);
}

/* §7.2 / §4.2: the peer acknowledges our SCCRQ (an ACK, as a slow
 * responder may) and then says nothing more, or dies.  Nothing is left to
 * retransmit, so without a set-up timer the initiator would wait for an
 * SCCRP forever and never retry; likewise a responder whose SCCRP was
 * acked but no SCCCN follows.  Both must give up within the usual
 * retransmission cycle. */
static void test_setup_acked_then_silent_times_out(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	start(w);
	open_a(w);
	drop(&w->a, NULL);
	mk(&m, L2TP_MSG_ACK, CCID_A, 0, 1);
	inject(w, &w->a, &m);
	assert_int_equal(w->a.t.txq_len, 0);
	assert_int_equal(w->a.t.state, FSM_T_WAIT_CTL_REPLY);
	assert_int_not_equal(fsm_tunnel_deadline(&w->a.t), FSM_NO_DEADLINE);
	run(w, 120000, DROP);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_non_null(strstr(w->a.t.reason, "SCCRP"));
	world_free(w);

	w = world_new(FSM_AUTH_NONE, NULL, NULL);
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	drop(&w->b, NULL);
	mk(&m, L2TP_MSG_ACK, CCID_B, 1, 1);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.txq_len, 0);
	assert_int_equal(w->b.t.state, FSM_T_WAIT_CTL_CONN);
	w->a.t.state = FSM_T_IDLE; /* A is gone */
	run(w, 120000, DROP);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_non_null(strstr(w->b.t.reason, "SCCCN"));
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* stateless answers */

static void test_stateless_stopccn_and_ack(void **state)
{
	struct l2tp_msg req, m;
	uint8_t buf[512];
	int n;

	(void)state;
	mk(&req, L2TP_MSG_SCCRQ, 0, 0, 0);
	mk_identity(&req, "x", 1, 0x1234, 0);
	n = fsm_stateless_stopccn(&req, L2TP_STOPCCN_NOT_AUTHORIZED, "not authorized", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	expect_hdr(&m, L2TP_MSG_STOPCCN, 0x1234, 0, 1);
	assert_int_equal(m.result_code, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_string_equal(m.error_msg, "not authorized");
	assert_false(l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID));
	assert_int_equal(m.n_digests, 0);

	req.ns = 65535;
	req.unknown_mandatory = true;
	n = fsm_stateless_stopccn(&req, L2TP_STOPCCN_ERROR, NULL, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	expect_hdr(&m, L2TP_MSG_STOPCCN, 0x1234, 0, 0);
	assert_true(m.has_error_code);
	assert_int_equal(m.error_code, L2TP_ERR_UNKNOWN_MANDATORY);
	assert_true(fsm_stateless_stopccn(&req, 2, "x", buf, 8) < 0);

	n = fsm_stateless_ack(0xdeadbeef, 7, 65535, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	expect_hdr(&m, L2TP_MSG_ACK, 0xdeadbeef, 7, 65535);
	assert_true(fsm_stateless_ack(1, 0, 0, buf, 4) < 0);
}

/* issue 16, 4d: a full hub's refusal of an authenticated SCCRQ is signed
 * (digest over "" || the SCCRQ's nonce || message: we sent no nonce): the
 * initiator verifies it before any SCCRP, reads the reason and stops; a
 * forged one (other secret) is dropped; without a digest in the SCCRQ, or
 * with auth off, no signature. */
static void test_stateless_stopccn_signed(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "hub-secret", "hub-secret");
	struct fsm_tunnel_conf other;
	struct l2tp_msg req, m;
	uint8_t buf[512], key[16];
	struct pkt p;
	char why[128];
	int n;

	(void)state;
	start(w);
	open_a(w);
	pop(&w->a, &p);
	assert_int_equal(l2tp_ctrl_decode(p.buf, p.len, &req), 0);
	assert_int_equal(fsm_sccrq_check(&w->b.conf, &req, p.buf, p.len, why, sizeof(why)), 0);

	/* forged: signed with another secret; dropped, the attempt goes on */
	other = w->b.conf;
	memcpy(other.secret, "not-the-secret", 14);
	other.secret_len = 14;
	n = fsm_stateless_stopccn_signed(&other, &req, L2TP_STOPCCN_ERROR, "the hub is full", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	fsm_tunnel_input(&w->a.t, &m, buf, (size_t)n, w->now);
	assert_int_equal(w->a.t.state, FSM_T_WAIT_CTL_REPLY);

	n = fsm_stateless_stopccn_signed(&w->b.conf, &req, L2TP_STOPCCN_ERROR, "the hub is full", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_A, 0, 1);
	assert_int_equal(m.result_code, L2TP_STOPCCN_ERROR);
	assert_string_equal(m.error_msg, "the hub is full");
	assert_false(l2tp_msg_has(&m, L2TP_AVP_NONCE)); /* SCCRQ and SCCRP only */
	assert_int_equal(m.n_digests, 1);
	assert_int_equal(m.digest_type[0], req.digest_type[0]);
	l2tp_auth_shared_key("hub-secret", 10, key);
	assert_true(l2tp_auth_digest_verify(key, NULL, 0, req.nonce, req.nonce_len, buf, (size_t)n, &m));
	/* bound to that SCCRQ: not valid for another nonce */
	req.nonce[0] ^= 1;
	assert_false(l2tp_auth_digest_verify(key, NULL, 0, req.nonce, req.nonce_len, buf, (size_t)n, &m));
	req.nonce[0] ^= 1;
	l2tp_auth_shared_key("not-the-secret", 14, key);
	assert_false(l2tp_auth_digest_verify(key, NULL, 0, req.nonce, req.nonce_len, buf, (size_t)n, &m));

	/* the initiator verifies it and closes with the hub's reason */
	fsm_tunnel_input(&w->a.t, &m, buf, (size_t)n, w->now);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->a.t.stats.auth_failures, 0);
	assert_non_null(strstr(w->a.t.reason, "the hub is full"));

	/* no auth, or an SCCRQ without a digest (challenge style): unsigned */
	other = w->b.conf;
	other.auth = FSM_AUTH_NONE;
	n = fsm_stateless_stopccn_signed(&other, &req, L2TP_STOPCCN_ERROR, "full", buf, sizeof(buf));
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.n_digests, 0);
	req.n_digests = 0;
	n = fsm_stateless_stopccn_signed(&w->b.conf, &req, L2TP_STOPCCN_ERROR, "full", buf, sizeof(buf));
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.n_digests, 0);
	world_free(w);
}

/* ---------------------------------------------------------------------- */
/* issue 4: authentication styles, AVP rules, simultaneous open */

/* §4.3, §5.4.1 Message Digest type 1: an initiator configured for
 * HMAC-SHA-1 signs every message with it; the responder, configured for
 * MD5, verifies it and answers with the hash its peer used.  And the
 * other way round: an MD5 initiator gets MD5 from a SHA-1 responder. */
static void test_digest_sha1_responder_follows(void **state)
{
	struct world *w;
	struct l2tp_msg m;

	(void)state;
	for (int way = 0; way < 2; way++) {
		uint8_t want = way == 0 ? L2TP_DIGEST_HMAC_SHA1 : L2TP_DIGEST_HMAC_MD5;

		w = world_new(FSM_AUTH_DIGEST, "yamaha", "yamaha");
		w->a.conf.digest_type = want;
		w->b.conf.digest_type = way == 0 ? L2TP_DIGEST_HMAC_MD5 : L2TP_DIGEST_HMAC_SHA1;
		start(w);
		open_a(w);
		peek(&w->a, 0, &m);
		assert_int_equal(m.type, L2TP_MSG_SCCRQ);
		assert_int_equal(m.n_digests, 1);
		assert_int_equal(m.digest_type[0], want);
		xfer(w, &w->a, &m);
		assert_int_equal(w->last_check, 0);
		assert_int_equal(w->b.t.digest_type, want);
		peek(&w->b, 0, &m);
		assert_int_equal(m.type, L2TP_MSG_SCCRP);
		assert_int_equal(m.digest_type[0], want);
		/* the rest of the set-up, every message checked */
		for (int guard = 0; (w->a.nout || w->b.nout) && guard < 100; guard++) {
			struct side *from = w->a.nout ? &w->a : &w->b;

			peek(from, 0, &m);
			assert_int_equal(m.n_digests, 1);
			assert_int_equal(m.digest_type[0], want);
			xfer(w, from, &m);
		}
		run(w, w->now + 100, FLUSH);
		assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
		assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
		assert_int_equal(w->a.fake.ups, 1);
		assert_int_equal(w->b.fake.ups, 1);
		assert_int_equal(w->a.t.stats.auth_failures + w->b.t.stats.auth_failures, 0);
		world_free(w);
	}
	/* SHA-1 with a wrong secret: refused with result 4 like MD5 */
	w = world_new(FSM_AUTH_DIGEST, "yamaha", "cisco");
	w->a.conf.digest_type = L2TP_DIGEST_HMAC_SHA1;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m);
	assert_int_equal(w->last_check, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_non_null(strstr(w->last_why, "authentication failed"));
	world_free(w);
}

/* §4.3 and RFC 2661 §4.4.3: the responder accepts whichever style the
 * initiator uses when the secret matches (protocol.md §6.3: peers pick). */
static void test_responder_follows_auth_style(void **state)
{
	(void)state;
	for (int way = 0; way < 2; way++) {
		enum fsm_auth ia = way == 0 ? FSM_AUTH_CHALLENGE : FSM_AUTH_DIGEST;
		enum fsm_auth rb = way == 0 ? FSM_AUTH_DIGEST : FSM_AUTH_CHALLENGE;
		struct world *w = world_new(ia, "yamaha", "yamaha");

		w->b.conf.auth = rb;
		start(w);
		establish(w);
		assert_int_equal(w->a.t.auth, ia);
		assert_int_equal(w->b.t.auth, ia);
		assert_int_equal(w->a.fake.ups, 1);
		assert_int_equal(w->b.fake.ups, 1);
		world_free(w);
	}
}

/* RFC 2661 §4.4.3 (protocol.md §6.2), responder side: an initiator with
 * another secret answers our Challenge wrongly in its SCCCN: StopCCN
 * result 4, an "authentication failed" event, no session. */
static void test_challenge_wrong_secret_responder_refuses(void **state)
{
	struct world *w = world_new(FSM_AUTH_CHALLENGE, NULL, "cisco");
	struct l2tp_msg m;
	uint8_t chal[L2TP_CHALLENGE_MAX];
	size_t chal_len;

	(void)state;
	start(w);
	mk(&m, L2TP_MSG_SCCRQ, 0, 0, 0);
	mk_identity(&m, "fake", RID_A, CCID_A, 0);
	l2tp_msg_set(&m, L2TP_AVP_CHALLENGE);
	memset(m.challenge, 0x5a, 16);
	m.challenge_len = 16;
	inject(w, &w->b, &m);
	assert_int_equal(w->last_check, 0);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_SCCRP);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_CHALLENGE));
	memcpy(chal, m.challenge, m.challenge_len);
	chal_len = m.challenge_len;
	mk(&m, L2TP_MSG_SCCCN, CCID_B, 1, 1);
	l2tp_msg_set(&m, L2TP_AVP_CHALLENGE_RESPONSE);
	l2tp_auth_chap_response(L2TP_MSG_SCCCN, "yamaha", 6, chal, chal_len, m.challenge_response);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	assert_int_equal(w->b.t.stats.auth_failures, 1);
	assert_true(has_ev(&w->b, FSM_EV_AUTH_FAILED, "authentication failed"));
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_A, 1, 2);
	assert_int_equal(m.result_code, L2TP_STOPCCN_NOT_AUTHORIZED);
	assert_int_equal(w->b.fake.ups, 0);
	world_free(w);
}

/* Encode m, append an unknown AVP (vendor, type, M bit), deliver to `to`. */
static void inject_with_avp(struct world *w, struct side *to, struct l2tp_msg *m, uint16_t vendor, uint16_t type,
			    bool mandatory)
{
	uint8_t buf[L2TP_MAX_MSG_LEN];
	uint8_t avp[8] = { mandatory ? 0x80 : 0x00, 0x08, (uint8_t)(vendor >> 8), (uint8_t)vendor,
			   (uint8_t)(type >> 8), (uint8_t)type, 0xab, 0xcd };
	struct l2tp_msg d;
	int n = l2tp_ctrl_encode(m, buf, sizeof(buf));

	assert_true(n > 0);
	memcpy(buf + n, avp, sizeof(avp));
	n += (int)sizeof(avp);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	assert_int_equal(l2tp_ctrl_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.unknown_mandatory, mandatory);
	deliver(w, to, buf, (size_t)n);
}

/* Fake peer A: B established with one session; returns B's local SID.
 * A's next Ns is 4, B's 2 (B's ICRP was Ns 1). */
static uint32_t fake_session_b(struct world *w, bool connect)
{
	struct l2tp_msg m;
	uint32_t sid;

	fake_establish_b(w, 0);
	mk_icrq(&m, 2, 1, 0x5001);
	inject(w, &w->b, &m);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRP);
	sid = m.local_session_id;
	if (connect) {
		mk(&m, L2TP_MSG_ICCN, CCID_B, 3, 2);
		mk_sids(&m, 0x5001, sid);
		inject(w, &w->b, &m);
		assert_int_equal(w->b.fake.ups, 1);
	}
	return sid;
}

/* §5.2: "If the M bit is set on an unrecognized AVP within a message
 * associated with a session, the session associated with this message
 * MUST be terminated": ICCN, SLI, WEN -> CDN result 2 / error 8 (§5.4.2)
 * naming the AVP; a CDN carrying one still ends its session; the control
 * connection stays up either way. */
static void test_unknown_mandatory_avp_in_session_messages_cdn(void **state)
{
	static const uint16_t types[] = { L2TP_MSG_ICCN, L2TP_MSG_SLI, L2TP_MSG_WEN, L2TP_MSG_CDN };

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
		bool iccn = types[i] == L2TP_MSG_ICCN;
		struct l2tp_msg m;
		uint32_t sid;

		start(w);
		sid = fake_session_b(w, !iccn);
		mk(&m, types[i], CCID_B, iccn ? 3 : 4, 2);
		mk_sids(&m, 0x5001, sid);
		if (types[i] == L2TP_MSG_CDN) {
			l2tp_msg_set(&m, L2TP_AVP_RESULT_CODE);
			m.result_code = L2TP_CDN_ADMIN;
		}
		inject_with_avp(w, &w->b, &m, 0, 100, true);
		assert_int_equal(w->b.t.n_sessions, 0);
		assert_int_equal(w->b.fake.downs, iccn ? 0 : 1);
		assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
		assert_true(has_ev(&w->b, FSM_EV_SESSION_REFUSED, "unknown mandatory AVP 100 (vendor 0)"));
		if (types[i] == L2TP_MSG_CDN) {
			/* no CDN for a CDN: just the ACK, 50 ms later */
			assert_int_equal(w->b.nout, 0);
		} else {
			assert_int_equal(w->b.nout, 1);
			drop(&w->b, &m);
			expect_hdr(&m, L2TP_MSG_CDN, CCID_A, 2, iccn ? 4 : 5);
			assert_int_equal(m.result_code, L2TP_CDN_ERROR);
			assert_true(m.has_error_code);
			assert_int_equal(m.error_code, L2TP_ERR_UNKNOWN_MANDATORY);
			assert_non_null(strstr(m.error_msg, "AVP 100"));
			assert_int_equal(m.local_session_id, sid);
			assert_int_equal(m.remote_session_id, 0x5001);
		}
		world_free(w);
	}
}

/* §5.2 for the initiator's session: an ICRP with an unknown M=1 AVP
 * clears the session with CDN 2/8. */
static void test_unknown_mandatory_avp_in_icrp_cdn(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m, icrq;

	(void)state;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m); /* SCCRQ */
	xfer(w, &w->b, &m); /* SCCRP */
	xfer(w, &w->a, &m); /* SCCCN */
	drop(&w->a, &icrq);
	assert_int_equal(icrq.type, L2TP_MSG_ICRQ);
	mk(&m, L2TP_MSG_ICRP, CCID_A, 1, 3);
	mk_sids(&m, 0x7001, icrq.local_session_id);
	l2tp_msg_set(&m, L2TP_AVP_CIRCUIT_STATUS);
	m.circuit_status = L2TP_CIRCUIT_ACTIVE;
	inject_with_avp(w, &w->a, &m, 0, 101, true);
	assert_int_equal(w->a.t.n_sessions, 0);
	assert_true(has_ev(&w->a, FSM_EV_SESSION_REFUSED, "unknown mandatory AVP 101"));
	drop(&w->a, &m);
	assert_int_equal(m.type, L2TP_MSG_CDN);
	assert_int_equal(m.result_code, L2TP_CDN_ERROR);
	assert_int_equal(m.error_code, L2TP_ERR_UNKNOWN_MANDATORY);
	world_free(w);
}

/* §5.2 for the control connection: HELLO with an unknown M=1 AVP ->
 * StopCCN result 2 with error 8 and the AVP in the message (§5.4.2);
 * §5.2: vendor AVPs (Vendor ID != 0) we do not know are ignored unless M
 * is set, and with M set they clear the connection like IETF ones. */
static void test_vendor_and_unknown_avps_in_control_messages(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	start(w);
	establish(w);
	/* vendor 9 (Cisco) AVP 1234, M=0, and IETF AVP 100, M=0: ignored */
	mk(&m, L2TP_MSG_HELLO, CCID_B, w->a.t.ns++, w->a.t.nr);
	inject_with_avp(w, &w->b, &m, 9, 1234, false);
	mk(&m, L2TP_MSG_HELLO, CCID_B, w->a.t.ns++, w->a.t.nr);
	inject_with_avp(w, &w->b, &m, 0, 100, false);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	run(w, w->now + 60, HOLD);
	drop(&w->b, &m); /* each HELLO acknowledged at once */
	expect_hdr(&m, L2TP_MSG_ACK, CCID_A, w->b.t.ns, (uint16_t)(w->a.t.ns - 1));
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_ACK, CCID_A, w->b.t.ns, w->a.t.ns);
	/* vendor AVP with M=1: StopCCN 2/8 */
	mk(&m, L2TP_MSG_HELLO, CCID_B, w->a.t.ns++, w->a.t.nr);
	inject_with_avp(w, &w->b, &m, 9, 1234, true);
	assert_int_equal(w->b.t.state, FSM_T_CLOSING);
	assert_int_equal(w->b.fake.downs, 1);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_STOPCCN);
	assert_int_equal(m.result_code, L2TP_STOPCCN_ERROR);
	assert_true(m.has_error_code);
	assert_int_equal(m.error_code, L2TP_ERR_UNKNOWN_MANDATORY);
	assert_non_null(strstr(m.error_msg, "AVP 1234 (vendor 9)"));
	assert_true(l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID));
	world_free(w);
}

/* §5.4.2 result codes on StopCCN: 6 shutting down, with our Assigned CCID
 * (§6.4); 1 for a plain clear; the peer's code shows in its reason. */
static void test_stopccn_result_codes(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	start(w);
	establish(w);
	fsm_tunnel_close(&w->a.t, L2TP_STOPCCN_SHUTDOWN, "shutting down", w->now);
	peek(&w->a, 0, &m);
	expect_hdr(&m, L2TP_MSG_STOPCCN, CCID_B, w->a.t.ns - 1, w->a.t.nr);
	assert_int_equal(m.result_code, L2TP_STOPCCN_SHUTDOWN);
	assert_false(m.has_error_code && m.error_code);
	assert_int_equal(m.assigned_ccid, CCID_A);
	flush(w);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	assert_int_equal(w->b.t.down_result, L2TP_STOPCCN_SHUTDOWN);
	assert_non_null(strstr(w->b.t.reason, "result 6"));
	/* a second close of an idle tunnel sends nothing */
	fsm_tunnel_close_error(&w->a.t, L2TP_STOPCCN_ERROR, L2TP_ERR_NO_RESOURCES, "x", w->now);
	assert_int_equal(w->a.nout, 0);
	world_free(w);
}

/* §5.4.3 Control Connection Tie Breaker: both ends call each other at once;
 * the SCCRQ with the lower value wins.  The loser abandons its attempt
 * and answers the winner's SCCRQ; the winner drops the loser's SCCRQ.
 * One connection results, with one session opened by the winner. */
static void test_simultaneous_open_tie_breaker(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "yamaha", "yamaha");
	struct l2tp_msg qa, qb, m;
	struct pkt pa, pb;
	struct side *win, *lose;
	struct pkt *lost_pkt;
	enum fsm_tie ta, tb;

	(void)state;
	w->b.conf.initiator = true;
	start(w);
	open_a(w);
	assert_int_equal(fsm_tunnel_open(&w->b.t, w->now), 0);
	w->b.fresh = false;
	pop(&w->a, &pa);
	pop(&w->b, &pb);
	assert_int_equal(l2tp_ctrl_decode(pa.buf, pa.len, &qa), 0);
	assert_int_equal(l2tp_ctrl_decode(pb.buf, pb.len, &qb), 0);
	assert_true(l2tp_msg_has(&qa, L2TP_AVP_TIE_BREAKER));
	assert_true(l2tp_msg_has(&qb, L2TP_AVP_TIE_BREAKER));
	assert_memory_not_equal(qa.tie_breaker, qb.tie_breaker, 8);
	ta = fsm_tunnel_tie_break(&w->a.t, &qb); /* B's SCCRQ reaches A */
	tb = fsm_tunnel_tie_break(&w->b.t, &qa);
	if (memcmp(qa.tie_breaker, qb.tie_breaker, 8) < 0) {
		assert_int_equal(ta, FSM_TIE_WON);
		assert_int_equal(tb, FSM_TIE_LOST);
		win = &w->a, lose = &w->b, lost_pkt = &pa;
	} else {
		assert_int_equal(ta, FSM_TIE_LOST);
		assert_int_equal(tb, FSM_TIE_WON);
		win = &w->b, lose = &w->a, lost_pkt = &pb;
	}
	/* the loser's glue: drop its own attempt, answer the winner */
	fsm_tunnel_release(&lose->t);
	fsm_tunnel_init(&lose->t, &lose->conf, w->next_ccid++, &fsm_fake_ops, &lose->fake);
	assert_int_equal(l2tp_ctrl_decode(lost_pkt->buf, lost_pkt->len, &m), 0);
	assert_int_equal(fsm_tunnel_accept(&lose->t, &m, lost_pkt->buf, lost_pkt->len, w->now), 0);
	run(w, w->now + 200, FLUSH);
	assert_int_equal(win->t.state, FSM_T_ESTABLISHED);
	assert_int_equal(lose->t.state, FSM_T_ESTABLISHED);
	assert_int_equal(win->t.remote_ccid, lose->t.local_ccid);
	assert_int_equal(lose->t.remote_ccid, win->t.local_ccid);
	assert_int_equal(win->t.n_sessions, 1);
	assert_int_equal(lose->t.n_sessions, 1);
	assert_int_equal(win->fake.ups, 1);
	assert_int_equal(lose->fake.ups, 1);
	assert_int_equal(count_sent(lose, L2TP_MSG_ICRQ), 0);
	assert_int_equal(count_sent(win, L2TP_MSG_ICRQ), 1);
	/* no contest once established, nor without a Tie Breaker */
	assert_int_equal(fsm_tunnel_tie_break(&win->t, &qa), FSM_TIE_NONE);
	world_free(w);

	/* equal values: both lose */
	w = world_new(FSM_AUTH_NONE, NULL, NULL);
	start(w);
	open_a(w);
	drop(&w->a, &qa);
	qb = qa;
	assert_int_equal(fsm_tunnel_tie_break(&w->a.t, &qb), FSM_TIE_BOTH_LOST);
	qb.present[L2TP_AVP_TIE_BREAKER / 32] &= ~(1u << (L2TP_AVP_TIE_BREAKER % 32));
	assert_int_equal(fsm_tunnel_tie_break(&w->a.t, &qb), FSM_TIE_NONE);
	world_free(w);
}

/* §6.15 WEN and §6.16 SLI received without harm: acknowledged, nothing
 * else changes (no circuit status in a WEN, SLI for a session we lack). */
static void test_wen_and_sli_without_harm(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	uint32_t sid;
	bool up;

	(void)state;
	start(w);
	sid = fake_session_b(w, true);
	up = w->b.t.sessions[0].circuit_remote_up;
	mk(&m, L2TP_MSG_WEN, CCID_B, 4, 2);
	mk_sids(&m, 0x5001, sid);
	inject(w, &w->b, &m);
	mk(&m, L2TP_MSG_SLI, CCID_B, 5, 2);
	mk_sids(&m, 0x9999, 0x8888); /* no such session */
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.n_sessions, 1);
	assert_int_equal(w->b.t.sessions[0].state, FSM_S_ESTABLISHED);
	assert_int_equal(w->b.t.sessions[0].circuit_remote_up, up);
	assert_int_equal(w->b.fake.downs, 0);
	run(w, w->now + 60, HOLD);
	drop(&w->b, &m);
	expect_hdr(&m, L2TP_MSG_ACK, CCID_A, 2, 6);
	world_free(w);
}

/* §4.2 replay of old control messages: the SCCRQ (Ns 0) and the SCCCN of
 * an established connection, sent again with a valid digest, are
 * duplicates: acknowledged at once, never processed again (no StopCCN 7,
 * no second SCCRP). */
static void test_replayed_setup_messages_only_reacked(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "yamaha", "yamaha");
	struct pkt sccrq, scccn;
	struct l2tp_msg m;
	uint16_t ns_b;

	(void)state;
	start(w);
	open_a(w);
	sccrq = w->a.out[0];
	xfer(w, &w->a, &m);
	xfer(w, &w->b, &m);
	scccn = w->a.out[0];
	run(w, w->now + 100, FLUSH);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	ns_b = w->b.t.ns;
	deliver(w, &w->b, sccrq.buf, sccrq.len);
	deliver(w, &w->b, scccn.buf, scccn.len);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.stats.rx_duplicates, 2);
	assert_int_equal(w->b.t.ns, ns_b); /* nothing new queued */
	assert_int_equal(w->b.nout, 2);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_ACK);
	assert_int_equal(m.n_digests, 1);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_ACK);
	assert_int_equal(w->b.fake.downs, 0);
	world_free(w);
}

/*
 * A peer of L2TPv2 descent (its SCCRQ or SCCRP carries the v2 Protocol
 * Version AVP, as freeRtr's do, shared/protocol.md §8.5) is acknowledged
 * with ZLBs: freeRtr takes an explicit ACK as a sequenced message and would
 * then drop our next one.  The other side, which saw a plain RFC 3931 peer,
 * keeps explicit ACKs, and so does everyone with digests (§6.15).  HELLOs
 * every second make both sides acknowledge on their own; a ZLB must not
 * take an Ns, so nothing is ever retransmitted.
 */
static void v2_peer_acks(enum fsm_auth auth, bool v2_initiator)
{
	static const uint8_t version_avp[8] = { 0x80, 0x08, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00 };
	const char *secret = auth == FSM_AUTH_NONE ? NULL : "yamaha";
	struct world *w = world_new(auth, secret, secret);
	struct side *v2, *seer;
	struct l2tp_msg m;
	struct pkt p;

	w->a.conf.hello_interval = w->b.conf.hello_interval = 1;
	start(w);
	v2 = v2_initiator ? &w->a : &w->b; /* sends the AVP (in its SCCRQ / SCCRP) */
	seer = peer_of(w, v2);
	open_a(w);
	if (!v2_initiator)
		xfer(w, &w->a, &m);
	pop(v2, &p);
	memcpy(p.buf + p.len, version_avp, sizeof(version_avp));
	p.len += sizeof(version_avp);
	p.buf[2] = (uint8_t)(p.len >> 8);
	p.buf[3] = (uint8_t)p.len;
	assert_int_equal(l2tp_ctrl_decode(p.buf, p.len, &m), 0);
	assert_true(m.v2_protocol_version);
	assert_false(m.unknown_mandatory);
	if (auth == FSM_AUTH_DIGEST) /* sign it again, as its sender would have */
		l2tp_auth_digest_sign(v2->t.key, v2_initiator ? NULL : v2->t.nonce, v2_initiator ? 0 : 16,
				      v2_initiator ? NULL : v2->t.peer_nonce, v2_initiator ? 0 : v2->t.peer_nonce_len,
				      p.buf, p.len, &m);
	deliver(w, seer, p.buf, p.len);
	run(w, w->now + 3500, FLUSH);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.fake.ups + w->b.fake.ups, 2);
	assert_true(seer->t.peer_v2);
	assert_false(v2->t.peer_v2);
	if (auth == FSM_AUTH_DIGEST) {
		assert_int_equal(count_sent(seer, L2TP_MSG_ZLB), 0);
		assert_true(count_sent(seer, L2TP_MSG_ACK) >= 3);
	} else {
		assert_int_equal(count_sent(seer, L2TP_MSG_ACK), 0);
		assert_true(count_sent(seer, L2TP_MSG_ZLB) >= 3);
	}
	assert_int_equal(count_sent(v2, L2TP_MSG_ZLB), 0);
	assert_true(count_sent(v2, L2TP_MSG_ACK) >= 3);
	assert_true(count_sent(&w->a, L2TP_MSG_HELLO) >= 3);
	assert_int_equal(w->a.t.stats.retransmissions + w->b.t.stats.retransmissions, 0);
	assert_int_equal(w->a.t.txq_len + w->b.t.txq_len, 0);
	world_free(w);
}

static void test_v2_peer_zlb_acks(void **state)
{
	(void)state;
	v2_peer_acks(FSM_AUTH_NONE, true);
	v2_peer_acks(FSM_AUTH_NONE, false);
	v2_peer_acks(FSM_AUTH_CHALLENGE, true);
	v2_peer_acks(FSM_AUTH_CHALLENGE, false);
	v2_peer_acks(FSM_AUTH_DIGEST, true);
	v2_peer_acks(FSM_AUTH_DIGEST, false);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(fsm_tunnel_state_name(FSM_T_ESTABLISHED), "established");
	assert_string_equal(fsm_tunnel_state_name(FSM_T_STATE_MAX), "invalid");
	assert_string_equal(fsm_session_state_name(FSM_S_WAIT_REPLY), "wait-reply");
	assert_string_equal(fsm_session_state_name((enum fsm_session_state)99), "invalid");
}

/* ---------------------------------------------------------------------- */
/* randomized soak */

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static const struct fsm_session *up_session(const struct side *s)
{
	for (size_t i = 0; i < s->t.n_sessions; i++)
		if (s->t.sessions[i].state == FSM_S_ESTABLISHED)
			return &s->t.sessions[i];
	return NULL;
}

static void soak_check(const struct world *w, bool *ever)
{
	const struct side *sides[2] = { &w->a, &w->b };
	const struct fsm_session *sa, *sb;

	for (int i = 0; i < 2; i++) {
		const struct side *s = sides[i];
		unsigned up = 0;

		assert_true(s->t.state < FSM_T_STATE_MAX);
		assert_true(s->t.txq_len <= FSM_TXQ_LEN);
		assert_true(s->t.n_sessions <= 1);
		for (size_t k = 0; k < s->t.n_sessions; k++)
			up += s->t.sessions[k].state == FSM_S_ESTABLISHED;
		/* SESSION_UP/DOWN effects balanced against what the FSM holds */
		assert_int_equal(s->fake.ups - s->fake.downs, up);
		if (s->t.state != FSM_T_ESTABLISHED && s->t.state != FSM_T_WAIT_CTL_CONN)
			assert_int_equal(up, 0);
	}
	sa = up_session(&w->a);
	sb = up_session(&w->b);
	if (w->a.t.state == FSM_T_ESTABLISHED && w->b.t.state == FSM_T_ESTABLISHED &&
	    w->a.t.remote_ccid == w->b.t.local_ccid && w->b.t.remote_ccid == w->a.t.local_ccid && sa && sb) {
		assert_int_equal(sa->local_sid, sb->remote_sid);
		assert_int_equal(sa->remote_sid, sb->local_sid);
		*ever = true;
	}
}

static void soak(uint32_t seed)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "soak", "soak");
	static struct pkt held[2][QCAP], p;
	size_t nheld[2] = { 0, 0 };
	uint32_t prng = seed;
	uint64_t reopen_at = FSM_NO_DEADLINE;
	bool ever = false;
	struct side *sides[2] = { &w->a, &w->b };

	w->a.conf.hello_interval = w->b.conf.hello_interval = 1;
	w->a.conf.hello_count = w->b.conf.hello_count = 3;
	start(w);
	open_a(w);
	for (w->now = 0; w->now <= 230000; w->now += 10) {
		bool lossy = w->now <= 200000; /* then 30 s of a perfect link */

		if (fsm_tunnel_deadline(&w->a.t) <= w->now)
			fsm_tunnel_tick(&w->a.t, w->now);
		if (fsm_tunnel_deadline(&w->b.t) <= w->now)
			fsm_tunnel_tick(&w->b.t, w->now);
		/* the glue re-opens an idle initiator a second later, new CCID */
		if (w->a.t.state == FSM_T_IDLE) {
			if (reopen_at == FSM_NO_DEADLINE)
				reopen_at = w->now + 1000;
			if (w->now >= reopen_at) {
				side_reinit(w, &w->a);
				open_a(w);
				reopen_at = FSM_NO_DEADLINE;
			}
		}
		for (int guard = 0; w->a.nout || w->b.nout; guard++) {
			assert_true(guard < 1000);
			for (int d = 0; d < 2; d++) {
				uint32_t r;

				if (!sides[d]->nout)
					continue;
				pop(sides[d], &p);
				r = lossy ? xorshift(&prng) % 100 : 99;
				if (r < 20)
					continue; /* lost */
				if (r < 30) /* duplicated */
					deliver(w, sides[1 - d], p.buf, p.len);
				if (r < 40 && nheld[d] < QCAP) { /* late by 10-300 ms */
					p.due = w->now + 10 * (1 + xorshift(&prng) % 30);
					held[d][nheld[d]++] = p;
					continue;
				}
				deliver(w, sides[1 - d], p.buf, p.len);
			}
		}
		/* late datagrams arrive after the ones sent since: reordered */
		for (int d = 0; d < 2; d++) {
			for (size_t i = 0; i < nheld[d];) {
				if (held[d][i].due > w->now) {
					i++;
					continue;
				}
				p = held[d][i];
				memmove(&held[d][i], &held[d][i + 1], (nheld[d] - i - 1) * sizeof(p));
				nheld[d]--;
				deliver(w, sides[1 - d], p.buf, p.len);
			}
		}
		soak_check(w, &ever);
	}
	assert_true(ever);
	/* after 30 s of a perfect link: up, same connection, same session */
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.t.remote_ccid, w->b.t.local_ccid);
	assert_int_equal(w->b.t.remote_ccid, w->a.t.local_ccid);
	assert_non_null(up_session(&w->a));
	assert_non_null(up_session(&w->b));
	for (int d = 0; d < 2; d++)
		side_reinit(w, sides[d]);
	assert_int_equal(w->a.total.auth_failures + w->b.total.auth_failures, 0);
	print_message("soak seed %u: A up %u times, B %u; %llu+%llu rtx, %llu+%llu dup, %llu+%llu ooo\n", seed,
		      w->a.fake.ups, w->b.fake.ups, (unsigned long long)w->a.total.retransmissions,
		      (unsigned long long)w->b.total.retransmissions, (unsigned long long)w->a.total.rx_duplicates,
		      (unsigned long long)w->b.total.rx_duplicates, (unsigned long long)w->a.total.rx_out_of_order,
		      (unsigned long long)w->b.total.rx_out_of_order);
	world_free(w);
}

static void test_soak_lossy_link(void **state)
{
	(void)state;
	soak(0x1234567u);
	soak(0xdeadbeefu);
	soak(42u);
}

/* ---------------------------------------------------------------------- */
/* session data-plane settings: cookies, sublayer, PW type, sequencing
 * (RFC 3931 §5.4.4) and the mismatch diagnosis */

/* A: random 4-byte cookie, asks for the sublayer; B: fixed 8-byte cookie,
 * no sublayer.  Each sends what the other asked for; both note it. */
static void test_session_cookies_and_l2ss(void **state)
{
	static const uint8_t fixed[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	const struct fsm_session *sa, *sb;

	(void)state;
	w->a.conf.cookie_len = 4;
	w->a.conf.l2ss = true;
	w->b.conf.cookie_len = 8;
	w->b.conf.cookie_fixed = true;
	memcpy(w->b.conf.cookie, fixed, 8);
	start(w);
	open_a(w);
	xfer(w, &w->a, &m); /* SCCRQ */
	xfer(w, &w->b, &m); /* SCCRP */
	xfer(w, &w->a, &m); /* SCCCN */
	xfer(w, &w->a, &m); /* ICRQ */
	assert_int_equal(m.type, L2TP_MSG_ICRQ);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_COOKIE));
	assert_int_equal(m.assigned_cookie_len, 4);
	assert_memory_equal(m.assigned_cookie, w->a.t.sessions[0].rx_cookie, 4);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_L2SS));
	assert_int_equal(m.l2ss, 1);
	assert_int_equal(m.pw_type, L2TP_PW_TYPE_ETH);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_DATA_SEQUENCING));
	peek(&w->b, 0, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRP);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_COOKIE));
	assert_int_equal(m.assigned_cookie_len, 8);
	assert_memory_equal(m.assigned_cookie, fixed, 8);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_L2SS)); /* none: no AVP */
	flush(w);
	run(w, w->now + 100, FLUSH);
	assert_int_equal(w->a.fake.ups, 1);
	assert_int_equal(w->b.fake.ups, 1);
	sa = &w->a.t.sessions[0];
	sb = &w->b.t.sessions[0];
	assert_int_equal(sa->rx_cookie_len, 4);
	assert_int_equal(sb->tx_cookie_len, 4);
	assert_memory_equal(sa->rx_cookie, sb->tx_cookie, 4);
	assert_int_equal(sb->rx_cookie_len, 8);
	assert_int_equal(sa->tx_cookie_len, 8);
	assert_memory_equal(sa->tx_cookie, fixed, 8);
	assert_true(sa->rx_l2ss);
	assert_true(sb->tx_l2ss);
	assert_false(sb->rx_l2ss);
	assert_false(sa->tx_l2ss);
	assert_non_null(strstr(sa->mismatch, "cookie length: peer asked for 8, 'l2tp cookie length' is 4"));
	assert_non_null(strstr(sa->mismatch, "l2-specific-sublayer: peer asked for none, ours is default"));
	assert_non_null(strstr(sb->mismatch, "cookie length: peer asked for 4, 'l2tp cookie length' is 8"));
	assert_non_null(strstr(sb->mismatch, "l2-specific-sublayer: peer asked for default, ours is none"));
	assert_string_equal(w->a.t.mismatch, sa->mismatch);
	assert_true(has_ev(&w->a, FSM_EV_MISMATCH, "cookie length"));
	assert_true(has_ev(&w->b, FSM_EV_MISMATCH, "l2-specific-sublayer"));
	world_free(w);
}

/* Matching settings (cookie 8 both ways, sublayer both ways): no mismatch;
 * a random cookie is fresh per session. */
static void test_session_cookies_match(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	const struct fsm_session *sa, *sb;

	(void)state;
	w->a.conf.cookie_len = w->b.conf.cookie_len = 8;
	w->a.conf.l2ss = w->b.conf.l2ss = true;
	start(w);
	establish(w);
	sa = &w->a.t.sessions[0];
	sb = &w->b.t.sessions[0];
	assert_int_equal(sa->tx_cookie_len, 8);
	assert_memory_equal(sa->tx_cookie, sb->rx_cookie, 8);
	assert_memory_equal(sb->tx_cookie, sa->rx_cookie, 8);
	assert_memory_not_equal(sa->rx_cookie, sb->rx_cookie, 8);
	assert_true(sa->tx_l2ss && sb->tx_l2ss);
	assert_string_equal(sa->mismatch, "");
	assert_string_equal(sb->mismatch, "");
	assert_string_equal(w->a.t.mismatch, "");
	assert_int_equal(count_ev(&w->a, FSM_EV_MISMATCH) + count_ev(&w->b, FSM_EV_MISMATCH), 0);
	world_free(w);
}

/* A peer without cookie or sublayer AVPs (freeRtr, Yamaha) while we ask
 * for both: adopted, we send neither, the difference is noted. */
static void test_session_peer_without_cookie(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	const struct fsm_session *sb;

	(void)state;
	w->b.conf.cookie_len = 4;
	w->b.conf.l2ss = true;
	start(w);
	fake_establish_b(w, 0);
	mk_icrq(&m, 2, 1, 0x5001);
	inject(w, &w->b, &m);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRP);
	assert_int_equal(m.assigned_cookie_len, 4);
	assert_int_equal(m.l2ss, 1);
	sb = &w->b.t.sessions[0];
	assert_int_equal(sb->tx_cookie_len, 0);
	assert_false(sb->tx_l2ss);
	assert_non_null(strstr(sb->mismatch, "cookie length: peer asked for 0, 'l2tp cookie length' is 4"));
	assert_non_null(strstr(sb->mismatch, "l2-specific-sublayer: peer asked for none, ours is default"));
	world_free(w);
}

/* ICRQ for Ethernet VLAN to a responder configured for Ethernet: CDN 14,
 * the mismatch says both types; and the other way round. */
static void test_session_pw_type_mismatch_cdn14(void **state)
{
	for (int vlan = 0; vlan < 2; vlan++) {
		struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
		struct l2tp_msg m;

		(void)state;
		if (vlan)
			w->b.conf.pw_type = L2TP_PW_TYPE_ETH_VLAN;
		start(w);
		if (vlan) {
			/* the SCCRQ offers only Ethernet: refused before any ICRQ */
			mk(&m, L2TP_MSG_SCCRQ, 0, 0, 0);
			mk_identity(&m, "fake", RID_A, CCID_A, 0);
			inject(w, &w->b, &m);
			assert_int_equal(w->last_check, L2TP_STOPCCN_ERROR);
			assert_string_equal(w->last_why, "pseudowire type mismatch: peer offers types 5, "
							 "'l2tp pseudowire type' is ethernet-vlan (4)");
			world_free(w);
			continue;
		}
		fake_establish_b(w, 0);
		mk_icrq(&m, 2, 1, 0x5001);
		m.pw_type = L2TP_PW_TYPE_ETH_VLAN;
		inject(w, &w->b, &m);
		assert_int_equal(w->b.t.n_sessions, 0);
		drop(&w->b, &m);
		assert_int_equal(m.type, L2TP_MSG_CDN);
		assert_int_equal(m.result_code, L2TP_CDN_PW_TYPE_UNSUPPORTED);
		assert_int_equal(m.remote_session_id, 0x5001);
		assert_string_equal(w->b.t.mismatch,
				    "pseudowire type: peer asked for ethernet-vlan (4), 'l2tp pseudowire type' is "
				    "ethernet (5)");
		assert_true(has_ev(&w->b, FSM_EV_SESSION_REFUSED, "pseudowire type"));
		world_free(w);
	}
}

/* Two of ours configured for Ethernet VLAN: offered and asked for type 4. */
static void test_session_pw_type_vlan(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;

	(void)state;
	w->a.conf.pw_type = w->b.conf.pw_type = L2TP_PW_TYPE_ETH_VLAN;
	start(w);
	open_a(w);
	xfer(w, &w->a, &m); /* SCCRQ */
	assert_int_equal(m.n_pw_caps, 1);
	assert_int_equal(m.pw_caps[0], L2TP_PW_TYPE_ETH_VLAN);
	xfer(w, &w->b, &m); /* SCCRP */
	xfer(w, &w->a, &m); /* SCCCN */
	xfer(w, &w->a, &m); /* ICRQ */
	assert_int_equal(m.pw_type, L2TP_PW_TYPE_ETH_VLAN);
	flush(w);
	run(w, w->now + 100, FLUSH);
	assert_int_equal(w->a.fake.ups + w->b.fake.ups, 2);
	world_free(w);
}

/* Data Sequencing asked without the Default L2SS: CDN 15; with it but an
 * unknown level: CDN 2; in the ICRQ (responder) and the ICRP (initiator). */
static void test_session_sequencing_cdn15(void **state)
{
	for (int l2ss = 0; l2ss < 2; l2ss++) {
		struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
		struct l2tp_msg m;

		(void)state;
		start(w);
		fake_establish_b(w, 0);
		mk_icrq(&m, 2, 1, 0x5001);
		l2tp_msg_set(&m, L2TP_AVP_DATA_SEQUENCING);
		m.data_sequencing = l2ss ? 3 : 2;
		if (l2ss) {
			l2tp_msg_set(&m, L2TP_AVP_L2SS);
			m.l2ss = 1;
		}
		inject(w, &w->b, &m);
		assert_int_equal(w->b.t.n_sessions, 0);
		drop(&w->b, &m);
		assert_int_equal(m.type, L2TP_MSG_CDN);
		assert_int_equal(m.result_code, l2ss ? L2TP_CDN_ERROR : L2TP_CDN_SEQ_WITHOUT_L2SS);
		assert_string_equal(w->b.t.mismatch,
				    l2ss ? "data sequencing: peer asked for unknown level 3 (0 none, 1 non-IP, 2 all)"
					 : "data sequencing: peer asked for sequencing (2) without the Default "
					   "L2-Specific Sublayer");
		assert_true(has_ev(&w->b, FSM_EV_SESSION_REFUSED, "data sequencing"));
		world_free(w);
	}
	/* the initiator: ICRP asking for sequencing without L2SS */
	{
		struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
		struct l2tp_msg m, icrq;
		uint8_t buf[L2TP_MAX_MSG_LEN];
		int n;

		start(w);
		open_a(w);
		xfer(w, &w->a, &m); /* SCCRQ */
		xfer(w, &w->b, &m); /* SCCRP */
		xfer(w, &w->a, &m); /* SCCCN */
		drop(&w->a, &icrq);
		assert_int_equal(icrq.type, L2TP_MSG_ICRQ);
		mk(&m, L2TP_MSG_ICRP, CCID_A, 1, 3);
		mk_sids(&m, 0x7001, icrq.local_session_id);
		l2tp_msg_set(&m, L2TP_AVP_DATA_SEQUENCING);
		m.data_sequencing = 1;
		n = l2tp_ctrl_encode(&m, buf, sizeof(buf));
		assert_true(n > 0);
		fsm_tunnel_input(&w->a.t, &m, buf, (size_t)n, w->now);
		assert_int_equal(w->a.t.n_sessions, 0);
		assert_int_equal(w->a.fake.ups, 0);
		peek(&w->a, w->a.nout - 1, &m);
		assert_int_equal(m.type, L2TP_MSG_CDN);
		assert_int_equal(m.result_code, L2TP_CDN_SEQ_WITHOUT_L2SS);
		assert_int_equal(m.remote_session_id, 0x7001);
		world_free(w);
	}
}

/* Both ask for sequencing: each ICRQ/ICRP carries Data Sequencing 2 and
 * the L2SS AVP (implied by sequencing even with l2ss off), each session
 * numbers what it sends and checks what it receives, no mismatch. */
static void test_session_sequencing_both(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	const struct fsm_session *sa, *sb;

	(void)state;
	w->a.conf.data_seq = w->b.conf.data_seq = true;
	w->a.conf.l2ss = true; /* b: implied */
	start(w);
	open_a(w);
	xfer(w, &w->a, &m); /* SCCRQ */
	xfer(w, &w->b, &m); /* SCCRP */
	xfer(w, &w->a, &m); /* SCCCN */
	xfer(w, &w->a, &m); /* ICRQ */
	assert_int_equal(m.type, L2TP_MSG_ICRQ);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_DATA_SEQUENCING));
	assert_int_equal(m.data_sequencing, L2TP_DATA_SEQ_ALL);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_L2SS));
	assert_int_equal(m.l2ss, 1);
	peek(&w->b, 0, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRP);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_DATA_SEQUENCING));
	assert_int_equal(m.data_sequencing, L2TP_DATA_SEQ_ALL);
	assert_true(l2tp_msg_has(&m, L2TP_AVP_L2SS));
	assert_int_equal(m.l2ss, 1);
	flush(w);
	run(w, w->now + 100, FLUSH);
	assert_int_equal(w->a.fake.ups + w->b.fake.ups, 2);
	sa = &w->a.t.sessions[0];
	sb = &w->b.t.sessions[0];
	assert_true(sa->rx_seq && sa->tx_seq && sa->rx_l2ss && sa->tx_l2ss);
	assert_true(sb->rx_seq && sb->tx_seq && sb->rx_l2ss && sb->tx_l2ss);
	assert_string_equal(sa->mismatch, "");
	assert_string_equal(sb->mismatch, "");
	assert_int_equal(count_ev(&w->a, FSM_EV_MISMATCH) + count_ev(&w->b, FSM_EV_MISMATCH), 0);
	world_free(w);
}

/* Only one side asks (each direction is the receiver's choice): the
 * other numbers what it sends, the asker does not; both note it. */
static void test_session_sequencing_one_way(void **state)
{
	for (int asker_is_a = 0; asker_is_a < 2; asker_is_a++) {
		struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
		const struct fsm_session *sa, *sb, *asker, *other;

		(void)state;
		if (asker_is_a)
			w->a.conf.data_seq = w->a.conf.l2ss = true;
		else
			w->b.conf.data_seq = w->b.conf.l2ss = true;
		/* and cookies of other lengths: three notes, none cut off */
		w->a.conf.cookie_len = 8;
		w->b.conf.cookie_len = 4;
		start(w);
		establish(w);
		sa = &w->a.t.sessions[0];
		sb = &w->b.t.sessions[0];
		asker = asker_is_a ? sa : sb;
		other = asker_is_a ? sb : sa;
		assert_true(asker->rx_seq && asker->rx_l2ss);
		assert_false(asker->tx_seq || asker->tx_l2ss);
		assert_true(other->tx_seq && other->tx_l2ss);
		assert_false(other->rx_seq || other->rx_l2ss);
		assert_non_null(strstr(asker->mismatch, "data sequencing: peer asked for none, ours is on "
					"(we number nothing, check what we receive)"));
		assert_non_null(strstr(other->mismatch, "data sequencing: peer asked for it (2), ours is off "
					"(adopted: we number what we send)"));
		assert_non_null(strstr(other->mismatch, "cookie length: "));
		assert_non_null(strstr(other->mismatch, "l2-specific-sublayer: "));
		assert_string_equal(w->a.t.mismatch, sa->mismatch);
		assert_true(has_ev(&w->a, FSM_EV_MISMATCH, "data sequencing"));
		assert_true(has_ev(&w->b, FSM_EV_MISMATCH, "data sequencing"));
		world_free(w);
	}
}

/* A peer (Linux-style LAC) asking only for non-IP sequencing (level 1),
 * in the ICRQ and again in the ICCN: honoured by numbering everything. */
static void test_session_sequencing_level1(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	const struct fsm_session *sb;

	(void)state;
	start(w);
	fake_establish_b(w, 0);
	mk_icrq(&m, 2, 1, 0x5001);
	l2tp_msg_set(&m, L2TP_AVP_DATA_SEQUENCING);
	m.data_sequencing = L2TP_DATA_SEQ_NON_IP;
	l2tp_msg_set(&m, L2TP_AVP_L2SS);
	m.l2ss = 1;
	inject(w, &w->b, &m);
	drop(&w->b, &m);
	assert_int_equal(m.type, L2TP_MSG_ICRP);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_DATA_SEQUENCING)); /* we ask for none */
	assert_int_equal(w->b.t.n_sessions, 1);
	sb = &w->b.t.sessions[0];
	assert_true(sb->tx_seq && sb->tx_l2ss);
	assert_false(sb->rx_seq);
	/* the ICCN repeats it: one note, the session comes up numbering */
	mk(&m, L2TP_MSG_ICCN, CCID_B, 3, 2);
	mk_sids(&m, 0x5001, sb->local_sid);
	l2tp_msg_set(&m, L2TP_AVP_DATA_SEQUENCING);
	m.data_sequencing = L2TP_DATA_SEQ_NON_IP;
	inject(w, &w->b, &m);
	assert_int_equal(w->b.fake.ups, 1);
	assert_true(sb->tx_seq && sb->tx_l2ss);
	assert_string_equal(sb->mismatch, "l2-specific-sublayer: peer asked for default, ours is none (adopted "
					  "for what we send); data sequencing: peer asked for it (1), ours is off "
					  "(adopted: we number what we send)");
	world_free(w);
}

/* The tunnel-level mismatches land in t->mismatch too. */
static void test_mismatch_router_id_and_auth(void **state)
{
	struct world *w = world_new(FSM_AUTH_CHALLENGE, "yamaha", "other");

	(void)state;
	w->a.conf.check_peer_router_id = true;
	w->a.conf.peer_router_id = RID_B;
	start(w);
	open_a(w);
	flush(w);
	run(w, w->now + 100, FLUSH);
	assert_non_null(strstr(w->a.t.mismatch, "authentication failed"));
	world_free(w);

	w = world_new(FSM_AUTH_NONE, NULL, NULL);
	w->a.conf.check_peer_router_id = true;
	w->a.conf.peer_router_id = RID_B + 1;
	start(w);
	open_a(w);
	flush(w);
	run(w, w->now + 100, FLUSH);
	assert_string_equal(w->a.t.mismatch, "Router ID 192.168.0.2 does not match remote router-id 192.168.0.3");
	world_free(w);
}

/* The session of s for pseudowire pw, NULL if none. */
static const struct fsm_session *pw_session(const struct side *s, unsigned pw)
{
	for (size_t i = 0; i < s->t.n_sessions; i++)
		if (s->t.sessions[i].pw == pw)
			return &s->t.sessions[i];
	return NULL;
}

/* Each pseudowire of A is paired with the same one of B, both up. */
static void expect_pws_paired(struct world *w, unsigned n)
{
	assert_int_equal(w->a.t.n_sessions, n);
	assert_int_equal(w->b.t.n_sessions, n);
	for (unsigned pw = 0; pw < n; pw++) {
		const struct fsm_session *x = pw_session(&w->a, pw), *y = pw_session(&w->b, pw);

		assert_non_null(x);
		assert_non_null(y);
		assert_int_equal(x->state, FSM_S_ESTABLISHED);
		assert_int_equal(y->state, FSM_S_ESTABLISHED);
		assert_int_equal(x->remote_sid, y->local_sid);
		assert_int_equal(y->remote_sid, x->local_sid);
	}
}

/* A with na pseudowires besides the first, B with nb: A opens and both
 * run over a perfect link. */
static void pws_establish(struct world *w, size_t na, size_t nb)
{
	conf_pws(&w->a.conf, na);
	conf_pws(&w->b.conf, nb);
	start(w);
	open_a(w);
	flush(w);
	run(w, w->now + 100, FLUSH);
}

/* RFC 3931 §3.3: the opener sends an ICRQ per pseudowire over one
 * connection, the other side pairs each by its Remote End ID. */
static void test_multi_pw_establish(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "s3cret", "s3cret");

	(void)state;
	pws_establish(w, 2, 2);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	expect_pws_paired(w, 3);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_ICRQ), 3);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_SCCRQ), 1);
	assert_int_equal(w->a.fake.ups, 3);
	assert_int_equal(w->b.fake.ups, 3);
	/* the pseudowires' end-ids went out in that order */
	assert_int_equal(pw_session(&w->a, 1)->local_sid + 1, pw_session(&w->a, 2)->local_sid);
	world_free(w);
}

/* A second and third ICRQ over an established connection each get a
 * session of their own; one for a pseudowire that has a session already,
 * or for an end-id no pseudowire has, is refused with a CDN. */
static void test_second_icrq_accepted(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);
	struct l2tp_msg m;
	uint16_t ns = 2;

	(void)state;
	conf_pws(&w->b.conf, 2);
	start(w);
	fake_establish_b(w, 8);
	for (unsigned pw = 0; pw < 3; pw++) {
		mk_icrq_pw(&m, ns++, 1, 0x9000u + pw, pw);
		inject(w, &w->b, &m);
		assert_int_equal(w->b.t.n_sessions, pw + 1);
		assert_int_equal(w->b.t.sessions[pw].pw, pw);
		assert_int_equal(w->b.t.sessions[pw].remote_sid, 0x9000u + pw);
		assert_int_equal(w->b.t.sessions[pw].state, FSM_S_WAIT_CONNECT);
	}
	assert_int_equal(w->b.t.txq_len, 3); /* three ICRPs (the window sends 2 at first) */
	/* pseudowire 2 again, from another session of the peer */
	mk_icrq_pw(&m, ns++, 1, 0x9100u, 1);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.n_sessions, 3);
	assert_true(has_ev(&w->b, FSM_EV_SESSION_REFUSED, "pseudowire 2 (end-id \"pw2\") has a session already"));
	/* an end-id none has */
	mk_icrq(&m, ns++, 1, 0x9200u);
	memcpy(m.remote_end_id, "nope", 4);
	inject(w, &w->b, &m);
	assert_int_equal(w->b.t.n_sessions, 3);
	assert_true(has_ev(&w->b, FSM_EV_SESSION_REFUSED, "is none of this tunnel's 3 pseudowires'"));
	/* acknowledge all: the queued ICRPs and both CDNs go out */
	for (int i = 0; i < 4 && w->b.t.txq_len; i++) {
		mk(&m, L2TP_MSG_ACK, CCID_B, ns, w->b.t.ns);
		inject(w, &w->b, &m);
	}
	assert_int_equal(count_sent(&w->b, L2TP_MSG_ICRP), 3);
	assert_int_equal(count_sent(&w->b, L2TP_MSG_CDN), 2);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	world_free(w);
}

/* A CDN ends one of three sessions: the others and the connection stay;
 * the opener asks for that pseudowire again FSM_PW_RETRY_MS later. */
static void test_cdn_one_of_three(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "s3cret", "s3cret");
	const struct fsm_session *s;
	uint32_t gone_a, keep_a0, keep_a2;

	(void)state;
	pws_establish(w, 2, 2);
	expect_pws_paired(w, 3);
	gone_a = pw_session(&w->a, 1)->local_sid;
	keep_a0 = pw_session(&w->a, 0)->local_sid;
	keep_a2 = pw_session(&w->a, 2)->local_sid;
	/* B (the answering side) closes pseudowire 2 */
	s = pw_session(&w->b, 1);
	assert_int_equal(fsm_session_close(&w->b.t, s->local_sid, L2TP_CDN_ADMIN, "test", w->now), 0);
	assert_int_equal(fsm_session_close(&w->b.t, 12345, L2TP_CDN_ADMIN, "test", w->now), -ENOENT);
	run(w, w->now + 1000, FLUSH);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->b.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.t.n_sessions, 2);
	assert_int_equal(w->b.t.n_sessions, 2);
	assert_null(pw_session(&w->a, 1));
	assert_int_equal(w->a.fake.downs, 1);
	assert_int_equal(w->b.fake.downs, 1);
	assert_true(has_ev(&w->a, FSM_EV_SESSION_STATE, "peer sent CDN, result 3"));
	assert_int_equal(pw_session(&w->a, 0)->local_sid, keep_a0);
	assert_int_equal(pw_session(&w->a, 2)->local_sid, keep_a2);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_STOPCCN), 0);
	/* asked again after the retry interval, not before */
	assert_int_equal(count_sent(&w->a, L2TP_MSG_ICRQ), 3);
	run(w, w->now + FSM_PW_RETRY_MS - 1500, FLUSH);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_ICRQ), 3);
	run(w, w->now + 1000, FLUSH);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_ICRQ), 4);
	expect_pws_paired(w, 3);
	assert_int_not_equal(pw_session(&w->a, 1)->local_sid, gone_a);
	assert_int_equal(w->a.fake.ups, 4);
	world_free(w);
}

/* The opener's last session going ends the connection, as with one. */
static void test_cdn_last_of_three_closes(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);

	(void)state;
	pws_establish(w, 2, 2);
	expect_pws_paired(w, 3);
	for (unsigned pw = 0; pw < 3; pw++)
		assert_int_equal(fsm_session_close(&w->b.t, pw_session(&w->b, pw)->local_sid, L2TP_CDN_ADMIN,
						   "test", w->now), 0);
	run(w, w->now + 1000, FLUSH);
	assert_int_equal(w->a.fake.downs, 3);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_STOPCCN), 1);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	world_free(w);
}

/* A StopCCN ends every session of the connection. */
static void test_stopccn_ends_all_sessions(void **state)
{
	struct world *w = world_new(FSM_AUTH_DIGEST, "s3cret", "s3cret");

	(void)state;
	pws_establish(w, 2, 2);
	expect_pws_paired(w, 3);
	fsm_tunnel_close(&w->b.t, L2TP_STOPCCN_CLEAR, "test", w->now);
	assert_int_equal(w->b.fake.downs, 3);
	run(w, w->now + 1000, FLUSH);
	assert_int_equal(w->a.fake.downs, 3);
	assert_int_equal(w->a.t.n_sessions, 0);
	assert_int_equal(w->b.t.n_sessions, 0);
	assert_int_equal(w->a.t.state, FSM_T_IDLE);
	assert_int_equal(w->b.t.state, FSM_T_IDLE);
	world_free(w);
}

/* The opener's pseudowire that the peer does not have is refused by it;
 * the others come up, and it is asked for again with back-off. */
static void test_pw_refused_retried_with_backoff(void **state)
{
	struct world *w = world_new(FSM_AUTH_NONE, NULL, NULL);

	(void)state;
	pws_establish(w, 2, 1); /* B has no "pw3" */
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	assert_int_equal(w->a.t.n_sessions, 2);
	assert_null(pw_session(&w->a, 2));
	assert_true(has_ev(&w->b, FSM_EV_SESSION_REFUSED, "\"pw3\" is none of"));
	run(w, w->now + FSM_PW_RETRY_MS + 100, FLUSH);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_ICRQ), 4);
	run(w, w->now + 2 * FSM_PW_RETRY_MS, FLUSH);
	assert_int_equal(count_sent(&w->a, L2TP_MSG_ICRQ), 5); /* 20 s later, not 10 */
	assert_int_equal(w->a.t.n_sessions, 2);
	assert_int_equal(w->a.t.state, FSM_T_ESTABLISHED);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_session_cookies_and_l2ss, teardown),
		cmocka_unit_test_teardown(test_session_cookies_match, teardown),
		cmocka_unit_test_teardown(test_session_peer_without_cookie, teardown),
		cmocka_unit_test_teardown(test_session_pw_type_mismatch_cdn14, teardown),
		cmocka_unit_test_teardown(test_session_pw_type_vlan, teardown),
		cmocka_unit_test_teardown(test_session_sequencing_cdn15, teardown),
		cmocka_unit_test_teardown(test_session_sequencing_both, teardown),
		cmocka_unit_test_teardown(test_session_sequencing_one_way, teardown),
		cmocka_unit_test_teardown(test_session_sequencing_level1, teardown),
		cmocka_unit_test_teardown(test_mismatch_router_id_and_auth, teardown),
		cmocka_unit_test_teardown(test_happy_path_no_auth, teardown),
		cmocka_unit_test_teardown(test_happy_path_digest, teardown),
		cmocka_unit_test_teardown(test_happy_path_challenge, teardown),
		cmocka_unit_test_teardown(test_digest_tampered_message_dropped, teardown),
		cmocka_unit_test_teardown(test_digest_wrong_secret_refused, teardown),
		cmocka_unit_test_teardown(test_challenge_wrong_secret_initiator_refuses, teardown),
		cmocka_unit_test_teardown(test_challenge_bad_scccn_responder_refuses, teardown),
		cmocka_unit_test_teardown(test_auth_one_side_only_refused, teardown),
		cmocka_unit_test_teardown(test_router_id_mismatch_sccrq, teardown),
		cmocka_unit_test_teardown(test_router_id_mismatch_sccrp, teardown),
		cmocka_unit_test_teardown(test_remote_end_id_mismatch, teardown),
		cmocka_unit_test_teardown(test_lost_sccrq_retransmitted, teardown),
		cmocka_unit_test_teardown(test_lost_sccrp_retransmitted, teardown),
		cmocka_unit_test_teardown(test_input_result, teardown),
		cmocka_unit_test_teardown(test_duplicates_reacked_not_reprocessed, teardown),
		cmocka_unit_test_teardown(test_out_of_order_held_until_gap_filled, teardown),
		cmocka_unit_test_teardown(test_backoff_and_give_up, teardown),
		cmocka_unit_test_teardown(test_bogus_nr_ignored_ack_ns_ignored, teardown),
		cmocka_unit_test_teardown(test_peer_rws_honoured, teardown),
		cmocka_unit_test_teardown(test_slow_start, teardown),
		cmocka_unit_test_teardown(test_multi_pw_establish, teardown),
		cmocka_unit_test_teardown(test_second_icrq_accepted, teardown),
		cmocka_unit_test_teardown(test_cdn_one_of_three, teardown),
		cmocka_unit_test_teardown(test_cdn_last_of_three_closes, teardown),
		cmocka_unit_test_teardown(test_stopccn_ends_all_sessions, teardown),
		cmocka_unit_test_teardown(test_pw_refused_retried_with_backoff, teardown),
		cmocka_unit_test_teardown(test_keepalive_and_dead_peer, teardown),
		cmocka_unit_test_teardown(test_dead_peer_behind_unacked_message, teardown),
		cmocka_unit_test_teardown(test_peer_stopccn, teardown),
		cmocka_unit_test_teardown(test_close_unacked_gives_up, teardown),
		cmocka_unit_test_teardown(test_drop_at_once, teardown),
		cmocka_unit_test_teardown(test_peer_cdn, teardown),
		cmocka_unit_test_teardown(test_sli_circuit_status, teardown),
		cmocka_unit_test_teardown(test_session_up_failure_sends_cdn, teardown),
		cmocka_unit_test_teardown(test_effects_in_order, teardown),
		cmocka_unit_test_teardown(test_effects_start_failed_sends_cdn, teardown),
		cmocka_unit_test_teardown(test_effects_overflow_keeps_session_down, teardown),
		cmocka_unit_test_teardown(test_seq_lt_boundaries, teardown),
		cmocka_unit_test_teardown(test_wrap_hellos, teardown),
		cmocka_unit_test_teardown(test_wrap_reorder_duplicate, teardown),
		cmocka_unit_test_teardown(test_sccrq_when_established_stopccn_7, teardown),
		cmocka_unit_test_teardown(test_unknown_message_type_stopccn, teardown),
		cmocka_unit_test_teardown(test_unknown_mandatory_avp_in_hello_stopccn, teardown),
		cmocka_unit_test_teardown(test_unknown_mandatory_avp_in_sccrq_refused, teardown),
		cmocka_unit_test_teardown(test_hello_in_wait_ctl_reply_ignored, teardown),
		cmocka_unit_test_teardown(test_setup_acked_then_silent_times_out, teardown),
		cmocka_unit_test_teardown(test_stateless_stopccn_and_ack, teardown),
		cmocka_unit_test_teardown(test_stateless_stopccn_signed, teardown),
		cmocka_unit_test_teardown(test_digest_sha1_responder_follows, teardown),
		cmocka_unit_test_teardown(test_responder_follows_auth_style, teardown),
		cmocka_unit_test_teardown(test_challenge_wrong_secret_responder_refuses, teardown),
		cmocka_unit_test_teardown(test_unknown_mandatory_avp_in_session_messages_cdn, teardown),
		cmocka_unit_test_teardown(test_unknown_mandatory_avp_in_icrp_cdn, teardown),
		cmocka_unit_test_teardown(test_vendor_and_unknown_avps_in_control_messages, teardown),
		cmocka_unit_test_teardown(test_stopccn_result_codes, teardown),
		cmocka_unit_test_teardown(test_simultaneous_open_tie_breaker, teardown),
		cmocka_unit_test_teardown(test_wen_and_sli_without_harm, teardown),
		cmocka_unit_test_teardown(test_replayed_setup_messages_only_reacked, teardown),
		cmocka_unit_test_teardown(test_v2_peer_zlb_acks, teardown),
		cmocka_unit_test_teardown(test_state_names, teardown),
		cmocka_unit_test_teardown(test_soak_lossy_link, teardown),
		cmocka_unit_test_teardown(test_keepalive_spread, teardown),
		cmocka_unit_test_teardown(test_keepalive_one_sender, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
