/* SPDX-License-Identifier: MIT */
/*
 * Real traffic from an implementation we did not write: the freeRtr
 * captures in tests/captures (IP protocol 115; see the README there).
 *
 * Codec: every control message in every capture decodes, and each AVP
 * (type, M bit, length) and each value we decode equals tshark's decode
 * of the same frame (tshark runs at test time; the comparison is skipped
 * if it is not installed).
 *
 * Replay: the captured messages of one side are fed, in capture order, to
 * our state machine playing the other side, first as responder, then as
 * initiator.  The capture's own IDs are reused (our CCID and Session ID are
 * the captured ones, and our "random" challenge is the captured one), so
 * every captured message addresses our machine and each decision can be
 * checked: SCCRQ with L2TPv2 AVPs M=1 accepted, challenge responses equal
 * the README's test vector, ICRQ with Remote End ID "1234" answered with
 * no cookie and no sublayer, ICCN with v2 speed AVPs accepted, SLIs before
 * and after our ICCN is acknowledged, HELLO acknowledged by a ZLB, the
 * peer's ZLBs taken as acknowledgements, a wrong secret refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cap.h"
#include "fsm/ctrl.h"
#include "fsm_harness.h"
#include "wire/l2tp_wire.h"

#define CAP_DIR "tests/captures"
#define MAX_MSGS 128
#define LINE_MAX_LEN 8192

struct cap_msg {
	unsigned frame; /* 1-based, as tshark counts */
	uint32_t src; /* IPv4 source, network order */
	size_t len;
	uint8_t buf[L2TP_MAX_MSG_LEN];
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}


/*
 * The L2TPv3-over-IP control messages of a pcap (Ethernet link type):
 * IPv4, protocol 115, Session ID 0 (the 4 zero bytes are stripped, which
 * leaves what UDP encapsulation would carry).  Returns how many.
 */
static size_t load_ctrl(const char *path, struct cap_msg *out, size_t max)
{
	struct cap *c = malloc(sizeof(*c));
	size_t n = 0;

	assert_non_null(c);
	assert_true(cap_open(c, path));
	while (cap_next(c)) {
		const uint8_t *ip = c->ip;

		if (ip[9] != 115 || c->ip_len < c->ihl + 4 + 12)
			continue;
		if (be32(ip + c->ihl) != 0)
			continue; /* data: Session ID */
		assert_true(n < max);
		out[n].frame = c->frame;
		memcpy(&out[n].src, ip + 12, 4);
		out[n].len = c->ip_len - c->ihl - 4;
		assert_true(out[n].len <= L2TP_MAX_MSG_LEN);
		memcpy(out[n].buf, ip + c->ihl + 4, out[n].len);
		n++;
	}
	free(c);
	return n;
}

/* ---------------------------------------------------------------------- */
/* codec against tshark */

#define TS_FIELDS                                                                                                 \
	X(CCID, "l2tp.ccid") X(NS, "l2tp.Ns") X(NR, "l2tp.Nr") X(AVP_TYPE, "l2tp.avp.type")                        \
	X(AVP_M, "l2tp.avp.mandatory") X(AVP_LEN, "l2tp.avp.length") X(MSG_TYPE, "l2tp.avp.message_type")         \
	X(HOST, "l2tp.avp.host_name") X(RID, "l2tp.avp.router_id") X(ACCID, "l2tp.avp.assigned_control_conn_id")  \
	X(PW_CAPS, "l2tp.avp.pw_type") X(RWS, "l2tp.avp.receive_window_size") X(TIE, "l2tp.tie_breaker")           \
	X(LSID, "l2tp.avp.local_session_id") X(RSID, "l2tp.avp.remote_session_id")                                 \
	X(END_ID, "l2tp.avp.remote_end_id") X(PW_TYPE, "l2tp.avp.pseudowire_type")                                  \
	X(CIRCUIT, "l2tp.avp.circuit_status") X(CHAL, "l2tp.avp.chap_challenge")                                    \
	X(CHAL_RESP, "l2tp.avp.chap_challenge_response") X(SERIAL, "l2tp.avp.call_serial_number")                   \
	X(COOKIE, "l2tp.avp.assigned_cookie") X(L2SS, "l2tp.avp.layer2_specific_sublayer")                          \
	X(ZLB, "l2tp.zero_length_body_message")

