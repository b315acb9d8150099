/* SPDX-License-Identifier: MIT */
/*
 * Daemon set-up and the control-message dispatcher.
 *
 * The data thread receives everything on UDP 1701 and hands control
 * messages (T=1) to us over a SOCK_SEQPACKET pair.  We decode them and
 * route by header CCID: ours -> that tunnel's state machine; 0 with an
 * SCCRQ -> (at a bounded rate) admission.c decides what it means
 * (retransmission, simultaneous open, a tunnel's first connection, one
 * more beside it, refusal) and we act on its decision; anything else is
 * counted and, for a StopCCN, acknowledged statelessly so the peer can
 * stop retransmitting.  guard.c holds the limits and tables.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/admission.h"
#include "daemon/daemon.h"
#include "daemon/ipsec.h"
#include "daemon/log.h"
#include "daemon/nl.h"
#include "daemon/notify.h"

#define SHUTDOWN_WAIT_MS 2000

void daemon_send(struct daemon *d, const struct sockaddr_storage *peer, const struct sockaddr_storage *local,
		 const uint8_t *buf, size_t len)
{
	int r = dp_send_ctrl(d->dp, sockaddr_encap(peer), peer, local, buf, len);

	if (r < 0) {
		char p[64];

		sockaddr_format(peer, p, sizeof(p));
		errno = -r;
		log_debug("send to %s failed: %s", p, strerror(-r));
	}
}

/* At most 10 refusal lines per 10 s, then one summary. */
static bool refuse_log_ok(struct daemon *d)
{
	uint64_t now = now_ms();

	if (now - d->refuse_log_window > 10000) {
		if (d->refuse_log_count > 10)
			log_warnx("%u more refused control connections not logged", d->refuse_log_count - 10);
		d->refuse_log_window = now;
		d->refuse_log_count = 0;
	}
	return ++d->refuse_log_count <= 10;
}

/*
 * The tunnel whose connection has local CCID ccid.  Every control message
 * looks one up: a hint per hash slot (index + 1 into d->tunnels, checked
 * before use, so a stale one costs only the scan it would have saved)
 * spares a hub of 1,000 peers a scan of them all per message.
 */
static struct tunnel *find_by_ccid(struct daemon *d, uint32_t ccid)
{
	size_t h = (ccid * 2654435761u) >> (32 - DAEMON_CCID_HINT_BITS), i = d->ccid_hint[h];

	if (i && i <= d->n_tunnels) {
		struct tunnel *t = d->tunnels[i - 1];

		if (t->fsm.local_ccid == ccid && !tunnel_is_idle(t))
			return t;
	}
	for (i = 0; i < d->n_tunnels; i++) {
		struct tunnel *t = d->tunnels[i];

		if (!tunnel_is_idle(t) && t->fsm.local_ccid == ccid) {
			d->ccid_hint[h] = (uint32_t)(i + 1);
			return t;
		}
	}
	return NULL;
}

/* A rate-limited log line about strangers (guard.h); says once how many
 * were left out. */
static bool guard_log_ok(struct daemon *d)
{
	uint64_t dropped;
	bool ok = guard_log_allow(&d->guard, now_ms(), &dropped);

	if (dropped)
		log_warnx("%llu more lines about refused or unknown control messages not logged "
			  "(%llu SCCRQs over the rate limit, %llu replies suppressed so far)",
			  (unsigned long long)dropped, (unsigned long long)d->guard.stats.sccrq_rate_limited,
			  (unsigned long long)d->guard.stats.replies_suppressed);
	return ok;
}

void daemon_conn_closed(struct daemon *d, const struct tunnel *t)
{
	if (t->peer_known && t->fsm.remote_ccid)
		guard_closed_add(&d->guard, &t->fsm, &t->peer, now_ms());
}

/* Peers the configuration expects SCCRQs from: one per tunnel that can
 * answer one, MAX per hub (the SCCRQ budget of guard.h). */
static unsigned expected_peers(const struct cfg *c)
{
	unsigned n = 0;

	for (size_t i = 0; c && c->service_on && i < c->n_tunnels; i++) {
		const struct cfg_tunnel *ct = &c->tunnels[i];

		if (ct->enabled && !ct->is_static)
			n += ct->hub_max ? ct->hub_max : 1;
	}
	return n;
}

/* The tunnels as admission (admission.h) sees them for an SCCRQ from peer;
 * malloc'd, n_tunnels long. */
static struct adm_entry *adm_view(struct daemon *d, const struct sockaddr_storage *peer)
{
	struct adm_entry *v = calloc(d->n_tunnels ? d->n_tunnels : 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < d->n_tunnels; i++)
		d->tunnels[i]->adm_index = i;
	for (size_t i = 0; i < d->n_tunnels; i++) {
		const struct tunnel *t = d->tunnels[i];
		struct adm_entry *e = &v[i];

		e->kind = t->owner ? ADM_BESIDE : t->peer_index ? ADM_HUB_INSTANCE : t->cfg->hub_max ? ADM_HUB : ADM_TUNNEL;
		if (t->owner)
			e->owner = t->owner->adm_index;
		else if (t->peer_index)
			e->owner = t->hub ? t->hub->adm_index : SIZE_MAX;
		e->cfg = t->cfg;
		e->fconf = &t->fconf;
		e->fsm = &t->fsm;
		e->peer = t->peer_known ? &t->peer : NULL;
		e->removing = t->removing;
		e->admin_down = t->admin_down;
		e->hub_router_id = t->hub_router_id;
		e->peer_index = t->peer_index;
		if (!ipsec_tunnel_accepts(t, peer, NULL)) { /* ipsec.h: not through its SA */
			e->ipsec_refusal = ipsec_tunnel_ready(t) ? "another host or port" : "no SA up";
			/* charon may not have told us yet: hold it (issue 15) */
			e->ipsec_wait = !ipsec_tunnel_ready(t) && !d->held_final && d->n_held < DAEMON_HOLD_MAX &&
					ipsec_tunnel_sa_pending(t);
		}
	}
	return v;
}

