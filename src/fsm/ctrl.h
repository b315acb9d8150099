/* SPDX-License-Identifier: MIT */
/*
 * Control connection and session state machines (RFC 3931 §7.2, §7.3)
 * with reliable delivery (§4.2, Appendix A) and keepalive (§4.4).
 *
 * Pure: no sockets, no clock, no logging.  The caller passes decoded
 * messages (with their raw bytes, for digest checks) and the current
 * time in milliseconds.  What the machine does comes back two ways:
 *  - outputs through struct fsm_ops, during the call: bytes to send, random
 *    bytes and Session IDs to draw, messages to trace.  None of them calls
 *    back into the machine or changes the caller's tunnels;
 *  - effects, recorded in the tunnel's outbox in the order they happened
 *    and read by the caller after the call (fsm_tunnel_take_effect):
 *    sessions to start and stop in the data path, and events (state
 *    changes with a reason) to log.  The caller acts on them outside the
 *    machine's call, so it may free or replace tunnels while doing so; a
 *    data path that cannot start is reported back with
 *    fsm_session_start_failed().
 * Timers are one deadline per tunnel: the caller arms a timer at
 * fsm_tunnel_deadline() and calls fsm_tunnel_tick() when it fires.
 *
 * Timers, all per tunnel:
 *  - retransmission of the oldest unacknowledged message: 1 s, doubling to
 *    8 s, at most conf.rtx_retries times, then the tunnel is cleared;
 *    a HELLO instead retries every keepalive interval, keepalive count
 *    times in all (Yamaha's `l2tp keepalive use on INTERVAL COUNT`);
 *  - delayed acknowledgement: an explicit ACK 50 ms after an in-order
 *    message unless a reply carried the Nr first (a ZLB to a peer of
 *    L2TPv2 descent, see send_ack in ctrl.c);
 *  - keepalive: a HELLO every interval while established;
 *  - closing hold: after our StopCCN, until acknowledged or given up.
 */
#ifndef L2TP_FSM_CTRL_H
#define L2TP_FSM_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/l2tp_wire.h"

#define FSM_MAX_SESSIONS 16 /* per tunnel */
#define FSM_MAX_PW 8 /* pseudowires per tunnel (conf.end_id is the first) */
#define FSM_PW_RETRY_MS 10000 /* an opener asks again for a pseudowire the peer closed or refused ... */
#define FSM_PW_RETRY_MAX_MS 320000 /* ... doubling to this while it keeps doing so */
#define FSM_TXQ_LEN 32 /* messages waiting for an ACK, in flight or not */
#define FSM_RXQ_LEN 8 /* out-of-order messages kept for later */
#define FSM_RECV_WINDOW 16 /* what we advertise */
#define FSM_ACK_DELAY_MS 50
#define FSM_NO_DEADLINE UINT64_MAX

enum fsm_auth {
	FSM_AUTH_NONE,
	FSM_AUTH_DIGEST, /* RFC 3931 Message Digest (HMAC-MD5) with nonces */
	FSM_AUTH_CHALLENGE, /* L2TPv2-style Challenge / Challenge Response */
};

