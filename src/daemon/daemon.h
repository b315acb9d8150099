/* SPDX-License-Identifier: MIT */
/*
 * Daemon glue: owns the event loop, the UDP socket, the data path, the
 * control socket and the tunnels.  Mutable state lives in struct daemon,
 * passed around explicitly.
 */
#ifndef L2TP_DAEMON_H
#define L2TP_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "config/config.h"
#include "daemon/ctrlq.h"
#include "daemon/guard.h"
#include "daemon/probe.h"
#include "dataplane/dp.h"
#include "fsm/ctrl.h"

struct event_base;
struct event;
struct nl_ctx;
struct ctl_client;
struct metrics;
struct ipsec_mgr;

#define L2TPV3D_VENDOR_NAME "l2tpv3d"

struct daemon_stats {
	uint64_t rx_ctrl_malformed; /* control datagrams that did not decode */
	uint64_t rx_ctrl_unknown_ccid; /* for a connection we do not have */
	uint64_t rx_ctrl_wrong_peer; /* right CCID, wrong source address */
	uint64_t sccrq_refused;
	uint64_t sccrq_accepted;
};

struct tunnel;

/* Lines reporting what a reload did or why it failed (for the caller). */
struct reload_report {
	char **v;
	size_t n;
	int err; /* 0 or negative errno */
};

#define DAEMON_UDP_EXTRA 8 /* local ports besides 1701 (the data path serves as many) */
#define DAEMON_CCID_HINT_BITS 14 /* find_by_ccid's hint slots: 16384 */

struct daemon {
	struct event_base *base;
	struct cfg *cfg;
	const char *config_path;
	const char *socket_path;
	bool foreground;
	char hostname[256];

	int udp_fd;
	int dp_realtime; /* the data thread's SCHED_FIFO priority now, 0 = normal */
	unsigned dp_busy_poll; /* dataplane busy-poll in effect, microseconds */
	bool dp_fastpath; /* `dataplane fastpath` as read at start (a reload does not change it) */
	int ip_fd[2]; /* raw IP/115 sockets, IPv4 and IPv6; -1 until a tunnel needs them */
	int udp_extra[DAEMON_UDP_EXTRA]; /* UDP sockets of other local ports (`l2tp local port`), -1 = none */
	uint16_t udp_extra_port[DAEMON_UDP_EXTRA];
	int ctrl_pair[2]; /* [0] control thread end, [1] data thread end */
	struct dp *dp;
	struct nl_ctx *nl;
	int listen_fd;

	struct event *ev_ctrl; /* control packets from the data path */
	struct ctrlq sccrq_q; /* SCCRQs waiting behind known connections' messages (ctrlq.h) */
	struct event *ev_sccrq; /* takes the next slice of sccrq_q */
	struct event *ev_listen;
	struct event *ev_sigterm, *ev_sigint, *ev_sighup;
	struct event *ev_stop; /* shutdown deadline */

	struct tunnel **tunnels;
	size_t n_tunnels;
	uint32_t ccid_hint[1u << DAEMON_CCID_HINT_BITS]; /* find_by_ccid (daemon.c) */

	bool stopping;
	struct daemon_stats stats;
	struct daemon_stats stats_clear; /* `clear counters`: shown values are stats - stats_clear */
	struct ctl_client *clients; /* control socket connections (control.c) */
	struct metrics *metrics; /* Prometheus endpoint, NULL if off (metrics.c) */
	uint64_t refuse_log_window; /* rate limit for refusal log lines */
	unsigned refuse_log_count;
	struct guard guard; /* strangers: rate limits, replays, recently closed (guard.h) */
	/* TAP ports to delete (reap.c): deleted together, in one kernel
	 * operation, 200 ms after the first was retired, or at exit */
	struct retired_port *retired;
	size_t n_retired;
	struct event *ev_reap;
	int udp_rcvbuf; /* the UDP socket's receive buffer now, bytes (udpbuf.c) */
	struct ipsec_mgr *ipsec; /* L2TPv3/IPsec: charon over VICI (ipsec.c) */
	/* SCCRQs of IPsec tunnels whose SA charon has not confirmed yet,
	 * held until it does or DAEMON_HOLD_MS pass (daemon.c, issue 15) */
	struct held_sccrq *held;
	size_t n_held;
	struct event *ev_held;
	struct event *ev_fp_refresh; /* the fast path follows NAT mappings (dp_fp_refresh) */
	bool held_final; /* deciding held SCCRQs for good: none is held again */
};

