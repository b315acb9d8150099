/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the state machines (src/fsm): sequences of datagrams,
 * clock steps and local commands fed to one tunnel T, the way the daemon
 * glue (src/daemon/daemon.c handle_ctrl) drives it.
 *
 * Input: one selector byte, then chunks [op u8][n u16 big-endian][...]:
 *   op % 4 == 0: the next n bytes are a datagram from the peer (decoded;
 *                an SCCRQ with CCID 0 goes through fsm_sccrq_check and
 *                fsm_tunnel_accept if T is an idle responder; CCID = T's
 *                goes to fsm_tunnel_input; anything else gets the glue's
 *                stateless answer);
 *   op % 4 == 1: the clock moves n * 10 ms, then every due tick runs;
 *   op % 4 == 2: fsm_tunnel_close(T, n % 8);
 *   op % 4 == 3: fsm_tunnel_open(T) (an initiator starting over).
 * Selector: bit 0 T is the initiator, bits 1-2 authentication (none,
 * digest, challenge, none), bits 3-5 how many messages of a real exchange
 * with a peer tunnel P run before the input (so T starts in set-up or
 * established states with valid nonces, digests and session IDs).
 *
 * Properties: every datagram T sends decodes, carries a digest when digest
 * authentication is in force, and goes to the peer's CCID once known;
 * after fsm_tunnel_tick(now) the deadline is in the future (the daemon's
 * timer would otherwise spin); T's counters stay within its queues.
 *
 * fuzz_fsm_record() writes real exchanges as corpus files in this format.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/fsm_harness.h"
#include "fsm/ctrl.h"
#include "fuzz.h"
#include "fuzz_fsm.h"

#define T_CCID 0x0a0b0c0du
#define P_CCID 0x01020304u
#define SECRET "yamaha"
#define QMAX 64
#define START_MS 1000000ull

struct dgram {
	size_t len;
	uint8_t buf[L2TP_MAX_MSG_LEN];
};

struct side {
	struct fsm_tunnel t;
	struct fsm_tunnel_conf conf;
	struct dgram *out; /* what this side sent, not yet delivered */
	size_t nout;
	struct fsm_fake fake; /* the glue's stand-in (tests/unit/fsm_harness.h) */
	bool is_t;
};

struct world {
	struct side T, P;
	uint64_t now;
	bool warm; /* P is live: T's datagrams are queued for it */
	FILE *rec; /* recording: P -> T datagrams and clock steps */
};

static struct world *W;

static void fuzz_failed(const char *what)
{
	fprintf(stderr, "fuzz_fsm: property broken: %s\n", what);
	abort();
}

/* A datagram a side sent (the harness checked that it decodes). */
static void on_sent(struct fsm_fake *f, struct fsm_tunnel *t, const uint8_t *buf, size_t len,
		    const struct l2tp_msg *m)
{
	struct side *s = (struct side *)((char *)f - offsetof(struct side, fake));

	if (t->auth == FSM_AUTH_DIGEST && m->type != L2TP_MSG_ZLB)
		fuzz_check(m->n_digests == 1);
	if (m->type != L2TP_MSG_SCCRQ && m->type != L2TP_MSG_STOPCCN && t->remote_ccid)
		fuzz_check(m->ccid == t->remote_ccid);
	if (s->is_t && !W->warm)
		return;
	if (s->nout < QMAX) {
		memcpy(s->out[s->nout].buf, buf, len);
		s->out[s->nout++].len = len;
	}
}

static void conf_init(struct fsm_tunnel_conf *c, bool initiator, enum fsm_auth auth)
{
	memset(c, 0, sizeof(*c));
	c->id = 1;
	c->initiator = initiator;
	snprintf(c->host_name, sizeof(c->host_name), "%s", initiator ? "RT1" : "RT2");
	c->router_id = initiator ? 0xc0a8020au : 0xc0a80214u;
	c->auth = auth;
	if (auth != FSM_AUTH_NONE) {
		c->secret_len = strlen(SECRET);
		memcpy(c->secret, SECRET, c->secret_len);
	}
	memcpy(c->end_id, "yamaha", 6);
	c->end_id_len = 6;
	/* two more pseudowires over the same connection */
	memcpy(c->pws[0].end_id, "cams", 4);
	c->pws[0].end_id_len = 4;
	memcpy(c->pws[1].end_id, "voice", 5);
	c->pws[1].end_id_len = 5;
	c->n_pws = 2;
	c->hello_interval = 1;
	c->hello_count = 3;
	c->rtx_retries = 3;
}