enum ts_field {
#define X(id, name) TS_##id,
	TS_FIELDS
#undef X
	TS_N
};

static const char *const ts_names[TS_N] = {
#define X(id, name) name,
	TS_FIELDS
#undef X
};

struct ts_row {
	unsigned frame;
	char *f[TS_N];
	char *line;
};

static bool have_tshark(void)
{
	return access("/usr/bin/tshark", X_OK) == 0;
}

/* tshark's decode of the control frames of path, one row per frame. */
static size_t tshark_rows(const char *path, struct ts_row *rows, size_t max)
{
	char cmd[4096], line[LINE_MAX_LEN];
	size_t n = 0, o;
	FILE *p;

	o = (size_t)snprintf(cmd, sizeof(cmd),
			     "tshark -n -r '%s' -Y 'l2tp.type==1' -T fields -E separator='|' -E occurrence=a "
			     "-E aggregator=, -e frame.number",
			     path);
	for (size_t i = 0; i < TS_N; i++)
		o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, " -e %s", ts_names[i]);
	snprintf(cmd + o, sizeof(cmd) - o, " 2>/dev/null");
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *tok, *copy;
		size_t i = 0;

		line[strcspn(line, "\n")] = '\0';
		assert_true(n < max);
		copy = strdup(line);
		assert_non_null(copy);
		rows[n].line = copy;
		/* strsep keeps empty fields */
		tok = strsep(&copy, "|");
		rows[n].frame = (unsigned)strtoul(tok, NULL, 10);
		while ((tok = strsep(&copy, "|")) != NULL && i < TS_N)
			rows[n].f[i++] = tok;
		assert_int_equal(i, TS_N);
		n++;
	}
	assert_int_equal(pclose(p), 0);
	return n;
}

static void hex(const uint8_t *b, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * len] = '\0';
}

static void expect_field(const struct ts_row *r, enum ts_field f, const char *ours)
{
	if (strcmp(r->f[f], ours) != 0)
		fail_msg("frame %u: %s: tshark '%s', ours '%s'", r->frame, ts_names[f], r->f[f], ours);
}

/* The AVP list as the bytes say (type, M, length) in tshark's format. */
static void walk_avps(const struct cap_msg *c, char *types, char *ms, char *lens, size_t cap)
{
	size_t off = 12, ot = 0, om = 0, ol = 0;

	types[0] = ms[0] = lens[0] = '\0';
	while (off + 6 <= c->len) {
		uint16_t w0 = be16(c->buf + off);
		size_t len = w0 & 0x3ff;
		const char *sep = off == 12 ? "" : ",";

		assert_true(len >= 6 && off + len <= c->len);
		ot += (size_t)snprintf(types + ot, cap - ot, "%s%u", sep, be16(c->buf + off + 4));
		om += (size_t)snprintf(ms + om, cap - om, "%s%u", sep, (w0 >> 15) & 1);
		ol += (size_t)snprintf(lens + ol, cap - ol, "%s%zu", sep, len);
		off += len;
	}
	assert_int_equal(off, c->len);
}

