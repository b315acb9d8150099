/* SPDX-License-Identifier: MIT */
/*
 * Flat views of a tunnel and its sessions: what every output shows, built
 * in one place (view.c) from the tunnel, its state machine and its data
 * path, and rendered by the control socket's status JSON (control.c, from
 * which l2tpctl prints the text) and by the Prometheus metrics
 * (metrics.c).  A view holds copies and pointers into the tunnel: it is
 * valid until the control thread next changes the tunnel.
 *
 * Counters are listed once: a session's data counters in DP_COUNTERS
 * (dataplane/dp.h), a tunnel's control-connection counters in
 * TUNNEL_COUNTERS below.  Each output expands the list.
 */
#ifndef L2TP_DAEMON_VIEW_H
#define L2TP_DAEMON_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "dataplane/dp.h"
#include "fsm/ctrl.h"
#include "wire/l2tp_wire.h"

struct tunnel;

/* Where the status JSON puts a DP_COUNTERS entry in a session's object. */
enum {
	DP_JSON_TRAFFIC, /* after connection_time */
	DP_JSON_OFFLOAD, /* after those */
	DP_JSON_SEQUENCING, /* with rx_sequencing / tx_sequencing */
	DP_JSON_VLAN, /* after vlan */
};

/*
 * A tunnel's control-connection counters (struct fsm_tunnel_stats):
 *   X(field, json, key, metric, help)
 * json: TUNNEL_JSON_MAIN (after "auth"), TUNNEL_JSON_CTRL (after
 * keepalive_rtt_ms) or TUNNEL_JSON_NONE; key: its status JSON key; metric:
 * its Prometheus counter without the l2tpv3d_ prefix, NULL = none.  The
 * order is the metrics' order; within each json group it is the JSON's.
 * The gauge last_hello_rtt_ms is not a counter and is not listed.
 */
enum { TUNNEL_JSON_NONE, TUNNEL_JSON_MAIN, TUNNEL_JSON_CTRL };
#define TUNNEL_COUNTERS(X)                                                                                     \
	X(rx_msgs, CTRL, "rx_ctrl_messages", "tunnel_control_rx_messages_total",                               \
	  "Control messages received on the current control connection.")                                     \
	X(tx_msgs, CTRL, "tx_ctrl_messages", "tunnel_control_tx_messages_total",                               \
	  "Control messages sent on the current control connection.")                                         \
	X(retransmissions, MAIN, "retransmissions", "tunnel_control_retransmissions_total",                    \
	  "Control messages retransmitted on the current control connection.")                                \
	X(rx_duplicates, NONE, "rx_duplicates", "tunnel_control_duplicates_total",                             \
	  "Duplicate control messages received on the current control connection.")                           \
	X(rx_out_of_order, NONE, "rx_out_of_order", NULL, "Control messages received ahead of sequence.")      \
	X(auth_failures, MAIN, "auth_failures", "tunnel_auth_failures_total",                                  \
	  "Control messages that failed authentication on the current control connection.")                   \
	X(established_count, MAIN, "established_count", NULL,                                                  \
	  "Times the current control connection was established.")

/* A session, control-plane or a tunnel's `l2tp static session`. */
struct session_view {
	const struct tunnel *t;
	bool is_static; /* `l2tp static session` */
	bool up; /* established, or static-up */
	const char *state; /* fsm state name, or static-up / static-idle */
	uint32_t local_sid, remote_sid;
	char remote_end_id[L2TP_END_ID_MAX + 1]; /* "" for a static session */
	bool circuit_local_up, circuit_remote_up;
	int64_t connection_time; /* seconds */
	unsigned pw; /* pseudowire number, 1.. */
	const char *ifname; /* its TAP port */
	unsigned vlan; /* its pseudowire's VLAN, 0 = none */
	bool rx_seq, tx_seq; /* data sequencing in each direction */
	size_t rx_cookie_len, tx_cookie_len;
	bool rx_l2ss, tx_l2ss;
	bool fastpath; /* carried by the kernel fast path (dp_session_fastpath) */
	const char *mismatch; /* "" = none */
	struct dp_counters shown; /* as l2tpctl shows them: minus `clear counters` */
	struct dp_counters raw; /* monotonic (metrics) */
	/* a static session's liveness (see tunnel_static_up) */
	int64_t last_rx_ago; /* seconds, -1 = never */
	int64_t liveness_window; /* seconds */
};

/* A tunnel, without its sessions. */
struct tunnel_view {
	const struct tunnel *t;
	unsigned id;
	const char *label; /* "1", or "1.3" for a hub's peer 3 */
	const char *state; /* as shown: fsm state name, or static / idle for a static tunnel */
	enum fsm_tunnel_state fsm_state;
	const char *role; /* initiator, responder, static */
	bool active; /* a control connection exists (not idle) */
	uint32_t local_ccid, remote_ccid; /* 0 when not active */
	struct router_id_str peer_router_id; /* .s: dotted quad */
	size_t n_sessions; /* control-plane sessions */
	size_t n_pws; /* pseudowires */
	struct fsm_tunnel_stats shown; /* minus `clear counters` */
	struct fsm_tunnel_stats raw; /* per connection, never cleared (metrics) */
	uint64_t established_total; /* since the daemon started */
	uint64_t keepalive_rtt_ms; /* of the last acknowledged HELLO */
};

void tunnel_view(const struct tunnel *t, struct tunnel_view *ret);
/* How many sessions tunnel_sessions_view gives for t. */
size_t tunnel_sessions_count(const struct tunnel *t);
/* t's sessions, at most cap of them, into ret; returns how many. */
size_t tunnel_sessions_view(const struct tunnel *t, uint64_t now, struct session_view *ret, size_t cap);

#endif