/* Refuse an SCCRQ: logged (bounded) and answered with a StopCCN (bounded). */
static void sccrq_refuse(struct daemon *d, const struct l2tp_msg *m, const struct sockaddr_storage *peer,
			 const struct sockaddr_storage *local, uint16_t result, const char *why,
			 const struct tunnel *signer)
{
	char p[64];
	uint8_t out[512];
	int n;

	d->stats.sccrq_refused++;
	if (refuse_log_ok(d) && guard_log_ok(d)) {
		sockaddr_format(peer, p, sizeof(p));
		log_warnx("SCCRQ from %s (host %s, router id %s) refused: %s", p,
			  m->host_name[0] ? m->host_name : "-", router_id_str(m->router_id).s, why);
	}
	/* a full hub signs its refusal of an authenticated SCCRQ: a peer that
	 * checks digests then reads why instead of timing out */
	if (signer)
		n = fsm_stateless_stopccn_signed(&signer->fconf, m, result, why, out, sizeof(out));
	else
		n = fsm_stateless_stopccn(m, result, result == L2TP_STOPCCN_NOT_AUTHORIZED ? "not authorized" : why,
					  out, sizeof(out));
	/* no amplification: refusals are answered at a bounded rate */
	if (n > 0 && l2tp_msg_has(m, L2TP_AVP_ASSIGNED_CCID) && guard_reply_allow(&d->guard, now_ms()))
		daemon_send(d, peer, local, out, (size_t)n);
}

/* ---------------------------------------------------------------------- */
/* SCCRQs held for an IPsec SA (issue 15) */

/*
 * The responder's charon tells us "SA up" a moment after the initiator's
 * (about 170 ms in the test VM), and the initiator sends its SCCRQ through
 * the SA at once: refused then, it would pair only on the retransmission a
 * second later.  admission.c holds such an SCCRQ (ADM_HOLD) when charon has
 * been asked and not answered yet; it is decided again as soon as a list-sas
 * answer shows the tunnel's SA up, or for good after DAEMON_HOLD_MS (then
 * refused and counted as before).  At most DAEMON_HOLD_MAX are held.
 */
struct held_sccrq {
	uint8_t *raw;
	size_t len;
	struct sockaddr_storage peer, local;
	uint64_t deadline;
	unsigned tunnel; /* the tunnel's id (its index can change meanwhile) */
};

static void handle_ctrl(struct daemon *d, const uint8_t *raw, size_t len, const struct sockaddr_storage *peer,
			const struct sockaddr_storage *local);

static void held_arm(struct daemon *d)
{
	uint64_t now = now_ms(), first = UINT64_MAX;
	struct timeval tv;

	for (size_t i = 0; i < d->n_held; i++)
		if (d->held[i].deadline < first)
			first = d->held[i].deadline;
	if (first == UINT64_MAX) {
		evtimer_del(d->ev_held);
		return;
	}
	first = first > now ? first - now : 0;
	tv.tv_sec = (time_t)(first / 1000);
	tv.tv_usec = (suseconds_t)(first % 1000) * 1000;
	evtimer_add(d->ev_held, &tv);
}

/* Decide again the held SCCRQs whose tunnel's SA is up now, and those due */
static void held_run(struct daemon *d)
{
	uint64_t now = now_ms();
	size_t i = 0;

	while (i < d->n_held) {
		struct held_sccrq h = d->held[i];
		struct tunnel *t = daemon_tunnel_find(d, h.tunnel);

		if (now < h.deadline && !(t && ipsec_tunnel_ready(t))) {
			i++;
			continue;
		}
		memmove(&d->held[i], &d->held[i + 1], (d->n_held - i - 1) * sizeof(h));
		d->n_held--;
		d->held_final = true;
		handle_ctrl(d, h.raw, h.len, &h.peer, &h.local);
		d->held_final = false;
		free(h.raw);
	}
	if (d->ev_held)
		held_arm(d);
}

static void held_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	held_run(arg);
}

void daemon_ipsec_listed(struct daemon *d)
{
	if (d->n_held)
		held_run(d);
}

static bool sccrq_hold(struct daemon *d, const uint8_t *raw, size_t len, const struct sockaddr_storage *peer,
		       const struct sockaddr_storage *local, unsigned tunnel)
{
	struct held_sccrq *v, *h;

	if (!d->ev_held && !(d->ev_held = evtimer_new(d->base, held_cb, d)))
		return false;
	v = realloc(d->held, (d->n_held + 1) * sizeof(*v));
	if (!v)
		return false;
	d->held = v;
	h = &d->held[d->n_held];
	if (!(h->raw = malloc(len)))
		return false;
	memcpy(h->raw, raw, len);
	h->len = len;
	h->peer = *peer;
	h->local = *local;
	h->deadline = now_ms() + DAEMON_HOLD_MS;
	h->tunnel = tunnel;
	d->n_held++;
	held_arm(d);
	return true;
}

/*
 * The fast path writes the addresses a NAT of this router's own would
 * (fastpath.c: fp_nat); every FP_REFRESH_S seconds it asks conntrack again,
 * so that a mapping that moved (outside address renumbered, entries flushed)
 * is followed within that time, or the session goes back to the data thread.
 */
#define FP_REFRESH_S 2

static void fp_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int n;

	(void)fd;
	(void)what;
	n = dp_fp_refresh(d->dp);
	if (n > 0)
		log_notice("dataplane fastpath: %d session%s back on the data thread: the address its router's NAT "
			   "now gives it cannot be sent from by the fast path",
			   n, n == 1 ? "" : "s");
}

static void fp_refresh_start(struct daemon *d)
{
	struct timeval tv = { FP_REFRESH_S, 0 };

	d->ev_fp_refresh = event_new(d->base, -1, EV_PERSIST, fp_refresh_cb, d);
	if (!d->ev_fp_refresh || event_add(d->ev_fp_refresh, &tv) < 0)
		log_warnx("dataplane fastpath: cannot start its NAT refresh timer: mappings that move are not "
			  "followed");
}

static void held_free(struct daemon *d)
{
	for (size_t i = 0; i < d->n_held; i++)
		free(d->held[i].raw);
	free(d->held);
	d->held = NULL;
	d->n_held = 0;
	if (d->ev_held)
		event_free(d->ev_held);
	d->ev_held = NULL;
}

/*
 * An SCCRQ (header CCID 0): admission.c decides what it means, this acts
 * on the decision and logs its reason.
 */