static void compare_msg(const struct cap_msg *c, const struct ts_row *r)
{
	struct l2tp_msg m;
	char b[1024], t[512], ms[512], ls[512];

	assert_int_equal(l2tp_ctrl_decode(c->buf, c->len, &m), 0);
	assert_false(m.unknown_mandatory); /* v2 AVPs with M=1 are recognised */
	snprintf(b, sizeof(b), "0x%08x", m.ccid);
	expect_field(r, TS_CCID, b);
	snprintf(b, sizeof(b), "%u", m.ns);
	expect_field(r, TS_NS, b);
	snprintf(b, sizeof(b), "%u", m.nr);
	expect_field(r, TS_NR, b);
	walk_avps(c, t, ms, ls, sizeof(t));
	expect_field(r, TS_AVP_TYPE, t);
	expect_field(r, TS_AVP_M, ms);
	expect_field(r, TS_AVP_LEN, ls);
	if (m.type == L2TP_MSG_ZLB) {
		expect_field(r, TS_ZLB, "1");
		expect_field(r, TS_MSG_TYPE, "");
		return;
	}
	snprintf(b, sizeof(b), "%u", m.type);
	expect_field(r, TS_MSG_TYPE, b);
	expect_field(r, TS_HOST, l2tp_msg_has(&m, L2TP_AVP_HOST_NAME) ? m.host_name : "");
	snprintf(b, sizeof(b), "%u", m.router_id);
	expect_field(r, TS_RID, l2tp_msg_has(&m, L2TP_AVP_ROUTER_ID) ? b : "");
	snprintf(b, sizeof(b), "%u", m.assigned_ccid);
	expect_field(r, TS_ACCID, l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID) ? b : "");
	b[0] = '\0';
	for (size_t i = 0, o = 0; i < m.n_pw_caps; i++)
		o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%u", i ? "," : "", m.pw_caps[i]);
	expect_field(r, TS_PW_CAPS, b);
	snprintf(b, sizeof(b), "%u", m.recv_window);
	expect_field(r, TS_RWS, l2tp_msg_has(&m, L2TP_AVP_RECV_WINDOW) ? b : "");
	snprintf(b, sizeof(b), "0x");
	hex(m.tie_breaker, 8, b + 2);
	expect_field(r, TS_TIE, l2tp_msg_has(&m, L2TP_AVP_TIE_BREAKER) ? b : "");
	snprintf(b, sizeof(b), "%u", m.local_session_id);
	expect_field(r, TS_LSID, l2tp_msg_has(&m, L2TP_AVP_LOCAL_SESSION_ID) ? b : "");
	snprintf(b, sizeof(b), "%u", m.remote_session_id);
	expect_field(r, TS_RSID, l2tp_msg_has(&m, L2TP_AVP_REMOTE_SESSION_ID) ? b : "");
	snprintf(b, sizeof(b), "%.*s", (int)m.remote_end_id_len, (const char *)m.remote_end_id);
	expect_field(r, TS_END_ID, l2tp_msg_has(&m, L2TP_AVP_REMOTE_END_ID) ? b : "");
	snprintf(b, sizeof(b), "%u", m.pw_type);
	expect_field(r, TS_PW_TYPE, l2tp_msg_has(&m, L2TP_AVP_PW_TYPE) ? b : "");
	snprintf(b, sizeof(b), "%u", m.circuit_status & L2TP_CIRCUIT_ACTIVE);
	expect_field(r, TS_CIRCUIT, l2tp_msg_has(&m, L2TP_AVP_CIRCUIT_STATUS) ? b : "");
	hex(m.challenge, m.challenge_len, b);
	expect_field(r, TS_CHAL, l2tp_msg_has(&m, L2TP_AVP_CHALLENGE) ? b : "");
	hex(m.challenge_response, 16, b);
	expect_field(r, TS_CHAL_RESP, l2tp_msg_has(&m, L2TP_AVP_CHALLENGE_RESPONSE) ? b : "");
	snprintf(b, sizeof(b), "%u", m.serial_number);
	expect_field(r, TS_SERIAL, l2tp_msg_has(&m, L2TP_AVP_SERIAL_NUMBER) ? b : "");
	hex(m.assigned_cookie, m.assigned_cookie_len, b);
	expect_field(r, TS_COOKIE, l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_COOKIE) ? b : "");
	snprintf(b, sizeof(b), "%u", m.l2ss);
	expect_field(r, TS_L2SS, l2tp_msg_has(&m, L2TP_AVP_L2SS) ? b : "");
}

