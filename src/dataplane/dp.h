/* SPDX-License-Identifier: MIT */
/*
 * Data path: moves Ethernet frames between TAP ports and the shared UDP
 * socket on its own thread.
 *
 * The data thread owns the UDP socket's receive side.  Data packets
 * (T=0) are looked up by Session ID, checked (cookie), counted and written
 * to the session's TAP; control packets (T=1) are handed, with the peer's
 * and our local address, to the control thread through a SOCK_SEQPACKET
 * socket (see struct dp_ctrl_hdr).  Frames read from a session's TAP are
 * encapsulated and sent to the session's peer from the session's local
 * address (IP_PKTINFO), so replies leave from the address the peer
 * talks to (needed behind DNAT).
 *
 * The control thread adds, changes and removes sessions with synchronous
 * calls (a command queue + eventfd; the call returns once the data thread
 * has applied it), so no lock is taken per packet and a dp_session is
 * never freed while the data thread can see it.  Counters are written by
 * the data thread only and read with relaxed atomics.
 */
#ifndef L2TP_DP_H
#define L2TP_DP_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dp;
struct dp_session;

/* How L2TPv3 is carried (RFC 3931 §4.1.2): over UDP (the shared socket),
 * or directly over IP protocol 115 (raw sockets, see dp_set_ip_socket). */
enum dp_encap {
	DP_ENCAP_UDP = 0,
	DP_ENCAP_IP = 1,
};

#define DP_IPPROTO_L2TP 115

/* Prepended to every control packet on the control channel. */
struct dp_ctrl_hdr {
	struct sockaddr_storage peer; /* source of the datagram */
	struct sockaddr_storage local; /* its destination address (IP_PKTINFO), port = ours */
	int ifindex; /* interface it came in on */
	uint32_t encap; /* enum dp_encap: UDP, or IP/115 (then both ports are 0 and the
			 * 4-byte zero Session ID is already stripped) */
	uint32_t len; /* bytes of L2TP message that follow */
};

struct dp_session_conf {
	uint32_t local_sid; /* ours: data packets to us carry it */
	uint32_t remote_sid; /* the peer's: we put it in what we send */
	uint8_t rx_cookie[8]; /* cookie we expect (our Assigned Cookie) */
	size_t rx_cookie_len; /* 0, 4, 8 */
	uint8_t tx_cookie[8]; /* cookie we send (the peer's Assigned Cookie) */
	size_t tx_cookie_len;
	bool rx_l2ss; /* we asked for the Default L2-Specific Sublayer */
	bool tx_l2ss; /* the peer asked for it */
	/* Data sequencing (RFC 3931 §4.6, §5.4.4), each needing its
	 * direction's Default L2SS: tx_seq numbers what we send (S=1, a
	 * 24-bit counter from 0, one per datagram); rx_seq keeps only
	 * received packets newer than the last one (see dp.c) */
	bool tx_seq; /* the peer asked for sequenced data (needs tx_l2ss) */
	bool rx_seq; /* we asked for it (needs rx_l2ss) */
	uint32_t tx_seq_first; /* number of the first datagram sent (24 bits): 0, as Linux starts */
	enum dp_encap encap; /* UDP, or IP/115 (peer's port ignored) */
	struct sockaddr_storage peer; /* where data goes */
	/* IPsec (`tunnel encapsulation l2tpv3`): take data only from the peer's
	 * address and port, over UDP (the kernel lets clear text from other
	 * ports of the peer through); others are counted in rx_peer_drops */
	bool rx_peer_only;
	struct sockaddr_storage local; /* source address for data; its port, if not 0, picks the UDP socket
				       * (dp_add_udp_socket); AF_UNSPEC or a wildcard address = kernel picks */
	int tap_fd; /* non-blocking TAP (IFF_TAP|IFF_NO_PI, IFF_VNET_HDR optional); owned by the caller */
	/* MSS clamping of TCP SYNs in both directions (0: none): the MSS
	 * option of a SYN over IPv4 (mss4) or IPv6 (mss6) is lowered to it */
	uint16_t mss4, mss6;
	/* `l2tp pseudowire Q vlan VID` (1..4094, 0 = none): the session
	 * carries VLAN vlan of its TAP's bridge untagged: frames read from
	 * the TAP must carry that 802.1Q tag, which is removed (others are
	 * dropped and counted in tx_vlan_drops); frames from the tunnel get
	 * it.  Such a TAP runs without offloads (plain frames). */
	uint16_t vlan;
};