static void handle_sccrq(struct daemon *d, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
			 const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	struct adm_sccrq q = { .m = m, .raw = raw, .len = len, .peer = peer, .local = local };
	bool signed_nonce = l2tp_msg_has(m, L2TP_AVP_NONCE) && m->n_digests;
	struct adm_decision dec;
	struct adm_entry *v = adm_view(d, peer);
	struct tunnel *t;
	char p[64];
	bool expected;
	int r;

	if (!v) {
		log_warnx("SCCRQ dropped: out of memory");
		return;
	}
	expected = adm_sccrq_expected(m, peer, v, d->n_tunnels);
	/* a flood costs us at most GUARD_SCCRQ_RATE digest checks a second
	 * from strangers, and what the configured peers' budget allows */
	if (!(expected ? guard_peer_sccrq_allow(&d->guard, now_ms()) : guard_sccrq_allow(&d->guard, now_ms()))) {
		free(v);
		d->stats.sccrq_refused++;
		if (guard_log_ok(d)) {
			sockaddr_format(peer, p, sizeof(p));
			log_warnx("SCCRQ from %s dropped: more than %u SCCRQs a second%s (%llu dropped so far)", p,
				  expected ? d->guard.peer_sccrq.rate + GUARD_SCCRQ_RATE : GUARD_SCCRQ_RATE,
				  expected ? " from configured peers" : "",
				  (unsigned long long)d->guard.stats.sccrq_rate_limited);
		}
		return;
	}
	if (d->stopping) {
		free(v);
		sccrq_refuse(d, m, peer, local, L2TP_STOPCCN_SHUTDOWN, "l2tpv3d is shutting down", NULL);
		return;
	}
	q.nonce_seen = signed_nonce && guard_nonce_known(&d->guard, m->nonce, m->nonce_len);
	adm_sccrq(&q, v, d->n_tunnels, &dec);
	free(v);
	t = dec.tunnel < d->n_tunnels ? d->tunnels[dec.tunnel] : NULL;
	/* an authenticated SCCRQ's nonce is remembered once taken (a replay
	 * is counted) */
	if (signed_nonce && (dec.action == ADM_ACCEPT || dec.action == ADM_ACCEPT_BESIDE ||
			     dec.action == ADM_REPLACE_AFTER_AUTH || q.nonce_seen))
		(void)guard_nonce_seen(&d->guard, m->nonce, m->nonce_len);
	sockaddr_format(peer, p, sizeof(p));
	switch (dec.action) {
	case ADM_RETRANSMIT:
		tunnel_input(t, m, raw, len, peer, local);
		return;
	case ADM_DROP:
		if (dec.replay) {
			d->stats.rx_ctrl_wrong_peer++;
			if (guard_log_ok(d))
				log_warnx("SCCRQ from %s refused: %s", p, dec.reason);
		} else {
			log_info("%s", dec.reason);
		}
		return;
	case ADM_REFUSE:
		sccrq_refuse(d, m, peer, local, dec.result, dec.reason,
			     dec.signer < d->n_tunnels ? d->tunnels[dec.signer] : NULL);
		return;
	case ADM_HOLD:
		if (t && sccrq_hold(d, raw, len, peer, local, t->cfg->id)) {
			log_info("SCCRQ from %s (host %s) held: %s", p, m->host_name[0] ? m->host_name : "-",
				 dec.reason);
			return;
		}
		/* nowhere to keep it: refused, with the reason that is true */
		sccrq_refuse(d, m, peer, local, L2TP_STOPCCN_NOT_AUTHORIZED,
			     t ? "out of memory (holding it until charon shows its SA)" : "no tunnel to hold it for",
			     NULL);
		return;
	case ADM_ACCEPT:
		if (dec.new_instance) {
			struct tunnel **nv = realloc(d->tunnels, (d->n_tunnels + 1) * sizeof(*nv));
			struct tunnel *x;

			if (!nv) {
				sccrq_refuse(d, m, peer, local, L2TP_STOPCCN_ERROR, "out of memory", NULL);
				return;
			}
			d->tunnels = nv;
			r = tunnel_create_instance(t, dec.hub_index, &x);
			if (r < 0) {
				char w[128];

				snprintf(w, sizeof(w), "tunnel %u: cannot create TAP port for peer %u: %s", t->cfg->id,
					 dec.hub_index, strerror(-r));
				sccrq_refuse(d, m, peer, local, L2TP_STOPCCN_ERROR, w, NULL);
				return;
			}
			d->tunnels[d->n_tunnels++] = x;
			t = x;
		}
		if (t->peer_index && (t->hub_router_id != m->router_id || !t->peer_known))
			log_info("tunnel %u: hub peer %u (%s) is router id %s at %s", t->cfg->id, t->peer_index,
				 t->ifname, router_id_str(m->router_id).s, p);
		if (t->peer_index)
			t->hub_router_id = m->router_id;
		if (dec.tie_lost)
			log_info("%s", dec.reason);
		if (dec.abandoned)
			tunnel_note_abandoned(t->owner ? t->owner : t);
		d->stats.sccrq_accepted++;
		tunnel_accept(t, m, raw, len, peer, local);
		return;
	case ADM_ACCEPT_BESIDE:
	case ADM_REPLACE_AFTER_AUTH: {
		struct tunnel **nv = realloc(d->tunnels, (d->n_tunnels + 1) * sizeof(*nv));
		struct tunnel *b;

		if (!nv) {
			sccrq_refuse(d, m, peer, local, L2TP_STOPCCN_ERROR, "out of memory", NULL);
			return;
		}
		d->tunnels = nv;
		r = tunnel_create_beside(t, &b);
		if (r < 0) {
			sccrq_refuse(d, m, peer, local, L2TP_STOPCCN_ERROR, "out of memory", NULL);
			return;
		}
		d->tunnels[d->n_tunnels++] = b;
		log_tunnel_notice(b, "SCCRQ from %s (host %s) %s: %s", p, m->host_name[0] ? m->host_name : "-",
			   adm_action_name(dec.action), dec.reason);
		d->stats.sccrq_accepted++;
		tunnel_accept(b, m, raw, len, peer, local);
		return;
	}
	}
}