static void codec_vs_tshark(const char *path)
{
	static struct cap_msg msgs[MAX_MSGS];
	static struct ts_row rows[MAX_MSGS];
	size_t n = load_ctrl(path, msgs, MAX_MSGS), nr, compared = 0;

	assert_true(n >= 3);
	if (!have_tshark()) {
		/* still: every message decodes */
		for (size_t i = 0; i < n; i++) {
			struct l2tp_msg m;

			assert_int_equal(l2tp_ctrl_decode(msgs[i].buf, msgs[i].len, &m), 0);
		}
		return;
	}
	memset(rows, 0, sizeof(rows));
	nr = tshark_rows(path, rows, MAX_MSGS);
	/* the same frames are control messages for both decoders */
	assert_int_equal(nr, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(rows[i].frame, msgs[i].frame);
		compare_msg(&msgs[i], &rows[i]);
		compared++;
	}
	assert_int_equal(compared, n);
	for (size_t i = 0; i < nr; i++)
		free(rows[i].line);
}

static void test_codec_freertr(void **state)
{
	(void)state;
	codec_vs_tshark(CAP_DIR "/freertr-l2tpv3.pcap");
}

static void test_codec_freertr_auth(void **state)
{
	(void)state;
	codec_vs_tshark(CAP_DIR "/freertr-l2tpv3-auth.pcap");
}

static void test_codec_freertr_badauth(void **state)
{
	(void)state;
	codec_vs_tshark(CAP_DIR "/freertr-l2tpv3-badauth.pcap");
}

/* ---------------------------------------------------------------------- */
/* replay into the state machines */

#define OUTCAP 64

struct player {
	struct fsm_tunnel t;
	struct fsm_tunnel_conf conf;
	uint8_t challenge[16]; /* served for the first 16-byte random request */
	bool challenge_served;
	struct l2tp_msg out[OUTCAP];
	size_t nout;
	struct fsm_fake fake; /* the glue's stand-in (fsm_harness.h): fake.next_sid is the Session ID to allocate */
};

static struct player *player_of(struct fsm_fake *f)
{
	return (struct player *)((char *)f - offsetof(struct player, fake));
}

static void failed(const char *what)
{
	fail_msg("%s", what);
}

static void on_sent(struct fsm_fake *f, struct fsm_tunnel *t, const uint8_t *buf, size_t len,
		    const struct l2tp_msg *m)
{
	struct player *p = player_of(f);

	(void)t;
	(void)buf;
	(void)len;
	assert_true(p->nout < OUTCAP);
	p->out[p->nout++] = *m;
}

/* The captured Challenge for the first 16-byte request, then 0x5a bytes. */
static void challenge_random(struct fsm_fake *f, void *buf, size_t len)
{
	struct player *p = player_of(f);

	if (len == 16 && !p->challenge_served) {
		memcpy(buf, p->challenge, 16);
		p->challenge_served = true;
		return;
	}
	memset(buf, 0x5a, len);
}

static void player_init(struct player *p, bool initiator, const char *secret, uint32_t ccid)
{
	memset(p, 0, sizeof(*p));
	p->conf.id = 1;
	p->conf.initiator = initiator;
	snprintf(p->conf.host_name, sizeof(p->conf.host_name), "l2tpv3d");
	p->conf.router_id = 0xc0a80a01u;
	if (secret) {
		p->conf.auth = FSM_AUTH_CHALLENGE;
		p->conf.secret_len = strlen(secret);
		memcpy(p->conf.secret, secret, p->conf.secret_len);
	}
	memcpy(p->conf.end_id, "1234", 4); /* freeRtr's vcid */
	p->conf.end_id_len = 4;
	p->conf.hello_interval = 60;
	p->conf.hello_count = 3;
	p->fake.sent = on_sent;
	p->fake.random = challenge_random;
	p->fake.fail = failed;
	p->fake.same_sid = true;
	fsm_tunnel_init(&p->t, &p->conf, ccid, &fsm_fake_ops, &p->fake);
}

