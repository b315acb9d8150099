/* SPDX-License-Identifier: MIT */
/*
 * Control socket (doc/control.md): a UNIX stream socket, one JSON request
 * line in, one JSON reply line out, then the connection closes.  Replies
 * are built from flat views of tunnels and sessions, never internal
 * structs.  A client that sends more than CTL_MAX_REQUEST bytes without a
 * newline, or stays silent for CTL_TIMEOUT_S, is dropped.
 *
 * `monitor` is the exception: after its reply the connection stays open
 * and every tunnel or session event is pushed as one JSON line.  Writes
 * never block the loop: a monitor client whose unsent output passes
 * CTL_MONITOR_BACKLOG bytes is dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/ipsec.h"
#include "daemon/log.h"
#include "daemon/view.h"

#define CTL_MAX_REQUEST 65536
#define CTL_TIMEOUT_S 5
#define CTL_MONITOR_BACKLOG (1u << 20)

/* A control socket connection. */
struct ctl_client {
	struct ctl_client *next;
	struct bufferevent *bev;
	bool monitor; /* following events (`monitor`) */
};

static json_t *addr_json(const struct sockaddr_storage *ss, bool known)
{
	char a[INET6_ADDRSTRLEN];

	return known && sockaddr_ntop(ss, a, sizeof(a)) ? json_string(a) : json_null();
}

static const char *auth_name(enum fsm_auth a)
{
	switch (a) {
	case FSM_AUTH_DIGEST:
		return "digest-md5";
	case FSM_AUTH_CHALLENGE:
		return "challenge";
	case FSM_AUTH_NONE:
		break;
	}
	return "none";
}