static void handle_ctrl(struct daemon *d, const uint8_t *raw, size_t len, const struct sockaddr_storage *peer,
			const struct sockaddr_storage *local)
{
	struct l2tp_msg m;
	struct tunnel *t;
	char p[64];
	int r = l2tp_ctrl_decode(raw, len, &m);

	if (r < 0) {
		d->stats.rx_ctrl_malformed++;
		sockaddr_format(peer, p, sizeof(p));
		log_debug("malformed control message from %s: %s", p, l2tp_decode_strerror(r));
		return;
	}
	if (m.ccid == 0) {
		if (m.type == L2TP_MSG_SCCRQ) {
			handle_sccrq(d, &m, raw, len, peer, local);
			return;
		}
	} else {
		t = find_by_ccid(d, m.ccid);
		if (t) {
			/* only the SCCRP may come from elsewhere (see tunnel_input) */
			if (t->peer_known && !sockaddr_equal(&t->peer, peer) &&
			    !(t->fsm.state == FSM_T_WAIT_CTL_REPLY && m.type == L2TP_MSG_SCCRP)) {
				/* roaming: an authenticated message moves the tunnel */
				if (tunnel_input_roaming(t, &m, raw, len, peer, local))
					return;
				d->stats.rx_ctrl_wrong_peer++;
				sockaddr_format(peer, p, sizeof(p));
				log_debug("tunnel %u: %s from %s, not from its peer; dropped", t->cfg->id,
					  l2tp_msg_type_name(m.type), p);
				return;
			}
			tunnel_input(t, &m, raw, len, peer, local);
			return;
		}
	}
	/*
	 * Not a connection of ours.  A duplicate StopCCN of a connection that
	 * closed within the hold time (our ACK was lost) is acknowledged again,
	 * signed as before (RFC 3931 §5.7); after that the peer's IDs are
	 * forgotten.  Anything else is counted and dropped, logged at a
	 * bounded rate; a StopCCN naming its sender (Assigned CCID) still gets
	 * a bounded-rate ACK so the peer stops retransmitting it.
	 */
	d->stats.rx_ctrl_unknown_ccid++;
	if (m.type == L2TP_MSG_STOPCCN) {
		const struct guard_closed *c = guard_closed_find(&d->guard, m.ccid, peer, now_ms());
		uint8_t out[128];
		int n = -1;

		if (c) {
			d->guard.stats.closed_reacked++;
			n = fsm_stateless_ack_signed(&c->sign, c->peer_ccid, c->ns, (uint16_t)(m.ns + 1), out,
						     sizeof(out));
		} else if (l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID) && guard_reply_allow(&d->guard, now_ms())) {
			n = fsm_stateless_ack(m.assigned_ccid, m.nr, (uint16_t)(m.ns + 1), out, sizeof(out));
		}
		if (n > 0)
			daemon_send(d, peer, local, out, (size_t)n);
		if (c)
			return;
	}
	if (guard_log_ok(d)) {
		sockaddr_format(peer, p, sizeof(p));
		log_info("%s for unknown control connection %u from %s; dropped (%llu so far)",
			 l2tp_msg_type_name(m.type), m.ccid, p, (unsigned long long)d->stats.rx_ctrl_unknown_ccid);
	}
}

/* SCCRQs queued (ctrlq.h): at most this many, taken this long at a time */
#define SCCRQ_QUEUE_MAX 4096
#define SCCRQ_SLICE_MS 10

/* the oldest queued SCCRQs, for one slice; the rest after the loop has read
 * the socket and run the timers again */
static void sccrq_run(struct daemon *d)
{
	uint64_t t0 = now_ms();
	struct ctrlq_item *it;

	while ((it = ctrlq_pop(&d->sccrq_q))) {
		handle_ctrl(d, it->raw, it->len, &it->peer, &it->local);
		free(it);
		if (now_ms() - t0 >= SCCRQ_SLICE_MS)
			break;
	}
	/* a zero timer, not event_active: libevent runs an event activated
	 * from a callback in the same pass, before reading the socket again */
	if (d->sccrq_q.n && d->ev_sccrq && !evtimer_pending(d->ev_sccrq, NULL)) {
		const struct timeval now = { 0, 0 };

		evtimer_add(d->ev_sccrq, &now);
	}
}

static void sccrq_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sccrq_run(arg);
}

/*
 * Every message the data path has passed (up to 1,024 a call): those of
 * known connections at once, SCCRQs behind them.  A hub's SCCRQ costs a
 * TAP port (milliseconds); in arrival order, 1,000 branches calling at
 * once put their SCCCNs and ICRQs seconds behind the other branches'
 * SCCRQs, and both sides retransmitted (doc/scale.md).
 */
static void ctrl_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	static _Thread_local uint8_t buf[sizeof(struct dp_ctrl_hdr) + 65536];

	(void)what;
	for (int i = 0; i < 1024 && !ctrlq_full(&d->sccrq_q); i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct dp_ctrl_hdr h;
		const uint8_t *raw = buf + sizeof(h);

		if (n < 0)
			break;
		if ((size_t)n < sizeof(h))
			continue;
		memcpy(&h, buf, sizeof(h));
		if (h.len > (size_t)n - sizeof(h))
			continue;
		/* out of memory: handled now, in arrival order */
		if (ctrlq_waits(raw, h.len) && ctrlq_push(&d->sccrq_q, raw, h.len, &h.peer, &h.local) == 0)
			continue;
		handle_ctrl(d, raw, h.len, &h.peer, &h.local);
	}
	sccrq_run(d);
}

/* ---------------------------------------------------------------------- */
/* shutdown */

void daemon_check_stopped(struct daemon *d)
{
	if (!d->stopping)
		return;
	for (size_t i = 0; i < d->n_tunnels; i++)
		if (!tunnel_is_idle(d->tunnels[i]))
			return;
	event_base_loopexit(d->base, NULL);
}

static void stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	log_info("shutdown: not every StopCCN was acknowledged; exiting anyway");
	event_base_loopexit(d->base, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { SHUTDOWN_WAIT_MS / 1000, (SHUTDOWN_WAIT_MS % 1000) * 1000 };

	(void)what;
	if (sig == SIGHUP) {
		struct reload_report rep = { 0 };

		log_notice("SIGHUP: reloading %s", d->config_path);
		daemon_reload(d, &rep);
		reload_report_free(&rep);
		return;
	}
	if (d->stopping) {
		log_notice("second signal: exiting now");
		event_base_loopexit(d->base, NULL);
		return;
	}
	log_notice("received %s: closing tunnels", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	d->stopping = true;
	notify_stopping();
	d->ev_stop = evtimer_new(d->base, stop_timeout_cb, d);
	if (d->ev_stop)
		evtimer_add(d->ev_stop, &tv);
	for (size_t i = 0; i < d->n_tunnels; i++)
		tunnel_shutdown(d->tunnels[i]);
	daemon_check_stopped(d);
}

/* ---------------------------------------------------------------------- */
/* set-up */

/*
 * One UDP socket for both families: AF_INET6 bound to [::]:1701 with
 * IPV6_V6ONLY off, so IPv4 peers arrive as IPv4-mapped addresses (the data
 * path shows them to us as AF_INET) and IPv6 peers as themselves.  A
 * kernel without IPv6 gets the plain AF_INET socket on 0.0.0.0:1701.
 */
static int open_udp_family(int family, uint16_t port, bool reuseport)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int one = 1, zero = 0, fd, e;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* several data threads: each has its own socket on this address */
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto out_close;
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto out_close;
	if (family == AF_INET6 ? bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0
			       : bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto out_close;
	return fd;
out_close:
	e = errno;
	close(fd);
	return -e;
}

static int open_udp(struct daemon *d)
{
	bool mt = d->cfg->dp_threads > 1;
	int fd = open_udp_family(AF_INET6, L2TP_UDP_PORT, mt);

	if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
		log_info("IPv6 is not available: UDP socket on 0.0.0.0:%u (IPv4 only)", L2TP_UDP_PORT);
		fd = open_udp_family(AF_INET, L2TP_UDP_PORT, mt);
	}
	if (fd < 0)
		return fd;
	d->udp_fd = fd;
	daemon_udp_rcvbuf(d, expected_peers(d->cfg));
	return 0;
}

