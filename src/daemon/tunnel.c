/* SPDX-License-Identifier: MIT */
/*
 * One configured tunnel: the glue between its state machine (fsm/ctrl.c),
 * its TAP port and data-path session, its timers, and the log.
 *
 * Timers: `timer` fires at the state machine's deadline (re-armed after
 * every call into it); `reconnect` restarts an always-on initiator after
 * the connection went down, with exponential back-off from 1 s to 16 s;
 * `later` runs with no delay, once the current event is handled, what
 * the code handling it must not see happen (later_cb).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon/admission.h"
#include "daemon/daemon.h"
#include "daemon/ipsec.h"
#include "daemon/log.h"
#include "daemon/nl.h"

static void tunnel_arm(struct tunnel *t);
static void tunnel_effects(struct tunnel *t);

#define RECONNECT_MIN_MS 1000
#define RECONNECT_MAX_MS 16000

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

enum dp_encap sockaddr_encap(const struct sockaddr_storage *ss)
{
	bool inet = ss->ss_family == AF_INET || ss->ss_family == AF_INET6;

	return inet && sockaddr_port(ss) == 0 ? DP_ENCAP_IP : DP_ENCAP_UDP;
}

#define LOG_TUNNEL(name, pri, with_errno)                               \
	void name(const struct tunnel *t, const char *fmt, ...)         \
	{                                                               \
		va_list ap;                                             \
		va_start(ap, fmt);                                      \
		log_vlabeled(pri, t->label, with_errno, fmt, ap);       \
		va_end(ap);                                             \
	}

LOG_TUNNEL(log_tunnel_warn, LOG_WARNING, true)
LOG_TUNNEL(log_tunnel_warnx, LOG_WARNING, false)
LOG_TUNNEL(log_tunnel_notice, LOG_NOTICE, false)
LOG_TUNNEL(log_tunnel_info, LOG_INFO, false)
LOG_TUNNEL(log_tunnel_debug, LOG_DEBUG, false)

static const char *peer_str(const struct tunnel *t, char *buf, size_t len)
{
	if (t->peer_known)
		sockaddr_format(&t->peer, buf, len);
	else
		snprintf(buf, len, "(peer unknown)");
	return buf;
}

/* ---------------------------------------------------------------------- */
/* state machine outputs (struct fsm_ops: called during its calls, never
 * re-entering it) and effects (taken after each call, tunnel_effects) */

static void fsm_send_cb(void *ctx, struct fsm_tunnel *ft, const uint8_t *buf, size_t len)
{
	struct tunnel *t = ctx;

	(void)ft;
	if (!t->peer_known || !ipsec_tunnel_ready(t))
		return; /* an IPsec tunnel sends nothing without its SA */
	daemon_send(t->d, &t->peer, &t->local, buf, len);
}

static void fsm_random_cb(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	if (RAND_bytes(buf, (int)len) != 1)
		fatalx("RAND_bytes failed");
}

static bool sid_in_use(struct daemon *d, uint32_t sid)
{
	for (size_t i = 0; i < d->n_tunnels; i++) {
		const struct fsm_tunnel *f = &d->tunnels[i]->fsm;

		if (d->tunnels[i]->cfg->is_static && d->tunnels[i]->cfg->static_local_sid == sid)
			return true;
		for (size_t j = 0; j < f->n_sessions; j++)
			if (f->sessions[j].local_sid == sid)
				return true;
	}
	return false;
}

static uint32_t fsm_alloc_sid_cb(void *ctx)
{
	struct tunnel *t = ctx;
	uint32_t sid;

	do {
		fsm_random_cb(NULL, &sid, sizeof(sid));
	} while (sid == 0 || sid_in_use(t->d, sid));
	return sid;
}

/* Where an initiator or static session sends from at first: the
 * configured local address; else, with `l2tp local port`, any address on
 * that port; else the kernel picks (AF_UNSPEC). */
static void initial_local(const struct cfg_tunnel *ct, struct sockaddr_storage *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (ct->has_local_address) {
		*ret = ct->local;
	} else if (ct->encap == CFG_ENCAP_UDP && ct->dp.local_port != L2TP_UDP_PORT) {
		ret->ss_family = ct->remote.ss_family;
		if (ret->ss_family == AF_INET)
			((struct sockaddr_in *)ret)->sin_port = htons(ct->dp.local_port);
		else
			((struct sockaddr_in6 *)ret)->sin6_port = htons(ct->dp.local_port);
	}
}

static void set_mss(const struct tunnel *t, struct dp_session_conf *c)
{
	/* auto: WAN MTU 1500 - tunnel overhead - 40 (IPv4+TCP) or 60
	 * (IPv6+TCP).  The overhead is the outer IP header (20 or 40), UDP
	 * and the L2TP header (8 + 8) or, over IP, the Session ID (4), the
	 * cookie, the sublayer (4) and the inner Ethernet header (14): 50 for
	 * the Yamaha case, as protocol.md §9 tabulates.  The larger of the
	 * two directions' headers counts. */
	if (t->cfg->mss_mode == CFG_MSS_AUTO) {
		size_t cookie = c->tx_cookie_len > c->rx_cookie_len ? c->tx_cookie_len : c->rx_cookie_len;
		size_t over = (t->peer.ss_family == AF_INET6 ? 40 : 20) +
			      (c->encap == DP_ENCAP_IP ? 4 : 16) + cookie + (c->tx_l2ss || c->rx_l2ss ? 4 : 0) + 14;

		/* IPsec: ESP in UDP at worst (AES-CBC, HMAC-SHA1-96): UDP 8,
		 * ESP header 8, IV 16, padding and trailer up to 17, ICV 12 */
		if (t->cfg->ipsec.on)
			over += IPSEC_ESP_OVERHEAD_MAX;

		c->mss4 = (uint16_t)(1500 - over - 40);
		c->mss6 = (uint16_t)(1500 - over - 60);
	} else if (t->cfg->mss_mode == CFG_MSS_FIXED) {
		c->mss4 = c->mss6 = (uint16_t)t->cfg->mss_value;
	}
}

/* Complete a data-path session with what every kind shares (peer, source
 * address, TAP, MSS clamp) and start it; logs once on failure. */
static int tunnel_dp_add_port(struct tunnel *t, struct dp_session_conf *c, int tap_fd, struct dp_session **dps,
			      const char *what)
{
	int r;

	c->peer = t->peer;
	c->local = t->local;
	c->tap_fd = tap_fd;
	c->encap = t->cfg->encap == CFG_ENCAP_IP ? DP_ENCAP_IP : DP_ENCAP_UDP;
	c->rx_peer_only = t->cfg->ipsec.on; /* data only from the SA's peer (ipsec.c) */
	set_mss(t, c);
	r = dp_session_add(t->d->dp, c, dps);
	if (r < 0) {
		errno = -r;
		log_tunnel_warn(t, "cannot start the data path of %s %u", what, c->local_sid);
		*dps = NULL;
	}
	return r;
}

static int tunnel_dp_add(struct tunnel *t, struct dp_session_conf *c, const char *what)
{
	return tunnel_dp_add_port(t, c, t->tap_fd, &t->dps, what);
}

/* The tunnel whose TAP ports t's sessions use: its own, or its owner's
 * for an extra connection (admission.h). */
static struct tunnel *port_owner(const struct tunnel *t)
{
	return t->owner ? t->owner : (struct tunnel *)t;
}

/* The port of pseudowire pw (0-based, as fsm_session.pw): NULL for the
 * tunnel's own (pseudowire 1) or one it does not have. */
static struct tunnel_port *pw_port(const struct tunnel *t, unsigned pw)
{
	t = port_owner(t);
	return pw >= 1 && pw <= t->n_pws ? &t->pws[pw - 1] : NULL;
}

const char *tunnel_session_ifname(const struct tunnel *t, const struct fsm_session *s)
{
	const struct tunnel_port *p = pw_port(t, s->pw);

	return p ? p->ifname : t->ifname;
}

unsigned tunnel_session_vlan(const struct tunnel *t, const struct fsm_session *s)
{
	return pw_port(t, s->pw) ? t->cfg->pws[s->pw - 1].vlan : t->cfg->vlan;
}

