/* SPDX-License-Identifier: MIT */
/*
 * The codec rules as the state machine applies them (src/fsm/ctrl.c with
 * src/wire): a responder tunnel T driven by a hand-made peer whose
 * messages are built with the wire encoder.  Each test names the RFC 3931
 * section it checks.
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

#define T_CCID 0x11111111u
#define PEER_CCID 0x22222222u
#define PEER_SID 0x3333u
#define SENT_MAX 32

struct harness {
	struct fsm_tunnel t;
	struct fsm_tunnel_conf conf;
	struct l2tp_msg sent[SENT_MAX];
	size_t nsent;
	struct fsm_fake fake; /* the glue's stand-in (fsm_harness.h) */
	uint16_t peer_ns;
	uint64_t now;
	uint8_t t_challenge[16];
};

static void failed(const char *what)
{
	fail_msg("%s", what);
}

static void on_sent(struct fsm_fake *f, struct fsm_tunnel *t, const uint8_t *buf, size_t len,
		    const struct l2tp_msg *m)
{
	struct harness *h = (struct harness *)((char *)f - offsetof(struct harness, fake));

	(void)t;
	(void)buf;
	(void)len;
	assert_true(h->nsent < SENT_MAX);
	h->sent[h->nsent++] = *m;
}

static const char secret[] = "yamaha";
static const uint8_t rv[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static void peer_msg(struct harness *h, struct l2tp_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	l2tp_msg_set(m, L2TP_AVP_MESSAGE_TYPE);
	m->ccid = type == L2TP_MSG_SCCRQ ? 0 : T_CCID;
	m->ns = h->peer_ns++;
	m->nr = h->t.ns;
}

/* Encode m, append extra raw AVP bytes, fix Length; returns the length. */
static size_t build(struct l2tp_msg *m, const uint8_t *extra, size_t extra_len, uint8_t *buf)
{
	int n = l2tp_ctrl_encode(m, buf, L2TP_MAX_MSG_LEN);

	assert_true(n > 0);
	if (extra_len)
		memcpy(buf + n, extra, extra_len);
	n += (int)extra_len;
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	return (size_t)n;
}

static void input(struct harness *h, const uint8_t *buf, size_t len)
{
	struct l2tp_msg m;

	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), 0);
	fsm_tunnel_input(&h->t, &m, buf, len, h->now);
}

/* Bring T (a responder with Challenge authentication and secret) to
 * established with the peer. */
static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	uint8_t buf[L2TP_MAX_MSG_LEN];
	struct l2tp_msg m;
	char why[128];
	size_t len;

	if (!h)
		return -1;
	h->conf.rtx_retries = 3;
	h->conf.auth = FSM_AUTH_CHALLENGE;
	memcpy(h->conf.secret, secret, sizeof(secret) - 1);
	h->conf.secret_len = sizeof(secret) - 1;
	snprintf(h->conf.host_name, sizeof(h->conf.host_name), "T");
	h->conf.router_id = 2;
	h->fake.next_sid = 0x1000;
	h->fake.rnd_mul = 13;
	h->fake.sent = on_sent;
	h->fake.fail = failed;
	h->now = 100000;
	fsm_tunnel_init(&h->t, &h->conf, T_CCID, &fsm_fake_ops, &h->fake);

	peer_msg(h, &m, L2TP_MSG_SCCRQ);
	l2tp_msg_set(&m, L2TP_AVP_HOST_NAME);
	strcpy(m.host_name, "peer");
	l2tp_msg_set(&m, L2TP_AVP_ROUTER_ID);
	m.router_id = 1;
	l2tp_msg_set(&m, L2TP_AVP_ASSIGNED_CCID);
	m.assigned_ccid = PEER_CCID;
	l2tp_msg_set(&m, L2TP_AVP_PW_CAPABILITIES);
	m.pw_caps[0] = L2TP_PW_TYPE_ETH;
	m.n_pw_caps = 1;
	l2tp_msg_set(&m, L2TP_AVP_CHALLENGE);
	memset(m.challenge, 0x77, 16);
	m.challenge_len = 16;
	len = build(&m, NULL, 0, buf);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), 0);
	assert_int_equal(fsm_sccrq_check(&h->conf, &m, buf, len, why, sizeof(why)), 0);
	assert_int_equal(fsm_tunnel_accept(&h->t, &m, buf, len, h->now), 0);
	assert_int_equal(h->sent[h->nsent - 1].type, L2TP_MSG_SCCRP);
	memcpy(h->t_challenge, h->sent[h->nsent - 1].challenge, 16);

	peer_msg(h, &m, L2TP_MSG_SCCCN);
	l2tp_msg_set(&m, L2TP_AVP_CHALLENGE_RESPONSE);
	l2tp_auth_chap_response(L2TP_MSG_SCCCN, secret, strlen(secret), h->t_challenge, 16, m.challenge_response);
	m.nr = 1;
	len = build(&m, NULL, 0, buf);
	input(h, buf, len);
	assert_int_equal(h->t.state, FSM_T_ESTABLISHED);
	h->nsent = 0;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;

	fsm_tunnel_release(&h->t);
	free(h);
	return 0;
}