/* The DP_COUNTERS of one json group (DP_JSON_*) into o, in the list's order. */
static void dp_counters_json(json_t *o, const struct dp_counters *c, int group)
{
#define DP_COUNTER_JSON(name, json, metric, reason, help) \
	if (DP_JSON_##json == group)                        \
		json_object_set_new(o, #name, json_integer((json_int_t)c->name));
	DP_COUNTERS(DP_COUNTER_JSON)
#undef DP_COUNTER_JSON
}

/* The TUNNEL_COUNTERS of one json group (TUNNEL_JSON_*) into o. */
static void tunnel_counters_json(json_t *o, const struct fsm_tunnel_stats *st, int group)
{
#define TUNNEL_COUNTER_JSON(field, json, key, metric, help) \
	if (TUNNEL_JSON_##json == group)                     \
		json_object_set_new(o, key, json_integer((json_int_t)st->field));
	TUNNEL_COUNTERS(TUNNEL_COUNTER_JSON)
#undef TUNNEL_COUNTER_JSON
}

/* Data sequencing of a session: each direction and its counters */
static void seq_json(json_t *o, const struct session_view *v)
{
	json_object_set_new(o, "rx_sequencing", json_boolean(v->rx_seq));
	json_object_set_new(o, "tx_sequencing", json_boolean(v->tx_seq));
	dp_counters_json(o, &v->shown, DP_JSON_SEQUENCING);
}

/*
 * A session: its state and counters, then its data-plane settings.  The
 * keys of a static session (`l2tp static session`) come in another order
 * than a control-plane session's, as they always have.
 */
static json_t *session_json(const struct session_view *v, uint64_t now)
{
	json_t *o;

	o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:I}",
		      "state", v->state,
		      "local_session_id", (json_int_t)v->local_sid,
		      "remote_session_id", (json_int_t)v->remote_sid,
		      "remote_end_id", v->remote_end_id,
		      "circuit_local", v->circuit_local_up ? "UP" : "DOWN",
		      "circuit_remote", v->circuit_remote_up ? "UP" : "DOWN",
		      "connection_time", (json_int_t)v->connection_time);
	if (!o)
		return NULL;
	dp_counters_json(o, &v->shown, DP_JSON_TRAFFIC);
	dp_counters_json(o, &v->shown, DP_JSON_OFFLOAD);
	json_object_set_new(o, "fastpath", json_boolean(v->fastpath));
	if (!v->is_static)
		seq_json(o, v);
	json_object_set_new(o, "rx_cookie_length", json_integer((json_int_t)v->rx_cookie_len));
	json_object_set_new(o, "tx_cookie_length", json_integer((json_int_t)v->tx_cookie_len));
	json_object_set_new(o, "rx_l2ss", json_string(v->rx_l2ss ? "default" : "none"));
	json_object_set_new(o, "tx_l2ss", json_string(v->tx_l2ss ? "default" : "none"));
	if (v->is_static)
		seq_json(o, v);
	json_object_set_new(o, "mismatch", json_string(v->mismatch));
	if (v->is_static) {
		json_object_set_new(o, "static", json_true());
		json_object_set_new(o, "last_rx_ago",
				    v->last_rx_ago >= 0 ? json_integer((json_int_t)v->last_rx_ago) : json_null());
		json_object_set_new(o, "liveness_window", json_integer((json_int_t)v->liveness_window));
		tunnel_probe_json(v->t, o, now);
	} else {
		json_object_set_new(o, "pseudowire", json_integer((json_int_t)v->pw));
		json_object_set_new(o, "interface", json_string(v->ifname));
		json_object_set_new(o, "vlan", json_integer((json_int_t)v->vlan));
		dp_counters_json(o, &v->shown, DP_JSON_VLAN);
	}
	return o;
}

static json_t *tunnel_json(const struct tunnel *t, uint64_t now)
{
	json_t *sessions = json_array(), *o, *reason;
	size_t n = tunnel_sessions_count(t);
	struct session_view *sv = calloc(n ? n : 1, sizeof(*sv));
	struct tunnel_view v;

	tunnel_view(t, &v);
	n = sv ? tunnel_sessions_view(t, now, sv, n) : 0;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(sessions, session_json(&sv[i], now));
	free(sv);
	o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:s}",
		      "id", (json_int_t)v.id,
		      "state", v.state,
		      "version", "L2TPv3",
		      "role", v.role,
		      "local_tunnel_id", (json_int_t)v.local_ccid,
		      "remote_tunnel_id", (json_int_t)v.remote_ccid,
		      "local_address", addr_json(&t->local, (v.active || t->dps) && t->local.ss_family != AF_UNSPEC),
		      "remote_address", addr_json(&t->peer, t->peer_known),
		      "encapsulation", t->cfg->encap == CFG_ENCAP_IP ? "ip" : "udp",
		      "local_port", (json_int_t)(t->cfg->encap == CFG_ENCAP_IP ? 0 : t->cfg->dp.local_port),
		      "remote_port", (json_int_t)(t->peer_known ? sockaddr_port(&t->peer) : 0),
		      "peer_vendor_name", t->fsm.peer_vendor_name,
		      "peer_host_name", t->fsm.peer_host_name,
		      "peer_router_id", v.peer_router_id.s,
		      "ns", (json_int_t)t->fsm.ns,
		      "nr", (json_int_t)t->fsm.nr,
		      "auth", auth_name(t->fsm.auth));
	reason = json_string(t->fsm.reason);
	if (!o || !reason) { /* text that is not UTF-8 */
		json_decref(o);
		json_decref(reason);
		json_decref(sessions);
		return NULL;
	}
	tunnel_counters_json(o, &v.shown, TUNNEL_JSON_MAIN);
	json_object_set_new(o, "last_down_reason", reason);
	json_object_set_new(o, "sessions", sessions);
	json_object_set_new(o, "admin", json_string(t->admin_down ? "down" : "up"));
	if (t->cfg->ipsec.on)
		json_object_set_new(o, "ipsec", ipsec_tunnel_json(t));
	json_object_set_new(o, "pseudowires", json_integer((json_int_t)v.n_pws));
	json_object_set_new(o, "mismatch", json_string(t->mismatch));
	json_object_set_new(o, "keepalive_rtt_ms", json_integer((json_int_t)v.keepalive_rtt_ms));
	tunnel_counters_json(o, &v.shown, TUNNEL_JSON_CTRL);
	if (t->removing)
		json_object_set_new(o, "removing", json_true());
	if (t->owner) /* one more connection of the tunnel (admission.h) */
		json_object_set_new(o, "connection", json_string(t->label));
	if (t->peer_index) { /* a hub's instance */
		json_object_set_new(o, "peer_index", json_integer((json_int_t)t->peer_index));
		json_object_set_new(o, "interface", json_string(t->ifname));
		if (t->parked) /* out of the bridge until it calls again (l2tp hub hold) */
			json_object_set_new(o, "parked", json_true());
	}
	return o;
}