static void adm_entry_of(const struct tunnel *t, struct adm_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = t->owner ? ADM_BESIDE : t->peer_index ? ADM_HUB_INSTANCE : ADM_TUNNEL;
	e->cfg = t->cfg;
	e->fconf = &t->fconf;
	e->fsm = &t->fsm;
	e->peer = t->peer_known ? &t->peer : NULL;
}

/*
 * Pseudowire slot dps is held by a session of another connection of the
 * same tunnel (admission.h): the one now coming up on t takes it over if
 * adm_session_move says so; the old connection closes once it holds no
 * session.  0 if the slot is free now, else -EBUSY.
 */
static int session_take_over(struct tunnel *t, struct fsm_session *s, struct dp_session *dps)
{
	struct tunnel *o = port_owner(t), *h = NULL;
	struct fsm_session *hs = NULL;
	struct adm_entry from, to;
	char why[320], hp[64];
	uint64_t now = now_ms();

	for (size_t i = 0; !h && i < t->d->n_tunnels; i++) {
		struct tunnel *x = t->d->tunnels[i];

		if (x == t || port_owner(x) != o)
			continue;
		for (size_t j = 0; j < x->fsm.n_sessions; j++)
			if (x->fsm.sessions[j].user == dps) {
				h = x;
				hs = &x->fsm.sessions[j];
				break;
			}
	}
	if (!h) {
		log_tunnel_warnx(t, "pseudowire %u has a session already", s->pw + 1);
		return -EBUSY;
	}
	adm_entry_of(h, &from);
	adm_entry_of(t, &to);
	peer_str(h, hp, sizeof(hp));
	if (!adm_session_move(&from, &to, why, sizeof(why))) {
		log_tunnel_warnx(t, "session for pseudowire %u refused: %s", s->pw + 1, why);
		return -EBUSY;
	}
	log_tunnel_notice(t, "pseudowire %u moves here from tunnel %s (peer %s): %s", s->pw + 1, h->label,
		   hp, why);
	if (fsm_session_close(&h->fsm, hs->local_sid, L2TP_CDN_ADMIN, "moved to a new control connection", now) < 0) {
		tunnel_effects(h);
		tunnel_arm(h);
		return -EBUSY;
	}
	if (h->fsm.state == FSM_T_ESTABLISHED && !h->fsm.n_sessions)
		fsm_tunnel_close(&h->fsm, L2TP_STOPCCN_CLEAR, "its sessions moved to a new connection", now);
	tunnel_effects(h);
	tunnel_arm(h);
	return 0;
}

/* SESSION_UP: start the session's data path (its handle in s->user). */
static int tunnel_session_up(struct tunnel *t, struct fsm_session *s)
{
	struct tunnel *o = port_owner(t);
	struct tunnel_port *p = pw_port(t, s->pw);
	struct dp_session **dps = p ? &p->dps : &o->dps;
	struct dp_session_conf c;
	int r;

	if (s->pw > o->n_pws || (p ? p->tap_fd : o->tap_fd) < 0) {
		log_tunnel_warnx(t, "no TAP port for pseudowire %u", s->pw + 1);
		return -ENODEV;
	}
	if (*dps && (r = session_take_over(t, s, *dps)) < 0)
		return r;
	if (*dps) {
		log_tunnel_warnx(t, "pseudowire %u has a session already", s->pw + 1);
		return -EBUSY;
	}
	memset(&c, 0, sizeof(c));
	c.local_sid = s->local_sid;
	c.remote_sid = s->remote_sid;
	memcpy(c.tx_cookie, s->tx_cookie, s->tx_cookie_len);
	c.tx_cookie_len = s->tx_cookie_len;
	c.tx_l2ss = s->tx_l2ss;
	memcpy(c.rx_cookie, s->rx_cookie, s->rx_cookie_len);
	c.rx_cookie_len = s->rx_cookie_len;
	c.rx_l2ss = s->rx_l2ss;
	c.tx_seq = s->tx_seq;
	c.rx_seq = s->rx_seq;
	c.vlan = (uint16_t)tunnel_session_vlan(t, s);
	r = tunnel_dp_add_port(t, &c, p ? p->tap_fd : o->tap_fd, dps, "session");
	if (r < 0)
		return r;
	s->user = *dps;
	return 0;
}

/* SESSION_DOWN: stop the data path of a session gone from the machine. */
static void tunnel_session_down(struct tunnel *t, const struct fsm_session *s)
{
	struct tunnel_port *p = pw_port(t, s->pw);
	struct dp_session **dps = p ? &p->dps : &port_owner(t)->dps;

	if (s->user && s->user == *dps) {
		dp_session_del(t->d->dp, *dps);
		*dps = NULL;
	}
}

static void schedule_reconnect(struct tunnel *t);
static void schedule_now(struct tunnel *t);
static void static_start(struct tunnel *t);
static void hub_park(struct tunnel *t);
static void hub_unpark(struct tunnel *t);

static const char *tunnel_event_name(const struct fsm_event *ev)
{
	if (ev->to == FSM_T_ESTABLISHED)
		return "tunnel-up";
	if (ev->from == FSM_T_ESTABLISHED)
		return "tunnel-down";
	if (ev->to == FSM_T_IDLE && ev->from == FSM_T_WAIT_CTL_REPLY)
		return "tunnel-failed";
	return "tunnel-state";
}

static const char *session_event_name(const struct fsm_event *ev)
{
	if (ev->to == FSM_S_ESTABLISHED)
		return "session-up";
	if (ev->to == FSM_S_IDLE && ev->from == FSM_S_ESTABLISHED)
		return "session-down";
	return "session-state";
}

/* EVENT: log it, tell the control socket's listeners, and follow up a
 * connection gone idle (reconnect, hub port, removal). */