/* What the caller configures; copied into the tunnel at init. */
struct fsm_tunnel_conf {
	unsigned id; /* tunnel number, for events */
	bool initiator;
	char host_name[L2TP_NAME_MAX + 1];
	char vendor_name[L2TP_NAME_MAX + 1];
	uint32_t router_id;
	bool check_peer_router_id;
	uint32_t peer_router_id;
	enum fsm_auth auth; /* what we send as initiator; as responder we follow the SCCRQ */
	uint8_t digest_type; /* L2TP_DIGEST_HMAC_MD5 (0) or _SHA1 as initiator; a responder uses the SCCRQ's */
	char secret[256];
	size_t secret_len;
	uint8_t end_id[L2TP_END_ID_MAX]; /* pseudowire 1's; empty: as responder, any the others do not take */
	size_t end_id_len;
	/* Pseudowires 2.. over the same connection (RFC 3931 §3.3): the side
	 * that opened the connection sends an ICRQ for each; the other takes
	 * an ICRQ whose Remote End ID names one without a session */
	struct fsm_pw_conf {
		uint8_t end_id[L2TP_END_ID_MAX]; /* never empty */
		size_t end_id_len;
	} pws[FSM_MAX_PW - 1];
	size_t n_pws;
	unsigned hello_interval; /* seconds, 0 = no keepalive */
	unsigned hello_count; /* HELLO transmissions before the peer is declared dead */
	bool hello_spread; /* the first HELLO at a random point of the first interval (ops->random),
			      so that tunnels set up together do not keep their keepalives in step */
	unsigned rtx_initial_ms; /* default 1000 */
	unsigned rtx_max_ms; /* default 8000 */
	unsigned rtx_retries; /* default 10 */
	unsigned idle_timeout; /* seconds without data before teardown, 0 = off (glue checks) */
	/* session data-plane settings (RFC 3931 §5.4.4), sent in ICRQ/ICRP */
	uint16_t pw_type; /* L2TP_PW_TYPE_ETH (0 means the same) or _ETH_VLAN */
	size_t cookie_len; /* our cookie, 0, 4 or 8 bytes */
	bool cookie_fixed; /* cookie[] as configured, else random per session */
	uint8_t cookie[8];
	bool l2ss; /* we ask for the Default L2-Specific Sublayer */
	bool data_seq; /* we ask for sequenced data (Data Sequencing 2; implies l2ss) */
};

#define FSM_MISMATCH_MAX 320 /* room for the cookie, sublayer and sequencing notes at once */

enum fsm_tunnel_state {
	FSM_T_IDLE,
	FSM_T_WAIT_CTL_REPLY,
	FSM_T_WAIT_CTL_CONN,
	FSM_T_ESTABLISHED,
	FSM_T_CLOSING,
	FSM_T_STATE_MAX,
};

enum fsm_session_state {
	FSM_S_IDLE,
	FSM_S_WAIT_REPLY,
	FSM_S_WAIT_CONNECT,
	FSM_S_ESTABLISHED,
	FSM_S_STATE_MAX,
};

const char *fsm_tunnel_state_name(enum fsm_tunnel_state s);
const char *fsm_session_state_name(enum fsm_session_state s);

struct fsm_session {
	unsigned pw; /* pseudowire: 0 (conf.end_id), 1.. (conf.pws[pw - 1]) */
	uint32_t local_sid;
	uint32_t remote_sid; /* 0 until learnt */
	enum fsm_session_state state;
	bool initiator;
	bool circuit_local_up;
	bool circuit_remote_up;
	uint32_t serial;
	uint8_t tx_cookie[8]; /* the peer's Assigned Cookie: we send it */
	size_t tx_cookie_len;
	bool tx_l2ss; /* the peer asked for the Default L2SS */
	bool tx_seq; /* the peer asked for sequenced data (Data Sequencing 1 or 2): we number what we send */
	uint8_t rx_cookie[8]; /* our Assigned Cookie: the peer sends it */
	size_t rx_cookie_len;
	bool rx_l2ss; /* we asked for the Default L2SS */
	bool rx_seq; /* we asked for sequenced data: received numbers are checked */
	char mismatch[FSM_MISMATCH_MAX]; /* peer settings that differ from ours, "" = none */
	uint64_t established_ms; /* time it came up */
	void *user; /* the caller's data-path handle */
};

/* Why something happened; reasons are short human-readable text. */
enum fsm_event_kind {
	FSM_EV_TUNNEL_STATE, /* from -> to, reason */
	FSM_EV_SESSION_STATE,
	FSM_EV_AUTH_FAILED, /* a message failed authentication and was dropped */
	FSM_EV_SESSION_REFUSED, /* we refused the peer's ICRQ (end-id, PW type...) */
	FSM_EV_MISMATCH, /* session up, but the peer asked for other settings (adopted): reason says which */
	FSM_EV_KEEPALIVE_SENT,
	FSM_EV_KEEPALIVE_ACKED,
	FSM_EV_PROTOCOL, /* something odd but survivable (debug level) */
};