static json_t *show_status(struct daemon *d)
{
	json_t *tunnels = json_array();
	uint64_t now = now_ms();
	struct dp_global_counters g = { 0 };
	struct daemon_udp_drops u;
	json_t *o;

	if (d->dp)
		dp_global_counters(d->dp, &g);
	daemon_udp_drops(d, &u);
	for (size_t i = 0; i < d->n_tunnels; i++)
		json_array_append_new(tunnels, tunnel_json(d->tunnels[i], now));
	/* per data thread: what it did, for the cost per frame */
	json_t *threads = json_array();
	for (unsigned i = 0; d->dp && i < dp_threads(d->dp); i++) {
		struct dp_thread_stats st;

		dp_thread_stats(d->dp, i, &st);
		json_array_append_new(threads,
				      json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "wakeups",
						(json_int_t)st.wakeups, "tap_reads", (json_int_t)st.tap_reads,
						"tap_writes", (json_int_t)st.tap_writes, "udp_recvs",
						(json_int_t)st.udp_recvs, "udp_sends", (json_int_t)st.udp_sends,
						"tx_frames", (json_int_t)st.tx_frames, "rx_frames",
						(json_int_t)st.rx_frames, "copied_octets", (json_int_t)st.copied_octets,
						"polls", (json_int_t)st.polls, "poll_us", (json_int_t)(st.poll_ns / 1000)));
	}
#define SHOWN(field) ((json_int_t)(d->stats.field - d->stats_clear.field))
	o = json_pack("{s:i, s:s, s:i, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "errno", 0,
		      "vendor_name", L2TPV3D_VENDOR_NAME, "dataplane_realtime", d->dp_realtime, "tunnels", tunnels,
		      "dataplane_threads", threads, "counters",
			 "rx_ctrl_malformed", SHOWN(rx_ctrl_malformed),
			 "rx_ctrl_unknown_ccid", SHOWN(rx_ctrl_unknown_ccid),
			 "rx_ctrl_wrong_peer", SHOWN(rx_ctrl_wrong_peer),
			 "sccrq_accepted", SHOWN(sccrq_accepted),
			 "sccrq_refused", SHOWN(sccrq_refused),
			 "rx_data_unknown_session", (json_int_t)g.rx_unknown_session,
			 "rx_data_malformed", (json_int_t)g.rx_malformed,
			 "udp_socket_drops", (json_int_t)u.socket_drops,
			 "udp_rcvbuf_errors", (json_int_t)u.netns_rcvbuf_errors);
#undef SHOWN
	if (o)
		json_object_set_new(o, "udp_rcvbuf", json_integer((json_int_t)u.rcvbuf));
	return o;
}

static json_t *error_reply(int err, const char *msg)
{
	return json_pack("{s:i, s:s}", "errno", err, "error", msg);
}

static json_t *ok_reply(void)
{
	return json_pack("{s:i}", "errno", 0);
}

/* The running configuration, normalized (cfg_print), as text and lines. */
static json_t *show_config(struct daemon *d)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *lines, *o;

	if (!f)
		return error_reply(ENOMEM, "out of memory");
	cfg_print(d->cfg, f);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return error_reply(ENOMEM, "out of memory");
	}
	o = json_pack("{s:i, s:s, s:s}", "errno", 0, "config_file", d->config_path, "text", buf);
	lines = json_array();
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		json_array_append_new(lines, json_string(line));
	json_object_set_new(o, "lines", lines);
	free(buf);
	return o;
}

