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
#include "daemon/view.h"

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

/* The views of every tunnel, and of every session, in the daemon's order. */
struct views {
	struct tunnel_view *t;
	size_t nt;
	struct session_view *s;
	size_t ns;
};

static int views_build(struct daemon *d, struct views *ret)
{
	uint64_t now = now_ms();
	size_t cap = 0;

	for (size_t i = 0; i < d->n_tunnels; i++)
		cap += tunnel_sessions_count(d->tunnels[i]);
	ret->t = calloc(d->n_tunnels ? d->n_tunnels : 1, sizeof(*ret->t));
	ret->s = calloc(cap ? cap : 1, sizeof(*ret->s));
	ret->nt = ret->ns = 0;
	if (!ret->t || !ret->s) {
		free(ret->t);
		free(ret->s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_tunnels; i++) {
		tunnel_view(d->tunnels[i], &ret->t[ret->nt++]);
		ret->ns += tunnel_sessions_view(d->tunnels[i], now, ret->s + ret->ns, cap - ret->ns);
	}
	return 0;
}

/* One family at a time (the exposition format wants a family's samples together). */
static void tunnel_metrics(struct evbuffer *b, const struct views *v)
{
	head(b, "tunnel_up", "gauge", "1 if the tunnel's control connection is established.");
	for (size_t i = 0; i < v->nt; i++)
		evbuffer_add_printf(b, "l2tpv3d_tunnel_up{tunnel=\"%s\"} %d\n", v->t[i].label,
				    v->t[i].fsm_state == FSM_T_ESTABLISHED);
	head(b, "tunnel_state", "gauge", "1 for the tunnel's current control connection state.");
	for (size_t i = 0; i < v->nt; i++)
		for (size_t k = 0; k < sizeof(tunnel_states) / sizeof(tunnel_states[0]); k++)
			evbuffer_add_printf(b, "l2tpv3d_tunnel_state{tunnel=\"%s\",state=\"%s\"} %d\n", v->t[i].label,
					    fsm_tunnel_state_name(tunnel_states[k]), v->t[i].fsm_state == tunnel_states[k]);
	head(b, "tunnel_admin_down", "gauge", "1 if the tunnel was set down with `l2tpctl tunnel down`.");
	for (size_t i = 0; i < v->nt; i++)
		evbuffer_add_printf(b, "l2tpv3d_tunnel_admin_down{tunnel=\"%s\"} %d\n", v->t[i].label,
				    v->t[i].t->admin_down);
	head(b, "tunnel_sessions", "gauge", "Sessions in the tunnel.");
	for (size_t i = 0; i < v->nt; i++)
		evbuffer_add_printf(b, "l2tpv3d_tunnel_sessions{tunnel=\"%s\"} %zu\n", v->t[i].label, v->t[i].n_sessions);
	/* the raw per-connection counters: `clear counters` changes only what l2tpctl shows */
#define TUNNEL_COUNTER_METRIC(field, json, key, metric, help)                                               \
	if (metric) {                                                                                       \
		const char *name = metric;                                                                  \
                                                                                                            \
		head(b, name, "counter", help);                                                             \
		for (size_t i = 0; i < v->nt; i++)                                                          \
			evbuffer_add_printf(b, "l2tpv3d_%s{tunnel=\"%s\"} %llu\n", name, v->t[i].label,     \
					    (unsigned long long)v->t[i].raw.field);                         \
	}
	TUNNEL_COUNTERS(TUNNEL_COUNTER_METRIC)
#undef TUNNEL_COUNTER_METRIC
	head(b, "tunnel_established_total", "counter",
	     "Times the tunnel's control connection was established since the daemon started.");
	for (size_t i = 0; i < v->nt; i++)
		evbuffer_add_printf(b, "l2tpv3d_tunnel_established_total{tunnel=\"%s\"} %llu\n", v->t[i].label,
				    (unsigned long long)v->t[i].established_total);
	head(b, "tunnel_keepalive_rtt_seconds", "gauge", "Round-trip time of the last acknowledged HELLO.");
	for (size_t i = 0; i < v->nt; i++)
		evbuffer_add_printf(b, "l2tpv3d_tunnel_keepalive_rtt_seconds{tunnel=\"%s\"} %.3f\n", v->t[i].label,
				    (double)v->t[i].keepalive_rtt_ms / 1000.0);
}

static const enum fsm_session_state session_states[] = {
	FSM_S_IDLE, FSM_S_WAIT_REPLY, FSM_S_WAIT_CONNECT, FSM_S_ESTABLISHED,
};
static const char *const static_states[] = { "static-up", "static-idle" };

#define SESSION_LABELS "{tunnel=\"%s\",session=\"%u\""

static void session_metrics(struct evbuffer *b, const struct views *v)
{
	const struct session_view *s = v->s;
	size_t n = v->ns;

	head(b, "session_up", "gauge",
	     "1 if the session is established (a static session: static-up, data received recently).");
	for (size_t k = 0; k < n; k++)
		evbuffer_add_printf(b, "l2tpv3d_session_up" SESSION_LABELS "} %d\n", s[k].t->label, s[k].local_sid,
				    s[k].up);
	head(b, "session_info", "gauge", "1 for each session: its pseudowire and TAP port.");
	for (size_t k = 0; k < n; k++)
		evbuffer_add_printf(b, "l2tpv3d_session_info" SESSION_LABELS ",pseudowire=\"%u\",interface=\"%s\"} 1\n",
				    s[k].t->label, s[k].local_sid, s[k].pw, s[k].ifname);
	head(b, "session_fastpath", "gauge",
	     "1 if the kernel fast path (dataplane fastpath) carries the session's frames, 0 if only the data "
	     "thread does.");
	for (size_t k = 0; k < n; k++)
		evbuffer_add_printf(b, "l2tpv3d_session_fastpath" SESSION_LABELS "} %d\n", s[k].t->label,
				    s[k].local_sid, s[k].fastpath);
	head(b, "session_state", "gauge",
	     "1 for the session's current state (static sessions: static-up or static-idle).");
	for (size_t k = 0; k < n; k++) {
		size_t ns = s[k].is_static ? sizeof(static_states) / sizeof(static_states[0])
					   : sizeof(session_states) / sizeof(session_states[0]);

		for (size_t x = 0; x < ns; x++) {
			const char *name = s[k].is_static ? static_states[x] : fsm_session_state_name(session_states[x]);

			evbuffer_add_printf(b, "l2tpv3d_session_state" SESSION_LABELS ",state=\"%s\"} %d\n",
					    s[k].t->label, s[k].local_sid, name, !strcmp(name, s[k].state));
		}
	}
	/* DP_COUNTERS: each with a family of its own, then the drops by reason */
#define DP_COUNTER_METRIC(field, json, metric, reason, help)                                               \
	if (!reason) {                                                                                     \
		head(b, metric, "counter", help);                                                          \
		for (size_t k = 0; k < n; k++)                                                             \
			evbuffer_add_printf(b, "l2tpv3d_%s" SESSION_LABELS "} %llu\n", metric, s[k].t->label, \
					    s[k].local_sid, (unsigned long long)s[k].raw.field);           \
	}
	DP_COUNTERS(DP_COUNTER_METRIC)
#undef DP_COUNTER_METRIC
	head(b, "session_rx_drops_total", "counter", "Received data packets dropped, by reason.");
	for (size_t k = 0; k < n; k++) {
#define DP_COUNTER_DROP(field, json, metric, reason, help)                                                    \
	if (reason)                                                                                           \
		evbuffer_add_printf(b, "l2tpv3d_%s" SESSION_LABELS ",reason=\"%s\"} %llu\n", metric, s[k].t->label, \
				    s[k].local_sid, (const char *)reason, (unsigned long long)s[k].raw.field);
		DP_COUNTERS(DP_COUNTER_DROP)
#undef DP_COUNTER_DROP
	}
}

static void global_metrics(struct evbuffer *b, struct daemon *d)
{
	struct dp_global_counters g;
	struct daemon_udp_drops u;

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
	daemon_udp_drops(d, &u);
	GLOBAL("udp_socket_drops_total",
	       "Datagrams the kernel dropped on the daemon's UDP sockets (receive buffer full, bad checksum).",
	       u.socket_drops);
	GLOBAL("udp_rcvbuf_errors_total",
	       "UDP datagrams dropped for a full receive buffer in the daemon's network namespace (any socket).",
	       u.netns_rcvbuf_errors);
#undef GLOBAL
	head(b, "udp_rcvbuf_bytes", "gauge", "Receive buffer of the UDP socket (port 1701), as the kernel counts it.");
	evbuffer_add_printf(b, "l2tpv3d_udp_rcvbuf_bytes %llu\n", (unsigned long long)u.rcvbuf);
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
	struct daemon *d = arg;
	struct views v;
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
	if (views_build(d, &v) == 0) {
		tunnel_metrics(b, &v);
		session_metrics(b, &v);
		free(v.t);
		free(v.s);
	}
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
	if (!sockaddr_ntop(addr, host, sizeof(host))) {
		free(m);
		return -EAFNOSUPPORT;
	}
	port = sockaddr_port(addr);
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