struct fsm_event {
	enum fsm_event_kind kind;
	int from, to; /* states for *_STATE */
	const char *reason;
};

struct fsm_tunnel;

/* Outputs, called during the machine's call; none of them re-enters it. */
struct fsm_ops {
	/* Send an encoded control message to the peer. */
	void (*send)(void *ctx, struct fsm_tunnel *t, const uint8_t *buf, size_t len);
	/* Fill buf with random bytes. */
	void (*random)(void *ctx, void *buf, size_t len);
	/* A new local Session ID, unique in the caller's data path (≠ 0). */
	uint32_t (*alloc_session_id)(void *ctx);
	/* Every message sent (tx) or accepted (rx), for `l2tp syslog on`. May be NULL. */
	void (*trace)(void *ctx, struct fsm_tunnel *t, bool tx, const struct l2tp_msg *m);
};

/*
 * Effects: what a call did that the caller must act on, in order.
 *  SESSION_UP: session established: start its data path (the session is
 *  still in t->sessions unless a later SESSION_DOWN of the same call says
 *  otherwise: find it by local Session ID, fsm_session_find); if the data
 *  path cannot start, call fsm_session_start_failed().
 *  SESSION_DOWN: session gone from t->sessions: stop its data path
 *  (session.user is the handle the caller put in the live session).
 *  EVENT: something to log, with the session concerned if has_session.
 * session is a copy taken when the effect happened; ev.reason points
 * into reason (the copy of the text, which may have been on the stack).
 */
enum fsm_effect_kind {
	FSM_FX_SESSION_UP,
	FSM_FX_SESSION_DOWN,
	FSM_FX_EVENT,
};

struct fsm_effect {
	enum fsm_effect_kind kind;
	bool has_session;
	struct fsm_session session;
	struct fsm_event ev; /* FSM_FX_EVENT */
	char reason[FSM_MISMATCH_MAX];
};

/*
 * The outbox is bounded.  Session effects of one call: at most one per
 * message processed (the message and up to FSM_RXQ_LEN queued ones it
 * releases), plus one per session when the connection goes down.  Events
 * are dropped (counted in fx_dropped) once only FSM_FX_SESSION_RESERVE
 * places are left, twice that worst case (room for the effects of calls
 * the caller makes while taking them), so a session effect always fits
 * when the caller takes the effects after each call.  Held (malloc'd)
 * only while not empty.
 */
#define FSM_FX_SESSION_RESERVE (2 * (FSM_RXQ_LEN + 1 + FSM_MAX_SESSIONS))
#define FSM_FX_MAX (FSM_FX_SESSION_RESERVE + 64)

/* A queued message is kept decoded (re-encoded with the current Nr on each
 * retransmission) but allocated only while queued: an idle tunnel holds
 * none, so the tunnel itself stays small (issue 11: 1,000 per hub). */
struct fsm_txmsg {
	struct l2tp_msg *msg; /* malloc'd while queued */
	uint16_t ns;
	bool sent;
	unsigned tries;
	uint64_t rtx_at;
	unsigned interval_ms; /* current retransmission interval */
	bool is_hello;
};

struct fsm_rxmsg {
	uint16_t ns;
	size_t len;
	uint8_t *buf; /* FSM owns; malloc'd */
};

struct fsm_tunnel_stats {
	uint64_t rx_msgs, tx_msgs;
	uint64_t retransmissions;
	uint64_t rx_duplicates;
	uint64_t rx_out_of_order;
	uint64_t auth_failures;
	uint64_t established_count;
	uint64_t last_hello_rtt_ms;
};

