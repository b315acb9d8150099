/* SPDX-License-Identifier: MIT */
/*
 * Prometheus endpoint (`metrics listen ADDRESS:PORT`): libevent's evhttp on
 * the control thread's event base, GET /metrics only, text exposition
 * format 0.0.4.  Names follow Prometheus practice: prefix l2tpv3d_, base
 * units (seconds, bytes), `_total` on counters, an l2tpv3d_info metric
 * with the version.  Counters are the raw monotonic ones: `l2tpctl clear
 * counters` only changes what l2tpctl shows.  Per-connection counters
 * (control messages, retransmissions) restart at 0 when a tunnel's
 * control connection is set up again, which Prometheus' rate() reads as a
 * counter reset.
 *
 * evhttp buffers each reply and writes it without blocking; a client that
 * stays silent or does not read is dropped after METRICS_TIMEOUT_S.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/ipsec.h"
#include "daemon/log.h"

#ifndef L2TPV3D_VERSION
#define L2TPV3D_VERSION "unknown"
#endif

#define METRICS_TIMEOUT_S 10

struct metrics {
	struct evhttp *http;
	char where[64]; /* "127.0.0.1:9101" for the log */
};

static void head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP l2tpv3d_%s %s\n# TYPE l2tpv3d_%s %s\n", name, help, name, type);
}

static const enum fsm_tunnel_state tunnel_states[] = {
	FSM_T_IDLE, FSM_T_WAIT_CTL_REPLY, FSM_T_WAIT_CTL_CONN, FSM_T_ESTABLISHED, FSM_T_CLOSING,
};

/* The tunnel label: "N", or "N.P" for peer P of hub tunnel N (`l2tp hub on`). */
struct tunnel_label {
	char s[24];
};

static struct tunnel_label tlabel(const struct tunnel *t)
{
	struct tunnel_label l;

	if (t->peer_index)
		snprintf(l.s, sizeof(l.s), "%u.%u", t->cfg->id, t->peer_index);
	else
		snprintf(l.s, sizeof(l.s), "%u", t->cfg->id);
	return l;
}

