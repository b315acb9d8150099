/* SPDX-License-Identifier: MIT */
/*
 * Control connection and session state machines; see ctrl.h for the
 * contract and the list of timers.
 *
 * Receive path of one message (fsm_tunnel_input):
 *   authenticate (digest) -> take its Nr (frees our queue) -> ACK/ZLB stop
 *   here -> in order: deliver, then anything queued behind it;
 *   duplicate: ACK at once (RFC 3931 §4.2, repairs lost ACKs);
 *   ahead of Nr: keep up to FSM_RXQ_LEN for later.
 * Delivery dispatches on (state, message type); a message the tables do
 * not expect gives a FSM_EV_PROTOCOL event and is otherwise ignored,
 * except the §7.2 cases that clear the connection.
 */
#include "fsm/ctrl.h"

#include "common/addr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tunnel_state_names[FSM_T_STATE_MAX] = {
	[FSM_T_IDLE] = "idle",
	[FSM_T_WAIT_CTL_REPLY] = "wait-ctl-reply",
	[FSM_T_WAIT_CTL_CONN] = "wait-ctl-conn",
	[FSM_T_ESTABLISHED] = "established",
	[FSM_T_CLOSING] = "closing",
};

static const char *const session_state_names[FSM_S_STATE_MAX] = {
	[FSM_S_IDLE] = "idle",
	[FSM_S_WAIT_REPLY] = "wait-reply",
	[FSM_S_WAIT_CONNECT] = "wait-connect",
	[FSM_S_ESTABLISHED] = "established",
};

const char *fsm_tunnel_state_name(enum fsm_tunnel_state s)
{
	return (unsigned)s < FSM_T_STATE_MAX ? tunnel_state_names[s] : "invalid";
}

const char *fsm_session_state_name(enum fsm_session_state s)
{
	return (unsigned)s < FSM_S_STATE_MAX ? session_state_names[s] : "invalid";
}

/* ---------------------------------------------------------------------- */
/* events */

/*
 * The outbox (ctrl.h): 8 places, doubled as needed up to FSM_FX_MAX,
 * freed once all is taken.  An event is dropped rather than take one of the last
 * FSM_FX_SESSION_RESERVE places, so that session effects always fit.
 */
static struct fsm_effect *fx_push(struct fsm_tunnel *t, enum fsm_effect_kind kind, const struct fsm_session *s)
{
	size_t pending = t->fx_len - t->fx_head;
	struct fsm_effect *e;

	if (kind == FSM_FX_EVENT && pending >= FSM_FX_MAX - FSM_FX_SESSION_RESERVE) {
		t->fx_dropped++;
		return NULL;
	}
	if (t->fx_len == t->fx_cap && t->fx_head) { /* taken ones at the front: make room */
		memmove(t->fx, t->fx + t->fx_head, pending * sizeof(*t->fx));
		t->fx_head = 0;
		t->fx_len = pending;
	}
	if (t->fx_len == t->fx_cap && t->fx_cap < FSM_FX_MAX) {
		size_t cap = t->fx_cap ? 2 * t->fx_cap : 8;
		struct fsm_effect *fx;

		if (cap > FSM_FX_MAX)
			cap = FSM_FX_MAX;
		fx = realloc(t->fx, cap * sizeof(*fx));
		if (fx) {
			t->fx = fx;
			t->fx_cap = cap;
		}
	}
	if (t->fx_len == t->fx_cap) {
		if (kind == FSM_FX_EVENT) {
			t->fx_dropped++;
			return NULL;
		}
		abort(); /* out of memory, or a caller that does not take its effects */
	}
	e = &t->fx[t->fx_len++];
	e->kind = kind;
	e->has_session = s != NULL;
	if (s)
		e->session = *s;
	e->reason[0] = '\0';
	e->ev = (struct fsm_event){ .reason = e->reason };
	return e;
}

bool fsm_tunnel_take_effect(struct fsm_tunnel *t, struct fsm_effect *out)
{
	if (t->fx_head == t->fx_len) {
		free(t->fx);
		t->fx = NULL;
		t->fx_head = t->fx_len = t->fx_cap = 0;
		return false;
	}
	*out = t->fx[t->fx_head++];
	out->ev.reason = out->reason;
	return true;
}

static void emit(struct fsm_tunnel *t, struct fsm_session *s, enum fsm_event_kind kind, int from, int to,
		 const char *reason)
{
	struct fsm_effect *e = fx_push(t, FSM_FX_EVENT, s);
	size_t n = strlen(reason);

	if (!e)
		return;
	if (n >= sizeof(e->reason))
		n = sizeof(e->reason) - 1;
	memcpy(e->reason, reason, n);
	e->reason[n] = '\0';
	e->ev.kind = kind;
	e->ev.from = from;
	e->ev.to = to;
}

static void set_state(struct fsm_tunnel *t, enum fsm_tunnel_state to, const char *reason)
{
	enum fsm_tunnel_state from = t->state;

	if (from == to)
		return;
	t->state = to;
	emit(t, NULL, FSM_EV_TUNNEL_STATE, (int)from, (int)to, reason);
}

static void session_set_state(struct fsm_tunnel *t, struct fsm_session *s, enum fsm_session_state to,
			      const char *reason)
{
	enum fsm_session_state from = s->state;

	if (from == to)
		return;
	s->state = to;
	emit(t, s, FSM_EV_SESSION_STATE, (int)from, (int)to, reason);
}

static void protocol_note(struct fsm_tunnel *t, const char *fmt_reason)
{
	emit(t, NULL, FSM_EV_PROTOCOL, 0, 0, fmt_reason);
}

/* ---------------------------------------------------------------------- */
/* sending */

static void msg_init(const struct fsm_tunnel *t, struct l2tp_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	if (type != L2TP_MSG_ZLB)
		l2tp_msg_set(m, L2TP_AVP_MESSAGE_TYPE);
	if (t->auth == FSM_AUTH_DIGEST && type != L2TP_MSG_ZLB) {
		m->n_digests = 1;
		m->digest_type[0] = t->digest_type;
	}
}

static void msg_result(struct l2tp_msg *m, uint16_t result, uint16_t error, const char *why)
{
	l2tp_msg_set(m, L2TP_AVP_RESULT_CODE);
	m->result_code = result;
	if (error || (why && *why)) {
		m->has_error_code = true;
		m->error_code = error;
	}
	if (why)
		snprintf(m->error_msg, sizeof(m->error_msg), "%s", why);
}

/* Encode, sign and hand a message to the caller. */
static void transmit(struct fsm_tunnel *t, struct l2tp_msg *m, uint16_t ns)
{
	uint8_t buf[L2TP_MAX_MSG_LEN];
	int len;

	m->ccid = t->remote_ccid;
	m->ns = ns;
	m->nr = t->nr;
	len = l2tp_ctrl_encode(m, buf, sizeof(buf));
	if (len < 0) {
		protocol_note(t, "control message too large to encode; not sent");
		return;
	}
	if (m->n_digests) {
		if (m->type == L2TP_MSG_SCCRQ)
			l2tp_auth_digest_sign(t->key, NULL, 0, NULL, 0, buf, (size_t)len, m);
		else
			l2tp_auth_digest_sign(t->key, t->nonce, sizeof(t->nonce), t->peer_nonce, t->peer_nonce_len,
					      buf, (size_t)len, m);
	}
	/* whatever we send carries our current Nr: no separate ACK needed */
	t->ack_pending = false;
	t->stats.tx_msgs++;
	if (t->ops->trace)
		t->ops->trace(t->ctx, t, true, m);
	t->ops->send(t->ctx, t, buf, (size_t)len);
}

static size_t in_flight(const struct fsm_tunnel *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->txq_len; i++)
		n += t->txq[i].sent;
	return n;
}

static unsigned send_window(const struct fsm_tunnel *t)
{
	unsigned w = t->cwnd ? t->cwnd : 1;
	unsigned peer = t->peer_rws ? t->peer_rws : 4; /* RFC 3931 §5.4.3: absent => 4 */

	return w < peer ? w : peer;
}

/* Send queued messages the window allows (in Ns order). */
static void try_send(struct fsm_tunnel *t, uint64_t now)
{
	size_t n = in_flight(t);

	for (size_t i = 0; i < t->txq_len && n < send_window(t); i++) {
		struct fsm_txmsg *q = &t->txq[i];

		if (q->sent)
			continue;
		q->sent = true;
		q->tries = 1;
		q->rtx_at = now + q->interval_ms;
		if (q->is_hello)
			t->hello_sent_ms = now;
		transmit(t, q->msg, q->ns);
		n++;
	}
}

/* Drop queued messages from index n on. */
static void txq_truncate(struct fsm_tunnel *t, size_t n)
{
	while (t->txq_len > n)
		free(t->txq[--t->txq_len].msg);
}

/* Queue a reliable message (consumes an Ns) and send it if the window allows. */
static int enqueue(struct fsm_tunnel *t, const struct l2tp_msg *m, bool is_hello, uint64_t now)
{
	struct fsm_txmsg *q;
	struct l2tp_msg *copy;

	if (t->txq_len == FSM_TXQ_LEN) {
		protocol_note(t, "control send queue full; message dropped");
		return -ENOBUFS;
	}
	copy = malloc(sizeof(*copy));
	if (!copy) {
		protocol_note(t, "out of memory for the control send queue; message dropped");
		return -ENOMEM;
	}
	*copy = *m;
	q = &t->txq[t->txq_len++];
	memset(q, 0, sizeof(*q));
	q->msg = copy;
	q->ns = t->ns++;
	q->is_hello = is_hello;
	q->interval_ms = is_hello ? t->conf.hello_interval * 1000u : t->conf.rtx_initial_ms;
	try_send(t, now);
	return 0;
}

/*
 * An acknowledgement with nothing to piggyback on: the explicit ACK
 * message (RFC 3931 §6.15), or a ZLB (§4.2, L2TPv2's form) to a peer whose
 * SCCRQ/SCCRP carried L2TPv2's Protocol Version AVP.  freeRtr does, and it
 * takes every control message with an AVP, an ACK included, as a sequenced
 * one (clntL2tp3.recvPack, servL2tp3conn.doRecv; shared/protocol.md §8.5):
 * after an ACK it waits for an Ns one above the one we send next and drops
 * our next message, forever.  Never a ZLB with digests: it cannot carry
 * one (§6.15), and freeRtr has no digests.
 */
