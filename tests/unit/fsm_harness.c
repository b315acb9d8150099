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

static int fake_session_up(void *ctx, struct fsm_tunnel *t, struct fsm_session *s)
{
	struct fsm_fake *f = ctx;

	(void)t;
	check(f, s->local_sid != 0, "a session came up without a local Session ID");
	f->ups++;
	f->up_local = s->local_sid;
	f->up_remote = s->remote_sid;
	return f->up_ret;
}

static void fake_session_down(void *ctx, struct fsm_tunnel *t, struct fsm_session *s)
{
	struct fsm_fake *f = ctx;

	(void)t;
	(void)s;
	f->downs++;
}

static void fake_event(void *ctx, struct fsm_tunnel *t, struct fsm_session *s, const struct fsm_event *ev)
{
	struct fsm_fake *f = ctx;

	(void)t;
	(void)s;
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
	.session_up = fake_session_up,
	.session_down = fake_session_down,
	.event = fake_event,
	.trace = fake_trace,
};