static const struct l2tp_msg *sent_type(const struct player *p, uint16_t type)
{
	for (size_t i = 0; i < p->nout; i++)
		if (p->out[i].type == type)
			return &p->out[i];
	return NULL;
}

static void unhex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* The messages of the capture's initiator (first SCCRQ's source) or responder. */
static size_t side_msgs(const struct cap_msg *all, size_t n, bool initiator, const struct cap_msg **out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if ((all[i].src == all[0].src) == initiator)
			out[k++] = &all[i];
	return k;
}

/*
 * We are the responder: the captured initiator's messages come to us.
 * Our CCID and Session ID are those the captured responder assigned.
 */
static void replay_as_responder(const char *path, const char *secret, const char *chal_hex,
				const char *resp_sccrp_hex)
{
	static struct cap_msg msgs[MAX_MSGS];
	const struct cap_msg *in[MAX_MSGS];
	size_t n = load_ctrl(path, msgs, MAX_MSGS), k;
	struct player *p = calloc(1, sizeof(*p));
	struct l2tp_msg m, sccrp, icrq;
	uint64_t now = 1000;
	bool got_sccrp = false, got_icrq = false, acked_hello = false;
	char why[256];

	assert_non_null(p);
	memset(&sccrp, 0, sizeof(sccrp));
	memset(&icrq, 0, sizeof(icrq));
	/* the captured responder's SCCRP and ICRP give our IDs */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(l2tp_ctrl_decode(msgs[i].buf, msgs[i].len, &m), 0);
		if (m.type == L2TP_MSG_SCCRP && !got_sccrp) {
			sccrp = m;
			got_sccrp = true;
		}
		if (m.type == L2TP_MSG_ICRP && !got_icrq) {
			icrq = m;
			got_icrq = true;
		}
	}
	assert_true(got_sccrp && got_icrq);
	player_init(p, false, secret, sccrp.assigned_ccid);
	p->fake.next_sid = icrq.local_session_id;
	if (chal_hex)
		unhex(chal_hex, p->challenge);
	k = side_msgs(msgs, n, true, in);
	for (size_t i = 0; i < k; i++) {
		size_t before = p->nout;

		assert_int_equal(l2tp_ctrl_decode(in[i]->buf, in[i]->len, &m), 0);
		if (m.type == L2TP_MSG_SCCRQ) {
			/* L2TPv2 Protocol Version / Framing Capabilities with M=1 pass */
			assert_false(m.unknown_mandatory);
			assert_true(m.v2_protocol_version);
			assert_int_equal(fsm_sccrq_check(&p->conf, &m, in[i]->buf, in[i]->len, why, sizeof(why)), 0);
			if (p->t.state == FSM_T_IDLE) {
				assert_int_equal(fsm_tunnel_accept(&p->t, &m, in[i]->buf, in[i]->len, now), 0);
				assert_int_equal(p->nout, before + 1);
				assert_int_equal(p->out[before].type, L2TP_MSG_SCCRP);
				assert_int_equal(p->out[before].ccid, m.assigned_ccid);
				assert_int_equal(p->out[before].ns, 0);
				assert_int_equal(p->out[before].nr, 1);
				if (resp_sccrp_hex) {
					char h[33];

					hex(p->out[before].challenge_response, 16, h);
					assert_string_equal(h, resp_sccrp_hex);
					hex(p->out[before].challenge, p->out[before].challenge_len, h);
					assert_string_equal(h, chal_hex);
				}
			} else {
				/* a retransmission: the daemon hands it to the connection */
				fsm_tunnel_input(&p->t, &m, in[i]->buf, in[i]->len, now);
			}
		} else {
			fsm_tunnel_input(&p->t, &m, in[i]->buf, in[i]->len, now);
		}
		switch (m.type) {
		case L2TP_MSG_SCCCN:
			assert_int_equal(p->t.state, FSM_T_ESTABLISHED);
			break;
		case L2TP_MSG_ICRQ: {
			const struct l2tp_msg *r = p->nout > before ? &p->out[p->nout - 1] : NULL;

			assert_non_null(r);
			assert_int_equal(r->type, L2TP_MSG_ICRP);
			assert_int_equal(r->local_session_id, icrq.local_session_id);
			assert_int_equal(r->remote_session_id, m.local_session_id);
			/* freeRtr never uses cookies or a sublayer: we ask for none */
			assert_false(l2tp_msg_has(r, L2TP_AVP_ASSIGNED_COOKIE));
			assert_false(l2tp_msg_has(r, L2TP_AVP_L2SS));
			assert_true(r->circuit_status & L2TP_CIRCUIT_ACTIVE);
			assert_int_equal(p->t.n_sessions, 1);
			break;
		}
		case L2TP_MSG_ICCN:
			assert_int_equal(p->fake.ups, 1);
			assert_int_equal(p->t.sessions[0].state, FSM_S_ESTABLISHED);
			assert_int_equal(p->t.sessions[0].tx_cookie_len, 0);
			assert_false(p->t.sessions[0].tx_l2ss);
			assert_string_equal(p->t.sessions[0].mismatch, "");
			break;
		case L2TP_MSG_HELLO:
			/* acknowledged by a ZLB after the ack delay */
			now += FSM_ACK_DELAY_MS;
			fsm_tunnel_tick(&p->t, now);
			assert_true(p->nout > before);
			/* a ZLB: freeRtr would take an explicit ACK as a sequenced
			 * message (its SCCRQ has the v2 Protocol Version AVP) */
			assert_int_equal(p->out[p->nout - 1].type, L2TP_MSG_ZLB);
			assert_int_equal(p->out[p->nout - 1].nr, (uint16_t)(m.ns + 1));
			acked_hello = true;
			break;
		default:
			break;
		}
		now += 10;
		fsm_tunnel_tick(&p->t, now);
	}
	assert_int_equal(p->t.state, FSM_T_ESTABLISHED);
	assert_int_equal(p->fake.ups, 1);
	assert_int_equal(p->fake.downs, 0);
	assert_int_equal(p->fake.kinds[FSM_EV_SESSION_REFUSED] + p->fake.kinds[FSM_EV_AUTH_FAILED], 0);
	assert_true(acked_hello);
	assert_null(sent_type(p, L2TP_MSG_STOPCCN));
	assert_null(sent_type(p, L2TP_MSG_CDN));
	/* everything we sent was acknowledged by the captured ZLBs and replies */
	assert_int_equal(p->t.txq_len, 0);
	fsm_tunnel_release(&p->t);
	free(p);
}