struct fsm_tunnel {
	struct fsm_tunnel_conf conf;
	const struct fsm_ops *ops;
	void *ctx;

	enum fsm_tunnel_state state;
	uint32_t local_ccid;
	uint32_t remote_ccid;
	uint16_t ns; /* next Ns we assign */
	uint16_t nr; /* next Ns we expect */

	/* peer */
	char peer_host_name[L2TP_NAME_MAX + 1];
	char peer_vendor_name[L2TP_NAME_MAX + 1];
	uint32_t peer_router_id;
	uint16_t peer_rws;
	bool peer_v2; /* its SCCRQ/SCCRP had L2TPv2's Protocol Version AVP: ZLB acks (see send_ack) */

	/* authentication */
	enum fsm_auth auth; /* in force on this connection */
	uint8_t digest_type; /* hash of the digests we send (FSM_AUTH_DIGEST) */
	uint8_t key[16]; /* RFC 3931 shared key */
	uint8_t nonce[16], peer_nonce[L2TP_NONCE_MAX];
	size_t peer_nonce_len;
	uint8_t challenge[16]; /* challenge style: what we sent */
	bool challenge_sent;

	/* simultaneous open (RFC 3931 §5.4.3) */
	bool opened; /* we sent this connection's SCCRQ (else we accepted the peer's) */
	uint8_t tie_breaker[8]; /* the Control Connection Tie Breaker of our SCCRQ */

	/* reliable delivery */
	struct fsm_txmsg txq[FSM_TXQ_LEN];
	size_t txq_len;
	unsigned cwnd, ssthresh, cwnd_acc;
	struct fsm_rxmsg rxq[FSM_RXQ_LEN];
	bool ack_pending;
	uint64_t ack_at;
	uint64_t hello_at; /* next HELLO, FSM_NO_DEADLINE if none */
	uint64_t hello_sent_ms;
	uint64_t last_rx_ms; /* last authentic message from the peer (ESTABLISHED: liveness) */
	uint64_t close_until; /* CLOSING: give up waiting for the StopCCN ACK; WAIT_CTL_*: for the peer to go on */
	uint64_t established_ms;

	struct fsm_session sessions[FSM_MAX_SESSIONS];
	size_t n_sessions;
	uint64_t pw_retry_at; /* opener: ask again for pseudowires without a session; FSM_NO_DEADLINE if none */
	unsigned pw_retry_ms; /* the interval of the last retry, 0 = none since all were up */

	struct fsm_tunnel_stats stats;
	char reason[192]; /* last teardown reason */
	char mismatch[FSM_MISMATCH_MAX]; /* what the peer disagreed on last ("" = none); cleared by a session without */
	uint16_t down_result; /* result code of the last StopCCN (sent or received) */

	/* the outbox: fx[fx_head..fx_len) not yet taken; NULL when empty */
	struct fsm_effect *fx;
	size_t fx_head, fx_len, fx_cap;
	uint64_t fx_dropped; /* events not recorded: the outbox was nearly full */
};

/* Set up t in FSM_T_IDLE; the local CCID is chosen by the caller.  A
 * tunnel set up again must have had its effects taken first. */
void fsm_tunnel_init(struct fsm_tunnel *t, const struct fsm_tunnel_conf *conf, uint32_t local_ccid,
		     const struct fsm_ops *ops, void *ctx);
/* Free what the tunnel holds (queued messages); each session gets a
 * SESSION_DOWN effect.  The tunnel is left idle; the caller takes the
 * effects, which frees the outbox. */
void fsm_tunnel_release(struct fsm_tunnel *t);

/* Initiator: send SCCRQ (IDLE -> WAIT_CTL_REPLY). -EBUSY if not idle. */
int fsm_tunnel_open(struct fsm_tunnel *t, uint64_t now);

