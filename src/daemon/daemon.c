/* SPDX-License-Identifier: MIT */
/*
 * Daemon set-up and the control-message dispatcher.
 *
 * The data thread receives everything on UDP 1701 and hands control
 * messages (T=1) to us over a SOCK_SEQPACKET pair.  We decode them and
 * route by header CCID: ours -> that tunnel's state machine; 0 with an
 * SCCRQ -> the first responder tunnel whose checks pass (Router ID,
 * secret); anything else is counted and, for a StopCCN, acknowledged
 * statelessly so the peer can stop retransmitting.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/nl.h"

#define SHUTDOWN_WAIT_MS 2000

void daemon_send(struct daemon *d, const struct sockaddr_storage *peer, const struct sockaddr_storage *local,
		 const uint8_t *buf, size_t len)
{
	int r = dp_send_ctrl(d->dp, peer, local, buf, len);

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

static struct tunnel *find_by_ccid(struct daemon *d, uint32_t ccid)
{
	for (size_t i = 0; i < d->n_tunnels; i++) {
		struct tunnel *t = d->tunnels[i];

		if (!tunnel_is_idle(t) && t->fsm.local_ccid == ccid)
			return t;
	}
	return NULL;
}

static void handle_sccrq(struct daemon *d, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
			 const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	char why[320] = "no responder tunnel is configured", p[64], rid[16];
	int result = L2TP_STOPCCN_NOT_AUTHORIZED;
	uint8_t out[512];
	int n;

	/* a retransmitted SCCRQ of a connection we already answered */
	for (size_t i = 0; i < d->n_tunnels; i++) {
		struct tunnel *t = d->tunnels[i];

		if (!tunnel_is_idle(t) && t->peer_known && sockaddr_equal(&t->peer, peer) &&
		    t->fsm.remote_ccid == m->assigned_ccid && l2tp_msg_has(m, L2TP_AVP_ASSIGNED_CCID)) {
			tunnel_input(t, m, raw, len, peer, local);
			return;
		}
		/* the same SCCRQ from elsewhere is a replay (a restarted peer
		 * picks a new CCID): it must not replace the connection */
		if (!tunnel_is_idle(t) && t->peer_known && t->fsm.remote_ccid == m->assigned_ccid &&
		    l2tp_msg_has(m, L2TP_AVP_ASSIGNED_CCID)) {
			d->stats.rx_ctrl_wrong_peer++;
			sockaddr_format(peer, p, sizeof(p));
			log_debug("tunnel %u: SCCRQ of the current connection from %s, not from its peer; dropped",
				  t->cfg->id, p);
			return;
		}
	}
	for (size_t i = 0; i < d->n_tunnels; i++) {
		struct tunnel *t = d->tunnels[i];
		char w[256];
		int r = tunnel_sccrq_check(t, m, raw, len, peer, w, sizeof(w));

		if (!r) {
			d->stats.sccrq_accepted++;
			tunnel_accept(t, m, raw, len, peer, local);
			return;
		}
		if (!t->fconf.initiator) {
			/* report the responder's reason, not an initiator's */
			snprintf(why, sizeof(why), "tunnel %u: %s", t->cfg->id, w);
			result = r;
		}
	}
	d->stats.sccrq_refused++;
	if (refuse_log_ok(d)) {
		sockaddr_format(peer, p, sizeof(p));
		snprintf(rid, sizeof(rid), "%u.%u.%u.%u", m->router_id >> 24, (m->router_id >> 16) & 0xff,
			 (m->router_id >> 8) & 0xff, m->router_id & 0xff);
		log_warnx("SCCRQ from %s (host %s, router id %s) refused: %s", p,
			  m->host_name[0] ? m->host_name : "-", rid, why);
	}
	n = fsm_stateless_stopccn(m, (uint16_t)result, result == L2TP_STOPCCN_NOT_AUTHORIZED ? "not authorized" : why,
				  out, sizeof(out));
	if (n > 0 && l2tp_msg_has(m, L2TP_AVP_ASSIGNED_CCID))
		daemon_send(d, peer, local, out, (size_t)n);
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
	d->stats.rx_ctrl_unknown_ccid++;
	sockaddr_format(peer, p, sizeof(p));
	log_debug("%s for unknown control connection %u from %s", l2tp_msg_type_name(m.type), m.ccid, p);
	if (m.type == L2TP_MSG_STOPCCN && l2tp_msg_has(&m, L2TP_AVP_ASSIGNED_CCID)) {
		/* RFC 3931 §5.7: let the peer stop retransmitting it */
		uint8_t out[64];
		int n = fsm_stateless_ack(m.assigned_ccid, m.nr, (uint16_t)(m.ns + 1), out, sizeof(out));

		if (n > 0)
			daemon_send(d, peer, local, out, (size_t)n);
	}
}