/*
 * We are the initiator: the captured responder's messages come to us.
 * Our CCID, Session ID and challenge are the captured initiator's.
 */
static void replay_as_initiator(const char *path, const char *secret, const char *chal_hex,
				const char *resp_scccn_hex, bool expect_up, bool sli_first)
{
	static struct cap_msg msgs[MAX_MSGS];
	const struct cap_msg *in[MAX_MSGS];
	size_t n = load_ctrl(path, msgs, MAX_MSGS), k;
	struct player *p = calloc(1, sizeof(*p));
	struct l2tp_msg m, sccrq, icrq;
	uint64_t now = 1000;
	bool got_icrq = false, sli_before_ack = false;
	uint32_t our_ccid = 0;

	assert_non_null(p);
	memset(&sccrq, 0, sizeof(sccrq));
	memset(&icrq, 0, sizeof(icrq));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(l2tp_ctrl_decode(msgs[i].buf, msgs[i].len, &m), 0);
		if (i == 0)
			sccrq = m;
		if (m.type == L2TP_MSG_ICRQ && !got_icrq) {
			icrq = m;
			got_icrq = true;
		}
	}
	assert_int_equal(sccrq.type, L2TP_MSG_SCCRQ);
	our_ccid = sccrq.assigned_ccid;
	player_init(p, true, secret, our_ccid);
	p->fake.next_sid = got_icrq ? icrq.local_session_id : 1;
	if (chal_hex)
		unhex(chal_hex, p->challenge);
	assert_int_equal(fsm_tunnel_open(&p->t, now), 0);
	assert_int_equal(p->nout, 1);
	assert_int_equal(p->out[0].type, L2TP_MSG_SCCRQ);
	if (chal_hex) {
		char h[33];

		hex(p->out[0].challenge, p->out[0].challenge_len, h);
		assert_string_equal(h, chal_hex);
	}
	k = side_msgs(msgs, n, false, in);
	if (sli_first) {
		/* the peer's SLI overtakes the ZLB that acknowledges our ICCN */
		for (size_t i = 0; i + 1 < k; i++) {
			struct l2tp_msg a, b;

			assert_int_equal(l2tp_ctrl_decode(in[i]->buf, in[i]->len, &a), 0);
			assert_int_equal(l2tp_ctrl_decode(in[i + 1]->buf, in[i + 1]->len, &b), 0);
			if (a.type == L2TP_MSG_ZLB && b.type == L2TP_MSG_SLI) {
				const struct cap_msg *x = in[i];

				in[i] = in[i + 1];
				in[i + 1] = x;
				break;
			}
		}
	}
	for (size_t i = 0; i < k; i++) {
		size_t before = p->nout;

		assert_int_equal(l2tp_ctrl_decode(in[i]->buf, in[i]->len, &m), 0);
		if (m.type == L2TP_MSG_SLI && p->t.txq_len)
			sli_before_ack = true;
		if (m.ccid != our_ccid)
			continue; /* a later connection of the capture (bad auth: the next SCCRQ) */
		if (p->t.state == FSM_T_IDLE || p->t.state == FSM_T_CLOSING)
			break;
		fsm_tunnel_input(&p->t, &m, in[i]->buf, in[i]->len, now);
		switch (m.type) {
		case L2TP_MSG_SCCRP:
			if (!expect_up) {
				assert_int_equal(p->fake.kinds[FSM_EV_AUTH_FAILED], 1);
				assert_non_null(sent_type(p, L2TP_MSG_STOPCCN));
				assert_int_equal(sent_type(p, L2TP_MSG_STOPCCN)->result_code,
						 L2TP_STOPCCN_NOT_AUTHORIZED);
				break;
			}
			assert_int_equal(p->t.state, FSM_T_ESTABLISHED);
			assert_non_null(sent_type(p, L2TP_MSG_SCCCN));
			if (resp_scccn_hex) {
				char h[33];

				hex(sent_type(p, L2TP_MSG_SCCCN)->challenge_response, 16, h);
				assert_string_equal(h, resp_scccn_hex);
			}
			/* the ICRQ follows: no cookie, no sublayer, PW type 5, end id "1234" */
			assert_non_null(sent_type(p, L2TP_MSG_ICRQ));
			assert_false(l2tp_msg_has(sent_type(p, L2TP_MSG_ICRQ), L2TP_AVP_ASSIGNED_COOKIE));
			assert_false(l2tp_msg_has(sent_type(p, L2TP_MSG_ICRQ), L2TP_AVP_L2SS));
			assert_int_equal(sent_type(p, L2TP_MSG_ICRQ)->pw_type, L2TP_PW_TYPE_ETH);
			assert_memory_equal(sent_type(p, L2TP_MSG_ICRQ)->remote_end_id, "1234", 4);
			break;
		case L2TP_MSG_ICRP:
			assert_true(p->nout > before);
			assert_int_equal(p->out[p->nout - 1].type, L2TP_MSG_ICCN);
			assert_int_equal(p->fake.ups, 1);
			break;
		case L2TP_MSG_SLI:
			/* before or after our ICCN was acknowledged, the session stays up */
			assert_int_equal(p->t.n_sessions, 1);
			assert_int_equal(p->t.sessions[0].state, FSM_S_ESTABLISHED);
			break;
		default:
			break;
		}
		now += 10;
		fsm_tunnel_tick(&p->t, now);
	}
	if (expect_up) {
		assert_int_equal(p->t.state, FSM_T_ESTABLISHED);
		assert_int_equal(p->fake.ups, 1);
		assert_int_equal(p->fake.kinds[FSM_EV_SESSION_REFUSED] + p->fake.kinds[FSM_EV_AUTH_FAILED], 0);
		assert_null(sent_type(p, L2TP_MSG_CDN));
		assert_null(sent_type(p, L2TP_MSG_STOPCCN));
		assert_int_equal(p->t.sessions[0].tx_cookie_len, 0);
		assert_false(p->t.sessions[0].tx_l2ss);
		assert_true(sli_before_ack == sli_first);
		assert_int_equal(p->t.txq_len, 0);
	} else {
		assert_int_equal(p->fake.ups, 0);
		assert_int_equal(p->fake.kinds[FSM_EV_AUTH_FAILED], 1);
	}
	fsm_tunnel_release(&p->t);
	free(p);
}