/*
 * Responder: decide whether an SCCRQ (header CCID 0) may open a
 * connection under conf: Router ID, authentication (digest over the
 * SCCRQ or presence of the Challenge), PW capabilities.  Returns 0 if
 * acceptable, else a StopCCN result code with a reason in why.
 */
int fsm_sccrq_check(const struct fsm_tunnel_conf *conf, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		    char *why, size_t whylen);
/* Responder: accept the SCCRQ (already checked) and send SCCRP
 * (IDLE -> WAIT_CTL_CONN). */
int fsm_tunnel_accept(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len, uint64_t now);

/* What fsm_tunnel_input did with a message, for the caller to act on
 * (e.g. roaming: only a new, authentic message moves a tunnel) without
 * reading the counters before and after. */
enum fsm_input {
	FSM_IN_IGNORED, /* no connection, or not verifiable yet (before the SCCRP) */
	FSM_IN_AUTH_FAILED, /* the digest did not verify: dropped */
	FSM_IN_ACK, /* a ZLB or explicit ACK: its Nr taken */
	FSM_IN_TAKEN, /* new and in sequence: processed */
	FSM_IN_DUPLICATE, /* seen before: acknowledged again */
	FSM_IN_QUEUED, /* ahead of sequence: kept for later */
};

/* A control message for this tunnel (header CCID = ours). */
enum fsm_input fsm_tunnel_input(struct fsm_tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
				uint64_t now);
/* Run what is due at now. */
void fsm_tunnel_tick(struct fsm_tunnel *t, uint64_t now);
/* When fsm_tunnel_tick next has something to do. */
uint64_t fsm_tunnel_deadline(const struct fsm_tunnel *t);

/*
 * Simultaneous open (RFC 3931 §5.4.3): t is calling a peer whose own SCCRQ
 * (with a Control Connection Tie Breaker) has just arrived.  The lower
 * tie breaker wins: WON, the caller drops the peer's SCCRQ and t goes on;
 * LOST, the caller abandons t's attempt (fsm_tunnel_release) and answers
 * the peer's SCCRQ; BOTH_LOST (equal values), both sides drop theirs.
 * NONE if there is no contest (t not waiting for an SCCRP, or no Tie
 * Breaker in the SCCRQ): the SCCRQ is handled as any other.
 */
enum fsm_tie {
	FSM_TIE_NONE,
	FSM_TIE_WON,
	FSM_TIE_LOST,
	FSM_TIE_BOTH_LOST,
};
enum fsm_tie fsm_tunnel_tie_break(const struct fsm_tunnel *t, const struct l2tp_msg *sccrq);

/*
 * The oldest effect not yet taken, copied to out; false when there is
 * none (the outbox is then freed).  The caller takes them after every
 * call of the machine, until false; it may call the machine while doing
 * so (their effects follow).
 */
bool fsm_tunnel_take_effect(struct fsm_tunnel *t, struct fsm_effect *out);
/* The live session with this local Session ID, NULL if gone. */
struct fsm_session *fsm_session_find(struct fsm_tunnel *t, uint32_t local_sid);
/* The caller could not start the data path of a session (SESSION_UP):
 * CDN result 4 (temporary lack of resources) to the peer and the session
 * forgotten, without a SESSION_DOWN (nothing was started); an opener with
 * other sessions asks for that pseudowire again later.  -ENOENT if none. */
int fsm_session_start_failed(struct fsm_tunnel *t, uint32_t local_sid, uint64_t now);

/* Tear down one session with a CDN (result, why); the connection and the
 * other sessions stay (the opener asks again for its pseudowire later,
 * or closes the connection if it was the last).  -ENOENT if none. */
int fsm_session_close(struct fsm_tunnel *t, uint32_t local_sid, uint16_t result, const char *why, uint64_t now);

