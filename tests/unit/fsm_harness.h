/* SPDX-License-Identifier: MIT */
/*
 * A fake struct fsm_ops for the state machine's tests (test_fsm,
 * test_replay, test_fsm_codec) and fuzzer (tests/fuzz/fuzz_fsm.c): the
 * one place that stands in for the daemon glue.  It checks what every
 * caller of the machine may rely on (each datagram sent decodes, each
 * event has a reason, each session up has a local Session ID), hands out
 * deterministic random bytes and Session IDs, and records what the machine
 * did.  A test embeds a struct fsm_fake in its own state, sets the knobs,
 * and passes &fsm_fake_ops with the fake as the ctx of fsm_tunnel_init;
 * what it does with a datagram sent is its own (the `sent` hook).
 *
 * It links with the state machine and the wire codec only, and calls no
 * test framework: a broken rule goes to the `fail` hook (cmocka's
 * fail_msg in the unit tests, abort() in the fuzzer).
 *
 * The machine's effects (ctrl.h) are taken after each call, as the glue
 * does: this header replaces the machine's entry points by wrappers that
 * call them and then drain the outbox into the fake (fsm_fake_drain), so
 * that a test calls fsm_tunnel_input() and so on as the daemon does and
 * finds the effects counted when it returns.
 */
#ifndef L2TP_TESTS_FSM_HARNESS_H
#define L2TP_TESTS_FSM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsm/ctrl.h"
#include "wire/l2tp_wire.h"

struct fsm_fake_event {
	enum fsm_event_kind kind;
	int from, to;
	char reason[256];
};

struct fsm_fake {
	/* set by the test; all optional */
	/* a datagram the machine sent, with its decoding */
	void (*sent)(struct fsm_fake *f, struct fsm_tunnel *t, const uint8_t *buf, size_t len,
		     const struct l2tp_msg *m);
	/* random bytes; NULL: byte i is rnd_seed + rnd_mul * (counter++) */
	void (*random)(struct fsm_fake *f, void *buf, size_t len);
	/* a broken rule, with what broke; NULL: abort() */
	void (*fail)(const char *what);
	uint8_t rnd_seed, rnd_mul;
	uint32_t rnd; /* the counter */
	uint32_t next_sid; /* Session IDs handed out: next_sid, next_sid + 1, ... */
	bool same_sid; /* ... or next_sid every time */
	int up_ret; /* < 0: the data path fails to start (fsm_session_start_failed) */
	enum fsm_effect_kind *fx; /* where effect kinds are kept, in order, fxcap of them; NULL: only counted */
	size_t fxcap;
	struct fsm_fake_event *ev; /* where events are kept, evcap of them; NULL: only counted */
	size_t evcap;

	/* what the machine did */
	unsigned ups, downs; /* sessions up / down */
	uint32_t up_local, up_remote; /* the last session up */
	size_t nev; /* events (ev holds the first evcap) */
	unsigned kinds[FSM_EV_PROTOCOL + 1]; /* events by kind */
	size_t ntraced; /* messages passed to trace */
	size_t nfx; /* effects taken (fx holds the first fxcap) */
};

/* ctx: a struct fsm_fake * */
extern const struct fsm_ops fsm_fake_ops;

/* Take t's effects (t->ctx is the fake) and act on them as the glue does. */
void fsm_fake_drain(struct fsm_tunnel *t, uint64_t now);

enum fsm_input fsm_fake_input(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
			      uint64_t now);
void fsm_fake_tick(struct fsm_tunnel *t, uint64_t now);
int fsm_fake_open(struct fsm_tunnel *t, uint64_t now);
int fsm_fake_accept(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len, uint64_t now);
void fsm_fake_close(struct fsm_tunnel *t, uint16_t result, const char *why, uint64_t now);
void fsm_fake_close_error(struct fsm_tunnel *t, uint16_t result, uint16_t error, const char *why, uint64_t now);
int fsm_fake_session_close(struct fsm_tunnel *t, uint32_t local_sid, uint16_t result, const char *why,
			   uint64_t now);
void fsm_fake_drop(struct fsm_tunnel *t, uint16_t result, const char *why);
void fsm_fake_release(struct fsm_tunnel *t);

#define fsm_tunnel_input(...) fsm_fake_input(__VA_ARGS__)
#define fsm_tunnel_tick(...) fsm_fake_tick(__VA_ARGS__)
#define fsm_tunnel_open(...) fsm_fake_open(__VA_ARGS__)
#define fsm_tunnel_accept(...) fsm_fake_accept(__VA_ARGS__)
#define fsm_tunnel_close(...) fsm_fake_close(__VA_ARGS__)
#define fsm_tunnel_close_error(...) fsm_fake_close_error(__VA_ARGS__)
#define fsm_session_close(...) fsm_fake_session_close(__VA_ARGS__)
#define fsm_tunnel_drop(...) fsm_fake_drop(__VA_ARGS__)
#define fsm_tunnel_release(...) fsm_fake_release(__VA_ARGS__)

#endif