static void check_tunnel(const struct fsm_tunnel *t)
{
	fuzz_check(t->txq_len <= FSM_TXQ_LEN);
	fuzz_check(t->n_sessions <= FSM_MAX_SESSIONS);
	fuzz_check((unsigned)t->state < FSM_T_STATE_MAX);
	for (size_t i = 0; i < t->n_sessions; i++) {
		fuzz_check((unsigned)t->sessions[i].state < FSM_S_STATE_MAX);
		/* one session per pseudowire, and only configured ones */
		fuzz_check(t->sessions[i].pw <= t->conf.n_pws);
		for (size_t j = 0; j < i; j++)
			fuzz_check(t->sessions[j].pw != t->sessions[i].pw);
	}
}

/* Deliver one datagram to side s as the daemon's handle_ctrl would. */
static void deliver(struct side *s, const uint8_t *buf, size_t len)
{
	uint8_t out[L2TP_MAX_MSG_LEN];
	struct l2tp_msg m;
	char why[192];

	if (len < 2 || !l2tp_is_ctrl(buf) || l2tp_ctrl_decode(buf, len, &m) != L2TP_DEC_OK)
		return;
	if (m.ccid == 0 && m.type == L2TP_MSG_SCCRQ) {
		int r;

		if (s->t.conf.initiator || s->t.state != FSM_T_IDLE)
			return;
		r = fsm_sccrq_check(&s->conf, &m, buf, len, why, sizeof(why));
		fuzz_check(r >= 0 && r < 8);
		if (r) {
			(void)fsm_stateless_stopccn(&m, (uint16_t)r, why, out, sizeof(out));
			return;
		}
		(void)fsm_tunnel_accept(&s->t, &m, buf, len, W->now);
		return;
	}
	if (m.ccid != 0 && m.ccid == s->t.local_ccid) {
		fsm_tunnel_input(&s->t, &m, buf, len, W->now);
		return;
	}
	if (m.type == L2TP_MSG_STOPCCN && l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID))
		(void)fsm_stateless_ack(m.assigned_ccid, m.nr, (uint16_t)(m.ns + 1), out, sizeof(out));
}

static void tick(struct side *s)
{
	for (unsigned i = 0; i < 64 && fsm_tunnel_deadline(&s->t) <= W->now; i++) {
		fsm_tunnel_tick(&s->t, W->now);
		fuzz_check(fsm_tunnel_deadline(&s->t) > W->now);
	}
}

static void record(uint8_t op, uint16_t n, const uint8_t *data)
{
	uint8_t h[3] = { op, (uint8_t)(n >> 8), (uint8_t)n };

	if (!W->rec)
		return;
	fwrite(h, 1, 3, W->rec);
	if (op == 0)
		fwrite(data, 1, n, W->rec);
}

/* Hand over what each side sent; returns P -> T datagrams delivered. */
static unsigned exchange(unsigned max_to_t)
{
	unsigned to_t = 0;
	size_t i;

	for (i = 0; i < W->P.nout && to_t < max_to_t; i++, to_t++) {
		record(0, (uint16_t)W->P.out[i].len, W->P.out[i].buf);
		deliver(&W->T, W->P.out[i].buf, W->P.out[i].len);
	}
	W->P.nout = 0;
	for (i = 0; i < W->T.nout; i++)
		deliver(&W->P, W->T.out[i].buf, W->T.out[i].len);
	W->T.nout = 0;
	return to_t;
}

static void step_clock(unsigned n)
{
	W->now += 10ull * n;
	record(1, (uint16_t)n, NULL);
	tick(&W->T);
	if (W->warm)
		tick(&W->P);
}