/*
 * The counters of a session's data path, listed once: struct dp_counters,
 * the data thread's atomics, `clear counters` (daemon/tunnel.c) and the
 * session view rendered as status JSON (the key is the name) and as
 * Prometheus metrics (daemon/view.c, control.c, metrics.c) all expand it.
 *   X(name, json, metric, reason, help)
 * json: where the status JSON puts it (DP_JSON_* in daemon/view.c);
 * metric: its Prometheus family, without the l2tpv3d_ prefix; reason: the
 * family's `reason` label, NULL for a family of its own.  The order is the
 * metrics' order; within each json group it is the JSON's.
 */
#define DP_COUNTERS(X)                                                                                      \
	X(rx_packets, TRAFFIC, "session_rx_packets_total", NULL,                                            \
	  "Data packets received from the tunnel, written to the TAP.")                                     \
	X(rx_octets, TRAFFIC, "session_rx_bytes_total", NULL, "Ethernet frame bytes received from the tunnel.") \
	X(tx_packets, TRAFFIC, "session_tx_packets_total", NULL,                                            \
	  "Data packets read from the TAP, sent into the tunnel.")                                          \
	X(tx_octets, TRAFFIC, "session_tx_bytes_total", NULL, "Ethernet frame bytes sent into the tunnel.")  \
	X(rx_cookie_drops, TRAFFIC, "session_rx_drops_total", "cookie", "Wrong cookie.")                    \
	X(rx_malformed_drops, TRAFFIC, "session_rx_drops_total", "malformed",                               \
	  "Too short for the session's header.")                                                            \
	X(rx_seq_drops, SEQUENCING, "session_rx_drops_total", "sequence",                                   \
	  "rx_seq: duplicate or out of order (not newer than the last).")                                   \
	X(rx_tap_errors, TRAFFIC, "session_rx_drops_total", "tap_error", "Write to the TAP failed.")         \
	X(rx_peer_drops, TRAFFIC, "session_rx_drops_total", "not_from_peer",                                \
	  "Not from the peer's address and port (an IPsec tunnel: clear text the kernel let through).")     \
	X(tx_errors, TRAFFIC, "session_tx_errors_total", NULL, "Data packets the socket refused to send.")   \
	X(tx_super, OFFLOAD, "session_tx_super_frames_total", NULL,                                         \
	  "TCP/UDP super-frames (TAP offloads) read from the TAP and cut into segments.")                   \
	X(rx_coalesced, OFFLOAD, "session_rx_coalesced_frames_total", NULL,                                 \
	  "Super-frames of coalesced TCP segments written to the TAP.")                                     \
	X(tx_vlan_drops, VLAN, "session_tx_vlan_drops_total", NULL,                                         \
	  "Frames from the TAP without the pseudowire's VLAN tag (l2tp pseudowire Q vlan), not sent.")      \
	X(mss_clamped, OFFLOAD, "session_mss_clamped_total", NULL,                                          \
	  "TCP SYNs whose MSS option was lowered (ip tunnel tcp mss limit).")                               \
	X(rx_seq_missing, SEQUENCING, "session_rx_unsequenced_total", NULL,                                 \
	  "Data packets received without a sequence number (S=0) although we asked for sequencing.")

/* Counter snapshot (summed across threads when there are several). */
struct dp_counters {
#define DP_COUNTER_FIELD(name, json, metric, reason, help) uint64_t name;
	DP_COUNTERS(DP_COUNTER_FIELD)
#undef DP_COUNTER_FIELD
};