static void send_ack(struct fsm_tunnel *t)
{
	struct l2tp_msg m;

	msg_init(t, &m, t->peer_v2 && t->auth != FSM_AUTH_DIGEST ? L2TP_MSG_ZLB : L2TP_MSG_ACK);
	transmit(t, &m, t->ns); /* an ACK carries the next Ns without consuming it */
}

/* ---------------------------------------------------------------------- */
/* life cycle */

static void rxq_clear(struct fsm_tunnel *t)
{
	for (size_t i = 0; i < FSM_RXQ_LEN; i++) {
		free(t->rxq[i].buf);
		t->rxq[i].buf = NULL;
		t->rxq[i].len = 0;
	}
}

static void session_remove(struct fsm_tunnel *t, struct fsm_session *s, const char *reason)
{
	size_t idx = (size_t)(s - t->sessions);

	if (s->state == FSM_S_ESTABLISHED)
		(void)fx_push(t, FSM_FX_SESSION_DOWN, s);
	session_set_state(t, s, FSM_S_IDLE, reason);
	memmove(&t->sessions[idx], &t->sessions[idx + 1], (t->n_sessions - idx - 1) * sizeof(*s));
	t->n_sessions--;
}

static void sessions_clear(struct fsm_tunnel *t, const char *reason)
{
	while (t->n_sessions)
		session_remove(t, &t->sessions[t->n_sessions - 1], reason);
}

/* Forget the connection: sessions down, queues empty, state idle. */
static void teardown(struct fsm_tunnel *t, const char *reason)
{
	if (reason != t->reason) /* callers pass t->reason itself when closing */
		snprintf(t->reason, sizeof(t->reason), "%s", reason);
	sessions_clear(t, reason);
	txq_truncate(t, 0);
	rxq_clear(t);
	t->ack_pending = false;
	t->hello_at = FSM_NO_DEADLINE;
	t->pw_retry_at = FSM_NO_DEADLINE;
	t->pw_retry_ms = 0;
	set_state(t, FSM_T_IDLE, t->reason);
}

/* A full retransmission cycle: when set-up gives up waiting for the peer's
 * next message once ours was acknowledged (close_until in WAIT_CTL_*). */
static uint64_t rtx_cycle_ms(const struct fsm_tunnel *t)
{
	uint64_t sum = 0;
	unsigned iv = t->conf.rtx_initial_ms;

	for (unsigned i = 0; i <= t->conf.rtx_retries; i++) {
		sum += iv;
		iv = iv * 2 < t->conf.rtx_max_ms ? iv * 2 : t->conf.rtx_max_ms;
	}
	return sum;
}

void fsm_tunnel_init(struct fsm_tunnel *t, const struct fsm_tunnel_conf *conf, uint32_t local_ccid,
		     const struct fsm_ops *ops, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->conf = *conf;
	if (!t->conf.rtx_initial_ms)
		t->conf.rtx_initial_ms = 1000;
	if (!t->conf.rtx_max_ms)
		t->conf.rtx_max_ms = 8000;
	if (!t->conf.rtx_retries)
		t->conf.rtx_retries = 10;
	if (t->conf.hello_interval && !t->conf.hello_count)
		t->conf.hello_count = 3;
	t->ops = ops;
	t->ctx = ctx;
	t->state = FSM_T_IDLE;
	t->local_ccid = local_ccid;
	t->cwnd = 1;
	t->ssthresh = FSM_RECV_WINDOW;
	t->hello_at = FSM_NO_DEADLINE;
	t->pw_retry_at = FSM_NO_DEADLINE;
	if (t->conf.n_pws > FSM_MAX_PW - 1)
		t->conf.n_pws = FSM_MAX_PW - 1;
	if (t->conf.secret_len)
		l2tp_auth_shared_key(t->conf.secret, t->conf.secret_len, t->key);
}

void fsm_tunnel_release(struct fsm_tunnel *t)
{
	sessions_clear(t, "tunnel released");
	txq_truncate(t, 0);
	rxq_clear(t);
	t->state = FSM_T_IDLE;
	t->hello_at = FSM_NO_DEADLINE;
	t->pw_retry_at = FSM_NO_DEADLINE;
	t->pw_retry_ms = 0;
	t->ack_pending = false;
}

/* Identity AVPs common to SCCRQ and SCCRP (RFC 3931 §6.1, §6.2). */
static uint16_t conf_pw_type(const struct fsm_tunnel_conf *conf)
{
	return conf->pw_type ? conf->pw_type : L2TP_PW_TYPE_ETH;
}

static const char *pw_type_name(uint16_t type)
{
	switch (type) {
	case L2TP_PW_TYPE_ETH:
		return "ethernet";
	case L2TP_PW_TYPE_ETH_VLAN:
		return "ethernet-vlan";
	default:
		return "unsupported";
	}
}

static void put_identity(const struct fsm_tunnel *t, struct l2tp_msg *m)
{
	l2tp_msg_set(m, L2TP_AVP_HOST_NAME);
	snprintf(m->host_name, sizeof(m->host_name), "%s", t->conf.host_name[0] ? t->conf.host_name : "l2tpv3d");
	if (t->conf.vendor_name[0]) {
		l2tp_msg_set(m, L2TP_AVP_VENDOR_NAME);
		snprintf(m->vendor_name, sizeof(m->vendor_name), "%s", t->conf.vendor_name);
	}
	l2tp_msg_set(m, L2TP_AVP_ROUTER_ID);
	m->router_id = t->conf.router_id;
	l2tp_msg_set(m, L2TP_AVP_ASSIGNED_CCID);
	m->assigned_ccid = t->local_ccid;
	l2tp_msg_set(m, L2TP_AVP_PW_CAPABILITIES);
	m->pw_caps[0] = conf_pw_type(&t->conf);
	m->n_pw_caps = 1;
	l2tp_msg_set(m, L2TP_AVP_RECV_WINDOW);
	m->recv_window = FSM_RECV_WINDOW;
}

static void remember_peer(struct fsm_tunnel *t, const struct l2tp_msg *m)
{
	snprintf(t->peer_host_name, sizeof(t->peer_host_name), "%s", m->host_name);
	snprintf(t->peer_vendor_name, sizeof(t->peer_vendor_name), "%s",
		 l2tp_msg_has(m, L2TP_AVP_VENDOR_NAME) ? m->vendor_name : "");
	t->peer_router_id = m->router_id;
	t->peer_rws = l2tp_msg_has(m, L2TP_AVP_RECV_WINDOW) && m->recv_window ? m->recv_window : 4;
	t->peer_v2 = m->v2_protocol_version;
	t->ssthresh = t->peer_rws;
}

/* A fresh Nonce (digest auth, RFC 3931 5.4.3) or Challenge (CHAP-like auth)
 * of ours, kept in t and carried by m (an SCCRQ or SCCRP). */
static void put_our_nonce(struct fsm_tunnel *t, struct l2tp_msg *m)
{
	t->ops->random(t->ctx, t->nonce, sizeof(t->nonce));
	l2tp_msg_set(m, L2TP_AVP_NONCE);
	memcpy(m->nonce, t->nonce, sizeof(t->nonce));
	m->nonce_len = sizeof(t->nonce);
}

static void put_our_challenge(struct fsm_tunnel *t, struct l2tp_msg *m)
{
	t->ops->random(t->ctx, t->challenge, sizeof(t->challenge));
	t->challenge_sent = true;
	l2tp_msg_set(m, L2TP_AVP_CHALLENGE);
	memcpy(m->challenge, t->challenge, sizeof(t->challenge));
	m->challenge_len = sizeof(t->challenge);
}


int fsm_tunnel_open(struct fsm_tunnel *t, uint64_t now)
{
	struct l2tp_msg m;

	if (t->state != FSM_T_IDLE)
		return -EBUSY;
	t->ns = 0;
	t->nr = 0;
	t->remote_ccid = 0;
	t->peer_nonce_len = 0;
	t->peer_rws = 4;
	t->peer_v2 = false;
	t->cwnd = 1;
	t->auth = t->conf.auth;
	t->digest_type = t->conf.digest_type == L2TP_DIGEST_HMAC_SHA1 ? L2TP_DIGEST_HMAC_SHA1 : L2TP_DIGEST_HMAC_MD5;
	t->challenge_sent = false;
	msg_init(t, &m, L2TP_MSG_SCCRQ);
	put_identity(t, &m);
	/* §5.4.3: one control connection per pair of LCCEs */
	t->opened = true;
	t->ops->random(t->ctx, t->tie_breaker, sizeof(t->tie_breaker));
	l2tp_msg_set(&m, L2TP_AVP_TIE_BREAKER);
	memcpy(m.tie_breaker, t->tie_breaker, sizeof(t->tie_breaker));
	if (t->auth == FSM_AUTH_DIGEST)
		put_our_nonce(t, &m);
	else if (t->auth == FSM_AUTH_CHALLENGE)
		put_our_challenge(t, &m);
	set_state(t, FSM_T_WAIT_CTL_REPLY, "opening: SCCRQ sent");
	t->close_until = now + rtx_cycle_ms(t);
	return enqueue(t, &m, false, now);
}

static bool has_pw_type(const struct l2tp_msg *m, uint16_t type)
{
	for (size_t i = 0; i < m->n_pw_caps; i++)
		if (m->pw_caps[i] == type)
			return true;
	return false;
}

/* Checks shared by SCCRQ (responder) and SCCRP (initiator): mandatory
 * AVPs, Router ID, pseudowire type.  0 or a StopCCN result code. */
static int check_peer_identity(const struct fsm_tunnel_conf *conf, const struct l2tp_msg *m, char *why,
			       size_t whylen)
{
	static const unsigned must[] = { L2TP_AVP_HOST_NAME, L2TP_AVP_ROUTER_ID, L2TP_AVP_ASSIGNED_CCID,
					 L2TP_AVP_PW_CAPABILITIES };

	if (m->unknown_mandatory) {
		snprintf(why, whylen, "unknown mandatory AVP %u (vendor %u)", m->unknown_type, m->unknown_vendor);
		return L2TP_STOPCCN_ERROR;
	}
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
		if (!l2tp_msg_has(m, must[i])) {
			snprintf(why, whylen, "%s lacks mandatory AVP %u", l2tp_msg_type_name(m->type), must[i]);
			return L2TP_STOPCCN_ERROR;
		}
	}
	if (!m->assigned_ccid) {
		snprintf(why, whylen, "Assigned Control Connection ID is 0");
		return L2TP_STOPCCN_ERROR;
	}
	if (conf->check_peer_router_id && m->router_id != conf->peer_router_id) {
		snprintf(why, whylen, "Router ID %s does not match remote router-id %s", router_id_str(m->router_id).s,
			 router_id_str(conf->peer_router_id).s);
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	if (!has_pw_type(m, conf_pw_type(conf))) {
		char offered[L2TP_PW_CAPS_MAX * 6 + 8] = "";
		size_t o = 0;

		for (size_t i = 0; i < m->n_pw_caps && i < L2TP_PW_CAPS_MAX; i++)
			o += (size_t)snprintf(offered + o, sizeof(offered) - o, "%s%u", i ? "," : "", m->pw_caps[i]);
		snprintf(why, whylen, "pseudowire type mismatch: peer offers types %s, 'l2tp pseudowire type' is %s (%u)",
			 offered, pw_type_name(conf_pw_type(conf)), conf_pw_type(conf));
		return L2TP_STOPCCN_ERROR;
	}
	return 0;
}