static void tunnel_event(struct tunnel *t, const struct fsm_session *s, const struct fsm_event *ev)
{
	const struct fsm_tunnel *ft = &t->fsm;
	struct ctl_event ce = { .tunnel = t->cfg->id, .reason = ev->reason };
	char peer[64], pwname[48] = "";

	peer_str(t, peer, sizeof(peer));
	ce.peer = t->peer_known ? peer : NULL;
	switch (ev->kind) {
	case FSM_EV_TUNNEL_STATE:
		if (ev->to == FSM_T_ESTABLISHED) {
			log_tunnel_notice(t, "up with %s (host %s): %s", peer,
					  ft->peer_host_name[0] ? ft->peer_host_name : "-", ev->reason);
			t->backoff_ms = 0;
			t->last_tunnel_up_ms = now_ms();
			if (t->established_total && !sockaddr_equal(&t->last_up_peer, &t->peer)) {
				char was[64];

				sockaddr_format(&t->last_up_peer, was, sizeof(was));
				log_tunnel_notice(t, "peer address changed from %s to %s", was, peer);
				control_event(t->d, &(struct ctl_event){ .event = "peer-changed", .tunnel = t->cfg->id,
									 .peer = peer, .reason = was });
			}
			t->established_total++;
			t->last_up_peer = t->peer;
			port_owner(t)->abandoned = 0;
			if (!strncmp(port_owner(t)->mismatch, "auth: the peer abandoned", 24))
				port_owner(t)->mismatch[0] = '\0';
		} else if (ev->to == FSM_T_IDLE && ev->from == FSM_T_ESTABLISHED) {
			log_tunnel_warnx(t, "down, peer %s: %s", peer, ev->reason);
		} else if (ev->to == FSM_T_IDLE && ev->from == FSM_T_WAIT_CTL_REPLY) {
			log_tunnel_warnx(t, "connection to %s failed: %s", peer, ev->reason);
		} else if (ev->to == FSM_T_IDLE || ev->to == FSM_T_CLOSING) {
			log_tunnel_notice(t, "%s -> %s, peer %s: %s", fsm_tunnel_state_name(ev->from),
					  fsm_tunnel_state_name(ev->to), peer, ev->reason);
		} else {
			log_tunnel_info(t, "%s -> %s, peer %s: %s", fsm_tunnel_state_name(ev->from),
					fsm_tunnel_state_name(ev->to), peer, ev->reason);
		}
		ce.event = tunnel_event_name(ev);
		ce.from = fsm_tunnel_state_name(ev->from);
		ce.to = fsm_tunnel_state_name(ev->to);
		control_event(t->d, &ce);
		if (ev->to == FSM_T_IDLE && ft->mismatch[0])
			snprintf(t->mismatch, sizeof(t->mismatch), "%s", ft->mismatch);
		if (ev->to == FSM_T_IDLE && ev->from == FSM_T_WAIT_CTL_CONN)
			tunnel_note_abandoned(port_owner(t));
		if (ev->to == FSM_T_IDLE && t->owner) {
			t->removing = true; /* an extra connection: freed (later_cb) */
			if (tunnel_is_idle(t->owner))
				hub_park(t->owner); /* the last one of a hub's peer gone */
		}
		else if (!t->owner && !t->fconf.initiator && (ev->to == FSM_T_IDLE || ev->from == FSM_T_ESTABLISHED))
			schedule_now(t); /* an extra connection may carry on as its own (promote) */
		/* an extra connection is up whose tunnel's own connection went
		 * while it was being set up (the peer's keepalive gave up on the
		 * old one and called again, and ours gave up on the old one
		 * before this one's SCCCN came): promote() found none established
		 * then, and it is this one's turn now.  Else the tunnel would show
		 * idle, with its peer up on a connection beside it, for good. */
		if (ev->to == FSM_T_ESTABLISHED && t->owner && !t->owner->removing)
			schedule_now(t->owner);
		if (ev->to == FSM_T_IDLE) {
			daemon_conn_closed(t->d, t);
			t->down_since_ms = now_ms();
			hub_park(t);
			schedule_reconnect(t);
			daemon_check_stopped(t->d);
		}
		break;
	case FSM_EV_SESSION_STATE:
		if (ev->to == FSM_S_ESTABLISHED)
			snprintf(t->mismatch, sizeof(t->mismatch), "%s", ft->mismatch);
		if (s && t->n_pws) /* several pseudowires: say which */
			snprintf(pwname, sizeof(pwname), " (pseudowire %u, %s)", s->pw + 1, tunnel_session_ifname(t, s));
		if (ev->to == FSM_S_ESTABLISHED)
			log_tunnel_notice(t, "session %u/%u%s up, peer %s", s->local_sid, s->remote_sid, pwname,
					  peer);
		else if (ev->to == FSM_S_IDLE && ev->from == FSM_S_ESTABLISHED)
			log_tunnel_warnx(t, "session %u/%u%s down, peer %s: %s", s->local_sid, s->remote_sid,
					 pwname, peer, ev->reason);
		else
			log_tunnel_info(t, "session %u %s -> %s, peer %s: %s", s->local_sid,
					fsm_session_state_name(ev->from), fsm_session_state_name(ev->to), peer, ev->reason);
		ce.event = session_event_name(ev);
		ce.from = fsm_session_state_name(ev->from);
		ce.to = fsm_session_state_name(ev->to);
		ce.local_sid = s ? s->local_sid : 0;
		ce.remote_sid = s ? s->remote_sid : 0;
		control_event(t->d, &ce);
		break;
	case FSM_EV_MISMATCH:
		log_tunnel_notice(t, "settings differ from the peer's: %s, peer %s", ev->reason, peer);
		break;
	case FSM_EV_AUTH_FAILED:
		if (ft->state == FSM_T_CLOSING) {
			/* e.g. a restarted peer's unsigned ACK of the StopCCN of
			 * the connection it forgot (its session moved) */
			log_tunnel_info(t, "%s (closing), peer %s", ev->reason, peer);
			break;
		}
		if (ft->mismatch[0])
			snprintf(t->mismatch, sizeof(t->mismatch), "%s", ft->mismatch);
		log_tunnel_warnx(t, "%s, peer %s", ev->reason, peer);
		ce.event = "auth-failed";
		control_event(t->d, &ce);
		break;
	case FSM_EV_SESSION_REFUSED:
		if (ft->mismatch[0])
			snprintf(t->mismatch, sizeof(t->mismatch), "%s", ft->mismatch);
		log_tunnel_warnx(t, "%s, peer %s", ev->reason, peer);
		ce.event = "session-refused";
		control_event(t->d, &ce);
		break;
	case FSM_EV_KEEPALIVE_SENT:
		if (t->cfg->keepalive_log)
			log_tunnel_info(t, "keepalive: %s, peer %s", ev->reason, peer);
		else
			log_tunnel_debug(t, "keepalive: %s, peer %s", ev->reason, peer);
		break;
	case FSM_EV_KEEPALIVE_ACKED:
		if (t->cfg->keepalive_log)
			log_tunnel_info(t, "keepalive: %s after %llu ms, peer %s", ev->reason,
					(unsigned long long)ft->stats.last_hello_rtt_ms, peer);
		else
			log_tunnel_debug(t, "keepalive: %s after %llu ms, peer %s", ev->reason,
					 (unsigned long long)ft->stats.last_hello_rtt_ms, peer);
		break;
	case FSM_EV_PROTOCOL:
		log_tunnel_debug(t, "%s, peer %s", ev->reason, peer);
		break;
	}
}

static void fsm_trace_cb(void *ctx, struct fsm_tunnel *ft, bool tx, const struct l2tp_msg *m)
{
	struct tunnel *t = ctx;
	char peer[64];

	(void)ft;
	if (!t->cfg->syslog)
		return;
	if (m->type == L2TP_MSG_HELLO || m->type == L2TP_MSG_ACK || m->type == L2TP_MSG_ZLB) {
		if (!t->cfg->keepalive_log)
			return;
	}
	log_tunnel_info(t, "%s %s %s %s (ccid %u, Ns %u, Nr %u)", tx ? "sent" : "received",
			l2tp_msg_type_name(m->type), tx ? "to" : "from", peer_str(t, peer, sizeof(peer)), m->ccid, m->ns,
			m->nr);
}

static const struct fsm_ops tunnel_fsm_ops = {
	.send = fsm_send_cb,
	.random = fsm_random_cb,
	.alloc_session_id = fsm_alloc_sid_cb,
	.trace = fsm_trace_cb,
};

/*
 * Act on what the last state machine call did (ctrl.h, effects), in
 * order; called after every call of t's machine, outside it.  A data
 * path that cannot start is reported back to the machine, whose effects
 * then follow in the same loop.
 */