/* Whole-data-path counters (not tied to a session). */
struct dp_global_counters {
	uint64_t rx_unknown_session; /* data for a Session ID we do not have */
	uint64_t rx_malformed; /* not L2TPv3 (bad version, too short) */
	uint64_t ctrl_forwarded; /* control packets handed to the control thread */
	uint64_t ctrl_dropped; /* control channel full */
};

/* Data threads at most (dp_set_threads). */
#define DP_MAX_THREADS 16

/*
 * What one data thread did, for measuring the cost per frame (system
 * calls and bytes copied in user space per frame on each side): written
 * by that thread only, read without a lock (figures, not accounting).
 */
struct dp_thread_stats {
	uint64_t wakeups;	/* epoll_wait returns */
	uint64_t tap_reads;	/* read() on a TAP queue (failed ones included) */
	uint64_t tap_writes;	/* write()/writev() to a TAP queue */
	uint64_t udp_recvs;	/* recvmmsg() calls */
	uint64_t udp_sends;	/* sendmsg()/sendmmsg() calls of data */
	uint64_t tx_frames;	/* datagrams sent from frames read from a TAP (segments counted) */
	uint64_t rx_frames;	/* frames received from the tunnel and written to a TAP */
	uint64_t copied_octets; /* payload bytes copied in user space (VLAN moves, IP/115 shifts) */
	uint64_t polls;		/* looks that found nothing while busy polling (dp_set_busy_poll) */
	uint64_t poll_ns;	/* time spent in those looks (at most half of the time: see dp.c) */
};

/*
 * The send buffer dp_create gives the shared UDP socket, and
 * dp_add_udp_socket and dp_set_ip_socket the others (the kernel doubles it).  Datagrams waiting in a qdisc (a shaper on the link to one peer)
 * hold the socket's send buffer until they leave: with the default (about
 * 200 KB) a few hundred queued for one slow peer make every send to the
 * other peers, and every control message, fail.  Memory is only used
 * while packets are queued.
 */
#define DP_UDP_SNDBUF (4 << 20)

/*
 * Create a data path over udp_fd (bound, non-blocking, IP_PKTINFO enabled
 * and the send buffer raised to DP_UDP_SNDBUF by dp_create itself:
 * SO_SNDBUFFORCE with CAP_NET_ADMIN, else SO_SNDBUF up to wmem_max).  Control packets are written to ctrl_fd (the
 * data-thread end of a SOCK_SEQPACKET socketpair; non-blocking: when it is
 * full the packet is dropped and counted).  Neither fd is closed by dp.
 * Returns 0 and *ret, or negative errno.
 */
int dp_create(int udp_fd, int ctrl_fd, struct dp **ret);
/*
 * Give the data path a raw IP socket (SOCK_RAW, protocol 115) of `family`
 * (AF_INET or AF_INET6) for IP encapsulation: it reads control and data
 * from it and sends IP-encapsulated sessions and control through it.  The
 * fd must be non-blocking; it is not closed by dp.  One per family, set
 * once (before or after dp_start).  Returns 0 or negative errno (-EEXIST
 * if that family has one).
 */
int dp_set_ip_socket(struct dp *dp, int family, int fd);
/*
 * Another UDP socket (bound to another local port, same family as the
 * first), for tunnels with `l2tp local port`: read like the first one;
 * sessions and control messages whose local address carries its port
 * leave through it.  Non-blocking; not closed by dp.  Up to 8.  Returns 0
 * or negative errno (-EEXIST for a port already served).
 */
int dp_add_udp_socket(struct dp *dp, int fd);
/*
 * Run the data thread (once started) under SCHED_FIFO at rt_prio (1..99),
 * or back under SCHED_OTHER with 0.  Returns 0 or negative errno (EPERM
 * without CAP_SYS_NICE).
 */