/* RFC 3931 §5.3: decode hidden AVPs with the secret into copy and return
 * it; without a secret, or if they do not decode, m as it is (its hidden
 * M=1 AVPs then count as unknown mandatory AVPs). */
static const struct l2tp_msg *unhide(const struct fsm_tunnel_conf *conf, const struct l2tp_msg *m, const uint8_t *raw,
				     size_t len, struct l2tp_msg *copy)
{
	if (!conf->secret_len || !m->n_hidden)
		return m;
	*copy = *m;
	return l2tp_msg_unhide(copy, raw, len, conf->secret, conf->secret_len) == 0 ? copy : m;
}

static int sccrq_check(const struct fsm_tunnel_conf *conf, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		       char *why, size_t whylen)
{
	bool has_nonce = l2tp_msg_has(m, L2TP_AVP_NONCE) && m->nonce_len > 0;
	bool has_chal = l2tp_msg_has(m, L2TP_AVP_CHALLENGE) && m->challenge_len > 0;
	int r;

	if (m->type != L2TP_MSG_SCCRQ) {
		snprintf(why, whylen, "not an SCCRQ");
		return L2TP_STOPCCN_ERROR;
	}
	r = check_peer_identity(conf, m, why, whylen);
	if (r)
		return r;
	if (conf->auth == FSM_AUTH_NONE) {
		if (has_nonce || has_chal || m->n_digests) {
			snprintf(why, whylen, "peer requires authentication, but no `l2tp tunnel auth` is configured");
			return L2TP_STOPCCN_NOT_AUTHORIZED;
		}
		return 0;
	}
	if (has_nonce || m->n_digests) {
		uint8_t key[16];

		if (!has_nonce || !m->n_digests) {
			snprintf(why, whylen, "authentication failed: SCCRQ has %s without %s",
				 has_nonce ? "a Nonce" : "a Message Digest", has_nonce ? "a Message Digest" : "a Nonce");
			return L2TP_STOPCCN_NOT_AUTHORIZED;
		}
		l2tp_auth_shared_key(conf->secret, conf->secret_len, key);
		if (!l2tp_auth_digest_verify(key, NULL, 0, NULL, 0, raw, len, m)) {
			snprintf(why, whylen, "authentication failed: Message Digest does not verify (secret differs?)");
			return L2TP_STOPCCN_NOT_AUTHORIZED;
		}
		return 0;
	}
	if (has_chal)
		return 0; /* verified when the SCCCN brings our challenge's response */
	snprintf(why, whylen, "authentication failed: peer sent neither Nonce nor Challenge but auth is on");
	return L2TP_STOPCCN_NOT_AUTHORIZED;
}

int fsm_sccrq_check(const struct fsm_tunnel_conf *conf, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		    char *why, size_t whylen)
{
	struct l2tp_msg plain;

	return sccrq_check(conf, unhide(conf, m, raw, len, &plain), raw, len, why, whylen);
}

int fsm_tunnel_accept(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len, uint64_t now)
{
	struct l2tp_msg r, plain;

	if (t->state != FSM_T_IDLE)
		return -EBUSY;
	m = unhide(&t->conf, m, raw, len, &plain);
	t->ns = 0;
	t->nr = (uint16_t)(m->ns + 1);
	t->remote_ccid = m->assigned_ccid;
	t->cwnd = 1;
	remember_peer(t, m);
	t->stats.rx_msgs++;
	if (t->ops->trace)
		t->ops->trace(t->ctx, t, false, m);

	t->auth = FSM_AUTH_NONE;
	t->challenge_sent = false;
	t->opened = false;
	if (t->conf.auth != FSM_AUTH_NONE) {
		if (l2tp_msg_has(m, L2TP_AVP_NONCE) && m->nonce_len) {
			t->auth = FSM_AUTH_DIGEST;
			/* answer with the hash the peer signed its SCCRQ with */
			t->digest_type = m->n_digests && m->digest_type[0] == L2TP_DIGEST_HMAC_SHA1
						 ? L2TP_DIGEST_HMAC_SHA1
						 : L2TP_DIGEST_HMAC_MD5;
		} else if (l2tp_msg_has(m, L2TP_AVP_CHALLENGE)) {
			t->auth = FSM_AUTH_CHALLENGE;
		}
	}

	msg_init(t, &r, L2TP_MSG_SCCRP);
	put_identity(t, &r);
	if (t->auth == FSM_AUTH_DIGEST) {
		memcpy(t->peer_nonce, m->nonce, m->nonce_len);
		t->peer_nonce_len = m->nonce_len;
		put_our_nonce(t, &r);
	} else if (t->auth == FSM_AUTH_CHALLENGE) {
		l2tp_msg_set(&r, L2TP_AVP_CHALLENGE_RESPONSE);
		l2tp_auth_chap_response(L2TP_MSG_SCCRP, t->conf.secret, t->conf.secret_len, m->challenge,
					m->challenge_len, r.challenge_response);
		put_our_challenge(t, &r);
	}
	set_state(t, FSM_T_WAIT_CTL_CONN, "SCCRQ accepted: SCCRP sent");
	t->close_until = now + rtx_cycle_ms(t);
	return enqueue(t, &r, false, now);
}

enum fsm_tie fsm_tunnel_tie_break(const struct fsm_tunnel *t, const struct l2tp_msg *sccrq)
{
	int c;

	if (t->state != FSM_T_WAIT_CTL_REPLY || !t->opened || sccrq->type != L2TP_MSG_SCCRQ ||
	    !l2tp_msg_has(sccrq, L2TP_AVP_TIE_BREAKER))
		return FSM_TIE_NONE;
	c = memcmp(sccrq->tie_breaker, t->tie_breaker, sizeof(t->tie_breaker));
	return c < 0 ? FSM_TIE_LOST : c > 0 ? FSM_TIE_WON : FSM_TIE_BOTH_LOST;
}

void fsm_tunnel_close(struct fsm_tunnel *t, uint16_t result, const char *why, uint64_t now)
{
	fsm_tunnel_close_error(t, result, 0, why, now);
}

void fsm_tunnel_close_error(struct fsm_tunnel *t, uint16_t result, uint16_t error, const char *why, uint64_t now)
{
	struct l2tp_msg m;

	if (t->state == FSM_T_IDLE || t->state == FSM_T_CLOSING)
		return;
	snprintf(t->reason, sizeof(t->reason), "%s", why);
	t->down_result = result;
	sessions_clear(t, why);
	rxq_clear(t);
	t->hello_at = FSM_NO_DEADLINE;
	if (!t->remote_ccid) {
		/* the peer never told us its ID: nothing to address a StopCCN to */
		teardown(t, why);
		return;
	}
	/* RFC 3931 §3.3.2: the StopCCN is the last message; drop what is unsent */
	for (size_t i = 0; i < t->txq_len; i++) {
		if (!t->txq[i].sent) {
			txq_truncate(t, i);
			break;
		}
	}
	msg_init(t, &m, L2TP_MSG_STOPCCN);
	msg_result(&m, result, error, why);
	l2tp_msg_set(&m, L2TP_AVP_ASSIGNED_CCID);
	m.assigned_ccid = t->local_ccid;
	set_state(t, FSM_T_CLOSING, why);
	t->close_until = now + 31000; /* RFC 3931 §5.7: a full retransmission cycle */
	/* let the StopCCN go even if the window is full of unacked messages */
	t->cwnd = FSM_TXQ_LEN;
	t->peer_rws = FSM_TXQ_LEN;
	(void)enqueue(t, &m, false, now);
}

void fsm_tunnel_drop(struct fsm_tunnel *t, uint16_t result, const char *why)
{
	if (t->state == FSM_T_IDLE)
		return;
	t->down_result = result;
	teardown(t, why);
}

/* ---------------------------------------------------------------------- */
/* sessions */

static struct fsm_session *session_by_local(struct fsm_tunnel *t, uint32_t sid)
{
	for (size_t i = 0; i < t->n_sessions; i++)
		if (t->sessions[i].local_sid == sid)
			return &t->sessions[i];
	return NULL;
}

static struct fsm_session *session_by_remote(struct fsm_tunnel *t, uint32_t sid)
{
	for (size_t i = 0; i < t->n_sessions; i++)
		if (t->sessions[i].remote_sid == sid && sid)
			return &t->sessions[i];
	return NULL;
}

static struct fsm_session *session_new(struct fsm_tunnel *t, bool initiator)
{
	struct fsm_session *s;

	if (t->n_sessions == FSM_MAX_SESSIONS)
		return NULL;
	s = &t->sessions[t->n_sessions++];
	memset(s, 0, sizeof(*s));
	s->local_sid = t->ops->alloc_session_id(t->ctx);
	s->initiator = initiator;
	s->circuit_local_up = true;
	s->state = FSM_S_IDLE;
	s->rx_cookie_len = t->conf.cookie_len == 4 || t->conf.cookie_len == 8 ? t->conf.cookie_len : 0;
	if (s->rx_cookie_len && t->conf.cookie_fixed)
		memcpy(s->rx_cookie, t->conf.cookie, s->rx_cookie_len);
	else if (s->rx_cookie_len)
		t->ops->random(t->ctx, s->rx_cookie, s->rx_cookie_len);
	/* the sequence number travels in the sublayer (§4.6) */
	s->rx_l2ss = t->conf.l2ss || t->conf.data_seq;
	s->rx_seq = t->conf.data_seq;
	return s;
}

/* Our data-plane requests (Assigned Cookie, L2SS, Data Sequencing) into
 * an ICRQ or ICRP. */