/* One family at a time (the exposition format wants a family's samples together). */
static void tunnel_metrics(struct evbuffer *b, struct daemon *d)
{
	head(b, "tunnel_up", "gauge", "1 if the tunnel's control connection is established.");
	for (size_t i = 0; i < d->n_tunnels; i++) {
		const struct tunnel *t = d->tunnels[i];

		evbuffer_add_printf(b, "l2tpv3d_tunnel_up{tunnel=\"%s\"} %d\n", tlabel(t).s,
				    t->fsm.state == FSM_T_ESTABLISHED);
	}
	head(b, "tunnel_state", "gauge", "1 for the tunnel's current control connection state.");
	for (size_t i = 0; i < d->n_tunnels; i++) {
		const struct tunnel *t = d->tunnels[i];

		for (size_t k = 0; k < sizeof(tunnel_states) / sizeof(tunnel_states[0]); k++)
			evbuffer_add_printf(b, "l2tpv3d_tunnel_state{tunnel=\"%s\",state=\"%s\"} %d\n", tlabel(t).s,
					    fsm_tunnel_state_name(tunnel_states[k]), t->fsm.state == tunnel_states[k]);
	}
	head(b, "tunnel_admin_down", "gauge", "1 if the tunnel was set down with `l2tpctl tunnel down`.");
	for (size_t i = 0; i < d->n_tunnels; i++)
		evbuffer_add_printf(b, "l2tpv3d_tunnel_admin_down{tunnel=\"%s\"} %d\n", tlabel(d->tunnels[i]).s,
				    d->tunnels[i]->admin_down);
	head(b, "tunnel_sessions", "gauge", "Sessions in the tunnel.");
	for (size_t i = 0; i < d->n_tunnels; i++)
		evbuffer_add_printf(b, "l2tpv3d_tunnel_sessions{tunnel=\"%s\"} %zu\n", tlabel(d->tunnels[i]).s,
				    d->tunnels[i]->fsm.n_sessions);

#define TUNNEL_COUNTER(name, field, help)                                                               \
	head(b, name, "counter", help);                                                                 \
	for (size_t i = 0; i < d->n_tunnels; i++)                                                       \
		evbuffer_add_printf(b, "l2tpv3d_" name "{tunnel=\"%s\"} %llu\n", tlabel(d->tunnels[i]).s, \
				    (unsigned long long)d->tunnels[i]->fsm.stats.field)

	TUNNEL_COUNTER("tunnel_control_rx_messages_total", rx_msgs,
		       "Control messages received on the current control connection.");
	TUNNEL_COUNTER("tunnel_control_tx_messages_total", tx_msgs,
		       "Control messages sent on the current control connection.");
	TUNNEL_COUNTER("tunnel_control_retransmissions_total", retransmissions,
		       "Control messages retransmitted on the current control connection.");
	TUNNEL_COUNTER("tunnel_control_duplicates_total", rx_duplicates,
		       "Duplicate control messages received on the current control connection.");
	TUNNEL_COUNTER("tunnel_auth_failures_total", auth_failures,
		       "Control messages that failed authentication on the current control connection.");
#undef TUNNEL_COUNTER
	head(b, "tunnel_established_total", "counter",
	     "Times the tunnel's control connection was established since the daemon started.");
	for (size_t i = 0; i < d->n_tunnels; i++) {
		const struct tunnel *t = d->tunnels[i];

		evbuffer_add_printf(b, "l2tpv3d_tunnel_established_total{tunnel=\"%s\"} %llu\n", tlabel(t).s,
				    (unsigned long long)t->established_total);
	}
	head(b, "tunnel_keepalive_rtt_seconds", "gauge", "Round-trip time of the last acknowledged HELLO.");
	for (size_t i = 0; i < d->n_tunnels; i++)
		evbuffer_add_printf(b, "l2tpv3d_tunnel_keepalive_rtt_seconds{tunnel=\"%s\"} %.3f\n",
				    tlabel(d->tunnels[i]).s, (double)d->tunnels[i]->fsm.stats.last_hello_rtt_ms / 1000.0);
}

/* A session's row: a control-plane session, or a tunnel's static one. */
struct session_ref {
	const struct tunnel *t;
	uint32_t sid; /* local Session ID */
	const char *state; /* fsm state name, or static-up / static-idle */
	unsigned pw; /* pseudowire number, 1.. */
	const char *ifname; /* its TAP port */
	bool up;
	bool is_static;
	struct dp_counters c;
};

static const enum fsm_session_state session_states[] = {
	FSM_S_IDLE, FSM_S_WAIT_REPLY, FSM_S_WAIT_CONNECT, FSM_S_ESTABLISHED,
};
static const char *const static_states[] = { "static-up", "static-idle" };

static void session_metrics(struct evbuffer *b, struct daemon *d)
{
	struct session_ref *v;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < d->n_tunnels; i++)
		cap += d->tunnels[i]->fsm.n_sessions + (d->tunnels[i]->cfg->is_static && d->tunnels[i]->dps);
	v = calloc(cap ? cap : 1, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < d->n_tunnels; i++) {
		const struct tunnel *t = d->tunnels[i];

		for (size_t j = 0; j < t->fsm.n_sessions && n < cap; j++) {
			const struct fsm_session *s = &t->fsm.sessions[j];

			v[n].t = t;
			v[n].sid = s->local_sid;
			v[n].state = fsm_session_state_name(s->state);
			v[n].up = s->state == FSM_S_ESTABLISHED;
			v[n].pw = s->pw + 1;
			v[n].ifname = tunnel_session_ifname(t, s);
			if (s->user)
				dp_session_counters(s->user, &v[n].c);
			n++;
		}
		if (t->cfg->is_static && t->dps && n < cap) {
			v[n].t = t;
			v[n].sid = t->cfg->static_local_sid;
			v[n].up = tunnel_static_up(t);
			v[n].state = v[n].up ? "static-up" : "static-idle";
			v[n].is_static = true;
			v[n].pw = 1;
			v[n].ifname = t->ifname;
			dp_session_counters(t->dps, &v[n].c);
			n++;
		}
	}