/* Send the peer's ICRQ with Remote End ID and Local Session ID hidden
 * with hide_secret (M=1), after a Random Vector. */
static void send_hidden_icrq(struct harness *h, const char *hide_secret)
{
	uint8_t buf[L2TP_MAX_MSG_LEN], extra[256], sid[4] = { 0, 0, PEER_SID >> 8, PEER_SID & 0xff };
	struct l2tp_msg m;
	size_t n = 0;
	int r;

	peer_msg(h, &m, L2TP_MSG_ICRQ);
	l2tp_msg_set(&m, L2TP_AVP_REMOTE_SESSION_ID);
	l2tp_msg_set(&m, L2TP_AVP_SERIAL_NUMBER);
	l2tp_msg_set(&m, L2TP_AVP_PW_TYPE);
	m.pw_type = L2TP_PW_TYPE_ETH;
	l2tp_msg_set(&m, L2TP_AVP_CIRCUIT_STATUS);
	m.circuit_status = L2TP_CIRCUIT_ACTIVE;
	/* Random Vector (the encoder has no field for it) */
	extra[n++] = 0x80;
	extra[n++] = 6 + sizeof(rv);
	extra[n++] = 0;
	extra[n++] = 0;
	extra[n++] = 0;
	extra[n++] = L2TP_AVP_RANDOM_VECTOR;
	memcpy(extra + n, rv, sizeof(rv));
	n += sizeof(rv);
	r = l2tp_avp_hide(extra + n, sizeof(extra) - n, true, L2TP_AVP_LOCAL_SESSION_ID, sid, 4, 12, hide_secret,
			  strlen(hide_secret), rv, sizeof(rv));
	assert_true(r > 0);
	n += (size_t)r;
	r = l2tp_avp_hide(extra + n, sizeof(extra) - n, true, L2TP_AVP_REMOTE_END_ID, (const uint8_t *)"yamaha", 6,
			  9, hide_secret, strlen(hide_secret), rv, sizeof(rv));
	assert_true(r > 0);
	n += (size_t)r;
	input(h, buf, build(&m, extra, n, buf));
}

static const struct l2tp_msg *last_sent(struct harness *h, uint16_t type)
{
	for (size_t i = h->nsent; i-- > 0;)
		if (h->sent[i].type == type)
			return &h->sent[i];
	return NULL;
}

/* RFC 3931 §5.3: hidden AVPs are decoded with the tunnel's secret. */
static void test_rfc3931_5_3_hidden_avps_in_icrq_accepted(void **state)
{
	struct harness *h = *state;
	const struct l2tp_msg *r;

	send_hidden_icrq(h, secret);
	r = last_sent(h, L2TP_MSG_ICRP);
	assert_non_null(r);
	assert_int_equal(r->remote_session_id, PEER_SID);
	assert_int_equal(h->t.n_sessions, 1);
	assert_int_equal(h->t.sessions[0].remote_sid, PEER_SID);
	assert_null(last_sent(h, L2TP_MSG_CDN));
}

/* RFC 3931 §5.2, §5.3: hidden with another secret, the M=1 AVPs cannot be
 * read: the session is refused like one with an unknown mandatory AVP. */
static void test_rfc3931_5_3_hidden_wrong_secret_is_unknown_mandatory(void **state)
{
	struct harness *h = *state;
	const struct l2tp_msg *r;

	send_hidden_icrq(h, "other-secret");
	assert_null(last_sent(h, L2TP_MSG_ICRP));
	r = last_sent(h, L2TP_MSG_CDN);
	/* no Local Session ID could be read: refused as such, or with error 8 */
	assert_non_null(r);
	assert_int_equal(r->result_code, L2TP_CDN_ERROR);
	assert_true(r->error_code == L2TP_ERR_UNKNOWN_MANDATORY || r->error_code == L2TP_ERR_BAD_SESSION_ID);
	assert_int_equal(h->t.n_sessions, 0);
	assert_int_equal(h->t.state, FSM_T_ESTABLISHED);
}

/* RFC 3931 §5.4.1: an unknown message type with M=0 is ignored (and
 * acknowledged); the tunnel stays. */