static void put_session_params(const struct fsm_tunnel *t, const struct fsm_session *s, struct l2tp_msg *m)
{
	if (s->rx_cookie_len) {
		l2tp_msg_set(m, L2TP_AVP_ASSIGNED_COOKIE);
		memcpy(m->assigned_cookie, s->rx_cookie, s->rx_cookie_len);
		m->assigned_cookie_len = s->rx_cookie_len;
	}
	if (s->rx_l2ss) { /* absent means none: what Yamaha and freeRtr send */
		l2tp_msg_set(m, L2TP_AVP_L2SS);
		m->l2ss = 1;
	}
	if (s->rx_seq) { /* absent means none */
		l2tp_msg_set(m, L2TP_AVP_DATA_SEQUENCING);
		m->data_sequencing = L2TP_DATA_SEQ_ALL;
	}
}

static void mismatch_set(struct fsm_tunnel *t, const char *why)
{
	size_t n = strnlen(why, sizeof(t->mismatch) - 1);

	memcpy(t->mismatch, why, n);
	t->mismatch[n] = '\0';
}

static void mismatch_add(struct fsm_session *s, const char *fmt_what)
{
	size_t n = strlen(s->mismatch);

	if (strstr(s->mismatch, fmt_what))
		return; /* the ICCN repeating the ICRQ */
	snprintf(s->mismatch + n, sizeof(s->mismatch) - n, "%s%s", n ? "; " : "", fmt_what);
}

/*
 * Settings of the peer's ICRQ/ICRP/ICCN that we cannot honour (RFC 3931
 * §5.4.4).  Refused, returning the CDN result with why saying which
 * setting: another pseudowire type (14), data sequencing asked without
 * the Default L2SS to carry the numbers (15), an unknown sequencing
 * level (2).  Sequencing levels 1 (non-IP only) and 2 (all) are honoured
 * by numbering everything we send.  peer_l2ss: what the peer asked for
 * earlier (ICCN).
 */
static uint16_t session_refuse_params(const struct fsm_tunnel *t, const struct l2tp_msg *m, bool peer_l2ss,
				      char *why, size_t whylen)
{
	why[0] = '\0';
	if (l2tp_msg_has(m, L2TP_AVP_PW_TYPE) && m->pw_type != conf_pw_type(&t->conf)) {
		snprintf(why, whylen, "pseudowire type: peer asked for %s (%u), 'l2tp pseudowire type' is %s (%u)",
			 pw_type_name(m->pw_type), m->pw_type, pw_type_name(conf_pw_type(&t->conf)),
			 conf_pw_type(&t->conf));
		return L2TP_CDN_PW_TYPE_UNSUPPORTED;
	}
	if (l2tp_msg_has(m, L2TP_AVP_DATA_SEQUENCING) && m->data_sequencing != 0) {
		bool l2ss = l2tp_msg_has(m, L2TP_AVP_L2SS) ? m->l2ss == 1 : peer_l2ss;

		if (!l2ss) {
			snprintf(why, whylen, "data sequencing: peer asked for sequencing (%u) without the "
				 "Default L2-Specific Sublayer", m->data_sequencing);
			return L2TP_CDN_SEQ_WITHOUT_L2SS;
		}
		if (m->data_sequencing > L2TP_DATA_SEQ_ALL) {
			snprintf(why, whylen, "data sequencing: peer asked for unknown level %u (0 none, 1 non-IP, "
				 "2 all)", m->data_sequencing);
			return L2TP_CDN_ERROR;
		}
	}
	return 0;
}

/*
 * Each side chooses its own cookie and sublayer for what it receives
 * (§5.4.4), so a cookie length or sublayer other than ours is adopted (we
 * send what the peer asked for) and only noted in s->mismatch.
 */
static void session_note_params(struct fsm_session *s, const struct l2tp_msg *m)
{
	char note[FSM_MISMATCH_MAX];
	bool initial = m->type != L2TP_MSG_ICCN; /* ICRQ/ICRP: an absent AVP means none */

	if (l2tp_msg_has(m, L2TP_AVP_ASSIGNED_COOKIE) ? m->assigned_cookie_len != s->rx_cookie_len
						       : initial && s->rx_cookie_len) {
		snprintf(note, sizeof(note), "cookie length: peer asked for %zu, 'l2tp cookie length' is %zu "
			 "(adopted: each side checks its own)",
			 l2tp_msg_has(m, L2TP_AVP_ASSIGNED_COOKIE) ? m->assigned_cookie_len : 0, s->rx_cookie_len);
		mismatch_add(s, note);
	}
	if (l2tp_msg_has(m, L2TP_AVP_L2SS) ? (m->l2ss == 1) != s->rx_l2ss : initial && s->rx_l2ss) {
		snprintf(note, sizeof(note), "l2-specific-sublayer: peer asked for %s, ours is %s (adopted for what we send)",
			 !l2tp_msg_has(m, L2TP_AVP_L2SS) || m->l2ss == 0 ? "none" : m->l2ss == 1 ? "default" : "an unknown one",
			 s->rx_l2ss ? "default" : "none");
		mismatch_add(s, note);
	}
	if (l2tp_msg_has(m, L2TP_AVP_DATA_SEQUENCING) ? (m->data_sequencing != 0) != s->rx_seq
						       : initial && s->rx_seq) {
		if (s->rx_seq)
			snprintf(note, sizeof(note), "data sequencing: peer asked for none, ours is on "
				 "(we number nothing, check what we receive)");
		else
			snprintf(note, sizeof(note), "data sequencing: peer asked for it (%u), ours is off "
				 "(adopted: we number what we send)", m->data_sequencing);
		mismatch_add(s, note);
	}
}

static void send_cdn(struct fsm_tunnel *t, uint32_t local_sid, uint32_t remote_sid, uint16_t result, uint16_t error,
		     const char *why, uint64_t now)
{
	struct l2tp_msg m;

	msg_init(t, &m, L2TP_MSG_CDN);
	msg_result(&m, result, error, why);
	l2tp_msg_set(&m, L2TP_AVP_LOCAL_SESSION_ID);
	m.local_session_id = local_sid;
	l2tp_msg_set(&m, L2TP_AVP_REMOTE_SESSION_ID);
	m.remote_session_id = remote_sid;
	(void)enqueue(t, &m, false, now);
}

static void session_gone(struct fsm_tunnel *t, const char *why, uint64_t now);

/* Refuse a session we started to set up: CDN with the reason, noted as
 * the tunnel's mismatch, an event for the log, and forget it (the opener
 * asks again later if other pseudowires keep the connection). */
static void session_refuse(struct fsm_tunnel *t, struct fsm_session *s, uint16_t result, const char *why,
			   uint64_t now)
{
	send_cdn(t, s->local_sid, s->remote_sid, result, 0, why, now);
	mismatch_set(t, why);
	emit(t, s, FSM_EV_SESSION_REFUSED, 0, 0, why);
	session_remove(t, s, why);
	if (t->n_sessions)
		session_gone(t, why, now);
}

/* Take the peer's data-plane requests from ICRQ/ICRP/ICCN. */
static void session_take_params(struct fsm_session *s, const struct l2tp_msg *m)
{
	if (l2tp_msg_has(m, L2TP_AVP_ASSIGNED_COOKIE)) {
		memcpy(s->tx_cookie, m->assigned_cookie, m->assigned_cookie_len);
		s->tx_cookie_len = m->assigned_cookie_len;
	}
	if (l2tp_msg_has(m, L2TP_AVP_L2SS))
		s->tx_l2ss = m->l2ss == 1;
	if (l2tp_msg_has(m, L2TP_AVP_DATA_SEQUENCING)) /* checked by session_refuse_params */
		s->tx_seq = m->data_sequencing != 0;
	if (l2tp_msg_has(m, L2TP_AVP_CIRCUIT_STATUS))
		s->circuit_remote_up = (m->circuit_status & L2TP_CIRCUIT_ACTIVE) != 0;
}

static void session_establish(struct fsm_tunnel *t, struct fsm_session *s, uint64_t now)
{
	s->established_ms = now;
	if (s->mismatch[0]) {
		snprintf(t->mismatch, sizeof(t->mismatch), "%s", s->mismatch);
		emit(t, s, FSM_EV_MISMATCH, 0, 0, s->mismatch);
	} else {
		t->mismatch[0] = '\0';
	}
	session_set_state(t, s, FSM_S_ESTABLISHED, "session established");
	(void)fx_push(t, FSM_FX_SESSION_UP, s); /* the caller may answer fsm_session_start_failed */
}

const uint8_t *fsm_pw_end_id(const struct fsm_tunnel_conf *conf, unsigned pw, size_t *len)
{
	if (pw == 0 || pw > conf->n_pws) {
		*len = conf->end_id_len;
		return conf->end_id;
	}
	*len = conf->pws[pw - 1].end_id_len;
	return conf->pws[pw - 1].end_id;
}

static struct fsm_session *session_by_pw(struct fsm_tunnel *t, unsigned pw)
{
	for (size_t i = 0; i < t->n_sessions; i++)
		if (t->sessions[i].pw == pw)
			return &t->sessions[i];
	return NULL;
}

static void session_open(struct fsm_tunnel *t, unsigned pw, uint64_t now)
{
	struct fsm_session *s = session_new(t, true);
	const uint8_t *end_id;
	size_t end_id_len;
	struct l2tp_msg m;

	if (!s)
		return;
	s->pw = pw;
	s->serial = (uint32_t)t->stats.established_count;
	msg_init(t, &m, L2TP_MSG_ICRQ);
	l2tp_msg_set(&m, L2TP_AVP_LOCAL_SESSION_ID);
	m.local_session_id = s->local_sid;
	l2tp_msg_set(&m, L2TP_AVP_REMOTE_SESSION_ID);
	m.remote_session_id = 0;
	l2tp_msg_set(&m, L2TP_AVP_SERIAL_NUMBER);
	m.serial_number = s->serial;
	l2tp_msg_set(&m, L2TP_AVP_PW_TYPE);
	m.pw_type = conf_pw_type(&t->conf);
	put_session_params(t, s, &m);
	l2tp_msg_set(&m, L2TP_AVP_REMOTE_END_ID);
	end_id = fsm_pw_end_id(&t->conf, pw, &end_id_len);
	memcpy(m.remote_end_id, end_id, end_id_len);
	m.remote_end_id_len = end_id_len;
	l2tp_msg_set(&m, L2TP_AVP_CIRCUIT_STATUS);
	m.circuit_status = L2TP_CIRCUIT_ACTIVE | L2TP_CIRCUIT_NEW;
	session_set_state(t, s, FSM_S_WAIT_REPLY, "ICRQ sent");
	(void)enqueue(t, &m, false, now);
}