static void test_replay_responder_noauth(void **state)
{
	(void)state;
	replay_as_responder(CAP_DIR "/freertr-l2tpv3.pcap", NULL, NULL, NULL);
}

static void test_replay_initiator_noauth(void **state)
{
	(void)state;
	replay_as_initiator(CAP_DIR "/freertr-l2tpv3.pcap", NULL, NULL, NULL, true, false);
}

/* The responder's SLI arriving before the ZLB that acknowledges our ICCN. */
static void test_replay_initiator_sli_before_ack(void **state)
{
	(void)state;
	replay_as_initiator(CAP_DIR "/freertr-l2tpv3.pcap", NULL, NULL, NULL, true, true);
}

/* README test vector: SCCRQ challenge 261d... -> SCCRP response eb94...,
 * SCCRP challenge 6a79... -> SCCCN response 0824... (secret "yamaha"). */
static void test_replay_responder_challenge(void **state)
{
	(void)state;
	replay_as_responder(CAP_DIR "/freertr-l2tpv3-auth.pcap", "yamaha", "6a7919662f06414e1f580d770b55156b",
			    "eb94610d20eada7e6af3c7272bdaab58");
}

static void test_replay_initiator_challenge(void **state)
{
	(void)state;
	replay_as_initiator(CAP_DIR "/freertr-l2tpv3-auth.pcap", "yamaha", "261d3350236d444b6f161360696f7266",
			    "08243871d191a2e50f176bfb717469f8", true, false);
}

