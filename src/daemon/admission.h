/* SPDX-License-Identifier: MIT */
/*
 * Admission (issue 16): what an arriving SCCRQ means, decided in one
 * place.  Given the decoded SCCRQ, where it came from and a read-only view
 * of the daemon's tunnels and connections, adm_sccrq() returns a decision
 * (which tunnel, what to do, the StopCCN result and error for a refusal,
 * and the reason the log prints); daemon.c acts on it.
 *
 * Pure, in the spirit of guard.c: no I/O, no clock, no logging.
 *
 * The rules:
 *  - a retransmitted SCCRQ of a connection we already answered goes to that
 *    connection; the same SCCRQ from another address is a replay: dropped;
 *  - an initiator calling that peer at the same moment settles it by the
 *    Tie Breaker (RFC 3931 §5.4.3);
 *  - the first responder tunnel whose checks pass (encapsulation, port,
 *    Router ID, digest over the SCCRQ or the Challenge) takes it; an
 *    authenticated SCCRQ whose nonce was seen before is a replay: refused;
 *  - a tunnel without a connection accepts (ACCEPT);
 *  - a tunnel with connections from that peer gets one more beside them
 *    (RFC 3931 allows several control connections between two LCCEs: one
 *    per pseudowire, as freeRtr opens one per `vpdn`): ACCEPT_BESIDE
 *    while a pseudowire is free, else REPLACE_AFTER_AUTH (a restarted
 *    peer, most likely).  Neither touches the old connections: a session
 *    moves to the new connection only once it is established (SCCCN with
 *    a valid Challenge Response, or a valid Message Digest) and asks for a
 *    pseudowire the old one holds (adm_session_move), and the old
 *    connection closes once it holds no session.  So a spoofed or
 *    unauthenticated SCCRQ never takes an established tunnel down;
 *  - connections per tunnel are bounded (ADM_CONNS_MAX: a restarted peer
 *    with one connection per pseudowire has them all new beside the old
 *    ones at once, and one more): past that, a new SCCRQ from the same host takes over a
 *    connection of it still being set up, which the peer abandoned
 *    (counted: adm_abandon_note says when it looks like a secret or
 *    authentication method mismatch);
 *  - an IPsec tunnel takes an SCCRQ only through its SA; one that would
 *    pass every other check while the SA is not known yet (ipsec_wait) is
 *    held (ADM_HOLD) rather than refused, and decided again once charon
 *    has answered: then taken, or refused as before;
 *  - a hub (`l2tp hub on`) keeps one instance per Router ID and applies
 *    the same rules to it; a new Router ID gets a new or idle instance, or
 *    "hub full".
 */
#ifndef L2TP_DAEMON_ADMISSION_H
#define L2TP_DAEMON_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "fsm/ctrl.h"

#define ADM_CONNS_SPARE 1 /* connections per tunnel beyond two per pseudowire ... */
#define ADM_CONNS_MAX(pws) (2u * (pws) + ADM_CONNS_SPARE) /* ... so at most this many */
#define ADM_ABANDON_REPORT 3 /* abandoned connections in a row before the diagnosis */
#define ADM_REASON_MAX 320

enum adm_kind {
	ADM_TUNNEL, /* a configured tunnel (initiator, responder or static) */
	ADM_HUB, /* `l2tp hub on`: a template that never connects itself */
	ADM_HUB_INSTANCE, /* a hub's connection for one Router ID (owner: the hub) */
	ADM_BESIDE, /* one more connection of a tunnel or hub instance (owner) */
};

