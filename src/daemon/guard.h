/* SPDX-License-Identifier: MIT */
/*
 * Defences against what strangers send (issue 4): token buckets that
 * bound SCCRQ processing, our stateless replies and log lines; a ring of
 * recently seen SCCRQ nonces (replay detection); and the "recently
 * closed" table that re-acknowledges duplicate StopCCNs for the RFC's
 * hold time (RFC 3931 §5.7: a full retransmission cycle, 31 s) and then
 * forgets the peer's IDs.
 *
 * Pure: no sockets, no clock, no logging; time comes in as milliseconds
 * and the daemon glue (daemon.c) logs and sends.  Memory is fixed: the
 * struct holds everything, whatever arrives.
 */
#ifndef L2TP_DAEMON_GUARD_H
#define L2TP_DAEMON_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fsm/ctrl.h"

#define GUARD_SCCRQ_RATE 20 /* SCCRQs examined per second ... */
#define GUARD_SCCRQ_BURST 40 /* ... after a burst of this many */
/*
 * SCCRQs that match a configured peer (its Router ID or endpoint address,
 * or any SCCRQ when a hub is configured: a hub takes any Router ID) have
 * a budget of their own sized by the configuration (guard_set_peers): a
 * burst of one per expected peer, refilled at half that per second, and
 * never below the strangers' figures.  A hub of 1,000 that restarts gets
 * its branches back in seconds, not the minute 20 a second would take;
 * strangers stay at 20 a second.
 */
#define GUARD_PEER_SCCRQ_MAX 100000 /* cap on the expected peers counted */
#define GUARD_REPLY_RATE 10 /* StopCCN/ACK answers to unknown peers per second */
#define GUARD_REPLY_BURST 20
#define GUARD_LOG_RATE_MS 10000 /* log window */
#define GUARD_LOG_BURST 5 /* lines per window, then one summary */
#define GUARD_CLOSED_MAX 64 /* recently closed connections remembered */
#define GUARD_CLOSED_HOLD_MS 31000 /* RFC 3931 §5.7 */
#define GUARD_NONCES_MAX 64 /* SCCRQ nonces remembered (replays) */

/* Tokens in thousandths, so integer rates need no floating point. */
struct guard_bucket {
	unsigned rate; /* tokens per second */
	unsigned burst; /* capacity */
	uint64_t milli; /* tokens * 1000 */
	uint64_t last_ms;
};

struct guard_closed {
	uint32_t local_ccid; /* ours, as the peer addresses us */
	uint32_t peer_ccid;
	uint16_t ns; /* our next Ns */
	struct sockaddr_storage peer;
	struct fsm_sign sign; /* to sign the ACK as the connection's messages were */
	uint64_t until; /* forget after this */
};

struct guard_stats {
	uint64_t sccrq_rate_limited; /* SCCRQs dropped unexamined */
	uint64_t sccrq_replays; /* SCCRQs whose nonce we had seen */
	uint64_t replies_suppressed; /* StopCCN/ACK answers not sent */
	uint64_t closed_reacked; /* duplicate StopCCNs acknowledged from the table */
	uint64_t log_suppressed; /* log lines not written */
};

struct guard {
	struct guard_bucket sccrq, reply;
	struct guard_bucket peer_sccrq; /* SCCRQs matching configured peers */
	unsigned peers; /* what peer_sccrq is sized for */
	uint64_t log_window; /* start of the current log window */
	unsigned log_lines; /* lines in it */
	uint64_t log_dropped; /* lines dropped in it */
	struct guard_closed closed[GUARD_CLOSED_MAX];
	size_t n_closed;
	uint8_t nonces[GUARD_NONCES_MAX][16]; /* first 16 bytes of each SCCRQ nonce */
	size_t n_nonces, nonce_next;
	struct guard_stats stats;
};

/* Full buckets, empty tables. */
void guard_init(struct guard *g, uint64_t now);

/* Take one token; false (and counted) if the bucket is empty. */
bool guard_sccrq_allow(struct guard *g, uint64_t now);
/*
 * Size the configured peers' budget for peers expected peers (one per
 * responder tunnel, MAX per `l2tp hub on MAX`).  A new size starts full
 * (a restarting hub); the same size keeps the tokens left.
 */
void guard_set_peers(struct guard *g, unsigned peers, uint64_t now);
/* An SCCRQ matching a configured peer: a token of the peers' budget, or
 * when that is empty, of the strangers' (never worse off than them). */
bool guard_peer_sccrq_allow(struct guard *g, uint64_t now);
bool guard_reply_allow(struct guard *g, uint64_t now);

/*
 * May a rate-limited log line be written now?  At most GUARD_LOG_BURST
 * per GUARD_LOG_RATE_MS window.  When a new window opens after lines were
 * dropped, *ret_dropped is set to their number (else 0), for the caller
 * to say so once.
 */
bool guard_log_allow(struct guard *g, uint64_t now, uint64_t *ret_dropped);

/*
 * A nonce from an authenticated SCCRQ: true if it was seen before (a
 * replay of an old SCCRQ), else remembered and false.  Nonces shorter
 * than 8 bytes are never "fresh" (true).
 */
bool guard_nonce_seen(struct guard *g, const uint8_t *nonce, size_t len);
/* The same question without remembering it (admission.h asks first; the
 * glue records the nonce of an SCCRQ it accepts). */
bool guard_nonce_known(const struct guard *g, const uint8_t *nonce, size_t len);

/* A connection went idle: remember it for GUARD_CLOSED_HOLD_MS (oldest
 * entry replaced when full; an entry for the same local CCID updated). */
void guard_closed_add(struct guard *g, const struct fsm_tunnel *t, const struct sockaddr_storage *peer,
		      uint64_t now);
/* The entry for local_ccid from peer (address and port), NULL if none or
 * expired; expired entries are dropped. */
const struct guard_closed *guard_closed_find(struct guard *g, uint32_t local_ccid,
					     const struct sockaddr_storage *peer, uint64_t now);

#endif