/* The opener: an ICRQ for every pseudowire that has no session. */
static void sessions_open(struct fsm_tunnel *t, uint64_t now)
{
	t->pw_retry_at = FSM_NO_DEADLINE;
	if (t->n_sessions > t->conf.n_pws)
		t->pw_retry_ms = 0; /* all there */
	for (unsigned pw = 0; pw <= t->conf.n_pws && pw < FSM_MAX_PW; pw++)
		if (!session_by_pw(t, pw))
			session_open(t, pw, now);
}

/*
 * A session is gone (CDN, refused, unknown AVP).  The opener of a
 * connection with several pseudowires keeps it for the others and asks
 * again for this one later; with none left it closes, as with one.
 */
static void session_gone(struct fsm_tunnel *t, const char *why, uint64_t now)
{
	if (!t->opened || t->state != FSM_T_ESTABLISHED)
		return;
	if (!t->n_sessions) {
		fsm_tunnel_close(t, L2TP_STOPCCN_CLEAR, why, now);
		return;
	}
	if (t->pw_retry_at != FSM_NO_DEADLINE)
		return;
	/* 10 s, doubling to 320 s while the peer keeps closing or refusing
	 * it; back to 10 s once every pseudowire has come up */
	t->pw_retry_ms = t->pw_retry_ms ? t->pw_retry_ms * 2 : FSM_PW_RETRY_MS;
	if (t->pw_retry_ms > FSM_PW_RETRY_MAX_MS)
		t->pw_retry_ms = FSM_PW_RETRY_MAX_MS;
	t->pw_retry_at = now + t->pw_retry_ms;
}

/* Which pseudowire an ICRQ asks for: the one whose Remote End ID it
 * carries, else pseudowire 1 if it has none configured (takes any). */
static int pw_for_icrq(const struct fsm_tunnel *t, const struct l2tp_msg *m)
{
	for (unsigned pw = 0; pw <= t->conf.n_pws && pw < FSM_MAX_PW; pw++) {
		size_t len;
		const uint8_t *id = fsm_pw_end_id(&t->conf, pw, &len);

		if (len && m->remote_end_id_len == len && !memcmp(m->remote_end_id, id, len))
			return (int)pw;
	}
	return t->conf.end_id_len ? -1 : 0;
}

static void printable(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < outlen; i++) {
		if (in[i] >= 0x20 && in[i] < 0x7f && in[i] != '"' && in[i] != '\\')
			out[o++] = (char)in[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", in[i]);
	}
	out[o] = '\0';
}

static void handle_icrq(struct fsm_tunnel *t, const struct l2tp_msg *m, uint64_t now)
{
	struct fsm_session *s;
	struct l2tp_msg r;
	char why[L2TP_END_ID_MAX * 8 + 128], got[L2TP_END_ID_MAX * 4 + 1], want[L2TP_END_ID_MAX * 4 + 1];
	uint16_t res;
	int pw;

	if (!l2tp_msg_has(m, L2TP_AVP_LOCAL_SESSION_ID) || !m->local_session_id) {
		send_cdn(t, 0, 0, L2TP_CDN_ERROR, L2TP_ERR_BAD_SESSION_ID, "ICRQ without Local Session ID", now);
		protocol_note(t, "ICRQ without Local Session ID refused");
		return;
	}
	if (m->unknown_mandatory) {
		snprintf(why, sizeof(why), "ICRQ has unknown mandatory AVP %u (vendor %u): session refused",
			 m->unknown_type, m->unknown_vendor);
		send_cdn(t, 0, m->local_session_id, L2TP_CDN_ERROR, L2TP_ERR_UNKNOWN_MANDATORY, why, now);
		emit(t, NULL, FSM_EV_SESSION_REFUSED, 0, 0, why);
		return;
	}
	if (session_by_remote(t, m->local_session_id)) {
		protocol_note(t, "ICRQ for a session we already have; ignored");
		return;
	}
	pw = pw_for_icrq(t, m);
	if (pw < 0) {
		printable(m->remote_end_id, m->remote_end_id_len, got, sizeof(got));
		printable(t->conf.end_id, t->conf.end_id_len, want, sizeof(want));
		if (t->conf.n_pws) {
			snprintf(why, sizeof(why), "session refused: Remote End ID \"%s\" is none of this tunnel's "
				 "%zu pseudowires' (the first's is \"%s\")", got, t->conf.n_pws + 1, want);
			snprintf(t->mismatch, sizeof(t->mismatch), "end-id: peer asked for \"%.60s\", no "
				 "pseudowire has it", got);
		} else {
			snprintf(why, sizeof(why), "session refused: Remote End ID \"%s\" does not match remote "
				 "end-id \"%s\"", got, want);
			snprintf(t->mismatch, sizeof(t->mismatch), "end-id: peer asked for \"%.60s\", 'l2tp remote "
				 "end-id' is \"%.60s\"", got, want);
		}
		send_cdn(t, 0, m->local_session_id, L2TP_CDN_ERROR, 0, "Remote End ID mismatch", now);
		emit(t, NULL, FSM_EV_SESSION_REFUSED, 0, 0, why);
		return;
	}
	if (session_by_pw(t, (unsigned)pw)) {
		const uint8_t *id;
		size_t len;

		id = fsm_pw_end_id(&t->conf, (unsigned)pw, &len);
		printable(id, len, want, sizeof(want));
		snprintf(why, sizeof(why), "session refused: pseudowire %d (end-id \"%s\") has a session already",
			 pw + 1, want);
		send_cdn(t, 0, m->local_session_id, L2TP_CDN_NO_RESOURCES_TEMP, 0, "pseudowire has a session already",
			 now);
		emit(t, NULL, FSM_EV_SESSION_REFUSED, 0, 0, why);
		return;
	}
	res = session_refuse_params(t, m, false, why, sizeof(why));
	if (res) {
		send_cdn(t, 0, m->local_session_id, res, 0, why, now);
		mismatch_set(t, why);
		emit(t, NULL, FSM_EV_SESSION_REFUSED, 0, 0, why);
		return;
	}
	s = session_new(t, false);
	if (!s) {
		send_cdn(t, 0, m->local_session_id, L2TP_CDN_NO_RESOURCES_TEMP, 0, "too many sessions", now);
		return;
	}
	s->pw = (unsigned)pw;
	s->remote_sid = m->local_session_id;
	session_note_params(s, m);
	session_take_params(s, m);
	msg_init(t, &r, L2TP_MSG_ICRP);
	l2tp_msg_set(&r, L2TP_AVP_LOCAL_SESSION_ID);
	r.local_session_id = s->local_sid;
	l2tp_msg_set(&r, L2TP_AVP_REMOTE_SESSION_ID);
	r.remote_session_id = s->remote_sid;
	l2tp_msg_set(&r, L2TP_AVP_CIRCUIT_STATUS);
	r.circuit_status = L2TP_CIRCUIT_ACTIVE | L2TP_CIRCUIT_NEW;
	put_session_params(t, s, &r);
	session_set_state(t, s, FSM_S_WAIT_CONNECT, "ICRQ accepted: ICRP sent");
	(void)enqueue(t, &r, false, now);
}

static void handle_icrp(struct fsm_tunnel *t, const struct l2tp_msg *m, uint64_t now)
{
	struct fsm_session *s = session_by_local(t, m->remote_session_id);
	struct l2tp_msg r;
	char why[FSM_MISMATCH_MAX];
	uint16_t res;

	if (!s || s->state != FSM_S_WAIT_REPLY) {
		protocol_note(t, "ICRP for no pending session; CDN sent");
		if (l2tp_msg_has(m, L2TP_AVP_LOCAL_SESSION_ID))
			send_cdn(t, 0, m->local_session_id, L2TP_CDN_ERROR, L2TP_ERR_BAD_SESSION_ID,
				 "ICRP for unknown session", now);
		return;
	}
	if (!l2tp_msg_has(m, L2TP_AVP_LOCAL_SESSION_ID) || !m->local_session_id || m->unknown_mandatory) {
		if (m->unknown_mandatory)
			snprintf(why, sizeof(why), "ICRP has unknown mandatory AVP %u (vendor %u): session cleared",
				 m->unknown_type, m->unknown_vendor);
		else
			snprintf(why, sizeof(why), "ICRP without Local Session ID");
		if (m->unknown_mandatory)
			emit(t, s, FSM_EV_SESSION_REFUSED, 0, 0, why);
		send_cdn(t, s->local_sid, m->local_session_id, L2TP_CDN_ERROR,
			 m->unknown_mandatory ? L2TP_ERR_UNKNOWN_MANDATORY : L2TP_ERR_BAD_SESSION_ID, why, now);
		session_remove(t, s, why);
		return;
	}
	s->remote_sid = m->local_session_id;
	res = session_refuse_params(t, m, s->tx_l2ss, why, sizeof(why));
	if (res) {
		session_refuse(t, s, res, why, now);
		return;
	}
	session_note_params(s, m);
	session_take_params(s, m);
	msg_init(t, &r, L2TP_MSG_ICCN);
	l2tp_msg_set(&r, L2TP_AVP_LOCAL_SESSION_ID);
	r.local_session_id = s->local_sid;
	l2tp_msg_set(&r, L2TP_AVP_REMOTE_SESSION_ID);
	r.remote_session_id = s->remote_sid;
	l2tp_msg_set(&r, L2TP_AVP_CIRCUIT_STATUS);
	r.circuit_status = L2TP_CIRCUIT_ACTIVE;
	session_establish(t, s, now);
	(void)enqueue(t, &r, false, now);
}

static void handle_iccn(struct fsm_tunnel *t, const struct l2tp_msg *m, uint64_t now)
{
	struct fsm_session *s = session_by_local(t, m->remote_session_id);
	char why[FSM_MISMATCH_MAX];
	uint16_t res;

	if (!s || s->state != FSM_S_WAIT_CONNECT) {
		protocol_note(t, "ICCN for no pending session; ignored");
		return;
	}
	res = session_refuse_params(t, m, s->tx_l2ss, why, sizeof(why));
	if (res) {
		session_refuse(t, s, res, why, now);
		return;
	}
	session_note_params(s, m);
	session_take_params(s, m);
	session_establish(t, s, now);
}