/* The server's secret differs: its SCCRP's response does not verify. */
static void test_replay_initiator_bad_secret(void **state)
{
	static struct cap_msg msgs[MAX_MSGS];
	struct l2tp_msg m;
	char h[33];

	(void)state;
	assert_true(load_ctrl(CAP_DIR "/freertr-l2tpv3-badauth.pcap", msgs, MAX_MSGS) >= 2);
	assert_int_equal(l2tp_ctrl_decode(msgs[0].buf, msgs[0].len, &m), 0);
	assert_int_equal(m.type, L2TP_MSG_SCCRQ);
	assert_true(m.challenge_len == 16);
	hex(m.challenge, 16, h);
	replay_as_initiator(CAP_DIR "/freertr-l2tpv3-badauth.pcap", "yamaha", h, NULL, false, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_freertr),
		cmocka_unit_test(test_codec_freertr_auth),
		cmocka_unit_test(test_codec_freertr_badauth),
		cmocka_unit_test(test_replay_responder_noauth),
		cmocka_unit_test(test_replay_initiator_noauth),
		cmocka_unit_test(test_replay_initiator_sli_before_ack),
		cmocka_unit_test(test_replay_responder_challenge),
		cmocka_unit_test(test_replay_initiator_challenge),
		cmocka_unit_test(test_replay_initiator_bad_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