static void ctrl_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	static _Thread_local uint8_t buf[sizeof(struct dp_ctrl_hdr) + 65536];

	(void)what;
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct dp_ctrl_hdr h;

		if (n < 0)
			return;
		if ((size_t)n < sizeof(h))
			continue;
		memcpy(&h, buf, sizeof(h));
		if (h.len > (size_t)n - sizeof(h))
			continue;
		handle_ctrl(d, buf + sizeof(h), h.len, &h.peer, &h.local);
	}
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
		log_notice("SIGHUP: configuration reload is not implemented yet; running configuration kept");
		return;
	}
	if (d->stopping) {
		log_notice("second signal: exiting now");
		event_base_loopexit(d->base, NULL);
		return;
	}
	log_notice("received %s: closing tunnels", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	d->stopping = true;
	d->ev_stop = evtimer_new(d->base, stop_timeout_cb, d);
	if (d->ev_stop)
		evtimer_add(d->ev_stop, &tv);
	for (size_t i = 0; i < d->n_tunnels; i++)
		tunnel_shutdown(d->tunnels[i]);
	daemon_check_stopped(d);
}

/* ---------------------------------------------------------------------- */
/* set-up */

static int open_udp(struct daemon *d)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(L2TP_UDP_PORT) };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	d->udp_fd = fd;
	return 0;
}

/* Bridges, their non-tunnel members and addresses, as configured. */
static int setup_links(struct daemon *d)
{
	const struct cfg *c = d->cfg;
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

int daemon_setup(struct daemon *d)
{
	int r;

	d->udp_fd = d->listen_fd = -1;
	d->ctrl_pair[0] = d->ctrl_pair[1] = -1;
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
	r = setup_links(d);
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
		int sz = 1 << 20;

		(void)setsockopt(d->ctrl_pair[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(d->ctrl_pair[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	r = dp_create(d->udp_fd, d->ctrl_pair[1], &d->dp);
	if (r < 0) {
		errno = -r;
		log_warn("cannot create the data path");
		return r;
	}
	r = dp_start(d->dp);
	if (r < 0) {
		errno = -r;
		log_warn("cannot start the data path thread");
		return r;
	}
	d->ev_ctrl = event_new(d->base, d->ctrl_pair[0], EV_READ | EV_PERSIST, ctrl_read_cb, d);
	d->ev_sigterm = evsignal_new(d->base, SIGTERM, signal_cb, d);
	d->ev_sigint = evsignal_new(d->base, SIGINT, signal_cb, d);
	d->ev_sighup = evsignal_new(d->base, SIGHUP, signal_cb, d);
	if (!d->ev_ctrl || !d->ev_sigterm || !d->ev_sigint || !d->ev_sighup)
		return -ENOMEM;
	event_add(d->ev_ctrl, NULL);
	event_add(d->ev_sigterm, NULL);
	event_add(d->ev_sigint, NULL);
	event_add(d->ev_sighup, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = control_open(d);
	if (r < 0)
		return r;

	if (!d->cfg->service_on) {
		log_notice("`l2tp service on` is not configured: no tunnel is started");
		return 0;
	}
	for (size_t i = 0; i < d->cfg->n_tunnels; i++) {
		const struct cfg_tunnel *ct = &d->cfg->tunnels[i];
		struct tunnel *t, **v;

		if (!ct->enabled) {
			log_info("tunnel %u: not enabled (`tunnel enable %u` missing)", ct->id, ct->id);
			continue;
		}
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
	}
	return 0;
}

int daemon_run(struct daemon *d)
{
	for (size_t i = 0; i < d->n_tunnels; i++)
		tunnel_start(d->tunnels[i]);
	return event_base_dispatch(d->base) < 0 ? -EIO : 0;
}

void daemon_teardown(struct daemon *d)
{
	/* stop the data thread before freeing the sessions it reads */
	for (size_t i = 0; i < d->n_tunnels; i++) {
		struct tunnel *t = d->tunnels[i];

		if (t->dps) {
			dp_session_del(d->dp, t->dps);
			t->dps = NULL;
			for (size_t j = 0; j < t->fsm.n_sessions; j++)
				t->fsm.sessions[j].user = NULL;
		}
	}
	dp_destroy(d->dp);
	d->dp = NULL;
	for (size_t i = 0; i < d->n_tunnels; i++)
		tunnel_free(d->tunnels[i]);
	free(d->tunnels);
	d->tunnels = NULL;
	d->n_tunnels = 0;
	control_close(d);
	if (d->ev_ctrl)
		event_free(d->ev_ctrl);
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
		if (d->ctrl_pair[i] >= 0)
			close(d->ctrl_pair[i]);
	nl_ctx_close(d->nl);
	if (d->base)
		event_base_free(d->base);
}