static void tunnel_effects(struct tunnel *t)
{
	struct fsm_effect e;
	struct fsm_session *s;

	while (fsm_tunnel_take_effect(&t->fsm, &e)) {
		switch (e.kind) {
		case FSM_FX_SESSION_UP:
			s = fsm_session_find(&t->fsm, e.session.local_sid);
			if (s && tunnel_session_up(t, s) < 0)
				(void)fsm_session_start_failed(&t->fsm, s->local_sid, now_ms());
			break;
		case FSM_FX_SESSION_DOWN:
			tunnel_session_down(t, &e.session);
			break;
		case FSM_FX_EVENT:
			tunnel_event(t, e.has_session ? &e.session : NULL, &e.ev);
			break;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* timers */

static void tunnel_arm(struct tunnel *t)
{
	uint64_t d = fsm_tunnel_deadline(&t->fsm), now = now_ms();
	struct timeval tv;

	if (d == FSM_NO_DEADLINE) {
		evtimer_del(t->timer);
		return;
	}
	d = d > now ? d - now : 0;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	evtimer_add(t->timer, &tv);
}

static void tunnel_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;

	(void)fd;
	(void)what;
	fsm_tunnel_tick(&t->fsm, now_ms());
	tunnel_effects(t);
	tunnel_arm(t);
}

/* `l2tp tunnel disconnect time N`: close after N s without data either way. */
static void idle_arm(struct tunnel *t)
{
	struct timeval tv = { 1, 0 };

	if (t->cfg->disconnect_time && t->idle)
		evtimer_add(t->idle, &tv);
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	struct dp_counters c;
	uint64_t total, now = now_ms();
	char why[96];

	(void)fd;
	(void)what;
	if (t->fsm.state != FSM_T_ESTABLISHED || !t->fsm.n_sessions) {
		t->idle_since_ms = now;
		idle_arm(t);
		return;
	}
	total = 0;
	for (size_t i = 0; i < t->fsm.n_sessions; i++) {
		if (!t->fsm.sessions[i].user)
			continue;
		dp_session_counters(t->fsm.sessions[i].user, &c);
		total += c.rx_packets + c.tx_packets;
	}
	if (total != t->idle_packets) {
		t->idle_packets = total;
		t->idle_since_ms = now;
	} else if (now - t->idle_since_ms >= t->cfg->disconnect_time * 1000ull) {
		snprintf(why, sizeof(why), "no data for %u s (l2tp tunnel disconnect time)", t->cfg->disconnect_time);
		fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_CLEAR, why, now);
		tunnel_effects(t);
		tunnel_arm(t);
		t->idle_since_ms = now;
	}
	idle_arm(t);
}

static uint32_t alloc_ccid(struct daemon *d)
{
	uint32_t id;
	bool used;

	do {
		fsm_random_cb(NULL, &id, sizeof(id));
		used = false;
		for (size_t i = 0; i < d->n_tunnels; i++)
			if (d->tunnels[i]->fsm.local_ccid == id && !tunnel_is_idle(d->tunnels[i]))
				used = true;
	} while (id == 0 || used);
	return id;
}

static void connect_now(struct tunnel *t)
{
	char peer[64];

	if (t->d->stopping || !tunnel_is_idle(t) || t->admin_down || t->removing || !ipsec_tunnel_ready(t))
		return;
	t->peer = t->cfg->remote;
	if (t->cfg->ipsec.on) /* the SA's peer, never anything else */
		(void)ipsec_tunnel_peer(t, &t->peer);
	t->peer_known = true;
	initial_local(t->cfg, &t->local);
	fsm_tunnel_release(&t->fsm);
	tunnel_effects(t);
	fsm_tunnel_init(&t->fsm, &t->fconf, alloc_ccid(t->d), &tunnel_fsm_ops, t);
	log_tunnel_info(t, "connecting to %s", peer_str(t, peer, sizeof(peer)));
	(void)fsm_tunnel_open(&t->fsm, now_ms());
	tunnel_effects(t);
	tunnel_arm(t);
}

static bool has_beside(const struct tunnel *t)
{
	for (size_t i = 0; i < t->d->n_tunnels; i++)
		if (t->d->tunnels[i]->owner == t)
			return true;
	return false;
}

/*
 * A responder's own connection is gone or closing, without sessions,
 * while an extra connection of it (admission.h) is up, e.g. after a
 * restarted peer's new connection took its sessions over: that connection
 * carries on as the tunnel's own, so the status keeps showing the tunnel
 * up where it always was, and the closing one finishes as the extra one.
 * After the current event (later_cb): the state machines change
 * places, which the code that handled the event may not expect (e.g. the
 * roaming check after fsm_tunnel_input reads t->fsm).
 */
static void promote(struct tunnel *t)
{
	struct tunnel *b = NULL;
	struct fsm_tunnel f;
	struct sockaddr_storage ss;
	bool known;
	char peer[64];

	if (t->fsm.state == FSM_T_ESTABLISHED || t->fsm.n_sessions || t->removing || t->admin_down ||
	    t->d->stopping)
		return;
	for (size_t i = 0; i < t->d->n_tunnels; i++) {
		struct tunnel *x = t->d->tunnels[i];

		if (x->owner != t || x->removing || x->fsm.state != FSM_T_ESTABLISHED)
			continue;
		/* the one with most sessions; of those, the newest */
		if (!b || x->fsm.n_sessions > b->fsm.n_sessions ||
		    (x->fsm.n_sessions == b->fsm.n_sessions && x->fsm.established_ms > b->fsm.established_ms))
			b = x;
	}
	if (!b)
		return;
	f = t->fsm;
	t->fsm = b->fsm;
	b->fsm = f;
	t->fsm.ctx = t;
	b->fsm.ctx = b;
	ss = t->peer, t->peer = b->peer, b->peer = ss;
	ss = t->local, t->local = b->local, b->local = ss;
	known = t->peer_known, t->peer_known = b->peer_known, b->peer_known = known;
	t->last_tunnel_up_ms = b->last_tunnel_up_ms;
	t->last_up_peer = b->last_up_peer;
	t->established_total++;
	/* (b->fsm is now the tunnel's old connection) */
	log_tunnel_notice(t, "the connection of tunnel %s (peer %s) carries on as the tunnel's own: the old one is %s%s%s%s",
			  b->label, peer_str(t, peer, sizeof(peer)), b->fsm.state == FSM_T_IDLE ? "down" : "closing",
			  b->fsm.reason[0] ? " (" : "", b->fsm.reason, b->fsm.reason[0] ? ")" : "");
	hub_unpark(t); /* its ports are in use again */
	tunnel_arm(t);
	if (tunnel_is_idle(b)) {
		evtimer_del(b->timer);
		b->removing = true;
		schedule_now(b);
	} else {
		tunnel_arm(b); /* closing: freed once idle */
	}
}

/*
 * Work that waits for the end of the current event (schedule_now), because
 * the code that handled it (daemon.c's dispatch of a datagram, the roaming
 * check after fsm_tunnel_input, a reload's walk over the tunnels) may
 * still hold the tunnel or read its state machine: freeing a removed
 * tunnel, promote(), restarting a changed one.  (Not to leave a state
 * machine call: effects are taken after it, tunnel_effects.)
 */
static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;

	(void)fd;
	(void)what;
	if (t->removing) {
		struct tunnel *o = t->owner;

		if (!tunnel_is_idle(t) || has_beside(t))
			return; /* its extra connections use its ports: they go first */
		daemon_tunnel_reap(t->d, t);
		if (o && o->removing)
			schedule_now(o);
		return;
	}
	if (!t->fconf.initiator) {
		promote(t);
		return;
	}
	connect_now(t);
}

/* The back-off is over: call the peer again. */
static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;

	(void)fd;
	(void)what;
	connect_now(t);
}

static void schedule_now(struct tunnel *t)
{
	struct timeval tv = { 0, 0 };

	evtimer_del(t->reconnect); /* a back-off still pending is superseded */
	evtimer_add(t->later, &tv);
}

static void schedule_reconnect(struct tunnel *t)
{
	struct timeval tv;
	unsigned jitter;

	if (t->removing) {
		schedule_now(t);
		return;
	}
	if (t->restart_pending) {
		t->restart_pending = false;
		t->backoff_ms = 0;
		if (t->cfg->is_static) { /* a connection made static by a reload */
			static_start(t);
			return;
		}
		if (t->fconf.initiator && !t->admin_down && !t->d->stopping)
			schedule_now(t);
		return;
	}
	if (!t->fconf.initiator || t->d->stopping || t->admin_down)
		return;
	if (!t->cfg->always_on && t->fsm.stats.established_count)
		return;
	t->backoff_ms = t->backoff_ms ? t->backoff_ms * 2 : RECONNECT_MIN_MS;
	if (t->backoff_ms > RECONNECT_MAX_MS)
		t->backoff_ms = RECONNECT_MAX_MS;
	fsm_random_cb(NULL, &jitter, sizeof(jitter));
	jitter %= t->backoff_ms / 4 + 1;
	tv.tv_sec = (t->backoff_ms + jitter) / 1000;
	tv.tv_usec = ((t->backoff_ms + jitter) % 1000) * 1000;
	log_tunnel_info(t, "reconnecting in %u ms", t->backoff_ms + jitter);
	evtimer_add(t->reconnect, &tv);
}

/* ---------------------------------------------------------------------- */
/* life cycle */