#define LABELS "{tunnel=\"%s\",session=\"%u\"}"
#define EACH(name, type, help, expr)                                                                  \
	head(b, name, type, help);                                                                    \
	for (size_t k = 0; k < n; k++)                                                                \
		evbuffer_add_printf(b, "l2tpv3d_" name LABELS " %llu\n", tlabel(v[k].t).s, v[k].sid, \
				    (unsigned long long)(expr))

	EACH("session_up", "gauge",
	     "1 if the session is established (a static session: static-up, data received recently).", v[k].up);
	head(b, "session_info", "gauge", "1 for each session: its pseudowire and TAP port.");
	for (size_t k = 0; k < n; k++)
		evbuffer_add_printf(b, "l2tpv3d_session_info{tunnel=\"%s\",session=\"%u\",pseudowire=\"%u\","
				    "interface=\"%s\"} 1\n", tlabel(v[k].t).s, v[k].sid, v[k].pw, v[k].ifname);
	head(b, "session_state", "gauge",
	     "1 for the session's current state (static sessions: static-up or static-idle).");
	for (size_t k = 0; k < n; k++) {
		size_t ns = v[k].is_static ? sizeof(static_states) / sizeof(static_states[0])
					   : sizeof(session_states) / sizeof(session_states[0]);

		for (size_t x = 0; x < ns; x++) {
			const char *name = v[k].is_static ? static_states[x] : fsm_session_state_name(session_states[x]);

			evbuffer_add_printf(b, "l2tpv3d_session_state{tunnel=\"%s\",session=\"%u\",state=\"%s\"} %d\n",
					    tlabel(v[k].t).s, v[k].sid, name, !strcmp(name, v[k].state));
		}
	}
	EACH("session_rx_packets_total", "counter", "Data packets received from the tunnel, written to the TAP.",
	     v[k].c.rx_packets);
	EACH("session_rx_bytes_total", "counter", "Ethernet frame bytes received from the tunnel.",
	     v[k].c.rx_octets);
	EACH("session_tx_packets_total", "counter", "Data packets read from the TAP, sent into the tunnel.",
	     v[k].c.tx_packets);
	EACH("session_tx_bytes_total", "counter", "Ethernet frame bytes sent into the tunnel.", v[k].c.tx_octets);
	EACH("session_tx_errors_total", "counter", "Data packets the socket refused to send.", v[k].c.tx_errors);
	EACH("session_tx_super_frames_total", "counter",
	     "TCP/UDP super-frames (TAP offloads) read from the TAP and cut into segments.", v[k].c.tx_super);
	EACH("session_rx_coalesced_frames_total", "counter",
	     "Super-frames of coalesced TCP segments written to the TAP.", v[k].c.rx_coalesced);
	EACH("session_tx_vlan_drops_total", "counter",
	     "Frames from the TAP without the pseudowire's VLAN tag (l2tp pseudowire Q vlan), not sent.",
	     v[k].c.tx_vlan_drops);
	EACH("session_mss_clamped_total", "counter",
	     "TCP SYNs whose MSS option was lowered (ip tunnel tcp mss limit).", v[k].c.mss_clamped);
	EACH("session_rx_unsequenced_total", "counter",
	     "Data packets received without a sequence number (S=0) although we asked for sequencing.",
	     v[k].c.rx_seq_missing);
