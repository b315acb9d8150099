/* SPDX-License-Identifier: MIT */
/*
 * One configured tunnel: the glue between its state machine (fsm/ctrl.c),
 * its TAP port and data-path session, its timers, and the log.
 *
 * Timers: `timer` fires at the state machine's deadline (re-armed after
 * every call into it); `reconnect` restarts an always-on initiator after
 * the connection went down, with exponential back-off from 1 s to 16 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/ipsec.h"
#include "daemon/log.h"
#include "daemon/nl.h"

#define RECONNECT_MIN_MS 1000
#define RECONNECT_MAX_MS 16000

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		if (s4->sin_port == 0)
			snprintf(buf, len, "%s (IP)", a);
		else
			snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		if (s6->sin6_port == 0)
			snprintf(buf, len, "%s (IP)", a);
		else
			snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "-");
	}
}

unsigned sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

enum dp_encap sockaddr_encap(const struct sockaddr_storage *ss)
{
	bool inet = ss->ss_family == AF_INET || ss->ss_family == AF_INET6;

	return inet && sockaddr_port(ss) == 0 ? DP_ENCAP_IP : DP_ENCAP_UDP;
}

bool sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

static const char *peer_str(const struct tunnel *t, char *buf, size_t len)
{
	if (t->peer_known)
		sockaddr_format(&t->peer, buf, len);
	else
		snprintf(buf, len, "(peer unknown)");
	return buf;
}

/* ---------------------------------------------------------------------- */
/* state machine callbacks */

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
		log_warn("tunnel %s: cannot start the data path of %s %u", t->label, what, c->local_sid);
		*dps = NULL;
	}
	return r;
}

static int tunnel_dp_add(struct tunnel *t, struct dp_session_conf *c, const char *what)
{
	return tunnel_dp_add_port(t, c, t->tap_fd, &t->dps, what);
}

/* The port of pseudowire pw (0-based, as fsm_session.pw): NULL for the
 * tunnel's own (pseudowire 1) or one it does not have. */