/*
 * `tunnel encapsulation l2tpv3-ip`: raw sockets of IP protocol 115 for
 * each family the configuration's IP tunnels may use (an endpoint's, or
 * both for a responder), opened once and kept.  A family whose socket
 * cannot be opened (no IPv6, no CAP_NET_RAW) is logged; its tunnels then
 * cannot send.  Returns 0, or the first error for a family a tunnel names.
 */
static int open_ip(struct daemon *d, const struct cfg *c)
{
	bool want[2] = { false, false };
	int ret = 0;

	for (size_t i = 0; c->service_on && i < c->n_tunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i];

		if (!t->enabled || t->encap != CFG_ENCAP_IP)
			continue;
		if (t->has_endpoint)
			want[t->remote.ss_family == AF_INET6] = true;
		else
			want[0] = want[1] = true;
	}
	for (int k = 0; k < 2; k++) {
		int family = k ? AF_INET6 : AF_INET, fd, r;

		if (!want[k] || d->ip_fd[k] >= 0)
			continue;
		fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, DP_IPPROTO_L2TP);
		r = fd < 0 ? -errno : dp_set_ip_socket(d->dp, family, fd);
		if (r < 0) {
			errno = -r;
			log_warn("cannot open a raw IPv%d socket for IP protocol 115 (tunnel encapsulation "
				 "l2tpv3-ip needs CAP_NET_RAW, see l2tpv3d(8))", k ? 6 : 4);
			if (fd >= 0)
				close(fd);
			if (!ret)
				ret = r;
			continue;
		}
		d->ip_fd[k] = fd;
		log_info("IP encapsulation: listening on IPv%d protocol 115", k ? 6 : 4);
	}
	return ret;
}

/*
 * `l2tp local port N` (N != 1701): one more UDP socket per such port, of
 * the first socket's family, opened once and kept.  Returns 0 or the first
 * error (logged; the tunnels of that port cannot work).
 */