static void test_rfc3931_5_4_1_unknown_type_m0_ignored(void **state)
{
	struct harness *h = *state;
	uint8_t buf[L2TP_MAX_MSG_LEN];
	struct l2tp_msg m;
	size_t len;

	peer_msg(h, &m, 42);
	len = build(&m, NULL, 0, buf);
	buf[12] &= 0x7f; /* Message Type AVP: M=0 */
	input(h, buf, len);
	assert_int_equal(h->t.state, FSM_T_ESTABLISHED);
	assert_null(last_sent(h, L2TP_MSG_STOPCCN));
	h->now += 1000;
	fsm_tunnel_tick(&h->t, h->now);
	assert_non_null(last_sent(h, L2TP_MSG_ACK));
	assert_int_equal(last_sent(h, L2TP_MSG_ACK)->nr, h->peer_ns);
}

/* RFC 3931 §5.4.1: ... with M=1 the control connection is cleared. */
static void test_rfc3931_5_4_1_unknown_type_m1_clears(void **state)
{
	struct harness *h = *state;
	uint8_t buf[L2TP_MAX_MSG_LEN];
	const struct l2tp_msg *r;
	struct l2tp_msg m;

	peer_msg(h, &m, 42);
	input(h, buf, build(&m, NULL, 0, buf));
	r = last_sent(h, L2TP_MSG_STOPCCN);
	assert_non_null(r);
	assert_int_equal(r->result_code, L2TP_STOPCCN_ERROR);
	assert_int_equal(h->t.state, FSM_T_CLOSING);
}

/* RFC 3931 §5.3: a hidden Assigned Control Connection ID in the SCCRQ is
 * read with the secret by fsm_sccrq_check and fsm_tunnel_accept. */
static void test_rfc3931_5_3_hidden_assigned_ccid_in_sccrq(void **state)
{
	static const uint8_t ccid[4] = { 0x44, 0x44, 0x44, 0x44 };
	uint8_t buf[L2TP_MAX_MSG_LEN], extra[128];
	struct harness *h = *state;
	struct l2tp_msg m;
	struct fsm_tunnel t2;
	char why[128];
	size_t n = 0, len;
	int r;

	memset(&m, 0, sizeof(m));
	m.type = L2TP_MSG_SCCRQ;
	l2tp_msg_set(&m, L2TP_AVP_MESSAGE_TYPE);
	l2tp_msg_set(&m, L2TP_AVP_HOST_NAME);
	strcpy(m.host_name, "peer2");
	l2tp_msg_set(&m, L2TP_AVP_ROUTER_ID);
	m.router_id = 1;
	l2tp_msg_set(&m, L2TP_AVP_PW_CAPABILITIES);
	m.pw_caps[0] = L2TP_PW_TYPE_ETH;
	m.n_pw_caps = 1;
	l2tp_msg_set(&m, L2TP_AVP_CHALLENGE);
	memset(m.challenge, 0x55, 16);
	m.challenge_len = 16;
	extra[n++] = 0x80;
	extra[n++] = 6 + sizeof(rv);
	extra[n++] = 0;
	extra[n++] = 0;
	extra[n++] = 0;
	extra[n++] = L2TP_AVP_RANDOM_VECTOR;
	memcpy(extra + n, rv, sizeof(rv));
	n += sizeof(rv);
	r = l2tp_avp_hide(extra + n, sizeof(extra) - n, true, L2TP_AVP_ASSIGNED_CCID, ccid, 4, 4, secret,
			  strlen(secret), rv, sizeof(rv));
	assert_true(r > 0);
	n += (size_t)r;
	len = build(&m, extra, n, buf);
	assert_int_equal(l2tp_ctrl_decode(buf, len, &m), 0);
	assert_false(l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID));

	assert_int_equal(fsm_sccrq_check(&h->conf, &m, buf, len, why, sizeof(why)), 0);
	fsm_tunnel_init(&t2, &h->conf, 0x5555, &fsm_fake_ops, &h->fake);
	assert_int_equal(fsm_tunnel_accept(&t2, &m, buf, len, h->now), 0);
	assert_int_equal(t2.remote_ccid, 0x44444444u);
	assert_int_equal(h->sent[h->nsent - 1].ccid, 0x44444444u);
	fsm_tunnel_release(&t2);

	/* without the secret the hidden AVP (M=1) is an unknown mandatory one */
	h->conf.secret_len = 0;
	assert_int_equal(fsm_sccrq_check(&h->conf, &m, buf, len, why, sizeof(why)), L2TP_STOPCCN_ERROR);
	assert_non_null(strstr(why, "unknown mandatory AVP 61"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfc3931_5_3_hidden_avps_in_icrq_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc3931_5_3_hidden_wrong_secret_is_unknown_mandatory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rfc3931_5_3_hidden_assigned_ccid_in_sccrq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc3931_5_4_1_unknown_type_m0_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc3931_5_4_1_unknown_type_m1_clears, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