/* Tear down with a StopCCN (-> CLOSING, then IDLE once acked or given up). */
void fsm_tunnel_close(struct fsm_tunnel *t, uint16_t result, const char *why, uint64_t now);
/* The same with an Error Code (RFC 3931 §5.4.2, with result 2). */
void fsm_tunnel_close_error(struct fsm_tunnel *t, uint16_t result, uint16_t error, const char *why, uint64_t now);
/* Tear down at once, to IDLE, without a StopCCN (or stop retransmitting
 * one): for a connection whose path to the peer is gone, as an IPsec
 * tunnel's once its SA is, where a StopCCN could not be sent and waiting
 * out its retransmissions (31 s) would only hold the reconnection back.
 * The peer's end goes by its own keepalive. */
void fsm_tunnel_drop(struct fsm_tunnel *t, uint16_t result, const char *why);

/* The Remote End ID of pseudowire pw (0..conf.n_pws). */
const uint8_t *fsm_pw_end_id(const struct fsm_tunnel_conf *conf, unsigned pw, size_t *len);

/* Connection time of the session in seconds. */
static inline uint64_t fsm_session_uptime(const struct fsm_session *s, uint64_t now)
{
	return s->state == FSM_S_ESTABLISHED && now >= s->established_ms ? (now - s->established_ms) / 1000 : 0;
}

/*
 * Build a StopCCN answering a message we will not keep state for (refused
 * SCCRQ, StopCCN for an unknown connection...): header CCID = the peer's
 * Assigned CCID from req, Ns 0, Nr req.ns + 1.  key may be NULL (no digest).
 * Returns length or negative errno.
 */
int fsm_stateless_stopccn(const struct l2tp_msg *req, uint16_t result, const char *why, uint8_t *buf, size_t cap);
/*
 * fsm_stateless_stopccn signed for a peer that verifies digests (a full
 * hub refusing an authenticated SCCRQ): when conf has auth on and req
 * carries a Nonce and a Message Digest (fsm_sccrq_check verified it), the
 * StopCCN carries a Message Digest of req's hash, sender's nonce ||
 * receiver's nonce || message as for any message (RFC 3931 §4.3), the
 * sender's being empty: we never sent one (a Nonce AVP belongs to SCCRQ
 * and SCCRP only), the receiver's being the SCCRQ's.  The initiator
 * verifies it with the nonce it has (its own) before any SCCRP, as
 * authentic() does; it binds the refusal to that one SCCRQ.  Otherwise it
 * is fsm_stateless_stopccn's (a challenge-style peer expects no digest).
 */
int fsm_stateless_stopccn_signed(const struct fsm_tunnel_conf *conf, const struct l2tp_msg *req, uint16_t result,
				 const char *why, uint8_t *buf, size_t cap);
/* Build an ACK for a message we keep no state for (duplicate StopCCN). */
int fsm_stateless_ack(uint32_t peer_ccid, uint16_t ns, uint16_t nr, uint8_t *buf, size_t cap);

/* How a connection signed its messages, kept after it is gone so that a
 * duplicate StopCCN can still be acknowledged with a valid digest. */
struct fsm_sign {
	enum fsm_auth auth;
	uint8_t digest_type;
	uint8_t key[16];
	uint8_t nonce[16];
	uint8_t peer_nonce[L2TP_NONCE_MAX];
	size_t peer_nonce_len;
};
void fsm_tunnel_sign_save(const struct fsm_tunnel *t, struct fsm_sign *ret);
/* fsm_stateless_ack, signed as s says (Message Digest if s->auth is digest). */
int fsm_stateless_ack_signed(const struct fsm_sign *s, uint32_t peer_ccid, uint16_t ns, uint16_t nr, uint8_t *buf,
			     size_t cap);

/* Keepalives sent without an answer so far on the outstanding HELLO
 * (0: none outstanding, 1: sent once and not yet due again...). */
unsigned fsm_tunnel_hellos_unanswered(const struct fsm_tunnel *t);

/* 16-bit sequence comparison (RFC 3931 §4.2, modulo 2^16): a < b. */
static inline bool fsm_seq_lt(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b) < 0;
}

#endif
