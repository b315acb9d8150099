/* SPDX-License-Identifier: MIT */
/*
 * Admission of SCCRQs: see admission.h.
 */
#include "daemon/admission.h"

#include "common/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *adm_action_name(enum adm_action a)
{
	switch (a) {
	case ADM_ACCEPT:
		return "accepted";
	case ADM_ACCEPT_BESIDE:
		return "accepted beside";
	case ADM_REPLACE_AFTER_AUTH:
		return "accepted to replace after authentication";
	case ADM_RETRANSMIT:
		return "retransmitted";
	case ADM_DROP:
		return "dropped";
	case ADM_REFUSE:
		return "refused";
	case ADM_HOLD:
		return "held";
	}
	return "?";
}

/* IP/115 endpoints carry port 0 (daemon.h, sockaddr_encap). */
static bool over_ip(const struct sockaddr_storage *ss)
{
	return (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) && sockaddr_port(ss) == 0;
}

static bool idle(const struct adm_entry *e)
{
	return e->fsm->state == FSM_T_IDLE;
}

/* Pseudowires of the tunnel (1 + `l2tp pseudowire Q` lines). */
static unsigned n_pws(const struct adm_entry *e)
{
	return 1u + (unsigned)(e->fconf->n_pws < FSM_MAX_PW - 1 ? e->fconf->n_pws : FSM_MAX_PW - 1);
}

/* Pseudowires with a session on e's connection, as a bit mask. */
static unsigned held(const struct adm_entry *e)
{
	unsigned mask = 0;

	if (idle(e))
		return 0;
	for (size_t i = 0; i < e->fsm->n_sessions; i++)
		if (e->fsm->sessions[i].pw < 32)
			mask |= 1u << e->fsm->sessions[i].pw;
	return mask;
}

#define CHECK_HOLD (-1) /* check_entry: would answer it, but its IPsec SA is not known yet */

static int check_rest(const struct adm_entry *e, const struct adm_sccrq *q, char *why, size_t whylen);

/* Can entry e (a configured tunnel or hub) answer this SCCRQ? 0 yes,
 * CHECK_HOLD not yet, else the StopCCN result and why. */