int dp_set_realtime(struct dp *dp, int rt_prio);
/*
 * Busy polling: after a round that found work, each data thread keeps
 * looking (epoll_wait without sleeping) for usec microseconds before it
 * sleeps again, so that a packet arriving in that window is handled
 * without a wake-up (on a virtual machine a wake-up from idle costs tens
 * of microseconds each time).  It costs CPU: polling takes up to half of
 * each 100 ms of a thread under steady traffic.  0 (the default) turns it
 * off.  Any time, from any
 * thread.  Returns 0, or -EINVAL above DP_BUSY_POLL_MAX_US.
 */
#define DP_BUSY_POLL_MAX_US 10000
int dp_set_busy_poll(struct dp *dp, unsigned usec);
/*
 * Run n data threads (1..DP_MAX_THREADS; before dp_start): thread 0 uses
 * udp_fd, each other one a socket of its own bound to the same address
 * with SO_REUSEPORT (so udp_fd must have had SO_REUSEPORT set before it
 * was bound), and each session's TAP, if it is multi-queue
 * (IFF_MULTI_QUEUE), gets one queue per thread (opened by dp).  The
 * kernel spreads datagrams over the sockets by their 4-tuple, so one
 * peer's traffic is received by one thread; frames read from a TAP are
 * spread by flow over its queues.  Returns 0 or negative errno.
 */
int dp_set_threads(struct dp *dp, unsigned n);
unsigned dp_threads(const struct dp *dp);
/* Thread i's figures (i < dp_threads). */
void dp_thread_stats(const struct dp *dp, unsigned i, struct dp_thread_stats *ret);
/*
 * The kernel fast path (eBPF tc programs, see fastpath.h): when on, sessions
 * that it can carry are also handed to it.  Before dp_start.  Returns 0, or
 * negative errno when it cannot be loaded (no BPF, no CAP_BPF/CAP_NET_ADMIN,
 * libbpf missing): the caller logs it and the data path runs as before.
 */
int dp_set_fastpath(struct dp *dp, bool on);
/* Follow the NAT mappings of the fast path's sessions that a NAT of this
 * router's own rewrites (fp_refresh), now and then; returns how many it had
 * to give back to the data thread.  Control thread. */
int dp_fp_refresh(struct dp *dp);
/* Start the data thread. */
int dp_start(struct dp *dp);
/* Stop and join the thread (idempotent), then free everything; NULL-safe.
 * Sessions still present are freed too. */
void dp_destroy(struct dp *dp);

/* Add a session; the data thread starts reading its TAP. -EEXIST if the
 * local_sid is taken; -EINVAL for a bad cookie length or sequencing
 * without its sublayer. */
int dp_session_add(struct dp *dp, const struct dp_session_conf *conf, struct dp_session **ret);
/* Change where data goes (peer moved / NAT rebinding). */
int dp_session_set_peer(struct dp *dp, struct dp_session *s, const struct sockaddr_storage *peer,
			const struct sockaddr_storage *local);
/* Remove and free; the TAP fd is not closed. NULL-safe. */
void dp_session_del(struct dp *dp, struct dp_session *s);
/* Read a session's counters (any thread). */
void dp_session_counters(const struct dp_session *s, struct dp_counters *ret);
/* Whether a session is carried by the fast path (false when off or ineligible). */
bool dp_session_fastpath(const struct dp_session *s);
/* Its counters and, if ret_last_rx, the second (CLOCK_MONOTONIC) of its
 * last data packet received, 0 if none: one read of each (any thread). */
void dp_session_read(const struct dp_session *s, struct dp_counters *ret, uint64_t *ret_last_rx);
void dp_global_counters(const struct dp *dp, struct dp_global_counters *ret);

/*
 * Send one control message from the control thread, from `local` (if its
 * family is not AF_UNSPEC) to `peer`: on the shared UDP socket, or over IP
 * (prefixed with the 4-byte zero Session ID, RFC 3931 §4.1.1.2) on the raw
 * socket of the peer's family.  Returns 0 or negative errno (-EPROTONOSUPPORT
 * when IP encapsulation has no socket for that family).
 */
int dp_send_ctrl(struct dp *dp, enum dp_encap encap, const struct sockaddr_storage *peer,
		 const struct sockaddr_storage *local, const uint8_t *buf, size_t len);

#endif