static json_t *tunnel_cmd(struct daemon *d, json_t *req, bool up)
{
	json_t *jid = json_object_get(req, "tunnel");
	struct tunnel *t;
	json_int_t id;

	if (!json_is_integer(jid) || (id = json_integer_value(jid)) < 1 || id > 0xffffffffll)
		return error_reply(EINVAL, "\"tunnel\" must be a tunnel number");
	t = daemon_tunnel_find(d, (unsigned)id);
	if (!t)
		return error_reply(ENOENT, "no such tunnel (not configured or not enabled)");
	if (up)
		tunnel_admin_up(t);
	else
		tunnel_admin_down(t);
	return ok_reply();
}

static json_t *reload(struct daemon *d)
{
	struct reload_report rep = { 0 };
	json_t *lines = json_array(), *o;

	daemon_reload(d, &rep);
	for (size_t i = 0; i < rep.n; i++)
		json_array_append_new(lines, json_string(rep.v[i]));
	if (rep.err < 0)
		o = json_pack("{s:i, s:s, s:o}", "errno", -rep.err, "error",
			      rep.err == -EINVAL ? "configuration has errors; running configuration kept"
						 : strerror(-rep.err), "report", lines);
	else
		o = json_pack("{s:i, s:o}", "errno", 0, "report", lines);
	reload_report_free(&rep);
	return o;
}

static struct ctl_client *client_find(struct daemon *d, struct bufferevent *bev)
{
	for (struct ctl_client *c = d->clients; c; c = c->next)
		if (c->bev == bev)
			return c;
	return NULL;
}

static void client_close(struct daemon *d, struct bufferevent *bev)
{
	for (struct ctl_client **p = &d->clients; *p; p = &(*p)->next) {
		if ((*p)->bev == bev) {
			struct ctl_client *c = *p;

			*p = c->next;
			free(c);
			break;
		}
	}
	bufferevent_free(bev);
}

static void monitor_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	/* nothing more is expected from a monitor client: discard */
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void monitor_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)arg;
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg);

static json_t *monitor_start(struct daemon *d, struct bufferevent *bev)
{
	struct ctl_client *c = client_find(d, bev);
	struct timeval wtv = { CTL_TIMEOUT_S, 0 };

	if (!c)
		return error_reply(EINVAL, "unknown client");
	c->monitor = true;
	/* silent clients are fine here; a client that stops reading is not */
	bufferevent_set_timeouts(bev, NULL, &wtv);
	bufferevent_setcb(bev, monitor_read_cb, monitor_write_cb, client_event_cb, d);
	return json_pack("{s:i, s:b}", "errno", 0, "monitor", 1);
}

static json_t *handle_request(struct daemon *d, struct bufferevent *bev, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, 0, &jerr), *reply;
	const char *cmd;

	if (!req || !json_is_object(req)) {
		json_decref(req);
		return error_reply(EINVAL, "request is not a JSON object");
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (!cmd)
		reply = error_reply(EINVAL, "request has no \"cmd\"");
	else if (!strcmp(cmd, "show-status"))
		reply = show_status(d);
	else if (!strcmp(cmd, "show-config"))
		reply = show_config(d);
	else if (!strcmp(cmd, "tunnel-up"))
		reply = tunnel_cmd(d, req, true);
	else if (!strcmp(cmd, "tunnel-down"))
		reply = tunnel_cmd(d, req, false);
	else if (!strcmp(cmd, "clear-counters")) {
		daemon_clear_counters(d);
		reply = ok_reply();
	} else if (!strcmp(cmd, "reload"))
		reply = reload(d);
	else if (!strcmp(cmd, "monitor"))
		reply = monitor_start(d, bev);
	else
		reply = error_reply(EOPNOTSUPP, "unknown command");
	json_decref(req);
	return reply;
}

static bool is_monitor(struct daemon *d, struct bufferevent *bev)
{
	struct ctl_client *c = client_find(d, bev);

	return c && c->monitor;
}