#undef EACH
	head(b, "session_rx_drops_total", "counter", "Received data packets dropped, by reason.");
	for (size_t k = 0; k < n; k++) {
		const struct { const char *reason; uint64_t v; } r[] = {
			{ "cookie", v[k].c.rx_cookie_drops },
			{ "malformed", v[k].c.rx_malformed_drops },
			{ "sequence", v[k].c.rx_seq_drops },
			{ "tap_error", v[k].c.rx_tap_errors },
		};

		for (size_t x = 0; x < sizeof(r) / sizeof(r[0]); x++)
			evbuffer_add_printf(b, "l2tpv3d_session_rx_drops_total{tunnel=\"%s\",session=\"%u\",reason=\"%s\"} %llu\n",
					    tlabel(v[k].t).s, v[k].sid, r[x].reason,
					    (unsigned long long)r[x].v);
	}
#undef LABELS
	free(v);
}

static void global_metrics(struct evbuffer *b, struct daemon *d)
{
	struct dp_global_counters g;

	dp_global_counters(d->dp, &g);
#define GLOBAL(name, help, value)                                                 \
	head(b, name, "counter", help);                                           \
	evbuffer_add_printf(b, "l2tpv3d_" name " %llu\n", (unsigned long long)(value))

	GLOBAL("control_malformed_total", "Control messages that did not decode.", d->stats.rx_ctrl_malformed);
	GLOBAL("control_unknown_ccid_total", "Control messages for a control connection we do not have.",
	       d->stats.rx_ctrl_unknown_ccid);
	GLOBAL("control_wrong_peer_total", "Control messages with a known CCID from another address.",
	       d->stats.rx_ctrl_wrong_peer);
	GLOBAL("sccrq_accepted_total", "SCCRQs accepted by a responder tunnel.", d->stats.sccrq_accepted);
	GLOBAL("sccrq_refused_total", "SCCRQs refused.", d->stats.sccrq_refused);
	GLOBAL("data_unknown_session_total", "Data packets for a Session ID we do not have.",
	       g.rx_unknown_session);
	GLOBAL("data_malformed_total", "Datagrams on port 1701 that are not L2TPv3.", g.rx_malformed);
	GLOBAL("control_channel_drops_total", "Control packets dropped because the control thread lagged.",
	       g.ctrl_dropped);
#undef GLOBAL
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
	struct daemon *d = arg;
	struct evbuffer *b;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	head(b, "info", "gauge", "Version of the running l2tpv3d.");
	evbuffer_add_printf(b, "l2tpv3d_info{version=\"%s\"} 1\n", L2TPV3D_VERSION);
	head(b, "tunnels", "gauge", "Configured tunnels.");
	evbuffer_add_printf(b, "l2tpv3d_tunnels %zu\n", d->n_tunnels);
	tunnel_metrics(b, d);
	session_metrics(b, d);
	global_metrics(b, d);
	ipsec_metrics(d, b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void other_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is served here");
}

int metrics_open(struct daemon *d, const struct sockaddr_storage *addr)
{
	struct metrics *m = calloc(1, sizeof(*m));
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (!m)
		return -ENOMEM;
	if (addr->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, host, sizeof(host));
		port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, host, sizeof(host));
		port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
	}
	sockaddr_format(addr, m->where, sizeof(m->where));
	m->http = evhttp_new(d->base);
	if (!m->http) {
		free(m);
		return -ENOMEM;
	}
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_cb(m->http, "/metrics", metrics_cb, d);
	evhttp_set_gencb(m->http, other_cb, d);
	if (evhttp_bind_socket(m->http, host, (uint16_t)port) < 0) {
		int e = errno ? errno : EADDRNOTAVAIL;

		log_warnx("metrics: cannot listen on %s: %s", m->where, strerror(e));
		evhttp_free(m->http);
		free(m);
		return -e;
	}
	log_notice("metrics: serving Prometheus metrics on http://%s/metrics", m->where);
	d->metrics = m;
	return 0;
}

void metrics_close(struct daemon *d)
{
	if (!d->metrics)
		return;
	evhttp_free(d->metrics->http);
	log_info("metrics: stopped listening on %s", d->metrics->where);
	free(d->metrics);
	d->metrics = NULL;
}