static struct tunnel_port *pw_port(const struct tunnel *t, unsigned pw)
{
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

static int fsm_session_up_cb(void *ctx, struct fsm_tunnel *ft, struct fsm_session *s)
{
	struct tunnel *t = ctx;
	struct tunnel_port *p = pw_port(t, s->pw);
	struct dp_session **dps = p ? &p->dps : &t->dps;
	struct dp_session_conf c;
	int r;

	(void)ft;
	if (s->pw > t->n_pws || (p ? p->tap_fd : t->tap_fd) < 0) {
		log_warnx("tunnel %s: no TAP port for pseudowire %u", t->label, s->pw + 1);
		return -ENODEV;
	}
	if (*dps) {
		log_warnx("tunnel %s: pseudowire %u has a session already", t->label, s->pw + 1);
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
	r = tunnel_dp_add_port(t, &c, p ? p->tap_fd : t->tap_fd, dps, "session");
	if (r < 0)
		return r;
	s->user = *dps;
	return 0;
}

static void fsm_session_down_cb(void *ctx, struct fsm_tunnel *ft, struct fsm_session *s)
{
	struct tunnel *t = ctx;
	struct tunnel_port *p = pw_port(t, s->pw);
	struct dp_session **dps = p ? &p->dps : &t->dps;

	(void)ft;
	if (s->user && s->user == *dps) {
		dp_session_del(t->d->dp, *dps);
		*dps = NULL;
	}
	s->user = NULL;
}

static void schedule_reconnect(struct tunnel *t);
static void static_start(struct tunnel *t);

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

static void fsm_event_cb(void *ctx, struct fsm_tunnel *ft, struct fsm_session *s, const struct fsm_event *ev)
{
	struct tunnel *t = ctx;
	struct ctl_event ce = { .tunnel = t->cfg->id, .reason = ev->reason };
	char peer[64], pwname[48] = "";
	const char *id = t->label;

	peer_str(t, peer, sizeof(peer));
	ce.peer = t->peer_known ? peer : NULL;
	switch (ev->kind) {
	case FSM_EV_TUNNEL_STATE:
		if (ev->to == FSM_T_ESTABLISHED) {
			log_notice("tunnel %s: up with %s (host %s): %s", id, peer,
				   ft->peer_host_name[0] ? ft->peer_host_name : "-", ev->reason);
			t->backoff_ms = 0;
			t->last_tunnel_up_ms = now_ms();
			if (t->established_total && !sockaddr_equal(&t->last_up_peer, &t->peer)) {
				char was[64];

				sockaddr_format(&t->last_up_peer, was, sizeof(was));
				log_notice("tunnel %s: peer address changed from %s to %s", id, was, peer);
				control_event(t->d, &(struct ctl_event){ .event = "peer-changed", .tunnel = t->cfg->id,
									 .peer = peer, .reason = was });
			}
			t->established_total++;
			t->last_up_peer = t->peer;
		} else if (ev->to == FSM_T_IDLE && ev->from == FSM_T_ESTABLISHED) {
			log_warnx("tunnel %s: down, peer %s: %s", id, peer, ev->reason);
		} else if (ev->to == FSM_T_IDLE && ev->from == FSM_T_WAIT_CTL_REPLY) {
			log_warnx("tunnel %s: connection to %s failed: %s", id, peer, ev->reason);
		} else if (ev->to == FSM_T_IDLE || ev->to == FSM_T_CLOSING) {
			log_notice("tunnel %s: %s -> %s, peer %s: %s", id, fsm_tunnel_state_name(ev->from),
				   fsm_tunnel_state_name(ev->to), peer, ev->reason);
		} else {
			log_info("tunnel %s: %s -> %s, peer %s: %s", id, fsm_tunnel_state_name(ev->from),
				 fsm_tunnel_state_name(ev->to), peer, ev->reason);
		}
		ce.event = tunnel_event_name(ev);
		ce.from = fsm_tunnel_state_name(ev->from);
		ce.to = fsm_tunnel_state_name(ev->to);
		control_event(t->d, &ce);
		if (ev->to == FSM_T_IDLE && ft->mismatch[0])
			snprintf(t->mismatch, sizeof(t->mismatch), "%s", ft->mismatch);
		if (ev->to == FSM_T_IDLE) {
			daemon_conn_closed(t->d, t);
			t->down_since_ms = now_ms();
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
			log_notice("tunnel %s: session %u/%u%s up, peer %s", id, s->local_sid, s->remote_sid, pwname,
				   peer);
		else if (ev->to == FSM_S_IDLE && ev->from == FSM_S_ESTABLISHED)
			log_warnx("tunnel %s: session %u/%u%s down, peer %s: %s", id, s->local_sid, s->remote_sid,
				  pwname, peer, ev->reason);
		else
			log_info("tunnel %s: session %u %s -> %s, peer %s: %s", id, s->local_sid,
				 fsm_session_state_name(ev->from), fsm_session_state_name(ev->to), peer, ev->reason);
		ce.event = session_event_name(ev);
		ce.from = fsm_session_state_name(ev->from);
		ce.to = fsm_session_state_name(ev->to);
		ce.local_sid = s ? s->local_sid : 0;
		ce.remote_sid = s ? s->remote_sid : 0;
		control_event(t->d, &ce);
		break;
	case FSM_EV_MISMATCH:
		log_notice("tunnel %s: settings differ from the peer's: %s, peer %s", id, ev->reason, peer);
		break;
	case FSM_EV_AUTH_FAILED:
		if (ft->mismatch[0])
			snprintf(t->mismatch, sizeof(t->mismatch), "%s", ft->mismatch);
		log_warnx("tunnel %s: %s, peer %s", id, ev->reason, peer);
		ce.event = "auth-failed";
		control_event(t->d, &ce);
		break;
	case FSM_EV_SESSION_REFUSED:
		if (ft->mismatch[0])
			snprintf(t->mismatch, sizeof(t->mismatch), "%s", ft->mismatch);
		log_warnx("tunnel %s: %s, peer %s", id, ev->reason, peer);
		ce.event = "session-refused";
		control_event(t->d, &ce);
		break;
	case FSM_EV_KEEPALIVE_SENT:
		if (t->cfg->keepalive_log)
			log_info("tunnel %s: keepalive: %s, peer %s", id, ev->reason, peer);
		else
			log_debug("tunnel %s: keepalive: %s, peer %s", id, ev->reason, peer);
		break;
	case FSM_EV_KEEPALIVE_ACKED:
		if (t->cfg->keepalive_log)
			log_info("tunnel %s: keepalive: %s after %llu ms, peer %s", id, ev->reason,
				 (unsigned long long)ft->stats.last_hello_rtt_ms, peer);
		else
			log_debug("tunnel %s: keepalive: %s after %llu ms, peer %s", id, ev->reason,
				  (unsigned long long)ft->stats.last_hello_rtt_ms, peer);
		break;
	case FSM_EV_PROTOCOL:
		log_debug("tunnel %s: %s, peer %s", id, ev->reason, peer);
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
	log_info("tunnel %s: %s %s %s %s (ccid %u, Ns %u, Nr %u)", t->label, tx ? "sent" : "received",
		 l2tp_msg_type_name(m->type), tx ? "to" : "from", peer_str(t, peer, sizeof(peer)), m->ccid, m->ns,
		 m->nr);
}

static const struct fsm_ops tunnel_fsm_ops = {
	.send = fsm_send_cb,
	.random = fsm_random_cb,
	.alloc_session_id = fsm_alloc_sid_cb,
	.session_up = fsm_session_up_cb,
	.session_down = fsm_session_down_cb,
	.event = fsm_event_cb,
	.trace = fsm_trace_cb,
};

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
	fsm_tunnel_init(&t->fsm, &t->fconf, alloc_ccid(t->d), &tunnel_fsm_ops, t);
	log_info("tunnel %s: connecting to %s", t->label, peer_str(t, peer, sizeof(peer)));
	(void)fsm_tunnel_open(&t->fsm, now_ms());
	tunnel_arm(t);
}

/* Also runs, with no delay, the work that must not happen inside a state
 * machine callback: freeing a removed tunnel, restarting a changed one. */
static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;

	(void)fd;
	(void)what;
	if (t->removing) {
		if (tunnel_is_idle(t))
			daemon_tunnel_reap(t->d, t);
		return;
	}
	connect_now(t);
}

static void schedule_now(struct tunnel *t)
{
	struct timeval tv = { 0, 0 };

	evtimer_add(t->reconnect, &tv);
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
	log_info("tunnel %s: reconnecting in %u ms", t->label, t->backoff_ms + jitter);
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
	f->initiator = (c->has_endpoint || (c->ipsec.on && c->ipsec.initiator)) && !c->is_static;
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
	int fd = tap_open(ifname, created), r;
	struct rlimit rl;

	if ((fd == -EMFILE || fd == -ENFILE) && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		log_warnx("tunnel %s: cannot open TAP port %s: out of file descriptors (open files limit %llu, "
			  "one per TAP port: raise it, e.g. LimitNOFILE= under systemd)",
			  t->label, ifname, (unsigned long long)rl.rlim_cur);
		return fd;
	}
	if (fd < 0) {
		errno = -fd;
		log_warn("tunnel %s: cannot open TAP port %s", t->label, ifname);
		return fd;
	}
	if (bridge[0] && (r = nl_bridge_add_port(t->d->nl, bridge, ifname)) < 0) {
		errno = -r;
		if (r == -EXFULL)
			log_warnx("tunnel %s: cannot add %s to bridge %s: the bridge is full (a Linux bridge has "
				  "at most %d ports: spread the peers over several hub tunnels and bridges)",
				  t->label, ifname, bridge, CFG_BRIDGE_PORTS_MAX);
		else
			log_warn("tunnel %s: cannot add %s to bridge %s", t->label, ifname, bridge);
		tap_close(fd);
		return r;
	}
	if ((r = nl_link_up(t->d->nl, ifname)) < 0) {
		errno = -r;
		log_warn("tunnel %s: cannot set %s up", t->label, ifname);
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
		if (t->pws[i].tap_fd >= 0)
			tap_close(t->pws[i].tap_fd);
	}
	free(t->pws);
	t->pws = NULL;
	t->n_pws = 0;
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
				log_warnx("tunnel %s: port name %s is too long (cfg_verify lets none through)",
					  t->label, name);
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
	t->idle = evtimer_new(d->base, idle_cb, t);
	if (!t->timer || !t->reconnect || !t->idle) {
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

void tunnel_free(struct tunnel *t)
{
	if (!t)
		return;
	fsm_tunnel_release(&t->fsm);
	tunnel_probe_stop(t);
	if (t->dps)
		dp_session_del(t->d->dp, t->dps);
	if (t->timer)
		event_free(t->timer);
	if (t->reconnect)
		event_free(t->reconnect);
	if (t->idle)
		event_free(t->idle);
	if (t->tap_fd >= 0)
		tap_close(t->tap_fd);
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
	log_info("tunnel %s: static session %u/%u removed", t->label, t->cfg->static_local_sid,
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
	log_info("tunnel %s: static session %u/%u to %s (cookie %u/%u bytes, sublayer %s%s), no control connection", t->label, ct->static_local_sid, ct->static_remote_sid, peer_str(t, peer, sizeof(peer)),
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
	log_info("tunnel %s: waiting for a peer to call (responder)", t->label);
}

bool tunnel_is_idle(const struct tunnel *t)
{
	return t->fsm.state == FSM_T_IDLE;
}

void tunnel_shutdown(struct tunnel *t)
{
	evtimer_del(t->reconnect);
	evtimer_del(t->idle);
	if (!tunnel_is_idle(t)) {
		fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_SHUTDOWN, "shutting down", now_ms());
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
			log_notice("tunnel %s: peer address changed from %s to %s (SCCRP)", t->label, from, to);
			control_event(t->d, &(struct ctl_event){ .event = "peer-changed", .tunnel = t->cfg->id,
								 .peer = to, .reason = from });
		}
		t->peer = *peer;
		if (t->local.ss_family == AF_UNSPEC)
			t->local = *local;
	}
	fsm_tunnel_input(&t->fsm, m, raw, len, now_ms());
	tunnel_arm(t);
}

bool tunnel_input_roaming(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
			  const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	uint64_t rx = t->fsm.stats.rx_msgs, bad = t->fsm.stats.auth_failures;
	struct sockaddr_storage old = t->peer;
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
	fsm_tunnel_input(&t->fsm, m, raw, len, now_ms());
	/* moved only by a new, in-window, verified message: a replayed one is
	 * a duplicate (not counted in rx_msgs) */
	if (tunnel_is_idle(t) || t->fsm.stats.rx_msgs == rx || t->fsm.stats.auth_failures != bad) {
		t->peer = old;
		tunnel_arm(t);
		return false;
	}
	sockaddr_format(peer, to, sizeof(to));
	log_notice("tunnel %s: peer address changed from %s to %s (roaming)", t->label, from, to);
	control_event(t->d, &(struct ctl_event){ .event = "peer-changed", .tunnel = t->cfg->id, .peer = to,
						 .reason = from });
	t->peer = *peer;
	if (local->ss_family != AF_UNSPEC)
		t->local = *local;
	for (size_t i = 0; i <= t->n_pws; i++) {
		struct dp_session *dps = i ? t->pws[i - 1].dps : t->dps;

		if (!dps)
			continue;
		r = dp_session_set_peer(t->d->dp, dps, &t->peer, &t->local);
		if (r < 0) {
			errno = -r;
			log_warn("tunnel %s: cannot move the data path to %s", t->label, to);
		}
	}
	tunnel_arm(t);
	return true;
}

int tunnel_sccrq_check(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		       const struct sockaddr_storage *peer, const struct sockaddr_storage *local, char *why,
		       size_t whylen)
{
	if (t->removing || t->admin_down) {
		snprintf(why, whylen, "%s", t->removing ? "being removed" : "administratively down");
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	if (t->cfg->is_static) {
		snprintf(why, whylen, "tunnel %u is a static session", t->cfg->id);
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	if (t->fconf.initiator) {
		snprintf(why, whylen, "tunnel %u is an initiator", t->cfg->id);
		return L2TP_STOPCCN_ERROR;
	}
	if (!ipsec_tunnel_accepts(t, peer, NULL)) {
		snprintf(why, whylen, "not through tunnel %u's IPsec SA (%s)", t->cfg->id,
			 ipsec_tunnel_ready(t) ? "another host or port" : "no SA up");
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	if ((sockaddr_encap(peer) == DP_ENCAP_IP) != (t->cfg->encap == CFG_ENCAP_IP)) {
		snprintf(why, whylen, "encapsulation differs: it has 'tunnel encapsulation %s', the peer called over %s",
			 t->cfg->encap == CFG_ENCAP_IP ? "l2tpv3-ip" : "l2tpv3-raw",
			 sockaddr_encap(peer) == DP_ENCAP_IP ? "IP protocol 115 (l2tpv3-ip)" : "UDP (l2tpv3-raw)");
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	if (sockaddr_encap(peer) == DP_ENCAP_UDP && local && sockaddr_port(local) &&
	    sockaddr_port(local) != t->cfg->dp.local_port) {
		snprintf(why, whylen, "local port differs: it listens on UDP port %u ('l2tp local port'), the peer "
			 "called port %u", t->cfg->dp.local_port, sockaddr_port(local));
		return L2TP_STOPCCN_NOT_AUTHORIZED;
	}
	return fsm_sccrq_check(&t->fconf, m, raw, len, why, whylen);
}

void tunnel_accept(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		   const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	char p[64];

	if (!tunnel_is_idle(t)) {
		/* the same peer starting over (restart, new NAT mapping): the old
		 * connection is dead to it, so drop ours without a StopCCN */
		char old[64];

		peer_str(t, old, sizeof(old));
		log_notice("tunnel %s: new SCCRQ from %s replaces the connection with %s (%s)", t->label,
			   (sockaddr_format(peer, p, sizeof(p)), p), old, fsm_tunnel_state_name(t->fsm.state));
		if (t->peer_known && !sockaddr_equal(&t->peer, peer))
			control_event(t->d, &(struct ctl_event){ .event = "peer-changed", .tunnel = t->cfg->id,
								 .peer = p, .reason = old });
		fsm_tunnel_release(&t->fsm);
	}
	t->peer = *peer;
	t->local = *local;
	t->peer_known = true;
	fsm_tunnel_init(&t->fsm, &t->fconf, alloc_ccid(t->d), &tunnel_fsm_ops, t);
	log_info("tunnel %s: SCCRQ from %s (host %s) accepted", t->label, peer_str(t, p, sizeof(p)),
		 m->host_name);
	(void)fsm_tunnel_accept(&t->fsm, m, raw, len, now_ms());
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
				log_warn("tunnel %s: cannot add %s to bridge %s", t->label, t->pws[i].ifname,
					 ct->pws[i].bridge);
			}
		return;
	}
	ports_free(t);
	if (ports_create(t) < 0)
		log_warnx("tunnel %s: some pseudowires have no TAP port: their sessions will be refused", t->label);
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
			log_warn("tunnel %s: cannot add %s to bridge %s", t->label, t->ifname, ct->bridge);
		}
	}
	evtimer_del(t->reconnect);
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
	static_stop(t);
	if (!tunnel_is_idle(t)) {
		fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_CLEAR, "removed from the configuration", now_ms());
		tunnel_arm(t);
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
	log_notice("tunnel %s: administratively down, peer %s", t->label, peer_str(t, peer, sizeof(peer)));
	control_event(t->d, &(struct ctl_event){ .event = "admin-down", .tunnel = t->cfg->id,
						 .peer = t->peer_known ? peer : NULL });
	if (t->cfg->is_static)
		static_stop(t);
	if (!tunnel_is_idle(t)) {
		fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_CLEAR, "administratively down", now_ms());
		tunnel_arm(t);
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
	/* its StopCCN is not sent (fsm_send_cb): the policy may be gone */
	fsm_tunnel_close(&t->fsm, L2TP_STOPCCN_CLEAR, "IPsec SA down", now_ms());
	tunnel_arm(t);
}

void tunnel_admin_up(struct tunnel *t)
{
	if (!t->admin_down)
		return;
	t->admin_down = false;
	t->backoff_ms = 0;
	log_notice("tunnel %s: administratively up", t->label);
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

static void counters(const struct tunnel *t, const struct dp_session *dps, uint32_t sid, struct dp_counters *ret)
{
	const struct dp_counters *clear = t->clear_sid && t->clear_sid == sid ? &t->clear_dp : NULL;
	struct dp_counters c;

	for (size_t i = 0; !clear && sid && i < t->n_pws; i++)
		if (t->pws[i].clear_sid == sid)
			clear = &t->pws[i].clear_dp;
	memset(&c, 0, sizeof(c));
	if (dps)
		dp_session_counters(dps, &c);
	if (clear) {
		c.rx_packets = minus(c.rx_packets, clear->rx_packets);
		c.rx_octets = minus(c.rx_octets, clear->rx_octets);
		c.tx_packets = minus(c.tx_packets, clear->tx_packets);
		c.tx_octets = minus(c.tx_octets, clear->tx_octets);
		c.rx_cookie_drops = minus(c.rx_cookie_drops, clear->rx_cookie_drops);
		c.rx_malformed_drops = minus(c.rx_malformed_drops, clear->rx_malformed_drops);
		c.rx_seq_drops = minus(c.rx_seq_drops, clear->rx_seq_drops);
		c.rx_seq_missing = minus(c.rx_seq_missing, clear->rx_seq_missing);
		c.rx_tap_errors = minus(c.rx_tap_errors, clear->rx_tap_errors);
		c.tx_errors = minus(c.tx_errors, clear->tx_errors);
		c.tx_super = minus(c.tx_super, clear->tx_super);
		c.rx_coalesced = minus(c.rx_coalesced, clear->rx_coalesced);
		c.mss_clamped = minus(c.mss_clamped, clear->mss_clamped);
		c.tx_vlan_drops = minus(c.tx_vlan_drops, clear->tx_vlan_drops);
		c.rx_peer_drops = minus(c.rx_peer_drops, clear->rx_peer_drops);
	}
	*ret = c;
}

void tunnel_session_counters(const struct tunnel *t, const struct fsm_session *s, struct dp_counters *ret)
{
	counters(t, s->user, s->local_sid, ret);
}

void tunnel_static_counters(const struct tunnel *t, struct dp_counters *ret)
{
	counters(t, t->dps, t->cfg->static_local_sid, ret);
}

int64_t tunnel_static_last_rx_ago(const struct tunnel *t)
{
	uint64_t last, now = now_ms() / 1000;

	if (!t->dps)
		return -1;
	last = dp_session_last_rx(t->dps);
	if (!last)
		return -1;
	return now > last ? (int64_t)(now - last) : 0;
}

int64_t tunnel_static_window(const struct tunnel *t)
{
	const struct cfg_tunnel *ct = t->cfg;

	return ct->keepalive ? (int64_t)ct->keepalive_interval * ct->keepalive_count : 30;
}

bool tunnel_static_up(const struct tunnel *t)
{
	int64_t ago = tunnel_static_last_rx_ago(t);

	return (ago >= 0 && ago <= tunnel_static_window(t)) || tunnel_probe_up(t);
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
		dp_session_counters(s->user, p ? &p->clear_dp : &t->clear_dp);
		*(p ? &p->clear_sid : &t->clear_sid) = s->local_sid;
	}
	t->clear_fsm = t->fsm.stats;
	t->clear_ccid = t->fsm.local_ccid;
	t->probe.sent = t->probe.answered = 0; /* `l2tp static probe`: only ever shown cleared */
}