static void fill_fsm_conf(struct tunnel *t)
{
	const struct cfg_tunnel *c = t->cfg;
	struct fsm_tunnel_conf *f = &t->fconf;

	memset(f, 0, sizeof(*f));
	f->id = c->id;
	/* the L2TP initiator is the side with `tunnel endpoint address|name`,
	 * whoever initiates IKE (main mode: both sides may) */
	f->initiator = (c->has_endpoint || (c->ipsec.on && c->ipsec.endpoint_name[0])) && !c->is_static;
	snprintf(f->host_name, sizeof(f->host_name), "%s", c->hostname[0] ? c->hostname : t->d->hostname);
	snprintf(f->vendor_name, sizeof(f->vendor_name), "%s", L2TPV3D_VENDOR_NAME);
	f->router_id = c->local_router_id;
	f->check_peer_router_id = c->has_remote_router_id;
	f->peer_router_id = c->remote_router_id;
	if (c->auth) {
		f->auth = c->auth_style == CFG_AUTH_CHALLENGE ? FSM_AUTH_CHALLENGE : FSM_AUTH_DIGEST;
		f->digest_type = c->auth_style == CFG_AUTH_DIGEST_SHA1 ? L2TP_DIGEST_HMAC_SHA1 : L2TP_DIGEST_HMAC_MD5;
		f->secret_len = strlen(c->secret);
		memcpy(f->secret, c->secret, f->secret_len);
	}
	if (c->has_remote_end_id) {
		f->end_id_len = strlen(c->remote_end_id);
		memcpy(f->end_id, c->remote_end_id, f->end_id_len);
	}
	for (size_t i = 0; i < c->n_pws && i < FSM_MAX_PW - 1; i++) {
		f->pws[i].end_id_len = strlen(c->pws[i].end_id);
		memcpy(f->pws[i].end_id, c->pws[i].end_id, f->pws[i].end_id_len);
		f->n_pws = i + 1;
	}
	if (c->keepalive) {
		f->hello_interval = c->keepalive_interval;
		f->hello_count = c->keepalive_count;
		f->hello_spread = true; /* tunnels set up together keep their HELLOs apart */
	}
	f->idle_timeout = c->disconnect_time;
	f->pw_type = c->dp.pw_type == CFG_PW_ETHERNET_VLAN ? L2TP_PW_TYPE_ETH_VLAN : L2TP_PW_TYPE_ETH;
	f->cookie_len = c->dp.cookie_len;
	f->cookie_fixed = c->dp.has_cookie_value;
	memcpy(f->cookie, c->dp.cookie, sizeof(f->cookie));
	f->l2ss = c->dp.l2ss;
	f->data_seq = c->dp.data_seq;
}

/* A TAP port up and in its bridge ("" = none); the fd, or negative errno (logged). */
static int port_open(struct tunnel *t, const char *ifname, const char *bridge, bool *created)
{
	int fd, r;
	struct rlimit rl;

	if (daemon_port_retiring(t->d, ifname))
		daemon_ports_reap(t->d); /* a port of that name is still being deleted */
	fd = tap_open(ifname, created);

	if ((fd == -EMFILE || fd == -ENFILE) && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		log_tunnel_warnx(t, "cannot open TAP port %s: out of file descriptors (open files limit %llu, "
				 "one per TAP port: raise it, e.g. LimitNOFILE= under systemd)",
				 ifname, (unsigned long long)rl.rlim_cur);
		return fd;
	}
	if (fd < 0) {
		errno = -fd;
		log_tunnel_warn(t, "cannot open TAP port %s", ifname);
		return fd;
	}
	if (bridge[0] && (r = nl_bridge_add_port(t->d->nl, bridge, ifname)) < 0) {
		errno = -r;
		if (r == -EXFULL)
			log_tunnel_warnx(t, "cannot add %s to bridge %s: the bridge is full (a Linux bridge has "
					 "at most %d ports: spread the peers over several hub tunnels and bridges)",
					 ifname, bridge, CFG_BRIDGE_PORTS_MAX);
		else
			log_tunnel_warn(t, "cannot add %s to bridge %s", ifname, bridge);
		tap_close(fd);
		return r;
	}
	if ((r = nl_link_up(t->d->nl, ifname)) < 0) {
		errno = -r;
		log_tunnel_warn(t, "cannot set %s up", ifname);
		tap_close(fd);
		return r;
	}
	return fd;
}

/* The pseudowires' ports: data path, TAP (deleted), array. */
static void ports_free(struct tunnel *t)
{
	for (size_t i = 0; i < t->n_pws; i++) {
		if (t->pws[i].dps)
			dp_session_del(t->d->dp, t->pws[i].dps);
		daemon_port_retire(t->d, t->pws[i].tap_fd, t->pws[i].ifname, t->pws[i].tap_created);
	}
	free(t->pws);
	t->pws = NULL;
	t->n_pws = 0;
}

/* A hub's instance whose peer left: the instance and its ports go (in one
 * batch with the others whose hold ends now, reap.c). */
static void hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;

	(void)fd;
	(void)what;
	if (!t->parked || !tunnel_is_idle(t) || t->removing || t->d->stopping)
		return;
	if (has_beside(t)) {
		/* an extra connection of its is still there (one that closed is
		 * freed at the end of its event; a live one uses its ports): it
		 * goes first, look again in a second.  Freeing the instance
		 * under it would leave it an owner that is gone (l2tp hub hold
		 * 0 did, with a restarted peer's old connection beside it). */
		struct timeval tv = { 1, 0 };

		evtimer_add(t->hold, &tv);
		return;
	}
	daemon_tunnel_reap(t->d, t);
}

/* Put a port back in its bridge ("" = none) and up. */
static void port_join(struct tunnel *t, const char *ifname, const char *bridge)
{
	int r = bridge[0] ? nl_bridge_add_port(t->d->nl, bridge, ifname) : nl_link_up(t->d->nl, ifname);

	if (r < 0) {
		errno = -r;
		log_tunnel_warn(t, "cannot put %s back%s%s", ifname, bridge[0] ? " in bridge " : " up",
			 bridge);
	}
}

static void port_release(struct tunnel *t, const char *ifname)
{
	int r = nl_port_release(t->d->nl, ifname);

	if (r < 0 && r != -ENODEV) {
		errno = -r;
		log_tunnel_warn(t, "cannot take %s out of its bridge", ifname);
	}
}

/*
 * A hub's instance whose connection closed (StopCCN, keepalive, a set-up
 * that never finished): its ports leave the bridge at once and go down, so
 * the bridge no longer floods to them; the instance is kept `l2tp hub
 * hold` seconds for its Router ID to come back to (hub_unpark), then it
 * and its ports are deleted.  Not at shutdown (all go anyway) nor for a
 * removed hub (reaped at once).
 */
static void hub_park(struct tunnel *t)
{
	struct timeval tv = { (time_t)t->cfg->hub_hold, 0 };

	if (!t->peer_index || !t->hold || t->d->stopping || t->removing)
		return;
	/* its ports still carry a session of an extra connection (a restarted
	 * peer's new one took it over): not gone */
	for (size_t i = 0; i < t->d->n_tunnels; i++) {
		const struct tunnel *x = t->d->tunnels[i];

		if (x->owner == t && !x->removing && !tunnel_is_idle(x))
			return;
	}
	if (!t->parked) {
		port_release(t, t->ifname);
		for (size_t i = 0; i < t->n_pws; i++)
			port_release(t, t->pws[i].ifname);
		t->parked = true;
		log_tunnel_info(t, "peer left: %s out of the bridge and down, deleted in %u s unless router id %s comes back",
				t->ifname, t->cfg->hub_hold, router_id_str(t->hub_router_id).s);
	}
	evtimer_add(t->hold, &tv);
}

/* A parked instance taken again (its peer is back, or a new one on a full hub). */
static void hub_unpark(struct tunnel *t)
{
	if (!t->parked)
		return;
	evtimer_del(t->hold);
	t->parked = false;
	port_join(t, t->ifname, t->cfg->bridge);
	for (size_t i = 0; i < t->n_pws && i < t->cfg->n_pws; i++)
		port_join(t, t->pws[i].ifname, t->cfg->pws[i].bridge);
}

/* `l2tp pseudowire Q`: a TAP port for each, tunnelN-Q (a hub's peer: tunnelN.P-Q). */
static int ports_create(struct tunnel *t)
{
	const struct cfg_tunnel *ct = t->cfg;

	if (!ct->n_pws)
		return 0;
	t->pws = calloc(ct->n_pws, sizeof(*t->pws));
	if (!t->pws)
		return -ENOMEM;
	for (size_t i = 0; i < ct->n_pws; i++) {
		struct tunnel_port *p = &t->pws[i];
		int fd;

		t->n_pws = i + 1;
		p->num = ct->pws[i].num;
		p->tap_fd = -1;
		if (t->peer_index) {
			char name[IFNAMSIZ + 16];

			if ((size_t)snprintf(name, sizeof(name), "%s-%u", t->ifname, p->num) >= sizeof(p->ifname)) {
				log_tunnel_warnx(t, "port name %s is too long (cfg_verify lets none through)",
						 name);
				return -ENAMETOOLONG;
			}
			memcpy(p->ifname, name, sizeof(p->ifname));
		} else {
			snprintf(p->ifname, sizeof(p->ifname), "%s", ct->pws[i].ifname);
		}
		fd = port_open(t, p->ifname, ct->pws[i].bridge, &p->tap_created);
		if (fd < 0)
			return fd;
		p->tap_fd = fd;
	}
	return 0;
}

