/* SPDX-License-Identifier: MIT */
/*
 * Flat views of tunnels and sessions (view.h): the one place that reads a
 * tunnel's state machine, configuration and data path for the outputs.
 */
#include "daemon/view.h"

#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"

/* The counter table covers struct fsm_tunnel_stats: a new field must be listed. */
#define TUNNEL_COUNTER_SIZE(field, json, key, metric, help) +sizeof(uint64_t)
_Static_assert(sizeof(struct fsm_tunnel_stats) == 0 TUNNEL_COUNTERS(TUNNEL_COUNTER_SIZE) + sizeof(uint64_t),
	       "a field of struct fsm_tunnel_stats is missing from TUNNEL_COUNTERS (view.h)");
#undef TUNNEL_COUNTER_SIZE

void tunnel_view(const struct tunnel *t, struct tunnel_view *ret)
{
	const struct fsm_tunnel *f = &t->fsm;
	const struct cfg_tunnel *ct = t->cfg;
	bool active = f->state != FSM_T_IDLE;

	*ret = (struct tunnel_view){
		.t = t,
		.id = ct->id,
		.label = t->label,
		.state = ct->is_static ? (t->dps ? "static" : "idle") : fsm_tunnel_state_name(f->state),
		.fsm_state = f->state,
		.role = ct->is_static ? "static" : t->fconf.initiator ? "initiator" : "responder",
		.active = active,
		.local_ccid = active ? f->local_ccid : 0,
		.remote_ccid = active ? f->remote_ccid : 0,
		.n_sessions = f->n_sessions,
		.n_pws = t->n_pws + 1,
		.raw = f->stats,
		.established_total = t->established_total,
		.keepalive_rtt_ms = f->stats.last_hello_rtt_ms,
		.peer_router_id = router_id_str(f->peer_router_id),
	};
	tunnel_fsm_stats(t, &ret->shown);
}

size_t tunnel_sessions_count(const struct tunnel *t)
{
	return t->fsm.n_sessions + (t->cfg->is_static && t->dps);
}

static void session_view(const struct tunnel *t, const struct fsm_session *s, uint64_t now,
			 struct session_view *v)
{
	const uint8_t *id;
	size_t idlen;

	*v = (struct session_view){
		.t = t,
		.up = s->state == FSM_S_ESTABLISHED,
		.state = fsm_session_state_name(s->state),
		.local_sid = s->local_sid,
		.remote_sid = s->remote_sid,
		.circuit_local_up = s->circuit_local_up,
		.circuit_remote_up = s->circuit_remote_up,
		.connection_time = (int64_t)fsm_session_uptime(s, now),
		.pw = s->pw + 1,
		.ifname = tunnel_session_ifname(t, s),
		.vlan = tunnel_session_vlan(t, s),
		.rx_seq = s->rx_seq,
		.tx_seq = s->tx_seq,
		.rx_cookie_len = s->rx_cookie_len,
		.tx_cookie_len = s->tx_cookie_len,
		.rx_l2ss = s->rx_l2ss,
		.tx_l2ss = s->tx_l2ss,
		.mismatch = s->mismatch,
		.last_rx_ago = -1,
	};
	id = fsm_pw_end_id(&t->fsm.conf, s->pw, &idlen);
	snprintf(v->remote_end_id, sizeof(v->remote_end_id), "%.*s", (int)idlen, (const char *)id);
	if (s->user) {
		dp_session_read(s->user, &v->raw, NULL);
		v->fastpath = dp_session_fastpath(s->user);
	}
	tunnel_counters_shown(t, s->local_sid, &v->raw, &v->shown);
}

/* Seconds from sec (CLOCK_MONOTONIC, 0: never) to now (ms); -1 for never. */
static int64_t seconds_since(uint64_t sec, uint64_t now)
{
	if (!sec)
		return -1;
	return now / 1000 > sec ? (int64_t)(now / 1000 - sec) : 0;
}

/*
 * `l2tp static session`: no control connection, so its liveness is data
 * seen recently: static-up when data came within the keepalive's
 * interval × count (30 s with keepalive off), or when the probe of `l2tp
 * static probe` is answered (tunnel_probe.c), else static-idle.
 */
static void static_session_view(const struct tunnel *t, uint64_t now, struct session_view *v)
{
	const struct cfg_tunnel *ct = t->cfg;
	struct dp_counters raw;
	uint64_t last_rx;
	int64_t ago;
	bool up;

	/* one read of the data path (the fast path's counters are a syscall) */
	dp_session_read(t->dps, &raw, &last_rx);
	ago = seconds_since(last_rx, now);
	up = tunnel_static_up(t, ago);
	*v = (struct session_view){
		.t = t,
		.is_static = true,
		.up = up,
		.state = up ? "static-up" : "static-idle",
		.local_sid = ct->static_local_sid,
		.remote_sid = ct->static_remote_sid,
		.circuit_local_up = true,
		.circuit_remote_up = up,
		.connection_time = (int64_t)(now - t->static_up_ms) / 1000,
		.pw = 1,
		.ifname = t->ifname,
		.rx_seq = ct->dp.data_seq,
		.tx_seq = ct->dp.data_seq,
		.rx_cookie_len = ct->static_rx_cookie_len,
		.tx_cookie_len = ct->static_tx_cookie_len,
		.rx_l2ss = ct->dp.l2ss,
		.tx_l2ss = ct->dp.l2ss,
		.mismatch = "",
		.raw = raw,
		.last_rx_ago = ago,
		.liveness_window = tunnel_static_window(t),
	};
	tunnel_counters_shown(t, ct->static_local_sid, &raw, &v->shown);
	v->fastpath = dp_session_fastpath(t->dps);
}

size_t tunnel_sessions_view(const struct tunnel *t, uint64_t now, struct session_view *ret, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < t->fsm.n_sessions && n < cap; i++)
		session_view(t, &t->fsm.sessions[i], now, &ret[n++]);
	if (t->cfg->is_static && t->dps && n < cap)
		static_session_view(t, now, &ret[n++]);
	return n;
}