/* One entry of d->tunnels, as admission sees it. */
struct adm_entry {
	enum adm_kind kind;
	size_t owner; /* ADM_HUB_INSTANCE, ADM_BESIDE: index of the entry it belongs to */
	const struct cfg_tunnel *cfg;
	const struct fsm_tunnel_conf *fconf;
	const struct fsm_tunnel *fsm; /* its connection (FSM_T_IDLE: none) */
	const struct sockaddr_storage *peer; /* NULL if not known */
	bool removing, admin_down;
	uint32_t hub_router_id; /* ADM_HUB_INSTANCE: its peer's Router ID */
	unsigned peer_index; /* ADM_HUB_INSTANCE: P of tunnelN.P */
	/* An IPsec tunnel that this SCCRQ did not come through the SA of: why
	 * ("no SA up", "another host or port"; the glue asks ipsec.c); NULL
	 * for a raw tunnel or one whose SA it came through */
	const char *ipsec_refusal;
	/* With ipsec_refusal "no SA up": the glue cannot tell yet (charon
	 * has been asked and has not answered since, issue 15: the responder
	 * learns of the SA after the first SCCRQ through it).  An SCCRQ this
	 * tunnel would otherwise take is then held (ADM_HOLD), not refused. */
	bool ipsec_wait;
};

struct adm_sccrq {
	const struct l2tp_msg *m;
	const uint8_t *raw;
	size_t len;
	const struct sockaddr_storage *peer, *local;
	/* guard_nonce_known() of its nonce: an authenticated SCCRQ seen before */
	bool nonce_seen;
};

enum adm_action {
	ADM_ACCEPT, /* answer it on entry `tunnel` (idle, or new_instance: a new instance of hub `tunnel`) */
	ADM_ACCEPT_BESIDE, /* a new connection beside entry `tunnel`'s */
	ADM_REPLACE_AFTER_AUTH, /* the same, meant to take over entry `tunnel`'s pseudowires once proven */
	ADM_RETRANSMIT, /* a retransmission: to entry `tunnel`'s connection */
	ADM_DROP, /* drop it silently (reason is logged) */
	ADM_REFUSE, /* StopCCN result/error with reason */
	ADM_HOLD, /* keep it and decide again once charon has answered (entry `tunnel`: ipsec_wait) */
};

struct adm_decision {
	enum adm_action action;
	size_t tunnel; /* the entry concerned (ACCEPT*, RETRANSMIT; REFUSE/DROP: SIZE_MAX if none) */
	/* ACCEPT of a connection already on `tunnel` that was being set up: it
	 * is dropped first (the peer abandoned it) */
	bool abandoned;
	bool new_instance; /* ACCEPT on hub `tunnel`: make an instance (hub_index) */
	unsigned hub_index;
	bool tie_lost; /* ACCEPT on an initiator that lost the simultaneous open */
	bool replay; /* DROP of a replayed SCCRQ (else a simultaneous open won) */
	uint16_t result, error; /* ADM_REFUSE */
	/* ADM_REFUSE by a hub (full): the entry whose secret signs the StopCCN
	 * (fsm_stateless_stopccn_signed), else SIZE_MAX */
	size_t signer;
	char reason[ADM_REASON_MAX];
};

const char *adm_action_name(enum adm_action a);

/* Decide what the SCCRQ q means among the n entries v. */
void adm_sccrq(const struct adm_sccrq *q, const struct adm_entry *v, size_t n, struct adm_decision *ret);

/* Could this SCCRQ be from a configured peer (cheap, before any digest)?
 * Its Router ID is a tunnel's `l2tp remote router-id`, it comes from a
 * tunnel's endpoint address, or a hub is configured. */
bool adm_sccrq_expected(const struct l2tp_msg *m, const struct sockaddr_storage *peer, const struct adm_entry *v,
			size_t n);

/*
 * A session of connection `to` came up on a pseudowire whose session is
 * held by connection `from` (both serve the same tunnel).  True: move it
 * (close the old session; the old connection closes once it holds none);
 * false: refuse the new session, why says why.  `to` is established, so
 * with tunnel auth on it has proven itself (Challenge Response or
 * digests); without auth it moves only from the old connection's host, or
 * when the old connection no longer answers keepalives.
 */
bool adm_session_move(const struct adm_entry *from, const struct adm_entry *to, char *why, size_t whylen);


/* The diagnosis after `rounds` connections in a row that the peer
 * abandoned after our SCCRP ("" before ADM_ABANDON_REPORT). */
void adm_abandon_note(unsigned rounds, const struct fsm_tunnel_conf *conf, char *buf, size_t len);

#endif