static void handle_cdn(struct fsm_tunnel *t, const struct l2tp_msg *m, uint64_t now)
{
	struct fsm_session *s = session_by_local(t, m->remote_session_id);
	char why[L2TP_ERRMSG_MAX + 64];

	if (!s && l2tp_msg_has(m, L2TP_AVP_LOCAL_SESSION_ID))
		s = session_by_remote(t, m->local_session_id);
	if (!s) {
		protocol_note(t, "CDN for unknown session; ignored");
		return;
	}
	snprintf(why, sizeof(why), "peer sent CDN, result %u%s%s", m->result_code, m->error_msg[0] ? ": " : "",
		 m->error_msg);
	session_remove(t, s, why);
	session_gone(t, why, now);
}

struct fsm_session *fsm_session_find(struct fsm_tunnel *t, uint32_t local_sid)
{
	return session_by_local(t, local_sid);
}

int fsm_session_start_failed(struct fsm_tunnel *t, uint32_t local_sid, uint64_t now)
{
	struct fsm_session *s = session_by_local(t, local_sid);
	const char *why = "local data path could not start";

	if (!s || s->state != FSM_S_ESTABLISHED)
		return -ENOENT;
	/* no data path: say so to the peer and forget the session */
	s->state = FSM_S_IDLE; /* nothing to stop: no SESSION_DOWN */
	send_cdn(t, s->local_sid, s->remote_sid, L2TP_CDN_NO_RESOURCES_TEMP, 0, why, now);
	session_remove(t, s, why);
	if (t->n_sessions)
		session_gone(t, why, now);
	return 0;
}

int fsm_session_close(struct fsm_tunnel *t, uint32_t local_sid, uint16_t result, const char *why, uint64_t now)
{
	struct fsm_session *s = session_by_local(t, local_sid);

	if (!s || t->state != FSM_T_ESTABLISHED)
		return -ENOENT;
	send_cdn(t, s->local_sid, s->remote_sid, result, 0, why, now);
	session_remove(t, s, why);
	session_gone(t, why, now);
	return 0;
}

/*
 * RFC 3931 §5.2: an unrecognised AVP with the M bit in a message of a
 * session terminates that session: CDN result 2, error 8 (§5.4.2), the
 * AVP named in the event.  A CDN carrying one still ends its session.
 * (ICRQ and ICRP check it in their handlers, before a session exists.)
 */
static void session_unknown_avp(struct fsm_tunnel *t, const struct l2tp_msg *m, uint64_t now)
{
	struct fsm_session *s = session_by_local(t, m->remote_session_id);
	char why[128];

	if (!s && l2tp_msg_has(m, L2TP_AVP_LOCAL_SESSION_ID))
		s = session_by_remote(t, m->local_session_id);
	snprintf(why, sizeof(why), "%s has unknown mandatory AVP %u (vendor %u)%s", l2tp_msg_type_name(m->type),
		 m->unknown_type, m->unknown_vendor, s ? ": session cleared" : " for no session of ours");
	emit(t, s, FSM_EV_SESSION_REFUSED, 0, 0, why);
	if (!s)
		return;
	if (m->type != L2TP_MSG_CDN)
		send_cdn(t, s->local_sid, s->remote_sid, L2TP_CDN_ERROR, L2TP_ERR_UNKNOWN_MANDATORY, why, now);
	session_remove(t, s, why);
	session_gone(t, why, now);
}

static void handle_sli(struct fsm_tunnel *t, const struct l2tp_msg *m)
{
	struct fsm_session *s = session_by_local(t, m->remote_session_id);

	if (s && l2tp_msg_has(m, L2TP_AVP_CIRCUIT_STATUS))
		s->circuit_remote_up = (m->circuit_status & L2TP_CIRCUIT_ACTIVE) != 0;
}

/* ---------------------------------------------------------------------- */
/* control connection */

/*
 * With keepalive on, a live peer answers something every interval (at
 * least the ACK of our HELLO).  A HELLO waits behind an unacknowledged
 * message when the window is full, so the HELLO count alone could take a
 * whole retransmission cycle (about a minute) to notice a dead peer:
 * nothing at all received for count + 1 intervals ends the connection too.
 */
static uint64_t silence_limit(const struct fsm_tunnel *t)
{
	if (t->state != FSM_T_ESTABLISHED || !t->conf.hello_interval)
		return FSM_NO_DEADLINE;
	return t->last_rx_ms + (uint64_t)t->conf.hello_interval * 1000ull * (t->conf.hello_count + 1u);
}

/*
 * The first HELLO one interval after set-up, or with conf.hello_spread at
 * a random point of that interval (1 ms .. interval): a hub whose peers
 * all came back in the same second after a restart would otherwise send
 * every keepalive of every peer in that second, interval after interval
 * (each next HELLO is due one interval after the previous one was sent).
 */
/*
 * On the side that answered the connection (a hub, the responder): the
 * peer's HELLO shows it alive, and our ACK, sent at once, shows it that
 * we are; our own HELLO, if one is only scheduled, waits until 1.5
 * intervals from now, so the peer's next HELLO (one interval on) comes
 * first.  Of the two keepalive timers only the caller's sends (it is the
 * one behind NAT, whose mapping its HELLOs keep), the other acknowledges:
 * half the messages and a third of the wake-ups of an idle tunnel.  Should
 * the caller fall silent, our HELLO goes 1.5 intervals after its last one
 * and counts down as before (RFC 3931 §4.4: a HELLO after a period
 * without messages from the peer).
 */
static void hello_received(struct fsm_tunnel *t, uint64_t now)
{
	uint64_t later;

	if (t->opened || t->state != FSM_T_ESTABLISHED || !t->conf.hello_interval ||
	    t->hello_at == FSM_NO_DEADLINE)
		return; /* the caller, none configured, or ours is out waiting for its ACK */
	later = now + t->conf.hello_interval * 1500ull;
	if (t->hello_at < later)
		t->hello_at = later;
}

static void start_keepalive(struct fsm_tunnel *t, uint64_t now)
{
	uint64_t iv = t->conf.hello_interval * 1000ull;

	t->last_rx_ms = now;
	if (!iv) {
		t->hello_at = FSM_NO_DEADLINE;
		return;
	}
	if (t->conf.hello_spread) {
		uint32_t r;

		t->ops->random(t->ctx, &r, sizeof(r));
		iv = 1 + r % iv;
	}
	t->hello_at = now + iv;
}

static void established(struct fsm_tunnel *t, const char *reason, uint64_t now)
{
	t->established_ms = now;
	t->stats.established_count++;
	t->reason[0] = '\0';
	set_state(t, FSM_T_ESTABLISHED, reason);
	start_keepalive(t, now);
	/* the caller opens the session (after a lost tie breaker an
	 * initiator may answer its peer's SCCRQ: then the peer does) */
	if (t->opened)
		sessions_open(t, now);
}