static int create(struct daemon *d, const struct cfg_tunnel *ct, struct tunnel *hub, unsigned index,
		  struct tunnel **ret)
{
	struct tunnel *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->d = d;
	t->cfg = ct;
	t->hub = hub;
	t->peer_index = index;
	t->tap_fd = -1;
	t->probe_fd = -1;
	if (index)
		snprintf(t->label, sizeof(t->label), "%u.%u", ct->id, index);
	else
		snprintf(t->label, sizeof(t->label), "%u", ct->id);
	/* "tunnel4096.9999": 10 + 1 + 4 characters and the NUL (index <= CFG_HUB_MAX) */
	_Static_assert(CFG_HUB_MAX <= 9999 && 10 + 1 + 4 < IFNAMSIZ, "a hub's TAP name must fit IFNAMSIZ");
	if (index)
		snprintf(t->ifname, sizeof(t->ifname), "%.10s.%u", ct->ifname, index % (CFG_HUB_MAX + 1u));
	else
		snprintf(t->ifname, sizeof(t->ifname), "%s", ct->ifname);
	fill_fsm_conf(t);
	fsm_tunnel_init(&t->fsm, &t->fconf, 0, &tunnel_fsm_ops, t);
	t->timer = evtimer_new(d->base, tunnel_timer_cb, t);
	t->reconnect = evtimer_new(d->base, reconnect_cb, t);
	t->later = evtimer_new(d->base, later_cb, t);
	t->idle = evtimer_new(d->base, idle_cb, t);
	if (index)
		t->hold = evtimer_new(d->base, hold_cb, t);
	if (!t->timer || !t->reconnect || !t->later || !t->idle || (index && !t->hold)) {
		r = -ENOMEM;
		goto out_free;
	}
	r = port_open(t, t->ifname, ct->bridge, &t->tap_created);
	if (r < 0)
		goto out_free;
	t->tap_fd = r;
	r = ports_create(t);
	if (r < 0)
		goto out_free;
	*ret = t;
	return 0;

out_free:
	tunnel_free(t);
	return r;
}

int tunnel_create(struct daemon *d, const struct cfg_tunnel *ct, struct tunnel **ret)
{
	return create(d, ct, NULL, 0, ret);
}

int tunnel_create_instance(struct tunnel *hub, unsigned index, struct tunnel **ret)
{
	struct tunnel *t;
	int r = create(hub->d, hub->cfg, hub, index, &t);

	if (r < 0)
		return r;
	t->idle_since_ms = now_ms();
	idle_arm(t);
	*ret = t;
	return 0;
}

int tunnel_create_beside(struct tunnel *owner, struct tunnel **ret)
{
	struct daemon *d = owner->d;
	struct tunnel *t = calloc(1, sizeof(*t));
	unsigned k = 2;

	if (!t)
		return -ENOMEM;
	/* the lowest connection number its owner's others do not have */
	for (bool used = true; used; k += used) {
		char l[24];

		used = false;
		snprintf(l, sizeof(l), "%.12s#%u", owner->label, k % 1000u);
		for (size_t i = 0; i < d->n_tunnels && !used; i++)
			used = d->tunnels[i]->owner == owner && !strcmp(d->tunnels[i]->label, l);
	}
	t->d = d;
	t->cfg = owner->cfg;
	t->owner = owner;
	t->tap_fd = -1;
	t->probe_fd = -1;
	snprintf(t->label, sizeof(t->label), "%.12s#%u", owner->label, k % 1000u);
	memcpy(t->ifname, owner->ifname, sizeof(t->ifname));
	t->fconf = owner->fconf;
	fsm_tunnel_init(&t->fsm, &t->fconf, 0, &tunnel_fsm_ops, t);
	t->timer = evtimer_new(d->base, tunnel_timer_cb, t);
	t->reconnect = evtimer_new(d->base, reconnect_cb, t);
	t->later = evtimer_new(d->base, later_cb, t);
	t->idle = evtimer_new(d->base, idle_cb, t);
	if (!t->timer || !t->reconnect || !t->later || !t->idle) {
		tunnel_free(t);
		return -ENOMEM;
	}
	t->idle_since_ms = now_ms();
	idle_arm(t);
	*ret = t;
	return 0;
}

void tunnel_note_abandoned(struct tunnel *t)
{
	char note[FSM_MISMATCH_MAX], peer[64];

	t->abandoned++;
	adm_abandon_note(t->abandoned, &t->fconf, note, sizeof(note));
	if (!note[0])
		return;
	snprintf(t->mismatch, sizeof(t->mismatch), "%s", note);
	/* once when it starts, then every tenth */
	if (t->abandoned == ADM_ABANDON_REPORT || t->abandoned % 10 == 0) {
		log_tunnel_warnx(t, "%s, peer %s", note, peer_str(t, peer, sizeof(peer)));
		control_event(t->d, &(struct ctl_event){ .event = "auth-mismatch", .tunnel = t->cfg->id,
							 .peer = t->peer_known ? peer : NULL, .reason = note });
	}
}

void tunnel_free(struct tunnel *t)
{
	if (!t)
		return;
	fsm_tunnel_release(&t->fsm);
	tunnel_effects(t);
	tunnel_probe_stop(t);
	if (t->dps)
		dp_session_del(t->d->dp, t->dps);
	if (t->timer)
		event_free(t->timer);
	if (t->reconnect)
		event_free(t->reconnect);
	if (t->later)
		event_free(t->later);
	if (t->idle)
		event_free(t->idle);
	if (t->hold)
		event_free(t->hold);
	daemon_port_retire(t->d, t->tap_fd, t->ifname, t->tap_created);
	ports_free(t);
	free(t->cfg_own);
	free(t);
}

/* `l2tp static session`: the data-path session straight away, no control
 * connection; the sublayer is the same both ways, as with `ip l2tp` */
static void static_stop(struct tunnel *t)
{
	if (!t->dps)
		return;
	tunnel_probe_stop(t);
	dp_session_del(t->d->dp, t->dps);
	t->dps = NULL;
	t->static_up_ms = 0;
	log_tunnel_info(t, "static session %u/%u removed", t->cfg->static_local_sid,
			t->cfg->static_remote_sid);
	control_event(t->d, &(struct ctl_event){ .event = "session-down", .tunnel = t->cfg->id,
						 .local_sid = t->cfg->static_local_sid,
						 .remote_sid = t->cfg->static_remote_sid, .reason = "static" });
}

static void static_start(struct tunnel *t)
{
	const struct cfg_tunnel *ct = t->cfg;
	struct dp_session_conf c;
	char peer[64];

	static_stop(t);
	if (t->d->stopping || t->admin_down || t->removing)
		return;
	t->peer = ct->remote;
	t->peer_known = true;
	initial_local(ct, &t->local);
	memset(&c, 0, sizeof(c));
	c.local_sid = ct->static_local_sid;
	c.remote_sid = ct->static_remote_sid;
	memcpy(c.rx_cookie, ct->static_rx_cookie, sizeof(c.rx_cookie));
	c.rx_cookie_len = ct->static_rx_cookie_len;
	memcpy(c.tx_cookie, ct->static_tx_cookie, sizeof(c.tx_cookie));
	c.tx_cookie_len = ct->static_tx_cookie_len;
	c.rx_l2ss = c.tx_l2ss = ct->dp.l2ss;
	c.rx_seq = c.tx_seq = ct->dp.data_seq; /* the configuration checked it has the sublayer */
	if (tunnel_dp_add(t, &c, "static session") < 0)
		return;
	t->static_up_ms = now_ms();
	log_tunnel_info(t, "static session %u/%u to %s (cookie %u/%u bytes, sublayer %s%s), no control connection", ct->static_local_sid, ct->static_remote_sid, peer_str(t, peer, sizeof(peer)),
			ct->static_rx_cookie_len, ct->static_tx_cookie_len, ct->dp.l2ss ? "default" : "none",
			ct->dp.data_seq ? ", sequenced" : "");
	control_event(t->d, &(struct ctl_event){ .event = "session-up", .tunnel = ct->id, .peer = peer,
						 .local_sid = ct->static_local_sid,
						 .remote_sid = ct->static_remote_sid, .reason = "static" });
	tunnel_probe_start(t);
}