void control_event(struct daemon *d, const struct ctl_event *ev)
{
	struct ctl_client *m, *next;
	struct timespec ts;
	bool any = false;
	json_t *o;
	char *out;

	for (m = d->clients; m; m = m->next)
		any |= m->monitor;
	if (!any)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	o = json_pack("{s:s, s:f}", "event", ev->event, "time", (double)ts.tv_sec + ts.tv_nsec / 1e9);
	if (!o)
		return;
	if (ev->tunnel)
		json_object_set_new(o, "tunnel", json_integer(ev->tunnel));
	if (ev->peer)
		json_object_set_new(o, "peer", json_string(ev->peer));
	if (ev->from)
		json_object_set_new(o, "from", json_string(ev->from));
	if (ev->to)
		json_object_set_new(o, "to", json_string(ev->to));
	if (ev->local_sid)
		json_object_set_new(o, "local_session_id", json_integer(ev->local_sid));
	if (ev->remote_sid)
		json_object_set_new(o, "remote_session_id", json_integer(ev->remote_sid));
	if (ev->reason)
		json_object_set_new(o, "reason", json_string(ev->reason));
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!out)
		return;
	for (m = d->clients; m; m = next) {
		struct evbuffer *ob = bufferevent_get_output(m->bev);

		next = m->next;
		if (!m->monitor)
			continue;
		if (evbuffer_get_length(ob) > CTL_MONITOR_BACKLOG) {
			log_info("control: dropping a monitor client that does not read");
			client_close(d, m->bev);
			continue;
		}
		evbuffer_add(ob, out, strlen(out));
		evbuffer_add(ob, "\n", 1);
	}
	free(out);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct daemon *d = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 && !is_monitor(d, bev))
		client_close(d, bev);
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct daemon *d = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	json_t *reply;
	char *out;

	if (!line) {
		if (evbuffer_get_length(in) > CTL_MAX_REQUEST)
			client_close(d, bev);
		return;
	}
	reply = handle_request(d, bev, line, n);
	free(line);
	out = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!is_monitor(d, bev))
		bufferevent_disable(bev, EV_READ);
	if (!out) {
		client_close(d, bev);
		return;
	}
	bufferevent_write(bev, out, strlen(out));
	bufferevent_write(bev, "\n", 1);
	free(out);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	client_close(arg, bev);
}

static void listen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { CTL_TIMEOUT_S, 0 };
	struct bufferevent *bev;
	struct ctl_client *cl;
	int c;

	(void)what;
	c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	cl = calloc(1, sizeof(*cl));
	bev = cl ? bufferevent_socket_new(d->base, c, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (!bev) {
		free(cl);
		close(c);
		return;
	}
	cl->bev = bev;
	cl->next = d->clients;
	d->clients = cl;
	bufferevent_setcb(bev, client_read_cb, client_write_cb, client_event_cb, d);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

/* mkdir -p of the socket's directory (mode 0755). */
static void make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(dir, 0755);
			*p = '/';
		}
	}
	(void)mkdir(dir, 0755);
}

int control_open(struct daemon *d)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(d->socket_path) >= sizeof(sun.sun_path)) {
		log_warnx("control socket path too long: %s", d->socket_path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, d->socket_path, strlen(d->socket_path) + 1);
	make_parent_dir(d->socket_path);
	/* a stale socket from a daemon that died: replace it, but never a live one */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0) {
		log_warnx("another l2tpv3d is running on %s", d->socket_path);
		return -EADDRINUSE;
	}
	(void)unlink(d->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		r = -errno;
		log_warn("control socket %s", d->socket_path);
		close(fd);
		return r;
	}
	d->listen_fd = fd;
	d->ev_listen = event_new(d->base, fd, EV_READ | EV_PERSIST, listen_cb, d);
	if (!d->ev_listen)
		return -ENOMEM;
	event_add(d->ev_listen, NULL);
	return 0;
}

void control_close(struct daemon *d)
{
	while (d->clients)
		client_close(d, d->clients->bev);
	if (d->ev_listen) {
		event_free(d->ev_listen);
		d->ev_listen = NULL;
	}
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		d->listen_fd = -1;
		(void)unlink(d->socket_path);
	}
}
