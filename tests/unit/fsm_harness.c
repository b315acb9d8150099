/* SPDX-License-Identifier: MIT */
/* The fake struct fsm_ops of the state machine's tests (fsm_harness.h). */
#include "fsm_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(const struct fsm_fake *f, bool ok, const char *what)
{
	if (ok)
		return;
	if (f->fail)
		f->fail(what);
	abort();
}

static void fake_send(void *ctx, struct fsm_tunnel *t, const uint8_t *buf, size_t len)
{
	struct fsm_fake *f = ctx;
	struct l2tp_msg m;

	check(f, len <= L2TP_MAX_MSG_LEN, "a datagram sent is longer than L2TP_MAX_MSG_LEN");
	check(f, l2tp_ctrl_decode(buf, len, &m) == L2TP_DEC_OK, "a datagram sent does not decode");
	if (f->sent)
		f->sent(f, t, buf, len, &m);
}

static void fake_random(void *ctx, void *buf, size_t len)
{
	struct fsm_fake *f = ctx;
	uint8_t *p = buf;

	if (f->random) {
		f->random(f, buf, len);
		return;
	}
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(f->rnd_seed + (uint32_t)f->rnd_mul * f->rnd++);
}

static uint32_t fake_alloc_sid(void *ctx)
{
	struct fsm_fake *f = ctx;

	return f->same_sid ? f->next_sid : f->next_sid++;
}

/* A SESSION_UP effect: the fake's data path starts, or fails (up_ret < 0)
 * and says so to the machine, as the glue does. */
static void fake_session_up(struct fsm_fake *f, struct fsm_tunnel *t, const struct fsm_session *s, uint64_t now)
{
	check(f, s->local_sid != 0, "a session came up without a local Session ID");
	f->ups++;
	f->up_local = s->local_sid;
	f->up_remote = s->remote_sid;
	if (f->up_ret < 0 && fsm_session_find(t, s->local_sid))
		(void)fsm_session_start_failed(t, s->local_sid, now);
}

static void fake_event(struct fsm_fake *f, const struct fsm_event *ev)
{
	check(f, ev->reason != NULL, "an event without a reason");
	(void)strlen(ev->reason); /* read all of it: a bad string shows under ASan */
	check(f, (unsigned)ev->kind < sizeof(f->kinds) / sizeof(f->kinds[0]), "an event of an unknown kind");
	f->kinds[ev->kind]++;
	if (f->ev && f->nev < f->evcap) {
		f->ev[f->nev] = (struct fsm_fake_event){ .kind = ev->kind, .from = ev->from, .to = ev->to };
		snprintf(f->ev[f->nev].reason, sizeof(f->ev[0].reason), "%s", ev->reason);
	}
	f->nev++;
}

void fsm_fake_drain(struct fsm_tunnel *t, uint64_t now)
{
	struct fsm_fake *f = t->ctx;
	struct fsm_effect e;

	while (fsm_tunnel_take_effect(t, &e)) {
		if (f->fx && f->nfx < f->fxcap)
			f->fx[f->nfx] = e.kind;
		f->nfx++;
		switch (e.kind) {
		case FSM_FX_SESSION_UP:
			check(f, e.has_session, "a SESSION_UP without its session");
			fake_session_up(f, t, &e.session, now);
			break;
		case FSM_FX_SESSION_DOWN:
			check(f, e.has_session, "a SESSION_DOWN without its session");
			f->downs++;
			break;
		case FSM_FX_EVENT:
			fake_event(f, &e.ev);
			break;
		}
	}
}

/* The machine's entry points, each followed by the drain (fsm_harness.h);
 * the parentheses call the functions, not the macros. */
enum fsm_input fsm_fake_input(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
			      uint64_t now)
{
	enum fsm_input r = (fsm_tunnel_input)(t, m, raw, len, now);

	fsm_fake_drain(t, now);
	return r;
}

void fsm_fake_tick(struct fsm_tunnel *t, uint64_t now)
{
	(fsm_tunnel_tick)(t, now);
	fsm_fake_drain(t, now);
}

int fsm_fake_open(struct fsm_tunnel *t, uint64_t now)
{
	int r = (fsm_tunnel_open)(t, now);

	fsm_fake_drain(t, now);
	return r;
}

int fsm_fake_accept(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len, uint64_t now)
{
	int r = (fsm_tunnel_accept)(t, m, raw, len, now);

	fsm_fake_drain(t, now);
	return r;
}

void fsm_fake_close(struct fsm_tunnel *t, uint16_t result, const char *why, uint64_t now)
{
	(fsm_tunnel_close)(t, result, why, now);
	fsm_fake_drain(t, now);
}

void fsm_fake_close_error(struct fsm_tunnel *t, uint16_t result, uint16_t error, const char *why, uint64_t now)
{
	(fsm_tunnel_close_error)(t, result, error, why, now);
	fsm_fake_drain(t, now);
}

int fsm_fake_session_close(struct fsm_tunnel *t, uint32_t local_sid, uint16_t result, const char *why,
			   uint64_t now)
{
	int r = (fsm_session_close)(t, local_sid, result, why, now);

	fsm_fake_drain(t, now);
	return r;
}

void fsm_fake_drop(struct fsm_tunnel *t, uint16_t result, const char *why)
{
	(fsm_tunnel_drop)(t, result, why);
	fsm_fake_drain(t, 0);
}

void fsm_fake_release(struct fsm_tunnel *t)
{
	(fsm_tunnel_release)(t);
	fsm_fake_drain(t, 0);
}

static void fake_trace(void *ctx, struct fsm_tunnel *t, bool tx, const struct l2tp_msg *m)
{
	struct fsm_fake *f = ctx;

	(void)t;
	(void)tx;
	check(f, l2tp_msg_type_name(m->type) != NULL, "a traced message without a type name");
	f->ntraced++;
}

const struct fsm_ops fsm_fake_ops = {
	.send = fake_send,
	.random = fake_random,
	.alloc_session_id = fake_alloc_sid,
	.trace = fake_trace,
};