static void world_init(struct world *w, uint8_t sel, struct dgram *qt, struct dgram *qp)
{
	bool t_init = sel & 1;
	enum fsm_auth auth = (enum fsm_auth[]){ FSM_AUTH_NONE, FSM_AUTH_DIGEST, FSM_AUTH_CHALLENGE,
						FSM_AUTH_NONE }[(sel >> 1) & 3];

	memset(w, 0, sizeof(*w));
	W = w;
	w->now = START_MS;
	w->T.out = qt;
	w->P.out = qp;
	w->T.is_t = true;
	w->T.fake.next_sid = 0x1000;
	w->P.fake.next_sid = 0x2000;
	w->T.fake.rnd_seed = 0x5a;
	w->P.fake.rnd_seed = 0xda;
	for (struct side *s = &w->T; s; s = s == &w->T ? &w->P : NULL) {
		s->fake.rnd_mul = 37;
		s->fake.sent = on_sent;
		s->fake.fail = fuzz_failed;
	}
	conf_init(&w->T.conf, t_init, auth);
	conf_init(&w->P.conf, !t_init, auth);
	fsm_tunnel_init(&w->T.t, &w->T.conf, T_CCID, &fsm_fake_ops, &w->T.fake);
	fsm_tunnel_init(&w->P.t, &w->P.conf, P_CCID, &fsm_fake_ops, &w->P.fake);
}

/* Run the real exchange until P has delivered `steps` datagrams to T (or
 * `steps` rounds passed); both sides live. */
static void warm_up(unsigned steps, bool live_p)
{
	unsigned delivered = 0, rounds = 0;

	W->warm = live_p;
	if (W->T.conf.initiator)
		(void)fsm_tunnel_open(&W->T.t, W->now);
	else if (live_p)
		(void)fsm_tunnel_open(&W->P.t, W->now);
	while (live_p && delivered < steps && rounds++ < 4 * steps + 8) {
		delivered += exchange(steps - delivered);
		step_clock(1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dgram qt[QMAX], qp[QMAX];
	struct world w;
	size_t off = 1;
	unsigned steps;

	if (size < 1)
		return 0;
	world_init(&w, data[0], qt, qp);
	steps = (data[0] >> 3) & 7;
	warm_up(steps, steps > 0);
	w.warm = false;
	w.P.nout = 0;

	while (size - off >= 3) {
		uint8_t op = data[off];
		uint16_t n = (uint16_t)(data[off + 1] << 8 | data[off + 2]);

		off += 3;
		switch (op % 4) {
		case 0:
			if (n > size - off)
				n = (uint16_t)(size - off);
			deliver(&w.T, data + off, n);
			off += n;
			break;
		case 1:
			step_clock(n);
			break;
		case 2:
			fsm_tunnel_close(&w.T.t, (uint16_t)(n % 8), "fuzz close", w.now);
			break;
		case 3:
			(void)fsm_tunnel_open(&w.T.t, w.now);
			break;
		}
		check_tunnel(&w.T.t);
		w.T.nout = 0;
	}
	/* whatever state it is in, time alone must wind it down without spinning */
	for (int i = 0; i < 200 && w.T.t.state != FSM_T_IDLE; i++)
		step_clock(100);
	fsm_tunnel_release(&w.T.t);
	fsm_tunnel_release(&w.P.t);
	W = NULL;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* corpus recording */

int fuzz_fsm_record(uint8_t sel, unsigned rounds, FILE *out, fuzz_dgram_fn on_dgram, void *arg)
{
	static struct dgram qt[QMAX], qp[QMAX];
	struct world w;
	uint8_t s = sel & 7; /* no warm-up: the whole exchange is in the file */
	size_t i;

	world_init(&w, s, qt, qp);
	w.rec = out;
	fputc(s, out);
	w.warm = true;
	if (w.T.conf.initiator)
		(void)fsm_tunnel_open(&w.T.t, w.now);
	else
		(void)fsm_tunnel_open(&w.P.t, w.now);
	for (unsigned r = 0; r < rounds; r++) {
		for (i = 0; on_dgram && i < w.P.nout; i++)
			on_dgram(w.P.out[i].buf, w.P.out[i].len, arg);
		for (i = 0; on_dgram && i < w.T.nout; i++)
			on_dgram(w.T.out[i].buf, w.T.out[i].len, arg);
		(void)exchange(QMAX);
		if (r == rounds / 2 && (sel & 8))
			fsm_tunnel_close(&w.P.t, L2TP_STOPCCN_CLEAR, "recorded StopCCN", w.now);
		step_clock(r < rounds / 4 ? 1 : 25);
	}
	fsm_tunnel_release(&w.T.t);
	fsm_tunnel_release(&w.P.t);
	W = NULL;
	return ferror(out) ? -EIO : 0;
}