/* An SCCRQ from an IPsec peer whose SA charon has not confirmed yet is
 * decided again once it has, or after this long (then refused as before). */
#define DAEMON_HOLD_MS 600
#define DAEMON_HOLD_MAX 8

/* ipsec.c: a list-sas answer was taken (held SCCRQs of tunnels now up go on) */
void daemon_ipsec_listed(struct daemon *d);

/* Pseudowire 2.. of a tunnel (`l2tp pseudowire Q`): its TAP port and
 * data-path session; pseudowire 1's are the tunnel's own fields. */
struct tunnel_port {
	unsigned num; /* Q */
	char ifname[IFNAMSIZ]; /* tunnelN-Q, a hub's peer P: tunnelN.P-Q */
	int tap_fd;
	bool tap_created;
	struct dp_session *dps; /* its session's data path, NULL if none */
	uint32_t clear_sid; /* `clear counters` of its session */
	struct dp_counters clear_dp;
};

/* A configured tunnel: conf + state + stats. */
struct tunnel {
	struct daemon *d;
	const struct cfg_tunnel *cfg;
	struct fsm_tunnel_conf fconf;
	struct fsm_tunnel fsm;

	struct sockaddr_storage peer; /* where control and data go */
	struct sockaddr_storage local; /* our source address (port = ours) */
	bool peer_known;

	int tap_fd;
	bool tap_created;
	struct dp_session *dps; /* pseudowire 1's session's data path */
	struct tunnel_port *pws; /* pseudowires 2.. (cfg->pws), n_pws of them */
	size_t n_pws;
	uint64_t static_up_ms; /* `l2tp static session`: when its data path was added, 0 = none */
	/* `l2tp static probe`: ARP probes through the TAP port (tunnel_probe.c) */
	int probe_fd; /* packet socket on the TAP port, -1 = none */
	struct event *probe_rx, *probe_timer;
	struct probe_state probe;
	char probe_error[96]; /* why the probe cannot run, "" = none (status) */

	struct event *timer; /* fsm deadline */
	struct event *reconnect; /* always-on: the back-off before calling again */
	struct event *later; /* work that waits for the end of the current event (later_cb) */
	struct event *idle; /* disconnect time: checked each second */
	uint64_t idle_packets; /* rx + tx packets at the last check */
	uint64_t idle_since_ms;
	unsigned backoff_ms;
	uint64_t down_since_ms;
	uint64_t last_tunnel_up_ms;
	uint64_t established_total; /* times up since the daemon started (fsm stats are per connection) */
	struct sockaddr_storage last_up_peer; /* peer of the last established connection */
	char mismatch[FSM_MISMATCH_MAX]; /* last setting the peer disagreed on, "" = none (status) */

	/* hub (`l2tp hub on`): the configured tunnel is a template that never
	 * connects; each initiator gets an instance of its own (own
	 * connection, session and TAP port tunnelN.P on the same bridge),
	 * found again by the Router ID it sends */
	struct tunnel *hub; /* an instance's template; NULL once it is being removed */
	unsigned peer_index; /* P of an instance, 1..hub_max; 0: not an instance */
	uint32_t hub_router_id; /* an instance's peer Router ID */
	/* one more control connection of a tunnel or hub instance (the
	 * owner) from its peer (admission.h: several connections per peer,
	 * replacement after authentication): it uses the owner's TAP ports and
	 * is freed once idle; NULL for the others */
	struct tunnel *owner;
	unsigned abandoned; /* connections in a row the peer left after our SCCRP (admission.h) */
	size_t adm_index; /* scratch: its index in d->tunnels while admission runs */
	char ifname[IFNAMSIZ]; /* TAP port: cfg->ifname, or tunnelN.P */
	char label[24]; /* in log lines: "1", or "1.3" for a hub's peer 3 (as tunnel1.3) */

	/* administration and reload */
	bool admin_down; /* `l2tpctl tunnel down N`: closed, no always-on until `up` */
	bool restart_pending; /* settings changed: start again once idle */
	bool removing; /* gone from the configuration: freed once idle */
	/* a hub's instance whose connection closed: its ports are out of the
	 * bridge and down; the instance and its ports are deleted when hold
	 * fires (`l2tp hub hold`), unless its peer comes back first */
	bool parked;
	struct event *hold;
	struct cfg_tunnel *cfg_own; /* a removed tunnel's own copy of its settings */