void tunnel_start(struct tunnel *t)
{
	t->idle_since_ms = now_ms();
	idle_arm(t);
	if (t->cfg->is_static) {
		static_start(t);
		return;
	}
	if (!ipsec_tunnel_ready(t)) {
		log_info("tunnel %s: waiting for its IPsec SA", t->label);
		return;
	}
	if (t->fconf.initiator) {
		connect_now(t);
		return;
	}
	log_tunnel_info(t, "waiting for a peer to call (responder)");
}

bool tunnel_is_idle(const struct tunnel *t)
{
	return t->fsm.state == FSM_T_IDLE;
}

void tunnel_shutdown(struct tunnel *t)
{
	evtimer_del(t->reconnect);
	evtimer_del(t->later);
	evtimer_del(t->idle);
	if (!tunnel_is_idle(t)) {
		fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_SHUTDOWN, "shutting down", now_ms());
		tunnel_effects(t);
		tunnel_arm(t);
	}
}

void tunnel_input(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		  const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	if (!ipsec_tunnel_accepts(t, peer, "control message"))
		return;
	/* RFC 3931 §4.1.2.2: the responder may answer from another port (NAT
	 * too): follow where the SCCRP came from */
	if (t->fsm.state == FSM_T_WAIT_CTL_REPLY && m->type == L2TP_MSG_SCCRP) {
		if (!sockaddr_equal(&t->peer, peer)) {
			char from[64], to[64];

			peer_str(t, from, sizeof(from));
			sockaddr_format(peer, to, sizeof(to));
			log_tunnel_notice(t, "peer address changed from %s to %s (SCCRP)", from, to);
			control_event(t->d, &(struct ctl_event){ .event = "peer-changed", .tunnel = t->cfg->id,
								 .peer = to, .reason = from });
		}
		t->peer = *peer;
		if (t->local.ss_family == AF_UNSPEC)
			t->local = *local;
	}
	fsm_tunnel_input(&t->fsm, m, raw, len, now_ms());
	tunnel_effects(t);
	tunnel_arm(t);
}

bool tunnel_input_roaming(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
			  const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	struct sockaddr_storage old = t->peer;
	enum fsm_input in;
	char from[64], to[64];
	int r;

	/* only a digest proves the sender holds the secret; without one a
	 * forged source address could steal the tunnel; an IPsec tunnel's
	 * peer is its SA's, never the last packet's */
	if (t->cfg->ipsec.on) {
		/* not from the SA's peer and port: counted and logged there */
		(void)ipsec_tunnel_accepts(t, peer, "control message");
		return false;
	}
	if (t->fsm.state != FSM_T_ESTABLISHED || t->fsm.auth != FSM_AUTH_DIGEST || !m->n_digests)
		return false;
	peer_str(t, from, sizeof(from));
	/*
	 * What the state machine answers right away goes where the message
	 * came from.  That matters for a duplicate: when the NAT moved between
	 * the peer's message and our ACK, the ACK went to the dead old address
	 * and the peer retransmits from the new one; re-acknowledging it there
	 * lets the peer send its next (new) message, which moves the tunnel.
	 * A message that fails authentication gets no answer at all.
	 */
	t->peer = *peer;
	in = fsm_tunnel_input(&t->fsm, m, raw, len, now_ms());
	tunnel_effects(t);
	/* moved only by a new, in-window, verified message: a replayed one is
	 * a duplicate */
	if (tunnel_is_idle(t) || in != FSM_IN_TAKEN) {
		t->peer = old;
		tunnel_arm(t);
		return false;
	}
	sockaddr_format(peer, to, sizeof(to));
	log_tunnel_notice(t, "peer address changed from %s to %s (roaming)", from, to);
	control_event(t->d, &(struct ctl_event){ .event = "peer-changed", .tunnel = t->cfg->id, .peer = to,
						 .reason = from });
	t->peer = *peer;
	if (local->ss_family != AF_UNSPEC)
		t->local = *local;
	for (size_t i = 0; i < t->fsm.n_sessions; i++) {
		struct dp_session *dps = t->fsm.sessions[i].user;

		if (!dps)
			continue;
		r = dp_session_set_peer(t->d->dp, dps, &t->peer, &t->local);
		if (r < 0) {
			errno = -r;
			log_tunnel_warn(t, "cannot move the data path to %s", to);
		}
	}
	tunnel_arm(t);
	return true;
}

void tunnel_accept(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		   const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	char p[64];

	hub_unpark(t);
	if (!tunnel_is_idle(t)) {
		/* the same peer starting over (restart, new NAT mapping): the old
		 * connection is dead to it, so drop ours without a StopCCN */
		char old[64];

		peer_str(t, old, sizeof(old));
		if (t->fsm.state == FSM_T_WAIT_CTL_CONN) /* counted: tunnel_note_abandoned says why */
			log_tunnel_info(t, "new SCCRQ from %s takes the place of the connection with %s, which the "
					"peer abandoned after our SCCRP", (sockaddr_format(peer, p, sizeof(p)), p), old);
		else
			log_tunnel_notice(t, "new SCCRQ from %s replaces the connection with %s (%s)",
					  (sockaddr_format(peer, p, sizeof(p)), p), old, fsm_tunnel_state_name(t->fsm.state));
		if (t->peer_known && !sockaddr_equal(&t->peer, peer))
			control_event(t->d, &(struct ctl_event){ .event = "peer-changed", .tunnel = t->cfg->id,
								 .peer = p, .reason = old });
		fsm_tunnel_release(&t->fsm);
		tunnel_effects(t);
	}
	t->peer = *peer;
	t->local = *local;
	t->peer_known = true;
	fsm_tunnel_init(&t->fsm, &t->fconf, alloc_ccid(t->d), &tunnel_fsm_ops, t);
	log_tunnel_info(t, "SCCRQ from %s (host %s) accepted", peer_str(t, p, sizeof(p)),
			m->host_name);
	(void)fsm_tunnel_accept(&t->fsm, m, raw, len, now_ms());
	tunnel_effects(t);
	tunnel_arm(t);
}

/* ---------------------------------------------------------------------- */
/* reload and administration */

/* Reload: the pseudowires' ports as ct has them (t idle or closing: no session holds one). */
static void ports_rebuild(struct tunnel *t, const struct cfg_tunnel *ct)
{
	bool same = t->n_pws == ct->n_pws;
	int r;

	for (size_t i = 0; same && i < ct->n_pws; i++)
		same = !strcmp(t->pws[i].ifname, ct->pws[i].ifname) && t->pws[i].num == ct->pws[i].num;
	if (same) {
		for (size_t i = 0; i < ct->n_pws; i++)
			if (ct->pws[i].bridge[0] &&
			    (r = nl_bridge_add_port(t->d->nl, ct->pws[i].bridge, t->pws[i].ifname)) < 0) {
				errno = -r;
				log_tunnel_warn(t, "cannot add %s to bridge %s", t->pws[i].ifname,
						ct->pws[i].bridge);
			}
		return;
	}
	ports_free(t);
	if (ports_create(t) < 0)
		log_tunnel_warnx(t, "some pseudowires have no TAP port: their sessions will be refused");
}

void tunnel_reconfigure(struct tunnel *t, const struct cfg_tunnel *ct)
{
	bool new_bridge = strcmp(t->cfg->bridge, ct->bridge) != 0;
	int r;

	t->cfg = ct;
	fill_fsm_conf(t); /* the running connection keeps its own copy */
	if (new_bridge && ct->bridge[0]) {
		r = nl_bridge_add_port(t->d->nl, ct->bridge, t->ifname);
		if (r < 0) {
			errno = -r;
			log_tunnel_warn(t, "cannot add %s to bridge %s", t->ifname, ct->bridge);
		}
	}
	evtimer_del(t->reconnect);
	evtimer_del(t->later);
	t->backoff_ms = 0;
	t->idle_since_ms = now_ms();
	idle_arm(t);
	if (tunnel_is_idle(t)) {
		static_stop(t);
		ports_rebuild(t, ct);
		if (!t->admin_down)
			tunnel_start(t);
		return;
	}
	t->restart_pending = true;
	fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_CLEAR, "configuration changed", now_ms());
	tunnel_effects(t);
	ports_rebuild(t, ct); /* the close ended every session */
	tunnel_arm(t);
}