static int open_udp_ports(struct daemon *d, const struct cfg *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int ret = 0;

	if (getsockname(d->udp_fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	for (size_t i = 0; c->service_on && i < c->n_tunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i];
		uint16_t port = (uint16_t)t->dp.local_port;
		size_t k;
		int fd, r;

		if (!t->enabled || t->encap != CFG_ENCAP_UDP || port == L2TP_UDP_PORT)
			continue;
		for (k = 0; k < DAEMON_UDP_EXTRA && d->udp_extra[k] >= 0 && d->udp_extra_port[k] != port; k++)
			;
		if (k < DAEMON_UDP_EXTRA && d->udp_extra[k] >= 0)
			continue; /* open already */
		r = k == DAEMON_UDP_EXTRA ? -ENOSPC : 0;
		fd = r ? -1 : open_udp_family(ss.ss_family, port, false);
		if (!r)
			r = fd < 0 ? fd : dp_add_udp_socket(d->dp, fd);
		if (r < 0) {
			errno = -r;
			log_warn("tunnel %u: cannot listen on UDP port %u ('l2tp local port')", t->id, port);
			if (fd >= 0)
				close(fd);
			if (!ret)
				ret = r;
			continue;
		}
		d->udp_extra[k] = fd;
		d->udp_extra_port[k] = port;
		log_info("listening on UDP port %u as well ('l2tp local port')", port);
	}
	return ret;
}

/* `dataplane busy-poll USEC` (start and reload): see dp_set_busy_poll */
static void apply_busy_poll(struct daemon *d, const struct cfg *c)
{
	if (c->dp_busy_poll == d->dp_busy_poll)
		return;
	if (dp_set_busy_poll(d->dp, c->dp_busy_poll) < 0)
		return; /* cannot happen: the parser bounds it */
	d->dp_busy_poll = c->dp_busy_poll;
	if (c->dp_busy_poll)
		log_info("data path: busy polling %u us after work ('dataplane busy-poll')", c->dp_busy_poll);
	else
		log_info("data path: no busy polling");
}

/*
 * `dataplane realtime`: the data thread under SCHED_FIFO, so that it runs
 * as soon as a packet wakes it instead of waiting for a CPU behind the
 * applications it carries traffic for (on 2 cores that wait was most of
 * the latency under load: doc/performance.md).  Refused without
 * CAP_SYS_NICE or RLIMIT_RTPRIO (systemd's LimitRTPRIO=): logged, and the
 * thread keeps normal scheduling.
 */
static void apply_realtime(struct daemon *d, const struct cfg *c)
{
	int want = (int)c->dp_realtime, r;

	if (want == d->dp_realtime)
		return;
	r = dp_set_realtime(d->dp, want);
	if (r < 0) {
		errno = -r;
		log_warn("data path thread: cannot use SCHED_FIFO priority %d (needs CAP_SYS_NICE or an "
			 "RLIMIT_RTPRIO of %d); it keeps %s scheduling", want, want,
			 d->dp_realtime ? "its realtime" : "normal");
		return;
	}
	d->dp_realtime = want;
	if (want)
		log_info("data path thread: SCHED_FIFO priority %d ('dataplane realtime')", want);
	else
		log_info("data path thread: normal scheduling ('dataplane realtime off')");
}

/* Bridges, their non-tunnel members and addresses, as configured. */
static int setup_links(struct daemon *d, const struct cfg *c)
{
	int r;

	for (size_t i = 0; i < c->n_bridges; i++) {
		const struct cfg_bridge *b = &c->bridges[i];
		bool created;

		r = nl_bridge_ensure(d->nl, b->name, &created);
		if (r < 0) {
			errno = -r;
			log_warn("cannot create bridge %s", b->name);
			return r;
		}
		if (created)
			log_info("created bridge %s", b->name);
		for (size_t j = 0; j < b->n_members; j++) {
			if (!strncmp(b->members[j], "tunnel", 6))
				continue; /* TAP ports join when their tunnel is created */
			r = nl_bridge_add_port(d->nl, b->name, b->members[j]);
			if (r < 0) {
				errno = -r;
				log_warn("cannot add %s to bridge %s", b->members[j], b->name);
				return r;
			}
		}
		/* A bridge we made keeps the MAC it has now (its LAN port's, or
		 * its own): unpinned, it would take the lowest MAC of its ports,
		 * and each TAP is born with a random one, so restarts and hub
		 * peers coming and going would change it under the neighbours'
		 * ARP caches. */
		if (created && (r = nl_link_pin_address(d->nl, b->name)) < 0) {
			errno = -r;
			log_warn("cannot keep the MAC address of bridge %s", b->name);
		}
	}
	for (size_t i = 0; i < c->n_addresses; i++) {
		const struct cfg_address *a = &c->addresses[i];
		char s[INET6_ADDRSTRLEN];

		r = nl_addr_ensure(d->nl, a->ifname, a->family, &a->addr, a->prefixlen);
		if (r < 0) {
			inet_ntop(a->family, &a->addr, s, sizeof(s));
			errno = -r;
			log_warn("cannot set address %s/%u on %s", s, a->prefixlen, a->ifname);
			return r;
		}
		(void)nl_link_up(d->nl, a->ifname);
	}
	return 0;
}

/* Create a tunnel for ct and append it to d->tunnels. */
static int tunnel_add(struct daemon *d, const struct cfg_tunnel *ct, struct tunnel **ret)
{
	struct tunnel *t, **v;
	int r;

	r = tunnel_create(d, ct, &t);
	if (r < 0)
		return r;
	v = realloc(d->tunnels, (d->n_tunnels + 1) * sizeof(*v));
	if (!v) {
		tunnel_free(t);
		return -ENOMEM;
	}
	d->tunnels = v;
	d->tunnels[d->n_tunnels++] = t;
	if (ret)
		*ret = t;
	return 0;
}

struct tunnel *daemon_tunnel_find(struct daemon *d, unsigned id)
{
	for (size_t i = 0; i < d->n_tunnels; i++)
		if (d->tunnels[i]->cfg->id == id && !d->tunnels[i]->removing && !d->tunnels[i]->peer_index &&
		    !d->tunnels[i]->owner)
			return d->tunnels[i];
	return NULL;
}

void daemon_tunnel_reap(struct daemon *d, struct tunnel *t)
{
	for (size_t i = 0; i < d->n_tunnels; i++) {
		if (d->tunnels[i] != t)
			continue;
		memmove(&d->tunnels[i], &d->tunnels[i + 1], (d->n_tunnels - i - 1) * sizeof(*d->tunnels));
		d->n_tunnels--;
		if (t->owner) {
			log_tunnel_info(t, "extra connection gone");
		} else if (t->parked && !t->removing) { /* a hub's peer gone for `l2tp hub hold` (tunnel.c) */
			log_tunnel_notice(t, "peer gone for %u s: instance removed (TAP %s deleted)", t->cfg->hub_hold,
					  t->ifname);
		} else {
			log_notice("tunnel %u: removed (TAP %s deleted)", t->cfg->id, t->ifname);
			control_event(d, &(struct ctl_event){ .event = "tunnel-removed", .tunnel = t->cfg->id });
		}
		tunnel_free(t);
		daemon_check_stopped(d);
		return;
	}
}

void daemon_clear_counters(struct daemon *d)
{
	d->stats_clear = d->stats;
	for (size_t i = 0; i < d->n_tunnels; i++)
		tunnel_clear_counters(d->tunnels[i]);
	log_notice("counters cleared");
}

/* ---------------------------------------------------------------------- */
/* reload */

__attribute__((format(printf, 2, 3)))
static void report(struct reload_report *rep, const char *fmt, ...)
{
	char line[1024], **v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	v = realloc(rep->v, (rep->n + 1) * sizeof(*v));
	if (!v)
		return;
	rep->v = v;
	rep->v[rep->n] = strdup(line);
	if (rep->v[rep->n])
		rep->n++;
}

void reload_report_free(struct reload_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		free(rep->v[i]);
	free(rep->v);
	rep->v = NULL;
	rep->n = 0;
}

static struct tunnel *find_removing(struct daemon *d, unsigned id)
{
	for (size_t i = 0; i < d->n_tunnels; i++)
		if (d->tunnels[i]->cfg->id == id && d->tunnels[i]->removing && !d->tunnels[i]->peer_index &&
		    !d->tunnels[i]->owner)
			return d->tunnels[i];
	return NULL;
}

static bool metrics_same(const struct cfg *a, const struct cfg *b)
{
	return a->has_metrics == b->has_metrics &&
	       (!a->has_metrics || sockaddr_equal(&a->metrics, &b->metrics));
}

/* Reload: a hub's instances keep their connections if the hub is
 * unchanged (ct: its new entry), else they are closed and removed. */
static void reload_hub_instances(struct daemon *d, struct tunnel *hub, const struct cfg_tunnel *ct)
{
	for (size_t i = 0; i < d->n_tunnels; i++) {
		struct tunnel *x = d->tunnels[i];

		if (x->hub != hub || x->removing)
			continue;
		if (ct) {
			x->cfg = ct;
			continue;
		}
		x->hub = NULL;
		tunnel_remove(x);
	}
}

/*
 * Parse and verify the whole file first: on any error the running
 * configuration stays as it is.  Then, tunnel by tunnel (ospfd's
 * merge_config): equal settings keep their connection, sessions, counters
 * and traffic (only t->cfg moves to the new entry); changed ones are
 * restarted (StopCCN, then connect again); removed ones get a StopCCN and
 * are freed with their TAP once idle; new ones start.  Bridges and
 * addresses are ensured, never removed.
 */
void daemon_reload(struct daemon *d, struct reload_report *rep)
{
	struct cfg_diags diags = { 0 };
	struct cfg *nc = NULL, *old = d->cfg;
	char line[1024];
	int r;

	notify_reloading();
	rep->err = 0;
	r = cfg_load_file(d->config_path, &nc, &diags);
	for (size_t i = 0; i < diags.n; i++) {
		cfg_diag_format(&diags.v[i], line, sizeof(line));
		if (diags.v[i].level == CFG_DIAG_ERROR) {
			log_warnx("reload: %s", line);
			report(rep, "%s", line);
		} else if (diags.v[i].level == CFG_DIAG_WARNING) {
			log_warnx("reload: %s", line);
			report(rep, "%s", line);
		}
	}
	cfg_diags_free(&diags);
	if (r < 0) {
		rep->err = r;
		log_warnx("reload: %s has errors; running configuration kept", d->config_path);
		report(rep, "%s: configuration has errors; running configuration kept", d->config_path);
		notify_ready();
		return;
	}
	if (d->stopping) {
		cfg_free(nc);
		rep->err = -ESHUTDOWN;
		report(rep, "l2tpv3d is shutting down");
		return;
	}

	r = setup_links(d, nc);
	if (r < 0)
		report(rep, "bridges/addresses: %s (see the log)", strerror(-r));
	r = open_ip(d, nc);
	if (r < 0)
		report(rep, "IP protocol 115: cannot open a raw socket: %s (see the log)", strerror(-r));
	r = open_udp_ports(d, nc);
	if (r < 0)
		report(rep, "l2tp local port: cannot listen: %s (see the log)", strerror(-r));
	apply_realtime(d, nc);
	apply_busy_poll(d, nc);
	if (nc->dp_fastpath != d->dp_fastpath) {
		log_notice("reload: 'dataplane fastpath %s' takes effect at the next restart",
			   nc->dp_fastpath ? "on" : "off");
		report(rep, "dataplane fastpath: %s at the next restart (a reload does not change it)",
		       nc->dp_fastpath ? "on" : "off");
	}
	if (d->dp_realtime != (int)nc->dp_realtime)
		report(rep, "dataplane realtime: SCHED_FIFO %u refused (see the log)", nc->dp_realtime);

	/* extra connections (admission.h) keep going if their tunnel's
	 * settings are unchanged, else they close before it does */
	for (size_t i = d->n_tunnels; i-- > 0;) {
		struct tunnel *t = d->tunnels[i];
		const struct cfg_tunnel *ct;

		if (!t->owner || t->removing)
			continue;
		ct = nc->service_on ? cfg_tunnel_find(nc, t->cfg->id) : NULL;
		if (ct && ct->enabled && cfg_tunnel_equal(t->cfg, ct) && !t->owner->removing)
			t->cfg = ct;
		else
			tunnel_remove(t);
	}
	/* tunnels gone or changed */
	for (size_t i = d->n_tunnels; i-- > 0;) {
		struct tunnel *t = d->tunnels[i];
		const struct cfg_tunnel *ct;

		if (t->removing || t->peer_index || t->owner)
			continue; /* a hub's instances follow their hub (below) */
		ct = nc->service_on ? cfg_tunnel_find(nc, t->cfg->id) : NULL;
		if (t->cfg->hub_max)
			reload_hub_instances(d, t, ct && ct->enabled && cfg_tunnel_equal(t->cfg, ct) ? ct : NULL);
		if (!ct || !ct->enabled) {
			log_notice("reload: tunnel %u: removed from the configuration, closing", t->cfg->id);
			report(rep, "tunnel %u: removed", t->cfg->id);
			tunnel_remove(t);
		} else if (cfg_tunnel_equal(t->cfg, ct)) {
			t->cfg = ct;
			log_info("reload: tunnel %u: unchanged", ct->id);
			report(rep, "tunnel %u: unchanged", ct->id);
		} else {
			log_notice("reload: tunnel %u: settings changed, restarting", ct->id);
			report(rep, "tunnel %u: restarted (settings changed)", ct->id);
			control_event(d, &(struct ctl_event){ .event = "tunnel-restart", .tunnel = ct->id,
							      .reason = "configuration changed" });
			tunnel_reconfigure(t, ct);
		}
	}
	/* new tunnels */
	for (size_t i = 0; nc->service_on && i < nc->n_tunnels; i++) {
		const struct cfg_tunnel *ct = &nc->tunnels[i];
		struct tunnel *t;

		if (!ct->enabled || daemon_tunnel_find(d, ct->id))
			continue;
		t = find_removing(d, ct->id);
		if (t) {
			/* back before its StopCCN was acknowledged: it keeps its TAP */
			t->removing = false;
			log_notice("reload: tunnel %u: back in the configuration, restarting", ct->id);
			report(rep, "tunnel %u: restarted (settings changed)", ct->id);
			tunnel_reconfigure(t, ct);
			continue;
		}
		r = tunnel_add(d, ct, &t);
		if (r < 0) {
			report(rep, "tunnel %u: cannot start: %s", ct->id, strerror(-r));
			rep->err = r;
			continue;
		}
		log_notice("reload: tunnel %u: new, starting", ct->id);
		report(rep, "tunnel %u: started (new)", ct->id);
		control_event(d, &(struct ctl_event){ .event = "tunnel-added", .tunnel = ct->id });
		tunnel_start(t);
	}
	if (!metrics_same(old, nc)) {
		metrics_close(d);
		if (nc->has_metrics) {
			r = metrics_open(d, &nc->metrics);
			if (r < 0) {
				report(rep, "metrics: cannot listen: %s", strerror(-r));
				rep->err = r;
			}
		}
		report(rep, "metrics: %s", nc->has_metrics ? "listening on the new address" : "off");
	}
	d->cfg = nc;
	ipsec_reload(d, old);
	cfg_free(old);
	guard_set_peers(&d->guard, expected_peers(d->cfg), now_ms());
	daemon_udp_rcvbuf(d, expected_peers(d->cfg));
	log_notice("reload: %s applied", d->config_path);
	control_event(d, &(struct ctl_event){ .event = "reload", .reason = "configuration applied" });
	notify_ready();
}

int daemon_setup(struct daemon *d)
{
	int r;

	d->udp_fd = d->listen_fd = -1;
	d->ip_fd[0] = d->ip_fd[1] = -1;
	for (int i = 0; i < DAEMON_UDP_EXTRA; i++)
		d->udp_extra[i] = -1;
	guard_init(&d->guard, now_ms());
	guard_set_peers(&d->guard, expected_peers(d->cfg), now_ms());
	d->ctrl_pair[0] = d->ctrl_pair[1] = -1;
	ctrlq_init(&d->sccrq_q, SCCRQ_QUEUE_MAX);
	if (gethostname(d->hostname, sizeof(d->hostname) - 1) < 0)
		snprintf(d->hostname, sizeof(d->hostname), "l2tpv3d");
	d->base = event_base_new();
	if (!d->base)
		return -ENOMEM;
	r = nl_ctx_open(&d->nl);
	if (r < 0) {
		errno = -r;
		log_warn("cannot open netlink");
		return r;
	}
	/* `dataplane threads` is read here, at start, only */
	tap_set_multi_queue(d->cfg->dp_threads > 1);
	r = setup_links(d, d->cfg);
	if (r < 0)
		return r;
	r = open_udp(d);
	if (r < 0) {
		errno = -r;
		log_warn("cannot bind UDP port %u", L2TP_UDP_PORT);
		return r;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, d->ctrl_pair) < 0) {
		r = -errno;
		log_warn("socketpair");
		return r;
	}
	{
		/* room for a hub's burst (1,000 peers calling at once) while the
		 * control thread creates TAP ports: the data thread drops what
		 * does not fit.  Beyond net.core.wmem_max with CAP_NET_ADMIN. */
		int sz = 8 << 20;

		if (setsockopt(d->ctrl_pair[1], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			(void)setsockopt(d->ctrl_pair[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		if (setsockopt(d->ctrl_pair[0], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
			(void)setsockopt(d->ctrl_pair[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	r = dp_create(d->udp_fd, d->ctrl_pair[1], &d->dp);
	if (r < 0) {
		errno = -r;
		log_warn("cannot create the data path");
		return r;
	}
	if (d->cfg->dp_threads > 1) {
		r = dp_set_threads(d->dp, d->cfg->dp_threads);
		if (r < 0) {
			errno = -r;
			log_warn("cannot run %u data threads ('dataplane threads'): running one", d->cfg->dp_threads);
			tap_set_multi_queue(false);
		} else {
			log_info("data path: %u threads ('dataplane threads')", d->cfg->dp_threads);
		}
	}
	/* `dataplane fastpath` too: without it the data thread carries everything */
	d->dp_fastpath = d->cfg->dp_fastpath;
	if (d->cfg->dp_fastpath) {
		r = dp_set_fastpath(d->dp, true);
		if (r < 0) {
			log_warnx("dataplane fastpath: cannot load the eBPF programs: %s; frames go through the data "
				  "thread",
				  strerror(-r));
		} else {
			log_info("data path: kernel fast path on ('dataplane fastpath')");
			fp_refresh_start(d);
		}
	}
	/* an IPv4 IP/115 tunnel that cannot have its socket does not start;
	 * a responder's IPv6 side is optional */
	r = open_ip(d, d->cfg);
	if (r < 0 && d->ip_fd[0] < 0)
		return r;
	r = open_udp_ports(d, d->cfg);
	if (r < 0)
		return r;
	r = dp_start(d->dp);
	if (r < 0) {
		errno = -r;
		log_warn("cannot start the data path thread");
		return r;
	}
	apply_realtime(d, d->cfg);
	apply_busy_poll(d, d->cfg);
	d->ev_ctrl = event_new(d->base, d->ctrl_pair[0], EV_READ | EV_PERSIST, ctrl_read_cb, d);
	d->ev_sccrq = evtimer_new(d->base, sccrq_cb, d);
	d->ev_sigterm = evsignal_new(d->base, SIGTERM, signal_cb, d);
	d->ev_sigint = evsignal_new(d->base, SIGINT, signal_cb, d);
	d->ev_sighup = evsignal_new(d->base, SIGHUP, signal_cb, d);
	if (!d->ev_ctrl || !d->ev_sccrq || !d->ev_sigterm || !d->ev_sigint || !d->ev_sighup)
		return -ENOMEM;
	event_add(d->ev_ctrl, NULL);
	event_add(d->ev_sigterm, NULL);
	event_add(d->ev_sigint, NULL);
	event_add(d->ev_sighup, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = control_open(d);
	if (r < 0)
		return r;
	if (d->cfg->has_metrics) {
		r = metrics_open(d, &d->cfg->metrics);
		if (r < 0)
			return r;
	}

	if (!d->cfg->service_on) {
		log_notice("`l2tp service on` is not configured: no tunnel is started");
		return 0;
	}
	for (size_t i = 0; i < d->cfg->n_tunnels; i++) {
		const struct cfg_tunnel *ct = &d->cfg->tunnels[i];

		if (!ct->enabled) {
			log_info("tunnel %u: not enabled (`tunnel enable %u` missing)", ct->id, ct->id);
			continue;
		}
		r = tunnel_add(d, ct, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

int daemon_run(struct daemon *d)
{
	ipsec_start(d); /* before the tunnels: IPsec ones wait for their SA */
	for (size_t i = 0; i < d->n_tunnels; i++)
		tunnel_start(d->tunnels[i]);
	/* UDP and control sockets are open (daemon_setup): tell systemd */
	notify_status("%zu tunnel(s) configured", d->n_tunnels);
	notify_ready();
	return event_base_dispatch(d->base) < 0 ? -EIO : 0;
}

void daemon_teardown(struct daemon *d)
{
	ipsec_stop(d);
	held_free(d);
	if (d->ev_fp_refresh)
		event_free(d->ev_fp_refresh);
	d->ev_fp_refresh = NULL;
	/* stop the data thread before freeing the sessions it reads */
	for (size_t i = 0; i < d->n_tunnels; i++) {
		struct tunnel *t = d->tunnels[i];

		if (t->dps) {
			dp_session_del(d->dp, t->dps);
			t->dps = NULL;
		}
		for (size_t j = 0; j < t->n_pws; j++) {
			if (t->pws[j].dps)
				dp_session_del(d->dp, t->pws[j].dps);
			t->pws[j].dps = NULL;
		}
		for (size_t j = 0; j < t->fsm.n_sessions; j++)
			t->fsm.sessions[j].user = NULL;
	}
	dp_destroy(d->dp);
	d->dp = NULL;
	/* extra connections (after their owners in the array) use their owners' ports: freed first */
	for (size_t i = d->n_tunnels; i-- > 0;)
		tunnel_free(d->tunnels[i]);
	free(d->tunnels);
	d->tunnels = NULL;
	d->n_tunnels = 0;
	daemon_ports_reap(d); /* every TAP port in one go (reap.c) */
	if (d->ev_reap)
		event_free(d->ev_reap);
	d->ev_reap = NULL;
	control_close(d);
	metrics_close(d);
	if (d->ev_ctrl)
		event_free(d->ev_ctrl);
	if (d->ev_sccrq)
		event_free(d->ev_sccrq);
	ctrlq_clear(&d->sccrq_q);
	if (d->ev_sigterm)
		event_free(d->ev_sigterm);
	if (d->ev_sigint)
		event_free(d->ev_sigint);
	if (d->ev_sighup)
		event_free(d->ev_sighup);
	if (d->ev_stop)
		event_free(d->ev_stop);
	if (d->udp_fd >= 0)
		close(d->udp_fd);
	for (int i = 0; i < 2; i++)
		if (d->ip_fd[i] >= 0)
			close(d->ip_fd[i]);
	for (int i = 0; i < DAEMON_UDP_EXTRA; i++)
		if (d->udp_extra[i] >= 0)
			close(d->udp_extra[i]);
	for (int i = 0; i < 2; i++)
		if (d->ctrl_pair[i] >= 0)
			close(d->ctrl_pair[i]);
	nl_ctx_close(d->nl);
	if (d->base)
		event_base_free(d->base);
}