	/* `clear counters`: shown values are counters minus these */
	uint32_t clear_sid; /* local session ID the data counters below belong to */
	struct dp_counters clear_dp;
	uint32_t clear_ccid; /* control connection the fsm counters below belong to */
	struct fsm_tunnel_stats clear_fsm;
};

/* A tunnel or session event, for the log's companions (monitor clients). */
struct ctl_event {
	const char *event; /* "tunnel-up", "tunnel-down", "session-up", ... */
	unsigned tunnel; /* 0: not tied to one tunnel */
	const char *peer; /* "203.0.113.2:1701", NULL if unknown */
	const char *from, *to; /* states, NULL if none */
	uint32_t local_sid, remote_sid; /* sessions; 0 otherwise */
	const char *reason; /* NULL if none */
};

uint64_t now_ms(void);

/* tunnel.c */
int tunnel_create(struct daemon *d, const struct cfg_tunnel *ct, struct tunnel **ret);
/* A hub's instance number index for one peer (not started: the caller
 * accepts the peer's SCCRQ on it). */
int tunnel_create_instance(struct tunnel *hub, unsigned index, struct tunnel **ret);
/* One more connection beside owner's (admission.h), not started: the
 * caller accepts the SCCRQ on it. */
int tunnel_create_beside(struct tunnel *owner, struct tunnel **ret);
/* A peer left a connection of t's after our SCCRP: count it and, after a
 * few in a row, say why (log and status). */
void tunnel_note_abandoned(struct tunnel *t);
void tunnel_free(struct tunnel *t);
void tunnel_start(struct tunnel *t);
/* A decoded control message for this tunnel's connection. */
void tunnel_input(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		  const struct sockaddr_storage *peer, const struct sockaddr_storage *local);
/*
 * A control message for t's established connection from another address
 * than its peer (NAT rebinding, new address).  With digest authentication
 * it goes to the state machine; if that accepts it as genuine and new
 * (digest verified, in sequence), the tunnel and its data path move to
 * peer and true is returned.  False: not moved (message dropped or
 * discarded by the state machine as a duplicate or forgery).
 */
bool tunnel_input_roaming(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
			  const struct sockaddr_storage *peer, const struct sockaddr_storage *local);
void tunnel_accept(struct tunnel *t, const struct l2tp_msg *m, const uint8_t *raw, size_t len,
		   const struct sockaddr_storage *peer, const struct sockaddr_storage *local);
void tunnel_shutdown(struct tunnel *t);
bool tunnel_is_idle(const struct tunnel *t);
/* Reload: settings changed (ct is the new configuration's entry): StopCCN,
 * then start again with them. */
void tunnel_reconfigure(struct tunnel *t, const struct cfg_tunnel *ct);
/* Reload: gone from the configuration: StopCCN, then freed (TAP removed). */
void tunnel_remove(struct tunnel *t);
/* `l2tpctl tunnel down|up N`. */
void tunnel_admin_down(struct tunnel *t);
void tunnel_admin_up(struct tunnel *t);
/* Its IPsec SA went down: close the connection (nothing is sent without the SA) */
void tunnel_ipsec_lost(struct tunnel *t);
/* The TAP port of session s (its pseudowire's). */
const char *tunnel_session_ifname(const struct tunnel *t, const struct fsm_session *s);
/* Its pseudowire's VLAN (`l2tp pseudowire Q vlan`), 0 = none. */
unsigned tunnel_session_vlan(const struct tunnel *t, const struct fsm_session *s);
/* Counters as shown (minus `clear counters`); s is one of t's sessions. */
void tunnel_session_counters(const struct tunnel *t, const struct fsm_session *s, struct dp_counters *ret);
/* The same from raw, a read of session sid's data path (dp_session_read). */
void tunnel_counters_shown(const struct tunnel *t, uint32_t sid, const struct dp_counters *raw,
			   struct dp_counters *ret);
void tunnel_fsm_stats(const struct tunnel *t, struct fsm_tunnel_stats *ret);
void tunnel_clear_counters(struct tunnel *t);
/* `l2tp static session`: its liveness, given the seconds since it last
 * received data (-1: never): data within tunnel_static_window() seconds
 * (the keepalive's interval x count, 30 with keepalive off) or its probe
 * answered (`l2tp static probe`, tunnel_probe.c): static-up, else
 * static-idle. */