static int check_entry(const struct adm_entry *e, const struct adm_sccrq *q, char *why, size_t whylen)
{
	const struct cfg_tunnel *c = e->cfg;

	if (e->removing || e->admin_down) {
		snprintf(why, whylen, "%s", e->removing ? "being removed" : "administratively down");
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	if (c->is_static) {
		snprintf(why, whylen, "tunnel %u is a static session", c->id);
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	if (e->fconf->initiator) {
		snprintf(why, whylen, "tunnel %u is an initiator", c->id);
		return L2TP_STOPCCN_ERROR;
	}
	if (e->ipsec_refusal) {
		if (e->ipsec_wait && check_rest(e, q, why, whylen) == 0) {
			snprintf(why, whylen, "tunnel %u's IPsec SA is not known yet (charon asked)", c->id);
			return CHECK_HOLD;
		}
		snprintf(why, whylen, "not through tunnel %u's IPsec SA (%s)", c->id, e->ipsec_refusal);
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	return check_rest(e, q, why, whylen);
}

/* check_entry's checks of the SCCRQ itself */
static int check_rest(const struct adm_entry *e, const struct adm_sccrq *q, char *why, size_t whylen)
{
	const struct cfg_tunnel *c = e->cfg;

	if (over_ip(q->peer) != (c->encap == CFG_ENCAP_IP)) {
		snprintf(why, whylen, "encapsulation differs: it has 'tunnel encapsulation %s', the peer called over %s",
			 c->encap == CFG_ENCAP_IP ? "l2tpv3-ip" : "l2tpv3-raw",
			 over_ip(q->peer) ? "IP protocol 115 (l2tpv3-ip)" : "UDP (l2tpv3-raw)");
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	if (!over_ip(q->peer) && q->local && sockaddr_port(q->local) && sockaddr_port(q->local) != c->dp.local_port) {
		snprintf(why, whylen, "local port differs: it listens on UDP port %u ('l2tp local port'), the peer "
			 "called port %u", c->dp.local_port, sockaddr_port(q->local));
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	return fsm_sccrq_check(e->fconf, q->m, q->raw, q->len, why, whylen);
}

static void decide(struct adm_decision *ret, enum adm_action a, size_t tunnel, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void decide(struct adm_decision *ret, enum adm_action a, size_t tunnel, const char *fmt, ...)
{
	va_list ap;

	ret->action = a;
	ret->tunnel = tunnel;
	va_start(ap, fmt);
	vsnprintf(ret->reason, sizeof(ret->reason), fmt, ap);
	va_end(ap);
}

/* The label of entry i in reasons: "tunnel 1", "tunnel 1.3" (a hub's peer 3). */
static void label(const struct adm_entry *e, char *buf, size_t len)
{
	if (e->kind == ADM_HUB_INSTANCE)
		snprintf(buf, len, "tunnel %u.%u", e->cfg->id, e->peer_index);
	else
		snprintf(buf, len, "tunnel %u", e->cfg->id);
}

/* Is entry j one of the connections of group o (o itself or beside it)? */
static bool in_group(const struct adm_entry *v, size_t j, size_t o)
{
	return j == o || (v[j].kind == ADM_BESIDE && v[j].owner == o && !v[j].removing);
}

/*
 * Entry o (a responder tunnel or a hub's instance) takes the SCCRQ: on
 * itself if it has no connection, else as one more connection (see
 * admission.h).  False with ret's result and reason if it may not.
 */
static bool group_decide(const struct adm_sccrq *q, const struct adm_entry *v, size_t n, size_t o,
			 struct adm_decision *ret)
{
	const struct adm_entry *e = &v[o];
	unsigned conns = 0, mask = 0, pws = n_pws(e), nfree = 0;
	size_t pending = SIZE_MAX, other = SIZE_MAX;
	char lb[48], p[64];

	label(e, lb, sizeof(lb));
	if (idle(e)) {
		decide(ret, ADM_ACCEPT, o, "%s accepts it", lb);
		return true;
	}
	for (size_t j = 0; j < n; j++) {
		const struct adm_entry *x = &v[j];

		if (!in_group(v, j, o) || idle(x))
			continue;
		conns++;
		mask |= held(x);
		/* the oldest still waiting for its SCCCN, an extra one first:
		 * the tunnel's own keeps its place */
		if (x->fsm->state == FSM_T_WAIT_CTL_CONN && x->peer && sockaddr_same_host(x->peer, q->peer) &&
		    (pending == SIZE_MAX || (pending == o && j != o) ||
		     (j != o && x->fsm->close_until < v[pending].fsm->close_until)))
			pending = j;
		if (x->fsm->state == FSM_T_ESTABLISHED && x->peer && !sockaddr_same_host(x->peer, q->peer) &&
		    fsm_tunnel_hellos_unanswered(x->fsm) < 2)
			other = j;
	}
	if (other != SIZE_MAX && e->fconf->auth == FSM_AUTH_NONE) {
		/* without auth nothing the newcomer does can prove it is the
		 * peer: a live connection with another host stays alone */
		ret->result = L2TP_STOPCCN_EXISTS;
		snprintf(ret->reason, sizeof(ret->reason), "tunnel %u is established with another peer that still "
			 "answers keepalives", e->cfg->id);
		return false;
	}
	if (conns >= ADM_CONNS_MAX(pws)) {
		if (pending != SIZE_MAX) {
			decide(ret, ADM_ACCEPT, pending, "%s: it replaces a connection from the same host still waiting "
			       "for its SCCCN (abandoned by the peer)", lb);
			ret->abandoned = true;
			return true;
		}
		ret->result = L2TP_STOPCCN_EXISTS;
		snprintf(ret->reason, sizeof(ret->reason), "%s has %u control connections already (two per "
			 "pseudowire and %d more)", lb, conns, ADM_CONNS_SPARE);
		return false;
	}
	for (unsigned pw = 0; pw < pws; pw++)
		if (!(mask & (1u << pw)))
			nfree++;
	sockaddr_format(e->peer ? e->peer : q->peer, p, sizeof(p));
	if (nfree)
		decide(ret, ADM_ACCEPT_BESIDE, o, "%s has %u connection%s (with %s first), %u of its %u pseudowire%s "
		       "free: a new connection beside", lb, conns, conns == 1 ? "" : "s", p, nfree, pws,
		       pws == 1 ? "" : "s");
	else
		decide(ret, ADM_REPLACE_AFTER_AUTH, o, "%s: its connection with %s holds %s: a new connection, "
		       "which takes over a pseudowire it asks for only once authenticated (a restarted peer?)",
		       lb, p, pws == 1 ? "its pseudowire" : "every pseudowire");
	return true;
}

/* Has entry j extra connections (ADM_BESIDE) still up? */
static bool has_extra(const struct adm_entry *v, size_t n, size_t j)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].kind == ADM_BESIDE && v[i].owner == j && !idle(&v[i]))
			return true;
	return false;
}

/* `l2tp hub on`: the peer's instance (by Router ID), else a new or idle one. */
static bool hub_decide(const struct adm_sccrq *q, const struct adm_entry *v, size_t n, size_t h,
		       struct adm_decision *ret)
{
	const struct adm_entry *hub = &v[h];
	unsigned max = hub->cfg->hub_max, k;
	size_t idle_one = SIZE_MAX;
	uint8_t *used;

	for (size_t j = 0; j < n; j++) {
		const struct adm_entry *x = &v[j];

		if (x->kind == ADM_HUB_INSTANCE && x->owner == h && !x->removing && x->hub_router_id == q->m->router_id)
			return group_decide(q, v, n, j, ret);
	}
	used = calloc((size_t)max + 1, 1);
	if (!used) {
		ret->result = L2TP_STOPCCN_ERROR;
		snprintf(ret->reason, sizeof(ret->reason), "tunnel %u: out of memory", hub->cfg->id);
		return false;
	}
	for (size_t j = 0; j < n; j++) {
		const struct adm_entry *x = &v[j];

		/* even one being removed: its TAP still exists */
		if (x->kind == ADM_HUB_INSTANCE && x->peer_index && x->peer_index <= max && x->cfg->id == hub->cfg->id)
			used[x->peer_index] = 1;
		if (x->kind == ADM_HUB_INSTANCE && x->owner == h && !x->removing && idle(x) && !x->admin_down &&
		    idle_one == SIZE_MAX && !has_extra(v, n, j))
			idle_one = j;
	}
	for (k = 1; k <= max && used[k]; k++)
		;
	free(used);
	if (k <= max) {
		decide(ret, ADM_ACCEPT, h, "tunnel %u: hub peer %u for a new router id", hub->cfg->id, k);
		ret->new_instance = true;
		ret->hub_index = k;
		return true;
	}
	if (idle_one != SIZE_MAX) {
		decide(ret, ADM_ACCEPT, idle_one, "tunnel %u: hub peer %u (idle) for a new router id", hub->cfg->id,
		       v[idle_one].peer_index);
		return true;
	}
	ret->result = L2TP_STOPCCN_ERROR;
	snprintf(ret->reason, sizeof(ret->reason), "tunnel %u: the hub is full: %u peers connected ('l2tp hub on %u')",
		 hub->cfg->id, max, max);
	return false;
}

void adm_sccrq(const struct adm_sccrq *q, const struct adm_entry *v, size_t n, struct adm_decision *ret)
{
	const struct l2tp_msg *m = q->m;
	bool has_ccid = l2tp_msg_has(m, L2TP_AVP_ASSIGNED_CCID), close_why = false;
	char w[256], p[64], hold_why[256] = "";
	size_t hold = SIZE_MAX;

	memset(ret, 0, sizeof(*ret));
	ret->tunnel = SIZE_MAX;
	ret->signer = SIZE_MAX;
	ret->action = ADM_REFUSE;
	ret->result = L2TP_STOPCCN_NOT_AUTHORIZED;
	snprintf(ret->reason, sizeof(ret->reason), "no responder tunnel is configured");
	sockaddr_format(q->peer, p, sizeof(p));

	/* a retransmitted SCCRQ of a connection we already answered; the
	 * same SCCRQ from elsewhere is a replay (a restarted peer picks a new
	 * CCID): it must not touch the connection */
	for (size_t i = 0; has_ccid && i < n; i++) {
		const struct adm_entry *e = &v[i];

		if (idle(e) || !e->peer || e->fsm->remote_ccid != m->assigned_ccid)
			continue;
		if (sockaddr_equal(e->peer, q->peer)) {
			decide(ret, ADM_RETRANSMIT, i, "tunnel %u: a retransmission of the SCCRQ it answered",
			       e->cfg->id);
			return;
		}
		decide(ret, ADM_DROP, i, "tunnel %u: replayed SCCRQ (the current connection's, from another "
		       "address); dropped", e->cfg->id);
		ret->replay = true;
		return;
	}
	/* RFC 3931 §5.4.3: an initiator calling that peer right now */
	for (size_t i = 0; i < n; i++) {
		const struct adm_entry *e = &v[i];
		enum fsm_tie tie;

		if (e->kind != ADM_TUNNEL || !e->fconf->initiator || !sockaddr_same_host(&e->cfg->remote, q->peer))
			continue;
		tie = fsm_tunnel_tie_break(e->fsm, m);
		if (tie == FSM_TIE_NONE || fsm_sccrq_check(e->fconf, m, q->raw, q->len, w, sizeof(w)) != 0)
			continue;
		if (tie == FSM_TIE_WON) {
			decide(ret, ADM_DROP, i, "tunnel %u: simultaneous open with %s: our tie breaker is lower; its "
			       "SCCRQ dropped", e->cfg->id, p);
			return;
		}
		/* lost (or, one chance in 2^64, equal: then both answer) */
		decide(ret, ADM_ACCEPT, i, "tunnel %u: simultaneous open with %s: its tie breaker is lower; "
		       "answering its SCCRQ", e->cfg->id, p);
		ret->tie_lost = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct adm_entry *e = &v[i];
		struct adm_decision d;
		int r;

		if (e->kind != ADM_TUNNEL && e->kind != ADM_HUB)
			continue; /* instances and extra connections: their tunnel decides */
		r = check_entry(e, q, w, sizeof(w));
		if (r == CHECK_HOLD) {
			if (hold == SIZE_MAX) {
				hold = i;
				snprintf(hold_why, sizeof(hold_why), "%s", w);
			}
			continue;
		}
		if (!r && e->fconf->auth != FSM_AUTH_NONE && l2tp_msg_has(m, L2TP_AVP_NONCE) && m->n_digests &&
		    q->nonce_seen) {
			ret->result = L2TP_STOPCCN_NOT_AUTHORIZED;
			snprintf(ret->reason, sizeof(ret->reason), "tunnel %u: replayed SCCRQ (its nonce was seen "
				 "before)", e->cfg->id);
			return;
		}
		if (!r) {
			memset(&d, 0, sizeof(d));
			if (e->kind == ADM_HUB ? hub_decide(q, v, n, i, &d) : group_decide(q, v, n, i, &d)) {
				*ret = d;
				ret->signer = SIZE_MAX;
				return;
			}
			ret->result = d.result;
			snprintf(ret->reason, sizeof(ret->reason), "%s", d.reason);
			ret->signer = e->kind == ADM_HUB ? i : SIZE_MAX;
			close_why = true;
			continue;
		}
		if (!e->fconf->initiator) {
			/* report the responder's reason, not an initiator's, and
			 * not that of a responder for another Router ID when one
			 * that could have taken this peer said why */
			bool other = e->fconf->check_peer_router_id && e->fconf->peer_router_id != m->router_id;

			if (!other || !close_why) {
				snprintf(ret->reason, sizeof(ret->reason), "tunnel %u: %s", e->cfg->id, w);
				ret->result = (uint16_t)r;
				ret->signer = SIZE_MAX;
				close_why = !other;
			}
		}
	}
	/* no tunnel took it, and one would if its SA turns out to be up */
	if (hold != SIZE_MAX)
		decide(ret, ADM_HOLD, hold, "%s: held until charon shows it (bounded)", hold_why);
}

bool adm_sccrq_expected(const struct l2tp_msg *m, const struct sockaddr_storage *peer, const struct adm_entry *v,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct cfg_tunnel *c = v[i].cfg;

		if ((v[i].kind != ADM_TUNNEL && v[i].kind != ADM_HUB) || c->is_static || v[i].removing)
			continue;
		if (c->hub_max || (c->has_remote_router_id && l2tp_msg_has(m, L2TP_AVP_ROUTER_ID) &&
				   c->remote_router_id == m->router_id) ||
		    (c->has_endpoint && sockaddr_same_host(&c->remote, peer)))
			return true;
	}
	return false;
}

bool adm_session_move(const struct adm_entry *from, const struct adm_entry *to, char *why, size_t whylen)
{
	char p[64];

	if (from->fsm == to->fsm) {
		snprintf(why, whylen, "the pseudowire has a session on this connection already");
		return false;
	}
	if (to->fsm->state != FSM_T_ESTABLISHED) {
		snprintf(why, whylen, "the new connection is not established");
		return false;
	}
	sockaddr_format(from->peer ? from->peer : to->peer, p, sizeof(p));
	if (to->fsm->auth == FSM_AUTH_CHALLENGE || to->fsm->auth == FSM_AUTH_DIGEST) {
		snprintf(why, whylen, "the new connection proved itself (%s); the one with %s loses it",
			 to->fsm->auth == FSM_AUTH_CHALLENGE ? "Challenge Response" : "Message Digests", p);
		return true;
	}
	if (from->fsm->state != FSM_T_ESTABLISHED) {
		snprintf(why, whylen, "the connection with %s that held it is not established", p);
		return true;
	}
	if (from->peer && to->peer && sockaddr_same_host(from->peer, to->peer)) {
		snprintf(why, whylen, "the new connection comes from the same host as the one with %s (no tunnel "
			 "auth)", p);
		return true;
	}
	if (fsm_tunnel_hellos_unanswered(from->fsm) >= 2) {
		snprintf(why, whylen, "the connection with %s that held it no longer answers keepalives", p);
		return true;
	}
	snprintf(why, whylen, "the pseudowire is held by the connection with %s, which still answers keepalives "
		 "(without tunnel auth only that host may take it over)", p);
	return false;
}

void adm_abandon_note(unsigned rounds, const struct fsm_tunnel_conf *conf, char *buf, size_t len)
{
	if (rounds < ADM_ABANDON_REPORT) {
		if (len)
			buf[0] = '\0';
		return;
	}
	snprintf(buf, len, "auth: the peer abandoned %u connections in a row after our SCCRP (no SCCCN): likely a "
		 "secret or authentication method mismatch (here: %s)", rounds,
		 conf->auth == FSM_AUTH_NONE ? "'l2tp tunnel auth off'" :
		 conf->auth == FSM_AUTH_CHALLENGE ? "'l2tp tunnel auth method challenge'" :
						    "'l2tp tunnel auth method digest'");
}