static void handle_sccrp(struct fsm_tunnel *t, const struct l2tp_msg *m, uint64_t now)
{
	char why[160];
	struct l2tp_msg r;
	int res = check_peer_identity(&t->conf, m, why, sizeof(why));

	if (!res && t->auth == FSM_AUTH_CHALLENGE) {
		uint8_t want[16];

		l2tp_auth_chap_response(L2TP_MSG_SCCRP, t->conf.secret, t->conf.secret_len, t->challenge,
					sizeof(t->challenge), want);
		if (!l2tp_msg_has(m, L2TP_AVP_CHALLENGE_RESPONSE) ||
		    memcmp(want, m->challenge_response, sizeof(want)) != 0) {
			snprintf(why, sizeof(why), "authentication failed: %s",
				 l2tp_msg_has(m, L2TP_AVP_CHALLENGE_RESPONSE) ? "wrong Challenge Response in SCCRP"
									      : "SCCRP has no Challenge Response");
			res = L2TP_STOPCCN_NOT_AUTHORIZED;
		}
	}
	if (!res && t->auth == FSM_AUTH_NONE &&
	    (l2tp_msg_has(m, L2TP_AVP_NONCE) || l2tp_msg_has(m, L2TP_AVP_CHALLENGE))) {
		snprintf(why, sizeof(why), "peer requires authentication, but no `l2tp tunnel auth` is configured");
		res = L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	/* we need the peer's CCID to address the StopCCN */
	if (l2tp_msg_has(m, L2TP_AVP_ASSIGNED_CCID))
		t->remote_ccid = m->assigned_ccid;
	if (res) {
		mismatch_set(t, why);
		if (res == L2TP_STOPCCN_NOT_AUTHORIZED && strncmp(why, "authentication failed", 21) == 0) {
			t->stats.auth_failures++;
			emit(t, NULL, FSM_EV_AUTH_FAILED, 0, 0, why);
		}
		fsm_tunnel_close_error(t, (uint16_t)res,
				       res == L2TP_STOPCCN_ERROR && m->unknown_mandatory ? L2TP_ERR_UNKNOWN_MANDATORY : 0,
				       why, now);
		return;
	}
	remember_peer(t, m);
	msg_init(t, &r, L2TP_MSG_SCCCN);
	if (t->auth == FSM_AUTH_CHALLENGE && l2tp_msg_has(m, L2TP_AVP_CHALLENGE)) {
		l2tp_msg_set(&r, L2TP_AVP_CHALLENGE_RESPONSE);
		l2tp_auth_chap_response(L2TP_MSG_SCCCN, t->conf.secret, t->conf.secret_len, m->challenge,
					m->challenge_len, r.challenge_response);
	}
	(void)enqueue(t, &r, false, now);
	established(t, "SCCRP accepted: SCCCN sent", now);
}

static void handle_scccn(struct fsm_tunnel *t, const struct l2tp_msg *m, uint64_t now)
{
	if (t->auth == FSM_AUTH_CHALLENGE && t->challenge_sent) {
		uint8_t want[16];

		l2tp_auth_chap_response(L2TP_MSG_SCCCN, t->conf.secret, t->conf.secret_len, t->challenge,
					sizeof(t->challenge), want);
		if (!l2tp_msg_has(m, L2TP_AVP_CHALLENGE_RESPONSE) ||
		    memcmp(want, m->challenge_response, sizeof(want)) != 0) {
			const char *why = "authentication failed: wrong or missing Challenge Response in SCCCN";

			mismatch_set(t, why);
			t->stats.auth_failures++;
			emit(t, NULL, FSM_EV_AUTH_FAILED, 0, 0, why);
			fsm_tunnel_close(t, L2TP_STOPCCN_NOT_AUTHORIZED, why, now);
			return;
		}
	}
	established(t, "SCCCN received", now);
}

static void handle_stopccn(struct fsm_tunnel *t, const struct l2tp_msg *m)
{
	char why[L2TP_ERRMSG_MAX + 64];

	snprintf(why, sizeof(why), "peer sent StopCCN, result %u%s%s", m->result_code, m->error_msg[0] ? ": " : "",
		 m->error_msg);
	t->down_result = m->result_code;
	/* RFC 3931 §5.7: acknowledge at once; duplicates are re-acked by the caller */
	send_ack(t);
	teardown(t, why);
}

/* Deliver one in-order message. */
static void dispatch(struct fsm_tunnel *t, const struct l2tp_msg *m, uint64_t now)
{
	char why[96];

	if (m->type == L2TP_MSG_STOPCCN) {
		handle_stopccn(t, m);
		return;
	}
	/* RFC 3931 §5.2: an unknown M=1 AVP in a control connection message
	 * clears the connection (SCCRQ/SCCRP: check_peer_identity; session
	 * messages: their handlers) */
	if (m->unknown_mandatory && (m->type == L2TP_MSG_SCCCN || m->type == L2TP_MSG_HELLO) &&
	    (t->state == FSM_T_ESTABLISHED || t->state == FSM_T_WAIT_CTL_CONN)) {
		snprintf(why, sizeof(why), "%s has unknown mandatory AVP %u (vendor %u)", l2tp_msg_type_name(m->type),
			 m->unknown_type, m->unknown_vendor);
		fsm_tunnel_close_error(t, L2TP_STOPCCN_ERROR, L2TP_ERR_UNKNOWN_MANDATORY, why, now);
		return;
	}
	switch (t->state) {
	case FSM_T_WAIT_CTL_REPLY:
		if (m->type == L2TP_MSG_SCCRP) {
			handle_sccrp(t, m, now);
			return;
		}
		break;
	case FSM_T_WAIT_CTL_CONN:
		if (m->type == L2TP_MSG_SCCCN) {
			handle_scccn(t, m, now);
			return;
		}
		break;
	case FSM_T_ESTABLISHED:
		if (m->unknown_mandatory && (m->type == L2TP_MSG_ICCN || m->type == L2TP_MSG_CDN ||
					     m->type == L2TP_MSG_SLI || m->type == L2TP_MSG_WEN)) {
			session_unknown_avp(t, m, now);
			return;
		}
		switch (m->type) {
		case L2TP_MSG_HELLO:
			hello_received(t, now);
			return;
		case L2TP_MSG_WEN:
			return; /* the ACK is all they need */
		case L2TP_MSG_ICRQ:
			handle_icrq(t, m, now);
			return;
		case L2TP_MSG_ICRP:
			handle_icrp(t, m, now);
			return;
		case L2TP_MSG_ICCN:
			handle_iccn(t, m, now);
			return;
		case L2TP_MSG_CDN:
			handle_cdn(t, m, now);
			return;
		case L2TP_MSG_SLI:
			handle_sli(t, m);
			return;
		default:
			break;
		}
		break;
	case FSM_T_CLOSING:
	case FSM_T_IDLE:
	case FSM_T_STATE_MAX:
		return;
	}
	/* RFC 3931 §7.2: connection set-up messages out of place clear it */
	if (m->type == L2TP_MSG_SCCRQ || m->type == L2TP_MSG_SCCRP || m->type == L2TP_MSG_SCCCN) {
		snprintf(why, sizeof(why), "unexpected %s in state %s", l2tp_msg_type_name(m->type),
			 fsm_tunnel_state_name(t->state));
		fsm_tunnel_close(t, L2TP_STOPCCN_FSM, why, now);
		return;
	}
	/* RFC 3931 §5.4.1: an unknown message type with M=0 may be ignored */
	if (!m->type_mandatory && !strcmp(l2tp_msg_type_name(m->type), "unknown")) {
		snprintf(why, sizeof(why), "unknown message type %u with M bit clear; ignored", m->type);
		protocol_note(t, why);
		return;
	}
	if (m->unknown_mandatory || m->type >= L2TP_MSG_TYPE_MAX || !strcmp(l2tp_msg_type_name(m->type), "unknown")) {
		snprintf(why, sizeof(why), "unknown message type %u with M bit set", m->type);
		fsm_tunnel_close(t, L2TP_STOPCCN_ERROR, why, now);
		return;
	}
	snprintf(why, sizeof(why), "%s ignored in state %s", l2tp_msg_type_name(m->type),
		 fsm_tunnel_state_name(t->state));
	protocol_note(t, why);
}

/* Our messages the peer's Nr acknowledges leave the queue. */
static void take_nr(struct fsm_tunnel *t, uint16_t nr, uint64_t now)
{
	/* Nr beyond what we sent is a lie (RFC 3931 §4.2): ignore it */
	if (fsm_seq_lt(t->ns, nr))
		return;
	while (t->txq_len && t->txq[0].sent && fsm_seq_lt(t->txq[0].ns, nr)) {
		struct fsm_txmsg *q = &t->txq[0];

		if (q->is_hello) {
			t->stats.last_hello_rtt_ms = now - t->hello_sent_ms;
			emit(t, NULL, FSM_EV_KEEPALIVE_ACKED, 0, 0, "HELLO acknowledged");
			if (t->state == FSM_T_ESTABLISHED && t->conf.hello_interval) {
				uint64_t next = t->hello_sent_ms + t->conf.hello_interval * 1000ull;

				t->hello_at = next > now ? next : now;
			}
		}
		/* Appendix A slow start / congestion avoidance */
		if (t->cwnd < t->ssthresh) {
			t->cwnd++;
		} else if (++t->cwnd_acc >= t->cwnd) {
			t->cwnd_acc = 0;
			t->cwnd++;
		}
		if (t->cwnd > FSM_TXQ_LEN)
			t->cwnd = FSM_TXQ_LEN;
		free(q->msg);
		memmove(&t->txq[0], &t->txq[1], (t->txq_len - 1) * sizeof(t->txq[0]));
		t->txq_len--;
	}
	if (t->state == FSM_T_CLOSING && !t->txq_len)
		teardown(t, t->reason[0] ? t->reason : "StopCCN acknowledged");
}

static void rxq_store(struct fsm_tunnel *t, uint16_t ns, const uint8_t *raw, size_t len)
{
	struct fsm_rxmsg *slot = NULL;

	for (size_t i = 0; i < FSM_RXQ_LEN; i++) {
		if (t->rxq[i].buf && t->rxq[i].ns == ns)
			return; /* have it already */
		if (!t->rxq[i].buf && !slot)
			slot = &t->rxq[i];
	}
	if (!slot)
		return; /* full: the peer will retransmit */
	slot->buf = malloc(len);
	if (!slot->buf)
		return;
	memcpy(slot->buf, raw, len);
	slot->len = len;
	slot->ns = ns;
}

static bool rxq_take(struct fsm_tunnel *t, uint16_t ns, uint8_t **ret_buf, size_t *ret_len)
{
	for (size_t i = 0; i < FSM_RXQ_LEN; i++) {
		if (t->rxq[i].buf && t->rxq[i].ns == ns) {
			*ret_buf = t->rxq[i].buf;
			*ret_len = t->rxq[i].len;
			t->rxq[i].buf = NULL;
			t->rxq[i].len = 0;
			return true;
		}
	}
	return false;
}

static bool authentic(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len)
{
	const uint8_t *pn = t->peer_nonce;
	size_t pnl = t->peer_nonce_len;

	if (t->auth != FSM_AUTH_DIGEST)
		return true;
	/* a retransmitted SCCRQ is signed without nonces (§4.3) */
	if (m->type == L2TP_MSG_SCCRQ)
		return l2tp_auth_digest_verify(t->key, NULL, 0, NULL, 0, raw, len, m);
	/*
	 * A responder that refuses our SCCRQ (wrong secret, unknown Router
	 * ID) cannot sign its StopCCN.  Accept an unsigned one while our SCCRQ
	 * is pending: it must carry our random CCID, and at worst it ends an
	 * attempt that always-on repeats; afterwards digests are required.
	 */
	if (t->state == FSM_T_WAIT_CTL_REPLY && m->type == L2TP_MSG_STOPCCN && !m->n_digests)
		return true;
	/* the SCCRP brings the peer's nonce: verify with it before trusting it */
	if (t->state == FSM_T_WAIT_CTL_REPLY && m->type == L2TP_MSG_SCCRP) {
		if (!l2tp_msg_has(m, L2TP_AVP_NONCE) || !m->nonce_len)
			return false;
		pn = m->nonce;
		pnl = m->nonce_len;
	}
	if (!l2tp_auth_digest_verify(t->key, pn, pnl, t->nonce, sizeof(t->nonce), raw, len, m))
		return false;
	if (pn != t->peer_nonce) {
		memcpy(t->peer_nonce, pn, pnl);
		t->peer_nonce_len = pnl;
	}
	return true;
}

enum fsm_input fsm_tunnel_input(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len, uint64_t now)
{
	struct l2tp_msg plain;

	if (t->state == FSM_T_IDLE)
		return FSM_IN_IGNORED;
	m = unhide(&t->conf, m, raw, len, &plain);
	if (!authentic(t, m, raw, len)) {
		/* before the SCCRP we lack the peer's nonce: nothing but the
		 * SCCRP can be verified yet (e.g. the peer's ACK of our
		 * retransmitted SCCRQ); drop it without crying wolf */
		if (t->state == FSM_T_WAIT_CTL_REPLY && m->type != L2TP_MSG_SCCRP && !t->peer_nonce_len) {
			protocol_note(t, "message before the SCCRP cannot be authenticated yet; dropped");
			return FSM_IN_IGNORED;
		}
		t->stats.auth_failures++;
		emit(t, NULL, FSM_EV_AUTH_FAILED, 0, 0,
		     t->state == FSM_T_WAIT_CTL_REPLY && m->type == L2TP_MSG_SCCRP
			     ? "authentication failed: SCCRP digest does not verify (secret differs?)"
			     : "authentication failed: message digest does not verify; message dropped");
		if (t->state == FSM_T_WAIT_CTL_REPLY && m->type == L2TP_MSG_SCCRP) {
			if (l2tp_msg_has(m, L2TP_AVP_ASSIGNED_CCID))
				t->remote_ccid = m->assigned_ccid;
			t->nr = (uint16_t)(m->ns + 1);
			fsm_tunnel_close(t, L2TP_STOPCCN_NOT_AUTHORIZED, "authentication failed", now);
		}
		return FSM_IN_AUTH_FAILED;
	}
	take_nr(t, m->nr, now);
	t->last_rx_ms = now;
	if (t->state == FSM_T_IDLE)
		return FSM_IN_ACK; /* our StopCCN was acknowledged */
	if (m->type == L2TP_MSG_ZLB || m->type == L2TP_MSG_ACK) {
		try_send(t, now);
		return FSM_IN_ACK;
	}
	if (m->ns == t->nr) {
		uint8_t *qbuf;
		size_t qlen;

		t->nr++;
		t->stats.rx_msgs++;
		if (t->ops->trace)
			t->ops->trace(t->ctx, t, false, m);
		/* an ACK is due unless something we send first carries the Nr */
		t->ack_pending = true;
		t->ack_at = now + FSM_ACK_DELAY_MS;
		dispatch(t, m, now);
		if (t->state == FSM_T_IDLE) {
			t->ack_pending = false;
			return FSM_IN_TAKEN;
		}
		try_send(t, now);
		if (m->type == L2TP_MSG_HELLO && t->ack_pending) {
			/* no reply will carry the Nr: acknowledge now rather
			 * than wake up again in FSM_ACK_DELAY_MS */
			t->ack_pending = false;
			send_ack(t);
		}
		/* messages that arrived early and are now in order */
		while (t->state != FSM_T_IDLE && rxq_take(t, t->nr, &qbuf, &qlen)) {
			struct l2tp_msg qm;

			if (l2tp_ctrl_decode(qbuf, qlen, &qm) == 0)
				(void)fsm_tunnel_input(t, &qm, qbuf, qlen, now);
			free(qbuf);
		}
		return FSM_IN_TAKEN;
	}
	if (fsm_seq_lt(m->ns, t->nr)) {
		/* duplicate: its ACK was lost; acknowledge again (RFC 3931 §4.2) */
		t->stats.rx_duplicates++;
		send_ack(t);
		return FSM_IN_DUPLICATE;
	}
	t->stats.rx_out_of_order++;
	rxq_store(t, m->ns, raw, len);
	return FSM_IN_QUEUED;
}

void fsm_tunnel_tick(struct fsm_tunnel *t, uint64_t now)
{
	char why[128];

	if (t->state == FSM_T_IDLE)
		return;
	for (size_t i = 0; i < t->txq_len; i++) {
		struct fsm_txmsg *q = &t->txq[i];
		unsigned max = q->is_hello ? t->conf.hello_count : t->conf.rtx_retries + 1;

		if (!q->sent || q->rtx_at > now)
			continue;
		if (q->tries >= max) {
			if (t->state == FSM_T_CLOSING) {
				teardown(t, t->reason[0] ? t->reason : "StopCCN not acknowledged");
				return;
			}
			if (q->is_hello)
				snprintf(why, sizeof(why), "peer not responding: %u keepalives unanswered", q->tries);
			else
				snprintf(why, sizeof(why), "peer not responding: %s unacknowledged after %u tries",
					 l2tp_msg_type_name(q->msg->type), q->tries);
			teardown(t, why);
			return;
		}
		q->tries++;
		t->stats.retransmissions++;
		if (!q->is_hello) {
			q->interval_ms *= 2;
			if (q->interval_ms > t->conf.rtx_max_ms)
				q->interval_ms = t->conf.rtx_max_ms;
		}
		q->rtx_at = now + q->interval_ms;
		/* Appendix A: on retransmission halve the threshold, restart slow */
		t->ssthresh = t->cwnd / 2 ? t->cwnd / 2 : 1;
		t->cwnd = 1;
		transmit(t, q->msg, q->ns);
	}
	if (t->state == FSM_T_CLOSING && now >= t->close_until) {
		teardown(t, t->reason[0] ? t->reason : "StopCCN not acknowledged");
		return;
	}
	/* our SCCRQ/SCCRP was acknowledged but the peer never went on */
	if ((t->state == FSM_T_WAIT_CTL_REPLY || t->state == FSM_T_WAIT_CTL_CONN) && now >= t->close_until) {
		snprintf(why, sizeof(why), "peer not responding: no %s within %llu s",
			 t->state == FSM_T_WAIT_CTL_REPLY ? "SCCRP" : "SCCCN",
			 (unsigned long long)(rtx_cycle_ms(t) / 1000));
		teardown(t, why);
		return;
	}
	if (now >= silence_limit(t)) {
		snprintf(why, sizeof(why), "peer not responding: nothing received for %llu s",
			 (unsigned long long)((now - t->last_rx_ms) / 1000));
		teardown(t, why);
		return;
	}
	if (t->ack_pending && now >= t->ack_at)
		send_ack(t);
	if (t->state == FSM_T_ESTABLISHED && t->pw_retry_at <= now)
		sessions_open(t, now);
	if (t->state == FSM_T_ESTABLISHED && t->hello_at <= now) {
		struct l2tp_msg m;

		t->hello_at = FSM_NO_DEADLINE; /* until this one is acknowledged */
		msg_init(t, &m, L2TP_MSG_HELLO);
		emit(t, NULL, FSM_EV_KEEPALIVE_SENT, 0, 0, "HELLO sent");
		(void)enqueue(t, &m, true, now);
	}
}

uint64_t fsm_tunnel_deadline(const struct fsm_tunnel *t)
{
	uint64_t d = FSM_NO_DEADLINE;

	if (t->state == FSM_T_IDLE)
		return d;
	for (size_t i = 0; i < t->txq_len; i++)
		if (t->txq[i].sent && t->txq[i].rtx_at < d)
			d = t->txq[i].rtx_at;
	if (t->ack_pending && t->ack_at < d)
		d = t->ack_at;
	if (t->state == FSM_T_ESTABLISHED && t->hello_at < d)
		d = t->hello_at;
	if (t->state == FSM_T_ESTABLISHED && t->pw_retry_at < d)
		d = t->pw_retry_at;
	if (silence_limit(t) < d)
		d = silence_limit(t);
	if ((t->state == FSM_T_CLOSING || t->state == FSM_T_WAIT_CTL_REPLY || t->state == FSM_T_WAIT_CTL_CONN) &&
	    t->close_until < d)
		d = t->close_until;
	return d;
}

/* ---------------------------------------------------------------------- */
/* stateless answers */

int fsm_stateless_stopccn(const struct l2tp_msg *req, uint16_t result, const char *why, uint8_t *buf, size_t cap)
{
	struct l2tp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = L2TP_MSG_STOPCCN;
	l2tp_msg_set(&m, L2TP_AVP_MESSAGE_TYPE);
	msg_result(&m, result, req->unknown_mandatory ? L2TP_ERR_UNKNOWN_MANDATORY : 0, why);
	/* no Assigned CCID AVP: we kept no connection, and 0 is not a valid ID */
	m.ccid = l2tp_msg_has(req, L2TP_AVP_ASSIGNED_CCID) ? req->assigned_ccid : 0;
	m.ns = 0;
	m.nr = (uint16_t)(req->ns + 1);
	return l2tp_ctrl_encode(&m, buf, cap);
}

int fsm_stateless_stopccn_signed(const struct fsm_tunnel_conf *conf, const struct l2tp_msg *req, uint16_t result,
				 const char *why, uint8_t *buf, size_t cap)
{
	struct l2tp_msg m;
	uint8_t key[16];
	int len;

	if (conf->auth == FSM_AUTH_NONE || !l2tp_msg_has(req, L2TP_AVP_NONCE) || !req->nonce_len || !req->n_digests)
		return fsm_stateless_stopccn(req, result, why, buf, cap);
	memset(&m, 0, sizeof(m));
	m.type = L2TP_MSG_STOPCCN;
	l2tp_msg_set(&m, L2TP_AVP_MESSAGE_TYPE);
	msg_result(&m, result, req->unknown_mandatory ? L2TP_ERR_UNKNOWN_MANDATORY : 0, why);
	m.n_digests = 1;
	m.digest_type[0] = req->digest_type[0];
	m.ccid = l2tp_msg_has(req, L2TP_AVP_ASSIGNED_CCID) ? req->assigned_ccid : 0;
	m.ns = 0;
	m.nr = (uint16_t)(req->ns + 1);
	len = l2tp_ctrl_encode(&m, buf, cap);
	if (len > 0) {
		l2tp_auth_shared_key(conf->secret, conf->secret_len, key);
		l2tp_auth_digest_sign(key, NULL, 0, req->nonce, req->nonce_len, buf, (size_t)len, &m);
	}
	return len;
}

int fsm_stateless_ack(uint32_t peer_ccid, uint16_t ns, uint16_t nr, uint8_t *buf, size_t cap)
{
	struct l2tp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = L2TP_MSG_ACK;
	l2tp_msg_set(&m, L2TP_AVP_MESSAGE_TYPE);
	m.ccid = peer_ccid;
	m.ns = ns;
	m.nr = nr;
	return l2tp_ctrl_encode(&m, buf, cap);
}

void fsm_tunnel_sign_save(const struct fsm_tunnel *t, struct fsm_sign *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->auth = t->auth;
	ret->digest_type = t->digest_type;
	memcpy(ret->key, t->key, sizeof(ret->key));
	memcpy(ret->nonce, t->nonce, sizeof(ret->nonce));
	memcpy(ret->peer_nonce, t->peer_nonce, t->peer_nonce_len);
	ret->peer_nonce_len = t->peer_nonce_len;
}

int fsm_stateless_ack_signed(const struct fsm_sign *s, uint32_t peer_ccid, uint16_t ns, uint16_t nr, uint8_t *buf,
			     size_t cap)
{
	struct l2tp_msg m;
	int len;

	if (s->auth != FSM_AUTH_DIGEST)
		return fsm_stateless_ack(peer_ccid, ns, nr, buf, cap);
	memset(&m, 0, sizeof(m));
	m.type = L2TP_MSG_ACK;
	l2tp_msg_set(&m, L2TP_AVP_MESSAGE_TYPE);
	m.n_digests = 1;
	m.digest_type[0] = s->digest_type;
	m.ccid = peer_ccid;
	m.ns = ns;
	m.nr = nr;
	len = l2tp_ctrl_encode(&m, buf, cap);
	if (len > 0)
		l2tp_auth_digest_sign(s->key, s->nonce, sizeof(s->nonce), s->peer_nonce, s->peer_nonce_len, buf,
				      (size_t)len, &m);
	return len;
}

unsigned fsm_tunnel_hellos_unanswered(const struct fsm_tunnel *t)
{
	for (size_t i = 0; i < t->txq_len; i++)
		if (t->txq[i].is_hello && t->txq[i].sent)
			return t->txq[i].tries;
	return 0;
}