void tunnel_remove(struct tunnel *t)
{
	struct cfg_tunnel *own = malloc(sizeof(*own));

	/* t->cfg points into the configuration being replaced */
	if (own) {
		*own = *t->cfg;
		t->cfg_own = own;
		t->cfg = own;
	}
	t->removing = true;
	t->restart_pending = false;
	evtimer_del(t->idle);
	evtimer_del(t->reconnect);
	evtimer_del(t->later);
	static_stop(t);
	if (!tunnel_is_idle(t)) {
		fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_CLEAR, "removed from the configuration", now_ms());
		tunnel_effects(t);
		tunnel_arm(t);
	}
	/* a hub's instance never comes back (no find_removing for it): its
	 * ports go now, in one batch with the others' (reap.c), not one
	 * batch per round of StopCCN acknowledgements; the close ended its
	 * sessions, so no data path uses them */
	if (t->peer_index) {
		if (t->dps) {
			dp_session_del(t->d->dp, t->dps);
			t->dps = NULL;
		}
		daemon_port_retire(t->d, t->tap_fd, t->ifname, t->tap_created);
		t->tap_fd = -1;
		ports_free(t);
		for (size_t i = 0; i < t->fsm.n_sessions; i++)
			t->fsm.sessions[i].user = NULL;
	}
	if (tunnel_is_idle(t))
		schedule_now(t);
}

void tunnel_admin_down(struct tunnel *t)
{
	char peer[64];

	if (t->admin_down)
		return;
	t->admin_down = true;
	t->restart_pending = false;
	evtimer_del(t->reconnect);
	evtimer_del(t->later);
	log_tunnel_notice(t, "administratively down, peer %s", peer_str(t, peer, sizeof(peer)));
	control_event(t->d, &(struct ctl_event){ .event = "admin-down", .tunnel = t->cfg->id,
						 .peer = t->peer_known ? peer : NULL });
	if (t->cfg->is_static)
		static_stop(t);
	if (!tunnel_is_idle(t)) {
		fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_CLEAR, "administratively down", now_ms());
		tunnel_effects(t);
		tunnel_arm(t);
	}
	for (size_t i = 0; i < t->d->n_tunnels; i++) {
		struct tunnel *x = t->d->tunnels[i];

		if (x->owner == t && !tunnel_is_idle(x)) {
			fsm_tunnel_close(&x->fsm, L2TP_STOPCCN_CLEAR, "administratively down", now_ms());
			tunnel_effects(x);
			tunnel_arm(x);
		}
	}
	for (size_t i = 0; t->cfg->hub_max && !t->peer_index && i < t->d->n_tunnels; i++)
		if (t->d->tunnels[i]->hub == t)
			tunnel_admin_down(t->d->tunnels[i]);
}

void tunnel_ipsec_lost(struct tunnel *t)
{
	for (size_t i = 0; t->cfg->hub_max && !t->peer_index && i < t->d->n_tunnels; i++)
		if (t->d->tunnels[i]->hub == t)
			tunnel_ipsec_lost(t->d->tunnels[i]);
	if (tunnel_is_idle(t))
		return;
	/* no StopCCN could be sent (fsm_send_cb: the policy may be gone), so
	 * none is waited for: idle at once, and it calls again as soon as an
	 * SA is up */
	fsm_tunnel_drop(&t->fsm, L2TP_STOPCCN_CLEAR, "IPsec SA down");
	tunnel_effects(t);
	tunnel_arm(t);
}

void tunnel_admin_up(struct tunnel *t)
{
	if (!t->admin_down)
		return;
	t->admin_down = false;
	t->backoff_ms = 0;
	log_tunnel_notice(t, "administratively up");
	control_event(t->d, &(struct ctl_event){ .event = "admin-up", .tunnel = t->cfg->id });
	for (size_t i = 0; t->cfg->hub_max && !t->peer_index && i < t->d->n_tunnels; i++)
		if (t->d->tunnels[i]->hub == t)
			tunnel_admin_up(t->d->tunnels[i]);
	if (tunnel_is_idle(t) && !t->peer_index)
		tunnel_start(t);
}

static uint64_t minus(uint64_t a, uint64_t b)
{
	return a >= b ? a - b : a;
}

void tunnel_counters_shown(const struct tunnel *t, uint32_t sid, const struct dp_counters *raw,
			   struct dp_counters *ret)
{
	const struct dp_counters *clear;
	struct dp_counters c = *raw;

	t = port_owner(t); /* the clear values live with the ports */
	clear = t->clear_sid && t->clear_sid == sid ? &t->clear_dp : NULL;

	for (size_t i = 0; !clear && sid && i < t->n_pws; i++)
		if (t->pws[i].clear_sid == sid)
			clear = &t->pws[i].clear_dp;
	if (clear) {
#define CLEARED(name, json, metric, reason, help) c.name = minus(c.name, clear->name);
		DP_COUNTERS(CLEARED)
#undef CLEARED
	}
	*ret = c;
}

void tunnel_session_counters(const struct tunnel *t, const struct fsm_session *s, struct dp_counters *ret)
{
	struct dp_counters raw = { 0 };

	if (s->user)
		dp_session_counters(s->user, &raw);
	tunnel_counters_shown(t, s->local_sid, &raw, ret);
}

int64_t tunnel_static_window(const struct tunnel *t)
{
	const struct cfg_tunnel *ct = t->cfg;

	return ct->keepalive ? (int64_t)ct->keepalive_interval * ct->keepalive_count : 30;
}

bool tunnel_static_up(const struct tunnel *t, int64_t last_rx_ago)
{
	return (last_rx_ago >= 0 && last_rx_ago <= tunnel_static_window(t)) || tunnel_probe_up(t);
}

void tunnel_fsm_stats(const struct tunnel *t, struct fsm_tunnel_stats *ret)
{
	struct fsm_tunnel_stats s = t->fsm.stats;

	if (t->clear_ccid && t->clear_ccid == t->fsm.local_ccid) {
		s.rx_msgs = minus(s.rx_msgs, t->clear_fsm.rx_msgs);
		s.tx_msgs = minus(s.tx_msgs, t->clear_fsm.tx_msgs);
		s.retransmissions = minus(s.retransmissions, t->clear_fsm.retransmissions);
		s.rx_duplicates = minus(s.rx_duplicates, t->clear_fsm.rx_duplicates);
		s.rx_out_of_order = minus(s.rx_out_of_order, t->clear_fsm.rx_out_of_order);
		s.auth_failures = minus(s.auth_failures, t->clear_fsm.auth_failures);
		s.established_count = minus(s.established_count, t->clear_fsm.established_count);
	}
	*ret = s;
}

void tunnel_clear_counters(struct tunnel *t)
{
	memset(&t->clear_dp, 0, sizeof(t->clear_dp));
	t->clear_sid = 0;
	for (size_t i = 0; i < t->n_pws; i++) {
		memset(&t->pws[i].clear_dp, 0, sizeof(t->pws[i].clear_dp));
		t->pws[i].clear_sid = 0;
	}
	if (t->cfg->is_static && t->dps) {
		dp_session_counters(t->dps, &t->clear_dp);
		t->clear_sid = t->cfg->static_local_sid;
	}
	for (size_t i = 0; i < t->fsm.n_sessions; i++) {
		const struct fsm_session *s = &t->fsm.sessions[i];
		struct tunnel_port *p = pw_port(t, s->pw);

		if (!s->user)
			continue;
		dp_session_counters(s->user, p ? &p->clear_dp : &port_owner(t)->clear_dp);
		*(p ? &p->clear_sid : &port_owner(t)->clear_sid) = s->local_sid;
	}
	t->clear_fsm = t->fsm.stats;
	t->clear_ccid = t->fsm.local_ccid;
	t->probe.sent = t->probe.answered = 0; /* `l2tp static probe`: only ever shown cleared */
}