int64_t tunnel_static_window(const struct tunnel *t);
bool tunnel_static_up(const struct tunnel *t, int64_t last_rx_ago);
/* The transport of an endpoint: IP/115 ones carry port 0 (common/addr.h). */
enum dp_encap sockaddr_encap(const struct sockaddr_storage *ss);

/*
 * A log line about one tunnel: "tunnel LABEL: " then fmt, LABEL being
 * t->label ("1", or "1.3" for peer 3 of hub tunnel 1), as every line
 * about a tunnel starts (bgpd's log_peer_warnx).  log_tunnel_warn appends
 * strerror(errno), as log_warn does.
 */
void log_tunnel_warn(const struct tunnel *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_tunnel_warnx(const struct tunnel *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_tunnel_notice(const struct tunnel *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_tunnel_info(const struct tunnel *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_tunnel_debug(const struct tunnel *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tunnel_probe.c: `l2tp static probe` across a static session */
void tunnel_probe_start(struct tunnel *t); /* after the data path was added; no-op without a probe */
void tunnel_probe_stop(struct tunnel *t);
/* Its probe is up: answered, and fewer than the keepalive's count unanswered since (probe.h) */
bool tunnel_probe_up(const struct tunnel *t);
/* Add the probe_* fields to a static session's status object (none without a probe) */
struct json_t;
void tunnel_probe_json(const struct tunnel *t, struct json_t *o, uint64_t now);

/* reap.c: deleting TAP ports in batches */
struct retired_port {
	int fd;
	char ifname[IFNAMSIZ];
	bool created; /* ours: deleted; else only its fd is closed */
};
/* Take over a TAP port's fd: the port is deleted within 200 ms, with the
 * others retired by then (one kernel operation for all). */
void daemon_port_retire(struct daemon *d, int fd, const char *ifname, bool created);
/* Is a port of that name waiting to be deleted? */
bool daemon_port_retiring(const struct daemon *d, const char *ifname);
/* Delete every retired port now. */
void daemon_ports_reap(struct daemon *d);

/* udpbuf.c: the UDP sockets' receive buffer and the kernel's drops */
/* Grow the UDP sockets' receive buffer for a burst of one control message
 * from each of peers (logs what it got, and clearly if the kernel capped it). */
void daemon_udp_rcvbuf(struct daemon *d, unsigned peers);
struct daemon_udp_drops {
	uint64_t rcvbuf; /* bytes */
	uint64_t socket_drops; /* datagrams dropped on our UDP sockets (SO_MEMINFO) */
	uint64_t netns_rcvbuf_errors; /* the namespace's UDP RcvbufErrors (/proc/net/snmp, snmp6) */
};
void daemon_udp_drops(const struct daemon *d, struct daemon_udp_drops *ret);

/* control.c */
int control_open(struct daemon *d);
void control_close(struct daemon *d);
/* Push an event to every monitor client (never blocks; slow ones are dropped). */
void control_event(struct daemon *d, const struct ctl_event *ev);

/* metrics.c: the Prometheus endpoint of `metrics listen`. */
int metrics_open(struct daemon *d, const struct sockaddr_storage *addr);
void metrics_close(struct daemon *d); /* NULL-safe on d->metrics */

/* daemon.c */
int daemon_setup(struct daemon *d);
int daemon_run(struct daemon *d);
void daemon_teardown(struct daemon *d);
void daemon_send(struct daemon *d, const struct sockaddr_storage *peer, const struct sockaddr_storage *local,
		 const uint8_t *buf, size_t len);
void daemon_check_stopped(struct daemon *d);
/* Re-read d->config_path; on success apply the difference. */
void daemon_reload(struct daemon *d, struct reload_report *rep);
void reload_report_free(struct reload_report *rep);
/* Free a removed tunnel once it is idle (called from its own timer). */
void daemon_tunnel_reap(struct daemon *d, struct tunnel *t);
struct tunnel *daemon_tunnel_find(struct daemon *d, unsigned id);
void daemon_clear_counters(struct daemon *d);
/* A tunnel's connection went idle: remember it to re-ACK duplicate StopCCNs. */
void daemon_conn_closed(struct daemon *d, const struct tunnel *t);

#endif
