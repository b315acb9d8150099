/* SPDX-License-Identifier: MIT */
/*
 * Data path: a thread (or several) that moves Ethernet frames between the
 * sessions' TAP fds and the shared UDP socket (RFC 3931 §4.1.2.1, RFC 4719).
 *
 * Threads.  dp_start() spawns the data thread, which sleeps in epoll_wait
 * on the UDP socket, a command eventfd and every session's TAP fd
 * (level-triggered).  The session table (a chained hash keyed by our
 * Session ID) belongs to the data thread: the control thread changes it
 * only through dp_session_add/set_peer/del, which queue a command under a
 * mutex, kick the eventfd and wait on a condition variable until the data
 * thread has applied it.  Commands are applied after all events of one
 * epoll_wait round are handled, so an event never points at a freed
 * session, and no lock is taken per packet.  Before dp_start (or after the
 * thread ended) commands are applied directly by the caller.
 *
 * Several threads (dp_set_threads).  Each thread (struct dp_worker) has
 * its own epoll set, eventfd, UDP socket (thread 0 the caller's, the others
 * bound to the same address with SO_REUSEPORT), buffers and coalescer,
 * and reads its own queue of every multi-queue TAP (dp_tap_queues).  The
 * table is shared: thread 0 applies commands while the others are parked
 * (dp_worker_park) between two rounds, so none holds a session pointer
 * while it changes.  The kernel gives each datagram to one socket by its
 * 4-tuple (one peer, one thread) and each TAP frame to one queue by flow;
 * frames from the tunnel are written to the queue their flow was last read
 * from (s->flowq), because tun steers a flow to the queue that last wrote
 * it.  Session state other than atomic counters is touched by one thread:
 * tx_ns because a sequenced session keeps one queue, the rx_seq state
 * because one peer's datagrams reach one socket.  Raw IP sockets and extra
 * UDP ports are read by thread 0 only.
 *
 * Busy polling (dp_set_busy_poll, off by default).  After a round that
 * found work the thread keeps calling epoll_wait without sleeping for the
 * given time, so that what arrives then (a reply to what was just sent,
 * the next frames of a burst) costs no wake-up; each empty look is counted
 * (polls).  It trades CPU for latency: see l2tpv3d.conf(5).  Polling
 * takes at most half of each 100 ms (DP_POLL_SHARE): past that the
 * thread sleeps whenever it has nothing to do until the next period.
 *
 * Receive.  recvmmsg() reads up to DP_BATCH datagrams at a time with their
 * IP_PKTINFO/IPV6_PKTINFO; DP_UDP_BUDGET bounds one wakeup so busy TAPs
 * get their turn.  Control packets (T=1) go, prefixed by struct
 * dp_ctrl_hdr, as one message to the control channel; data packets are
 * checked (session, cookie, length) and written to the session's TAP.
 *
 * Transmit.  Frames are read from a TAP into buffers that keep
 * DP_HEADROOM bytes free in front, so the L2TP header is written in place
 * and each datagram is one iovec; a batch of up to DP_BATCH frames from one
 * TAP leaves in one sendmmsg() with a shared IP_PKTINFO source cmsg.  This
 * is the shape offloads will need later (IFF_VNET_HDR super-frames split
 * into a UDP_SEGMENT batch).  Nothing blocks: a full socket or TAP means
 * the packet is dropped and counted.
 *
 * Offloads (TAPs with IFF_VNET_HDR).  Each read from the TAP starts with a
 * virtio_net_hdr.  A TCP (or, with USO, UDP) super-frame of up to 64 KB is
 * cut into segments by gso_segment_iov(): each segment's headers are
 * written behind its L2TP header into a small array, its payload stays
 * where read() put it, and the iovec of headers and payload slices leaves
 * in one sendmsg() with a UDP_SEGMENT cmsg (UDP GSO: the kernel splits it into
 * datagrams of equal size, the last one shorter); if the kernel refuses
 * (no UDP GSO, or segments larger than the path MTU so the datagrams must
 * be fragmented) the same segments go out with sendmmsg().  A frame whose
 * checksum the kernel left partial is completed.  On the UDP side,
 * UDP_GRO hands us several datagrams of one peer coalesced, with their size
 * in a cmsg: they are split and each is handled as if read alone.
 * Consecutive TCP segments of one flow are coalesced (gso_coal_add) into
 * one super-frame and written with one writev() and a GSO header, so the
 * kernel on the far side of the TAP sees one 64 KB packet rather than 45.
 * Everything else is written one frame at a time with an empty header.
 *
 * Data sequencing (RFC 3931 §4.6, RFC 4719 §3.2).  With conf.tx_seq every
 * datagram sent (each segment of a super-frame too) carries S=1 and the
 * next number of a 24-bit counter that starts at 0, as the Linux kernel
 * numbers.  With conf.rx_seq a received packet with S=1 is kept only if
 * its number is newer than the last one kept (serial arithmetic: 1 to
 * 2^23 ahead); duplicates and late packets are dropped and counted, not
 * reordered (as Cisco does; Linux with no reorder timeout also drops
 * them).  A gap is a loss and is accepted.  DP_SEQ_RESYNC old numbers in
 * a row, each following the previous one, mean the sender started again
 * (a restarted static peer): the last of them is kept and counting
 * resumes from it.  A packet with S=0 is delivered and counted
 * (rx_seq_missing): its sender ignores our request, and dropping
 * everything it sends would cut the pseudowire (the kernel drops them).
 *
 * MSS clamping.  With conf.mss4/mss6 set, TCP SYNs in both directions have
 * their MSS option lowered (gso_mss_clamp) so that segments fit the tunnel
 * without fragmentation.
 *
 * Counters are _Atomic uint64_t written only by the data thread (relaxed
 * read-modify-write) and read by anyone with relaxed loads.
 *
 * Addresses.  The socket may be AF_INET or AF_INET6 (dual-stack).  The
 * caller always sees IPv4 as AF_INET: IPv4-mapped addresses are unmapped
 * on the way in and mapped again on the way out.
 *
 * IP encapsulation (RFC 3931 §4.1.1.2, §4.1.2.2).  With dp_set_ip_socket,
 * raw sockets of protocol 115 (one per family) are read like the UDP
 * socket.  An IPv4 raw read starts with the IP header, which is skipped;
 * a payload whose first 32 bits are zero is a control message (handed on
 * without those 4 bytes, encap = IP, ports 0), anything else is data whose
 * header is the UDP one without its first word: the 4 bytes in front of it
 * (IP header or headroom, already read) are overwritten with that word, so
 * one receive routine checks both.  On transmit the UDP-form header is
 * written as always and the datagram starts 4 bytes into it.  Raw sockets
 * have no UDP GSO: super-frames are segmented and sent with sendmmsg().
 * A session only takes data that arrived with its own encapsulation.
 */
#include "dataplane/dp.h"
#include "dataplane/fastpath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/gso.h"
#include "wire/l2tp_wire.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

enum {
	DP_BATCH = 32,		/* datagrams per recvmmsg/sendmmsg */
	DP_UDP_BUDGET = 128,	/* datagrams (a GRO read counts what it holds) per UDP wakeup */
	DP_TAP_BUDGET = 128,	/* frames (segments of super-frames count) read per TAP per wakeup */
	DP_HEADROOM = 32,	/* bytes kept free before a frame; >= largest header (20), vnet header (10) */
	DP_BUF_SIZE = 65536 + 512, /* largest datagram or frame (a TSO frame is 64 KB + Ethernet) */
	DP_GSO_SEGS = 64,	/* segments per UDP_SEGMENT send (the kernel's UDP_MAX_SEGMENTS) */
	DP_GSO_BYTES = 65507,	/* largest UDP payload */
	DP_GSO_HSTRIDE = 32 + GSO_HDR_MAX, /* L2TP header (<= 20) + a segment's inner headers, per segment */
	DP_EVENTS = 64,		/* epoll events per round */
	DP_HASH_BITS = 6,	/* initial table: 64 buckets, doubled as it fills */
	DP_MAX_UDP = 8,		/* UDP sockets besides the first (other local ports) */
	DP_ETH_HLEN = 14,
	DP_VLAN_HLEN = 4,	/* an 802.1Q tag */
	DP_SEQ_RESYNC = 5,	/* consecutive old numbers in a row that mean the sender started again */
	DP_FLOWQ = 1024,	/* flow slots per multi-queue session */
	/* busy polling takes at most 1/DP_POLL_SHARE of each period of
	 * DP_POLL_PERIOD_NS: a thread that never sleeps would cost a CPU and,
	 * under SCHED_FIFO, be stopped by the kernel's real-time throttling
	 * (50 ms of every second by default) */
	DP_POLL_SHARE = 2,
};
#define DP_POLL_PERIOD_NS 100000000u /* 100 ms */

/* Room for one source-address cmsg (tx) or the pktinfo we asked for (rx),
 * aligned like a cmsghdr (whose flexible array keeps it out of here). */
union dp_cmsg {
	size_t align;
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)) +
		 CMSG_SPACE(sizeof(int))];
};

/* Where a session's data goes, prepared for sendmsg in the caller's thread. */
struct dp_dest {
	int fd;			      /* socket it leaves on */
	size_t skip;		      /* bytes of the UDP-form header not sent (4 over IP) */
	struct sockaddr_storage name; /* peer in the socket's family */
	socklen_t namelen;	      /* 0: no peer, frames are dropped */
	union dp_cmsg cmsg;	      /* source address (pktinfo) */
	size_t cmsg_len;	      /* 0: kernel picks the source */
};

struct dp_session {
	uint32_t local_sid;
	struct dp *dp;

	/* conf as added (its peer/local are superseded by dest) */
	struct dp_session_conf conf;
	size_t rx_hdr_len; /* 8 + rx cookie + rx L2SS */

	/* state (data thread) */
	struct dp_dest dest;
	/* the TAP's queues: [0] is conf.tap_fd, [i] (a multi-queue TAP, one
	 * per data thread) opened and closed by dp; thread i reads queue i */
	struct dp_tapq {
		struct dp_session *s;
		int fd;
		unsigned idx;
		bool polled; /* registered with thread idx's epoll */
	} q[DP_MAX_THREADS];
	unsigned nq;
	/* multi-queue: inner flow (gso_flow_hash) -> the queue its frames
	 * were last read from, so that frames of that flow from the tunnel are
	 * written there and the tun driver keeps steering it to one queue */
	_Atomic uint8_t *flowq;
	bool vnet;	 /* the TAP has IFF_VNET_HDR (offload path) */
	unsigned offload; /* TUN_F_* the TAP accepted */

	/* data sequencing (data thread) */
	uint32_t tx_ns;	      /* tx_seq: number of the next datagram sent */
	uint32_t rx_last;     /* rx_seq: last number accepted, valid once rx_seen */
	bool rx_seen;
	uint32_t rx_old_next; /* the number that would continue the run of old ones */
	unsigned rx_old_run;  /* old numbers dropped in a row, each following the one before */

	/* stats: written by the data thread only */
#define DP_COUNTER_ATOMIC(name, json, metric, reason, help) _Atomic uint64_t name;
	DP_COUNTERS(DP_COUNTER_ATOMIC)
#undef DP_COUNTER_ATOMIC
	_Atomic uint64_t last_rx; /* CLOCK_MONOTONIC seconds */

	/* the kernel fast path (control thread): carried by it, its slot,
	 * and what it counted before it gave the session back */
	bool fp_on;
	int fp_slot;
	struct dp_counters fp_gone;
	uint64_t fp_gone_rx_ns; /* CLOCK_MONOTONIC ns of its last frame received */

	/* linkage */
	struct dp_session *hash_next;
};

enum dp_cmd_type {
	DP_CMD_ADD,
	DP_CMD_SET_PEER,
	DP_CMD_DEL,
	DP_CMD_SET_IP,
	DP_CMD_ADD_UDP,
};

/* One request from the control thread; lives on the caller's stack. */
struct dp_cmd {
	enum dp_cmd_type type;
	struct dp_session *s;
	const struct dp_dest *dest; /* SET_PEER */
	int family, fd; /* SET_IP, ADD_UDP */
	in_port_t port; /* ADD_UDP */
	int result;
	bool done;
	struct dp_cmd *next;
};

/* Per-round I/O state of the data thread, shared by rx and tx (they never
 * overlap). */
struct dp_batch {
	struct mmsghdr msgs[DP_BATCH];
	struct iovec iov[DP_BATCH];
	struct sockaddr_storage names[DP_BATCH];
	union dp_cmsg cmsg[DP_BATCH];
	size_t lens[DP_BATCH];
	uint8_t *bufs[DP_BATCH]; /* DP_HEADROOM + DP_BUF_SIZE each */
	uint8_t *mem;
};

/* One data thread: its epoll set, its UDP socket (SO_REUSEPORT beside
 * the first one), its buffers. */
struct dp_worker {
	struct dp *dp;
	unsigned idx;
	pthread_t thread;
	int epfd, evfd;
	int udp_fd;			/* [0]: dp->udp_fd; others opened by dp_set_threads */
	struct dp_batch *batch;
	uint8_t *gsohdr;	/* headers of one UDP_SEGMENT send, DP_GSO_SEGS * DP_GSO_HSTRIDE */
	struct mmsghdr gso_msgs[DP_GSO_SEGS];
	struct iovec gso_iov[2 * DP_GSO_SEGS]; /* per segment: headers, payload slice */
	size_t gso_octets[DP_GSO_SEGS];
	struct gso_coal coal;	/* TCP segments waiting to be written as one */
	struct dp_session *coal_s; /* whose they are */
	int coal_fd;		/* the TAP queue they go to */
	uint64_t coal_octets;
	struct dp_wstats {
		_Atomic uint64_t wakeups, tap_reads, tap_writes, udp_recvs, udp_sends, tx_frames, rx_frames,
			copied_octets, polls, poll_ns;
	} st; /* written by this thread only (dp_stat) */
};

struct dp {
	int udp_fd;
	int ctrl_fd;
	int ip4_fd, ip6_fd;		/* raw IP/115 sockets, -1 = none */
	struct dp_udp {
		int fd;
		in_port_t port;		/* network order */
	} udp[DP_MAX_UDP];		/* more UDP sockets (dp_add_udp_socket), same family */
	unsigned n_udp;
	int family;			/* of udp_fd */
	struct sockaddr_storage bound;	/* udp_fd's own address (unmapped) */
	in_port_t port;			/* its port, network order */
	struct dp_worker w[DP_MAX_THREADS];
	unsigned nw;			/* data threads (dp_set_threads), 1 by default */
	_Atomic uint64_t spin_ns;	/* busy polling: keep polling this long after the last work (dp_set_busy_poll) */

	/* commands: lock guards everything down to `thread` */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct dp_cmd *cmd_head, *cmd_tail;
	bool running;  /* the thread takes commands */
	bool stopping; /* asked to end */
	bool started;  /* pthread_create succeeded, not joined yet */
	/* with several threads, thread 0 applies commands while the others
	 * wait (pause, parked) between two rounds of their own */
	bool pause;
	unsigned parked;
	unsigned alive; /* threads > 0 not ended yet */
	pthread_cond_t park_cond;

	/* sessions: owned by the data thread once running */
	struct dp_session **buckets;
	size_t nbuckets; /* 1 << hash_bits */
	unsigned hash_bits;
	size_t nsessions;

	bool udp_gro;		/* UDP_GRO accepted by the socket */
	struct fp *fp;		/* the kernel fast path, NULL = off (dp_set_fastpath) */

	_Atomic uint64_t rx_unknown_session, rx_malformed, ctrl_forwarded, ctrl_dropped;
};

/* ---------------------------------------------------------------------- */
/* helpers */

static inline void dp_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* A counter of one thread's own: no locked read-modify-write needed. */
static inline void dp_stat(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline uint64_t dp_read(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static uint64_t dp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t dp_now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* IPv4-mapped IPv6 becomes AF_INET; everything else is copied. */
static void dp_addr_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)in;

	if (in->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in s4 = {
			.sin_family = AF_INET,
			.sin_port = s6->sin6_port,
		};
		memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		memset(out, 0, sizeof(*out));
		memcpy(out, &s4, sizeof(s4));
		return;
	}
	if (out != in)
		memcpy(out, in, sizeof(*out));
}

/* Convert an address to a socket's family (mapping IPv4 for a dual-stack
 * AF_INET6 socket).  Returns its length or negative errno. */
static int dp_addr_to_sock(int family, const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	struct sockaddr_storage tmp;

	dp_addr_unmap(in, &tmp);
	memset(out, 0, sizeof(*out));
	if (tmp.ss_family == AF_INET && family == AF_INET) {
		memcpy(out, &tmp, sizeof(struct sockaddr_in));
		return (int)sizeof(struct sockaddr_in);
	}
	if (tmp.ss_family == AF_INET6 && family == AF_INET6) {
		memcpy(out, &tmp, sizeof(struct sockaddr_in6));
		return (int)sizeof(struct sockaddr_in6);
	}
	if (tmp.ss_family == AF_INET && family == AF_INET6) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&tmp;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = s4->sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		return (int)sizeof(struct sockaddr_in6);
	}
	return -EAFNOSUPPORT;
}

/* Build the source-address cmsg for `local` (AF_UNSPEC: none).  Returns its
 * length or negative errno. */
static int dp_build_src_cmsg(int family, const struct sockaddr_storage *local, union dp_cmsg *ret)
{
	struct sockaddr_storage sa;
	struct cmsghdr *c = (struct cmsghdr *)ret->buf;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!local || local->ss_family == AF_UNSPEC)
		return 0;
	/* a wildcard source (a local port alone): the kernel picks */
	if ((local->ss_family == AF_INET && ((const struct sockaddr_in *)local)->sin_addr.s_addr == INADDR_ANY) ||
	    (local->ss_family == AF_INET6 &&
	     IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)local)->sin6_addr)))
		return 0;
	r = dp_addr_to_sock(family, local, &sa);
	if (r < 0)
		return r;
	if (family == AF_INET) {
		struct in_pktinfo pi = {
			.ipi_spec_dst = ((const struct sockaddr_in *)&sa)->sin_addr,
		};
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return (int)CMSG_SPACE(sizeof(pi));
	}
	/* AF_INET6 socket: IPV6_PKTINFO, also for IPv4-mapped sources (the
	 * kernel's udp_sendmsg accepts it for mapped destinations) */
	struct in6_pktinfo pi6 = {
		.ipi6_addr = ((const struct sockaddr_in6 *)&sa)->sin6_addr,
	};
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi6));
	memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
	return (int)CMSG_SPACE(sizeof(pi6));
}

/* The raw socket for IP encapsulation to an address of `family` (after
 * unmapping), or -1. */
static int dp_ip_fd(const struct dp *dp, int family)
{
	return family == AF_INET ? dp->ip4_fd : family == AF_INET6 ? dp->ip6_fd : -1;
}

static int dp_dest_prepare(const struct dp *dp, enum dp_encap encap, const struct sockaddr_storage *peer,
			   const struct sockaddr_storage *local, struct dp_dest *ret)
{
	int family = dp->family, r;

	memset(ret, 0, sizeof(*ret));
	ret->fd = dp->udp_fd;
	if (encap == DP_ENCAP_UDP && local && local->ss_family != AF_UNSPEC) {
		/* the socket of the local port, if it is not the first one's */
		in_port_t port = local->ss_family == AF_INET ? ((const struct sockaddr_in *)local)->sin_port
							     : ((const struct sockaddr_in6 *)local)->sin6_port;

		if (port && port != dp->port) {
			unsigned i;

			for (i = 0; i < dp->n_udp && dp->udp[i].port != port; i++)
				;
			if (i == dp->n_udp)
				return -EADDRNOTAVAIL;
			ret->fd = dp->udp[i].fd;
		}
	}
	if (encap == DP_ENCAP_IP) {
		struct sockaddr_storage p;

		/* a raw socket's family is the peer's own (no mapping); with no
		 * peer yet, the IPv4 socket if there is one */
		if (peer && peer->ss_family != AF_UNSPEC) {
			dp_addr_unmap(peer, &p);
			family = p.ss_family;
		} else {
			family = dp->ip4_fd >= 0 ? AF_INET : AF_INET6;
		}
		ret->fd = dp_ip_fd(dp, family);
		if (ret->fd < 0)
			return -EPROTONOSUPPORT;
		ret->skip = 4;
	}
	if (peer && peer->ss_family != AF_UNSPEC) {
		r = dp_addr_to_sock(family, peer, &ret->name);
		if (r < 0)
			return r;
		ret->namelen = (socklen_t)r;
		if (encap == DP_ENCAP_IP) {
			/* a raw IPv6 socket takes port 0 or its protocol */
			if (family == AF_INET)
				((struct sockaddr_in *)&ret->name)->sin_port = 0;
			else
				((struct sockaddr_in6 *)&ret->name)->sin6_port = 0;
		}
	}
	r = dp_build_src_cmsg(family, local, &ret->cmsg);
	if (r < 0)
		return r;
	ret->cmsg_len = (size_t)r;
	return 0;
}

/* A msghdr sending iov[0..iovlen) to d's peer from d's source. */
static struct msghdr dp_dest_msg(const struct dp_dest *d, struct iovec *iov, size_t iovlen)
{
	return (struct msghdr){
		.msg_name = (void *)&d->name,
		.msg_namelen = d->namelen,
		.msg_iov = iov,
		.msg_iovlen = iovlen,
		.msg_control = d->cmsg_len ? (void *)d->cmsg.buf : NULL,
		.msg_controllen = d->cmsg_len,
	};
}

/* ---------------------------------------------------------------------- */
/* session table (data thread, or caller before dp_start) */

/* Multiplicative (Fibonacci) hash: the top hash_bits of sid * 2^32/phi,
 * so IDs that differ only in high bits still spread. */
static size_t dp_hash(const struct dp *dp, uint32_t sid)
{
	return (size_t)((uint32_t)(sid * 2654435761u) >> (32 - dp->hash_bits));
}

static struct dp_session *dp_lookup(const struct dp *dp, uint32_t sid)
{
	struct dp_session *s;

	for (s = dp->buckets[dp_hash(dp, sid)]; s; s = s->hash_next)
		if (s->local_sid == sid)
			return s;
	return NULL;
}

/* Double the table when it gets crowded; on ENOMEM keep the old one. */
static void dp_hash_grow(struct dp *dp)
{
	size_t old_n = dp->nbuckets;
	struct dp_session **old = dp->buckets;
	struct dp_session **nb;

	if (dp->nsessions < 2 * old_n || dp->hash_bits >= 24)
		return;
	nb = calloc(2 * old_n, sizeof(*nb));
	if (!nb)
		return;
	dp->buckets = nb;
	dp->nbuckets = 2 * old_n;
	dp->hash_bits++;
	for (size_t i = 0; i < old_n; i++) {
		struct dp_session *s = old[i], *next;

		for (; s; s = next) {
			size_t h = dp_hash(dp, s->local_sid);

			next = s->hash_next;
			s->hash_next = nb[h];
			nb[h] = s;
		}
	}
	free(old);
}

static void dp_hash_remove(struct dp *dp, struct dp_session *s)
{
	struct dp_session **pp = &dp->buckets[dp_hash(dp, s->local_sid)];

	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == s) {
			*pp = s->hash_next;
			s->hash_next = NULL;
			dp->nsessions--;
			return;
		}
	}
}

/* Stop reading one queue of s's TAP. */
static void dp_tapq_unpoll(struct dp *dp, struct dp_tapq *q)
{
	if (!q->polled)
		return;
	/* may fail with EBADF if the owner closed the fd already: the kernel
	 * dropped it from the set then */
	(void)epoll_ctl(dp->w[q->idx].epfd, EPOLL_CTL_DEL, q->fd, NULL);
	q->polled = false;
}

static void dp_tap_unpoll(struct dp *dp, struct dp_session *s)
{
	for (unsigned i = 0; i < s->nq; i++)
		dp_tapq_unpoll(dp, &s->q[i]);
}

static int dp_apply_add(struct dp *dp, struct dp_session *s)
{
	if (dp_lookup(dp, s->local_sid))
		return -EEXIST;
	for (unsigned i = 0; i < s->nq; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->q[i] };

		if (epoll_ctl(dp->w[i].epfd, EPOLL_CTL_ADD, s->q[i].fd, &ev) < 0) {
			int r = -errno;

			dp_tap_unpoll(dp, s);
			return r;
		}
		s->q[i].polled = true;
	}
	dp_hash_grow(dp);
	s->hash_next = dp->buckets[dp_hash(dp, s->local_sid)];
	dp->buckets[dp_hash(dp, s->local_sid)] = s;
	dp->nsessions++;
	return 0;
}

static int dp_apply_set_ip(struct dp *dp, int family, int fd)
{
	int *slot = family == AF_INET ? &dp->ip4_fd : &dp->ip6_fd;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = slot };

	if (*slot >= 0)
		return -EEXIST;
	if (epoll_ctl(dp->w[0].epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*slot = fd;
	return 0;
}

static int dp_apply_add_udp(struct dp *dp, int fd, in_port_t port)
{
	struct dp_udp *u = &dp->udp[dp->n_udp];
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = u };

	if (dp->n_udp == DP_MAX_UDP)
		return -ENOSPC;
	if (port == dp->port)
		return -EEXIST;
	for (unsigned i = 0; i < dp->n_udp; i++)
		if (dp->udp[i].port == port)
			return -EEXIST;
	if (epoll_ctl(dp->w[0].epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	u->fd = fd;
	u->port = port;
	dp->n_udp++;
	return 0;
}

static void dp_cmd_apply(struct dp *dp, struct dp_cmd *cmd)
{
	switch (cmd->type) {
	case DP_CMD_ADD:
		cmd->result = dp_apply_add(dp, cmd->s);
		break;
	case DP_CMD_SET_PEER:
		cmd->s->dest = *cmd->dest;
		cmd->result = 0;
		break;
	case DP_CMD_DEL:
		dp_tap_unpoll(dp, cmd->s);
		dp_hash_remove(dp, cmd->s);
		cmd->result = 0;
		break;
	case DP_CMD_SET_IP:
		cmd->result = dp_apply_set_ip(dp, cmd->family, cmd->fd);
		break;
	case DP_CMD_ADD_UDP:
		cmd->result = dp_apply_add_udp(dp, cmd->fd, cmd->port);
		break;
	}
	cmd->done = true;
}

/* Run cmd in the data thread and wait for it, or run it here when there is
 * no thread to do it. */
static int dp_cmd_run(struct dp *dp, struct dp_cmd *cmd)
{
	uint64_t one = 1;

	pthread_mutex_lock(&dp->lock);
	if (!dp->running) {
		dp_cmd_apply(dp, cmd);
	} else {
		cmd->next = NULL;
		if (dp->cmd_tail)
			dp->cmd_tail->next = cmd;
		else
			dp->cmd_head = cmd;
		dp->cmd_tail = cmd;
		/* cannot fail short of counter overflow (2^64-1 kicks) */
		(void)!write(dp->w[0].evfd, &one, sizeof(one));
		while (!cmd->done)
			pthread_cond_wait(&dp->cond, &dp->lock);
	}
	pthread_mutex_unlock(&dp->lock);
	return cmd->result;
}

/* Data thread: apply queued commands.  When asked to stop (or `exiting`),
 * stop taking commands: later ones are applied by their callers.  Returns
 * true if the thread must end. */
static bool dp_cmds_run_queued(struct dp *dp, bool exiting)
{
	uint64_t v, one = 1;
	bool stop;

	(void)!read(dp->w[0].evfd, &v, sizeof(v));
	pthread_mutex_lock(&dp->lock);
	stop = dp->stopping || exiting;
	dp->stopping = stop; /* the other threads end too */
	if (dp->cmd_head && dp->nw > 1 && !stop) {
		/* the other threads wait between two rounds of theirs while the
		 * table and the epoll sets change: none holds a session pointer */
		dp->pause = true;
		for (unsigned i = 1; i < dp->nw; i++)
			(void)!write(dp->w[i].evfd, &one, sizeof(one));
		while (dp->parked < dp->alive)
			pthread_cond_wait(&dp->park_cond, &dp->lock);
	}
	while (dp->cmd_head) {
		struct dp_cmd *cmd = dp->cmd_head;

		dp->cmd_head = cmd->next;
		dp_cmd_apply(dp, cmd);
	}
	dp->cmd_tail = NULL;
	if (dp->pause) {
		dp->pause = false;
		pthread_cond_broadcast(&dp->park_cond);
	}
	if (stop) {
		/* the others end first, then callers apply commands themselves */
		for (unsigned i = 1; i < dp->nw; i++)
			(void)!write(dp->w[i].evfd, &one, sizeof(one));
		while (dp->alive > 0)
			pthread_cond_wait(&dp->park_cond, &dp->lock);
		dp->running = false;
	}
	pthread_cond_broadcast(&dp->cond);
	pthread_mutex_unlock(&dp->lock);
	return stop;
}

/* Thread i > 0, woken by its eventfd: wait while thread 0 applies
 * commands.  Returns true if the thread must end. */
static bool dp_worker_park(struct dp_worker *w)
{
	struct dp *dp = w->dp;
	uint64_t v;
	bool stop;

	(void)!read(w->evfd, &v, sizeof(v));
	pthread_mutex_lock(&dp->lock);
	if (dp->pause && !dp->stopping) {
		dp->parked++;
		pthread_cond_broadcast(&dp->park_cond);
		while (dp->pause && !dp->stopping)
			pthread_cond_wait(&dp->park_cond, &dp->lock);
		dp->parked--;
	}
	stop = dp->stopping;
	if (stop) {
		dp->alive--;
		pthread_cond_broadcast(&dp->park_cond);
	}
	pthread_mutex_unlock(&dp->lock);
	return stop;
}

/* ---------------------------------------------------------------------- */
/* receive: UDP -> control channel or TAP */

/* Hand a control packet, with its addresses, to the control thread. */
static void dp_forward_ctrl(struct dp *dp, enum dp_encap encap, in_port_t port, const struct msghdr *mh,
			    const uint8_t *buf, size_t len)
{
	struct dp_ctrl_hdr hdr;
	struct cmsghdr *c;

	memset(&hdr, 0, sizeof(hdr));
	dp_addr_unmap(mh->msg_name, &hdr.peer);
	hdr.encap = encap;
	hdr.local = dp->bound; /* no pktinfo: the bound address */
	if (hdr.local.ss_family == AF_INET)
		((struct sockaddr_in *)&hdr.local)->sin_port = port;
	else if (hdr.local.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&hdr.local)->sin6_port = port;
	if (encap == DP_ENCAP_IP) {
		/* raw sockets are unbound: the wildcard of the peer's family */
		memset(&hdr.local, 0, sizeof(hdr.local));
		hdr.local.ss_family = hdr.peer.ss_family;
	}
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			struct sockaddr_in l = { .sin_family = AF_INET, .sin_port = port };

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			l.sin_addr = pi.ipi_addr; /* header destination */
			memset(&hdr.local, 0, sizeof(hdr.local));
			memcpy(&hdr.local, &l, sizeof(l));
			hdr.ifindex = pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi6;
			struct sockaddr_in6 l = { .sin6_family = AF_INET6, .sin6_port = port };

			memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
			l.sin6_addr = pi6.ipi6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&pi6.ipi6_addr))
				l.sin6_scope_id = pi6.ipi6_ifindex;
			memset(&hdr.local, 0, sizeof(hdr.local));
			memcpy(&hdr.local, &l, sizeof(l));
			hdr.ifindex = (int)pi6.ipi6_ifindex;
		}
	}
	dp_addr_unmap(&hdr.local, &hdr.local);
	hdr.len = (uint32_t)len;

	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)buf, .iov_len = len },
	};
	struct msghdr out = { .msg_iov = iov, .msg_iovlen = 2 };

	if (sendmsg(dp->ctrl_fd, &out, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		dp_count(&dp->ctrl_dropped, 1);
	else
		dp_count(&dp->ctrl_forwarded, 1);
}

/* Write the frames held by the coalescer to their session's TAP. */
static void dp_coal_flush(struct dp_worker *w)
{
	struct dp_session *s = w->coal_s;
	unsigned n = w->coal.n;
	int iovcnt;
	ssize_t r;
	size_t want = 0;

	if (!s || n == 0) {
		w->coal_s = NULL;
		return;
	}
	iovcnt = gso_coal_finish(&w->coal);
	for (int i = 0; i < iovcnt; i++)
		want += w->coal.iov[i].iov_len;
	dp_stat(&w->st.tap_writes, 1);
	r = writev(w->coal_fd, w->coal.iov, iovcnt);
	if (r != (ssize_t)want) {
		dp_count(&s->rx_tap_errors, n);
	} else {
		dp_count(&s->rx_packets, n);
		dp_count(&s->rx_octets, w->coal_octets);
		dp_stat(&w->st.rx_frames, n);
		if (n > 1)
			dp_count(&s->rx_coalesced, 1);
	}
	w->coal_s = NULL;
	w->coal_octets = 0;
}

/* The TAP queue to write a frame from the tunnel to: with several queues,
 * the one its flow was last read from (so the tun driver, which steers a
 * flow to the queue that last wrote it, keeps each flow on one queue and
 * so on one thread: no reordering within a flow); else the only one. */
static int dp_tap_wfd(const struct dp_session *s, const uint8_t *frame, size_t flen)
{
	unsigned q;

	if (s->nq <= 1)
		return s->q[0].fd;
	q = atomic_load_explicit(&s->flowq[gso_flow_hash(frame, flen) % DP_FLOWQ], memory_order_relaxed);
	return s->q[q < s->nq ? q : 0].fd;
}

/* Write one frame to s's TAP (with an empty vnet header if it has one);
 * octets: what it counts (the frame as carried in the tunnel). */
static void dp_tap_write_n(struct dp_worker *w, struct dp_session *s, const uint8_t *frame, size_t flen,
			   size_t octets)
{
	int fd = dp_tap_wfd(s, frame, flen);
	static const uint8_t zero[GSO_VNET_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = (void *)zero, .iov_len = sizeof(zero) },
		{ .iov_base = (void *)frame, .iov_len = flen },
	};
	ssize_t r, want = (ssize_t)flen;

	dp_stat(&w->st.tap_writes, 1);
	if (s->vnet) {
		r = writev(fd, iov, 2);
		want += GSO_VNET_HDR_LEN;
	} else {
		r = write(fd, frame, flen);
	}
	if (r != want) {
		/* EAGAIN included: never wait for the TAP */
		dp_count(&s->rx_tap_errors, 1);
		return;
	}
	dp_count(&s->rx_packets, 1);
	dp_count(&s->rx_octets, octets);
	dp_stat(&w->st.rx_frames, 1);
}

static void dp_tap_write(struct dp_worker *w, struct dp_session *s, const uint8_t *frame, size_t flen)
{
	dp_tap_write_n(w, s, frame, flen, flen);
}

/* rx_seq: keep a packet whose Default L2SS is l2ss?  See the top of the
 * file. */
static bool dp_rx_seq_check(struct dp_session *s, const uint8_t *l2ss)
{
	uint32_t ns;

	if (!l2tp_l2ss_read(l2ss, &ns)) {
		dp_count(&s->rx_seq_missing, 1);
		return true;
	}
	if (!s->rx_seen || l2tp_seq24_newer(ns, s->rx_last)) {
		s->rx_seen = true;
		s->rx_last = ns;
		s->rx_old_run = 0;
		return true;
	}
	/* a duplicate, a late packet, or a sender counting from 0 again */
	if (s->rx_old_run > 0 && ns == s->rx_old_next)
		s->rx_old_run++;
	else
		s->rx_old_run = 1;
	s->rx_old_next = (ns + 1) & L2TP_SEQ24_MASK;
	if (s->rx_old_run >= DP_SEQ_RESYNC) {
		s->rx_last = ns;
		s->rx_old_run = 0;
		return true;
	}
	dp_count(&s->rx_seq_drops, 1);
	return false;
}

/* tx_seq: the number for the next datagram sent (0 without tx_seq) */
static uint32_t dp_tx_seq_next(struct dp_session *s)
{
	uint32_t ns = s->tx_ns;

	if (!s->conf.tx_seq)
		return 0;
	s->tx_ns = (ns + 1) & L2TP_SEQ24_MASK;
	return ns;
}

/* Is from (a datagram's source, in the socket's family) s's peer? */
static bool dp_from_peer(const struct dp_session *s, const struct msghdr *mh)
{
	const struct sockaddr_storage *a = mh ? mh->msg_name : NULL, *b = &s->dest.name;

	if (!a || s->dest.namelen == 0 || a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_port == ((const struct sockaddr_in *)b)->sin_port &&
		       ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return ((const struct sockaddr_in6 *)a)->sin6_port == ((const struct sockaddr_in6 *)b)->sin6_port &&
	       !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

/* A data packet: find the session, check it, write the frame to the TAP
 * (or hold it for coalescing; the caller flushes before buf is reused).
 * mh: the datagram's header (its source), NULL over IP. */
static void dp_rx_data(struct dp_worker *w, enum dp_encap encap, const struct msghdr *mh, uint8_t *buf, size_t len,
		       uint64_t now)
{
	struct dp *dp = w->dp;
	struct dp_session *s;
	uint8_t *frame;
	size_t flen;
	uint32_t sid;
	int fd;

	if (l2tp_data_hdr_sid(buf, len, &sid) != 0) {
		dp_count(&dp->rx_malformed, 1);
		return;
	}
	s = dp_lookup(dp, sid);
	if (!s || s->conf.encap != encap) {
		dp_count(&dp->rx_unknown_session, 1);
		return;
	}
	if (s->conf.rx_peer_only && !dp_from_peer(s, mh)) {
		dp_count(&s->rx_peer_drops, 1);
		return;
	}
	if (len < s->rx_hdr_len + DP_ETH_HLEN) {
		dp_count(&s->rx_malformed_drops, 1);
		return;
	}
	if (s->conf.rx_cookie_len &&
	    memcmp(buf + L2TP_DATA_UDP_HDR_LEN, s->conf.rx_cookie, s->conf.rx_cookie_len) != 0) {
		dp_count(&s->rx_cookie_drops, 1);
		return;
	}
	/* the Default L2SS ends the header; without rx_seq it is skipped */
	if (s->conf.rx_seq && !dp_rx_seq_check(s, buf + s->rx_hdr_len - 4))
		return;
	frame = buf + s->rx_hdr_len;
	flen = len - s->rx_hdr_len;
	atomic_store_explicit(&s->last_rx, now, memory_order_relaxed);
	if ((s->conf.mss4 || s->conf.mss6) && gso_mss_clamp(frame, flen, s->conf.mss4, s->conf.mss6))
		dp_count(&s->mss_clamped, 1);
	if (s->conf.vlan) {
		/* tag it: the MAC addresses move 4 bytes into the header
		 * already read (the session's L2TP header is at least 8) */
		memmove(frame - DP_VLAN_HLEN, frame, 12);
		dp_stat(&w->st.copied_octets, 12);
		frame -= DP_VLAN_HLEN;
		flen += DP_VLAN_HLEN;
		frame[12] = 0x81;
		frame[13] = 0x00;
		frame[14] = (uint8_t)(s->conf.vlan >> 8);
		frame[15] = (uint8_t)s->conf.vlan;
		dp_tap_write_n(w, s, frame, flen, flen - DP_VLAN_HLEN);
		return;
	}
	if (!s->vnet) {
		dp_tap_write(w, s, frame, flen);
		return;
	}
	fd = dp_tap_wfd(s, frame, flen);
	if (w->coal_s != s || w->coal_fd != fd)
		dp_coal_flush(w);
	if (!gso_coal_add(&w->coal, frame, flen)) {
		if (w->coal.n == 0) {
			dp_tap_write(w, s, frame, flen);
			return;
		}
		dp_coal_flush(w);
		if (!gso_coal_add(&w->coal, frame, flen)) {
			dp_tap_write(w, s, frame, flen);
			return;
		}
	}
	w->coal_s = s;
	w->coal_fd = fd;
	w->coal_octets += flen;
}

/* Size of each datagram in a UDP_GRO-coalesced read, 0 if not coalesced. */
static size_t dp_gro_size(const struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int v;

			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

/* recvmmsg() up to want datagrams from fd into b's buffers (each at
 * DP_HEADROOM, with its source and pktinfo).  Returns the count or -1. */
static int dp_recv_batch(struct dp_batch *b, int fd, unsigned want)
{
	for (unsigned i = 0; i < want; i++) {
		b->iov[i].iov_base = b->bufs[i] + DP_HEADROOM;
		b->iov[i].iov_len = DP_BUF_SIZE;
		b->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &b->names[i],
			.msg_namelen = sizeof(b->names[i]),
			.msg_iov = &b->iov[i],
			.msg_iovlen = 1,
			.msg_control = b->cmsg[i].buf,
			.msg_controllen = sizeof(b->cmsg[i].buf),
		};
		b->msgs[i].msg_len = 0;
	}
	return recvmmsg(fd, b->msgs, want, MSG_DONTWAIT, NULL);
}

/* Read and dispatch up to DP_UDP_BUDGET datagrams from UDP socket fd (its
 * local port: port, network order). */
static void dp_udp_rx(struct dp_worker *w, int fd, in_port_t port)
{
	struct dp *dp = w->dp;
	struct dp_batch *b = w->batch;
	unsigned budget = DP_UDP_BUDGET;

	while (budget > 0) {
		unsigned want = budget < DP_BATCH ? budget : DP_BATCH;
		unsigned pieces = 0;
		uint64_t now;
		int n;

		dp_stat(&w->st.udp_recvs, 1);
		n = dp_recv_batch(b, fd, want);
		if (n <= 0)
			return; /* EAGAIN, or an error the next wakeup will see */
		now = dp_now_sec();
		for (int i = 0; i < n; i++) {
			const struct msghdr *mh = &b->msgs[i].msg_hdr;
			uint8_t *buf = b->bufs[i] + DP_HEADROOM;
			size_t len = b->msgs[i].msg_len;
			size_t seg = dp_gro_size(mh);

			if (mh->msg_flags & MSG_TRUNC) {
				dp_count(&dp->rx_malformed, 1);
				continue;
			}
			if (seg == 0 || seg > len)
				seg = len;
			/* one datagram, or several of `seg` bytes (the last
			 * may be shorter) coalesced by UDP GRO */
			for (size_t off = 0; off < len; off += seg) {
				uint8_t *p = buf + off;
				size_t plen = len - off < seg ? len - off : seg;

				pieces++;
				if (plen < 2)
					dp_count(&dp->rx_malformed, 1);
				else if (l2tp_is_ctrl(p))
					dp_forward_ctrl(dp, DP_ENCAP_UDP, port, mh, p, plen);
				else
					dp_rx_data(w, DP_ENCAP_UDP, mh, p, plen, now);
			}
			if (len == 0)
				dp_count(&dp->rx_malformed, 1);
		}
		/* the buffers are reused by the next recvmmsg */
		dp_coal_flush(w);
		/* short turns, so the TAPs' traffic is not held up */
		if (pieces < (unsigned)n)
			pieces = (unsigned)n;
		budget = pieces >= budget ? 0 : budget - pieces;
		if ((unsigned)n < want)
			return;
	}
}

/*
 * One datagram read from a raw IP/115 socket of `family` (IPv4 reads start
 * with the IP header).  buf has DP_HEADROOM bytes in front.
 */
static void dp_ip_rx_one(struct dp_worker *w, int family, const struct msghdr *mh, uint8_t *buf, size_t len,
			 uint64_t now)
{
	struct dp *dp = w->dp;
	size_t ihl = 0;
	uint8_t *p;

	if (family == AF_INET) {
		if (len < 20 || (buf[0] >> 4) != 4 || (size_t)(buf[0] & 0x0f) * 4 < 20 ||
		    (size_t)(buf[0] & 0x0f) * 4 > len) {
			dp_count(&dp->rx_malformed, 1);
			return;
		}
		ihl = (size_t)(buf[0] & 0x0f) * 4;
	}
	p = buf + ihl;
	len -= ihl;
	if (len < 4) {
		dp_count(&dp->rx_malformed, 1);
		return;
	}
	if (p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0) {
		/* Session ID 0: a control message follows (T=1 required) */
		if (len < 4 + 2 || !l2tp_is_ctrl(p + 4)) {
			dp_count(&dp->rx_malformed, 1);
			return;
		}
		dp_forward_ctrl(dp, DP_ENCAP_IP, 0, mh, p + 4, len - 4);
		return;
	}
	/* data: give it the UDP form's first word (T=0, Ver=3) in the 4 bytes
	 * before it, which were read already (IP header or headroom) */
	p -= 4;
	p[0] = 0x00;
	p[1] = L2TP_VERSION;
	p[2] = 0;
	p[3] = 0;
	dp_rx_data(w, DP_ENCAP_IP, NULL, p, len + 4, now);
}

/* Read and dispatch up to DP_UDP_BUDGET datagrams from a raw IP socket. */
static void dp_ip_rx(struct dp_worker *w, int fd, int family)
{
	struct dp *dp = w->dp;
	struct dp_batch *b = w->batch;
	unsigned budget = DP_UDP_BUDGET;

	while (budget > 0) {
		unsigned want = budget < DP_BATCH ? budget : DP_BATCH;
		uint64_t now;
		int n;

		dp_stat(&w->st.udp_recvs, 1);
		n = dp_recv_batch(b, fd, want);
		if (n <= 0)
			return;
		now = dp_now_sec();
		for (int i = 0; i < n; i++) {
			const struct msghdr *mh = &b->msgs[i].msg_hdr;

			if (mh->msg_flags & MSG_TRUNC) {
				dp_count(&dp->rx_malformed, 1);
				continue;
			}
			dp_ip_rx_one(w, family, mh, b->bufs[i] + DP_HEADROOM, b->msgs[i].msg_len, now);
		}
		dp_coal_flush(w);
		budget = (unsigned)n >= budget ? 0 : budget - (unsigned)n;
		if ((unsigned)n < want)
			return;
	}
}

/* ---------------------------------------------------------------------- */
/* transmit: TAP -> UDP */

/* Count the outcome of sending msgs[0..n) for s; returns how many left. */
static unsigned dp_sendmmsg(struct dp_worker *w, struct dp_session *s, struct mmsghdr *msgs, unsigned n,
			    const size_t *octets, size_t hlen)
{
	unsigned i = 0;

	while (i < n) {
		int r;

		dp_stat(&w->st.udp_sends, 1);
		r = sendmmsg(s->dest.fd, msgs + i, n - i, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
				/* socket full: drop the rest, never wait */
				dp_count(&s->tx_errors, n - i);
				return n - i;
			}
			/* this datagram failed (EMSGSIZE, unreachable, ...) */
			dp_count(&s->tx_errors, 1);
			i++;
			continue;
		}
		for (int k = 0; k < r; k++)
			dp_count(&s->tx_octets, octets ? octets[i + (unsigned)k]
						       : msgs[i + (unsigned)k].msg_hdr.msg_iov->iov_len - hlen);
		dp_count(&s->tx_packets, (uint64_t)r);
		dp_stat(&w->st.tx_frames, (uint64_t)r);
		i += (unsigned)r;
	}
	return 0;
}

/* Encapsulate b->bufs[0..n) (frames at DP_HEADROOM, b->lens) and send them
 * to s's peer. */
static void dp_tx_batch(struct dp_worker *w, struct dp_session *s, unsigned n)
{
	struct dp_batch *b = w->batch;
	const struct dp_session_conf *c = &s->conf;

	if (s->dest.namelen == 0) {
		dp_count(&s->tx_errors, n);
		return;
	}
	for (unsigned k = 0; k < n; k++) {
		size_t hlen = l2tp_data_hdr_len(c->tx_cookie_len, c->tx_l2ss);
		uint8_t *p = b->bufs[k] + DP_HEADROOM - hlen;

		l2tp_data_hdr_write(p, c->remote_sid, c->tx_cookie, c->tx_cookie_len, c->tx_l2ss, c->tx_seq,
				    dp_tx_seq_next(s));
		b->iov[k].iov_base = p + s->dest.skip;
		b->iov[k].iov_len = hlen - s->dest.skip + b->lens[k];
		b->msgs[k].msg_hdr = dp_dest_msg(&s->dest, &b->iov[k], 1);
		b->msgs[k].msg_len = 0;
	}
	(void)dp_sendmmsg(w, s, b->msgs, n, b->lens, 0);
}

/* Send cnt segments described by iov[0..2*cnt) (per segment: its L2TP and
 * inner headers, then its payload slice in the super-frame), each but the
 * last `stride` bytes long: one sendmsg with UDP_SEGMENT (the kernel
 * copies each payload byte once, straight from the TAP read buffer), or
 * sendmmsg, one datagram per segment, if the kernel refuses that. */
static void dp_tx_gso_send(struct dp_worker *w, struct dp_session *s, struct iovec *iov, unsigned cnt, size_t stride,
			   size_t hlen)
{
	size_t total = 0;
	union dp_cmsg cm;
	struct msghdr mh = dp_dest_msg(&s->dest, iov, 2 * (size_t)cnt); /* its control is replaced below */

	for (unsigned k = 0; k < 2 * cnt; k++)
		total += iov[k].iov_len;
	if (cnt > 1 && s->dest.skip == 0) {
		struct cmsghdr *c;
		uint16_t gso = (uint16_t)stride;

		memset(&cm, 0, sizeof(cm));
		memcpy(cm.buf, s->dest.cmsg.buf, s->dest.cmsg_len);
		c = (struct cmsghdr *)(cm.buf + s->dest.cmsg_len);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(gso));
		memcpy(CMSG_DATA(c), &gso, sizeof(gso));
		mh.msg_control = cm.buf;
		mh.msg_controllen = s->dest.cmsg_len + CMSG_SPACE(sizeof(gso));
		dp_stat(&w->st.udp_sends, 1);
		if (sendmsg(s->dest.fd, &mh, MSG_DONTWAIT) == (ssize_t)total) {
			dp_count(&s->tx_packets, cnt);
			dp_stat(&w->st.tx_frames, cnt);
			dp_count(&s->tx_octets, total - (size_t)cnt * hlen);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			dp_count(&s->tx_errors, cnt);
			return;
		}
		/* EINVAL (segments above the path MTU: they need IP
		 * fragmentation), EIO/EOPNOTSUPP (no UDP GSO here): one
		 * datagram each */
	}
	/* (over IP each datagram starts s->dest.skip bytes into its header) */
	for (unsigned k = 0; k < cnt; k++) {
		iov[2 * k].iov_base = (uint8_t *)iov[2 * k].iov_base + s->dest.skip;
		iov[2 * k].iov_len -= s->dest.skip;
		w->gso_msgs[k].msg_hdr = dp_dest_msg(&s->dest, &iov[2 * k], 2);
		w->gso_msgs[k].msg_len = 0;
		w->gso_octets[k] = iov[2 * k].iov_len + iov[2 * k + 1].iov_len - (hlen - s->dest.skip);
	}
	(void)dp_sendmmsg(w, s, w->gso_msgs, cnt, w->gso_octets, 0);
}

/* A super-frame read from the TAP: segment it and send the segments.
 * Returns the number of segments (for the TAP budget). */
static unsigned dp_tx_super(struct dp_worker *w, struct dp_session *s, const uint8_t *frame, size_t len,
			    const struct gso_vnet_hdr *vh)
{
	const struct dp_session_conf *c = &s->conf;
	size_t hlen = l2tp_data_hdr_len(c->tx_cookie_len, c->tx_l2ss);
	struct gso_super g;
	size_t stride;
	unsigned per;

	if (gso_parse(frame, len, vh, &g) < 0) {
		dp_count(&s->tx_errors, 1);
		return 1;
	}
	if (s->dest.namelen == 0) {
		dp_count(&s->tx_errors, g.nsegs);
		return g.nsegs;
	}
	dp_count(&s->tx_super, 1);
	stride = hlen + g.hdr_len + g.gso_size;
	if (stride > DP_GSO_BYTES) {
		/* segments that would not be valid UDP payloads */
		dp_count(&s->tx_errors, g.nsegs);
		return g.nsegs;
	}
	/* one send carries per * stride <= DP_GSO_BYTES */
	per = (unsigned)(DP_GSO_BYTES / stride);
	if (per > DP_GSO_SEGS)
		per = DP_GSO_SEGS;
	for (unsigned first = 0; first < g.nsegs; first += per) {
		unsigned cnt = gso_segment_iov(frame, &g, first, per, w->gsohdr, DP_GSO_HSTRIDE, hlen, w->gso_iov);

		for (unsigned k = 0; k < cnt; k++)
			l2tp_data_hdr_write(w->gsohdr + (size_t)k * DP_GSO_HSTRIDE, c->remote_sid, c->tx_cookie,
					    c->tx_cookie_len, c->tx_l2ss, c->tx_seq, dp_tx_seq_next(s));
		dp_tx_gso_send(w, s, w->gso_iov, cnt, stride, hlen);
	}
	return g.nsegs;
}

/* Read up to DP_TAP_BUDGET frames from s's TAP and send them. */
static void dp_tap_rx(struct dp_worker *w, struct dp_tapq *q)
{
	struct dp *dp = w->dp;
	struct dp_session *s = q->s;
	struct dp_batch *b = w->batch;
	unsigned budget = DP_TAP_BUDGET;
	size_t vlen = s->vnet ? GSO_VNET_HDR_LEN : 0;
	bool drained = false;

	while (budget > 0 && !drained) {
		unsigned n = 0;

		while (n < DP_BATCH && budget > 0) {
			uint8_t *frame = b->bufs[n] + DP_HEADROOM;
			ssize_t r;
			size_t flen;

			dp_stat(&w->st.tap_reads, 1);
			r = read(q->fd, frame - vlen, DP_BUF_SIZE + vlen);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= (ssize_t)vlen) {
				if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
					/* the TAP is gone or broken: stop polling
					 * it rather than spin on a level-triggered
					 * error */
					dp_count(&s->tx_errors, 1);
					dp_tapq_unpoll(dp, q);
				}
				drained = true;
				break;
			}
			flen = (size_t)r - vlen;
			budget--;
			if (s->nq > 1)
				atomic_store_explicit(&s->flowq[gso_flow_hash(frame, flen) % DP_FLOWQ],
						      (uint8_t)q->idx, memory_order_relaxed);
			if (s->vnet) {
				struct gso_vnet_hdr vh;

				memcpy(&vh, frame - vlen, sizeof(vh));
				if (vh.gso_type != GSO_TYPE_NONE) {
					unsigned segs;

					/* keep the order: what was read before goes first */
					if (n > 0)
						dp_tx_batch(w, s, n);
					n = 0;
					segs = dp_tx_super(w, s, frame, flen, &vh);
					budget = segs >= budget ? 0 : budget - segs;
					continue;
				}
				if ((vh.flags & GSO_F_NEEDS_CSUM) &&
				    gso_csum_complete(frame, flen, vh.csum_start, vh.csum_offset) < 0) {
					dp_count(&s->tx_errors, 1);
					continue;
				}
			}
			if (s->conf.vlan) {
				/* only the session's VLAN, untagged: the rest
				 * of the frame moves 4 bytes back over the tag */
				if (flen < DP_ETH_HLEN + DP_VLAN_HLEN || frame[12] != 0x81 || frame[13] != 0x00 ||
				    (((unsigned)frame[14] << 8 | frame[15]) & 0xfff) != s->conf.vlan) {
					dp_count(&s->tx_vlan_drops, 1);
					continue;
				}
				memmove(frame + 12, frame + 12 + DP_VLAN_HLEN, flen - 12 - DP_VLAN_HLEN);
				dp_stat(&w->st.copied_octets, flen - 12 - DP_VLAN_HLEN);
				flen -= DP_VLAN_HLEN;
			}
			if ((s->conf.mss4 || s->conf.mss6) &&
			    gso_mss_clamp(frame, flen, s->conf.mss4, s->conf.mss6))
				dp_count(&s->mss_clamped, 1);
			b->lens[n++] = flen;
		}
		if (n > 0)
			dp_tx_batch(w, s, n);
	}
}

/* ---------------------------------------------------------------------- */
/* the data thread */

static void *dp_thread_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp *dp = w->dp;
	struct epoll_event ev[DP_EVENTS];
	/* busy polling: until when, and the time spent polling in the
	 * current period (at most DP_POLL_SHARE of it) */
	uint64_t spin_until = 0, last_look = 0, period = 0, polled = 0;

	for (;;) {
		bool cmds = false;
		/* busy polling (dp->spin_ns): look without sleeping until
		 * spin_ns after the last round that found work */
		int n = epoll_wait(w->epfd, ev, DP_EVENTS, spin_until ? 0 : -1);
		uint64_t spin = atomic_load_explicit(&dp->spin_ns, memory_order_relaxed);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* cannot happen with a valid epfd; hand commands
			 * back to the callers rather than hang them */
			if (w->idx == 0) {
				dp_cmds_run_queued(dp, true);
			} else {
				pthread_mutex_lock(&dp->lock);
				dp->alive--;
				pthread_cond_broadcast(&dp->park_cond);
				pthread_mutex_unlock(&dp->lock);
			}
			return NULL;
		}
		if (n == 0) {
			/* a look while busy polling, nothing there */
			uint64_t now = dp_now_ns();

			dp_stat(&w->st.polls, 1);
			if (now - period >= DP_POLL_PERIOD_NS) {
				period = now;
				polled = 0;
			}
			polled += now - last_look;
			dp_stat(&w->st.poll_ns, now - last_look);
			last_look = now;
			if (!spin || now >= spin_until || polled >= DP_POLL_PERIOD_NS / DP_POLL_SHARE)
				spin_until = 0;
			continue;
		}
		dp_stat(&w->st.wakeups, 1);
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;

			if (p == &w->udp_fd)
				dp_udp_rx(w, w->udp_fd, dp->port);
			else if (p >= (void *)dp->udp && p < (void *)(dp->udp + DP_MAX_UDP))
				dp_udp_rx(w, ((struct dp_udp *)p)->fd, ((struct dp_udp *)p)->port);
			else if (p == &dp->ip4_fd)
				dp_ip_rx(w, dp->ip4_fd, AF_INET);
			else if (p == &dp->ip6_fd)
				dp_ip_rx(w, dp->ip6_fd, AF_INET6);
			else if (p == &w->evfd)
				cmds = true;
			else if (((struct dp_tapq *)p)->polled)
				dp_tap_rx(w, p);
		}
		/* after the round, so no event above can name a freed session */
		if (cmds && (w->idx == 0 ? dp_cmds_run_queued(dp, false) : dp_worker_park(w)))
			return NULL;
		/* the busy-polling window starts when the work is done */
		if (spin) {
			last_look = dp_now_ns();
			spin_until = last_look + spin;
		} else {
			spin_until = 0;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* API */

/* Raise a shared socket's send buffer to DP_UDP_SNDBUF (see dp.h); best effort. */
static void dp_grow_sndbuf(int fd)
{
	int sz = DP_UDP_SNDBUF, cur = 0;
	socklen_t len = sizeof(cur);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &len) == 0 && cur >= 2 * sz)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/*
 * What every socket of the data path needs, by family: the destination
 * address of each datagram (IP_PKTINFO / IPV6_RECVPKTINFO), and outer
 * fragmentation with DF off.  A full 1500-byte Ethernet frame becomes a
 * 1550-byte UDP/IPv4 packet; with DF clear the kernel (and any router on
 * the path) fragments it instead of dropping it, as Yamaha and Cisco do by
 * default (RFC 4623 §4 leaves this to the implementation); inner MTU/MSS
 * tuning is the operator's job.  IPv6 routers never fragment:
 * IPV6_PMTUDISC_DONT makes the kernel fragment locally rather than fail
 * with EMSGSIZE, and IPv4-mapped peers of a dual-stack socket get the IPv4
 * setting (a socket that refuses it has none: harmless).  Then the larger
 * send buffer.  Returns 0 or negative errno.
 */
static int dp_sock_setup(int fd, int family)
{
	int one = 1, pmtu = IP_PMTUDISC_DONT, pmtu6 = IPV6_PMTUDISC_DONT;

	if (family == AF_INET) {
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) < 0)
			return -errno;
	} else if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu6, sizeof(pmtu6)) < 0)
			return -errno;
		(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	} else {
		return -EAFNOSUPPORT;
	}
	dp_grow_sndbuf(fd);
	return 0;
}

static void dp_session_free(struct dp_session *s);

/* Thread i's buffers, epoll set and eventfd, reading udp_fd. */
static int dp_worker_init(struct dp *dp, unsigned i, int udp_fd)
{
	struct dp_worker *w = &dp->w[i];
	struct epoll_event ev = { .events = EPOLLIN };

	w->dp = dp;
	w->idx = i;
	w->udp_fd = udp_fd;
	w->batch = calloc(1, sizeof(*w->batch));
	if (!w->batch)
		return -ENOMEM;
	/* touched lazily by the kernel, so mostly virtual */
	w->batch->mem = malloc((size_t)DP_BATCH * (DP_HEADROOM + DP_BUF_SIZE));
	w->gsohdr = malloc((size_t)DP_GSO_SEGS * DP_GSO_HSTRIDE);
	if (!w->batch->mem || !w->gsohdr)
		return -ENOMEM;
	for (unsigned k = 0; k < DP_BATCH; k++)
		w->batch->bufs[k] = w->batch->mem + (size_t)k * (DP_HEADROOM + DP_BUF_SIZE);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->evfd < 0)
		return -errno;
	ev.data.ptr = &w->udp_fd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, udp_fd, &ev) < 0)
		return -errno;
	ev.data.ptr = &w->evfd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0)
		return -errno;
	return 0;
}

static void dp_worker_free(struct dp_worker *w)
{
	if (w->evfd >= 0)
		close(w->evfd);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->idx > 0 && w->udp_fd >= 0)
		close(w->udp_fd);
	if (w->batch)
		free(w->batch->mem);
	free(w->batch);
	free(w->gsohdr);
}

int dp_create(int udp_fd, int ctrl_fd, struct dp **ret)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	struct dp *dp;
	int one = 1, r;

	memset(&bound, 0, sizeof(bound));
	if (getsockname(udp_fd, (struct sockaddr *)&bound, &blen) < 0)
		return -errno;
	r = dp_sock_setup(udp_fd, bound.ss_family);
	if (r < 0)
		return r;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->udp_fd = udp_fd;
	dp->ctrl_fd = ctrl_fd;
	dp->family = bound.ss_family;
	dp_addr_unmap(&bound, &dp->bound);
	dp->port = bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
					      : ((struct sockaddr_in6 *)&bound)->sin6_port;
	for (unsigned i = 0; i < DP_MAX_THREADS; i++)
		dp->w[i].epfd = dp->w[i].evfd = dp->w[i].udp_fd = -1;
	dp->nw = 1;
	dp->ip4_fd = dp->ip6_fd = -1;
	pthread_mutex_init(&dp->lock, NULL);
	pthread_cond_init(&dp->cond, NULL);
	pthread_cond_init(&dp->park_cond, NULL);

	r = -ENOMEM;
	dp->hash_bits = DP_HASH_BITS;
	dp->nbuckets = (size_t)1 << DP_HASH_BITS;
	dp->buckets = calloc(dp->nbuckets, sizeof(*dp->buckets));
	if (!dp->buckets)
		goto out_free;
	/* several datagrams of one peer per read, when the kernel can */
	dp->udp_gro = setsockopt(udp_fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	r = dp_worker_init(dp, 0, udp_fd);
	if (r < 0)
		goto out_free;
	*ret = dp;
	return 0;

out_free:
	dp_destroy(dp);
	return r;
}

int dp_set_threads(struct dp *dp, unsigned n)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1, zero = 0, r = 0;

	if (n < 1 || n > DP_MAX_THREADS)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	if (dp->started || dp->nw != 1 || dp->nsessions || dp->n_udp || dp->ip4_fd >= 0 || dp->ip6_fd >= 0) {
		pthread_mutex_unlock(&dp->lock);
		return n == dp->nw ? 0 : -EBUSY;
	}
	if (getsockname(dp->udp_fd, (struct sockaddr *)&bound, &blen) < 0)
		r = -errno;
	for (unsigned i = 1; i < n && r == 0; i++) {
		int fd = socket(dp->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			r = -errno;
			break;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
		    (dp->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) ||
		    bind(fd, (struct sockaddr *)&bound, blen) < 0) {
			r = -errno; /* EADDRINUSE: udp_fd has no SO_REUSEPORT */
			close(fd);
			break;
		}
		r = dp_sock_setup(fd, dp->family);
		if (r == 0 && !dp->fp)
			(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
		if (r == 0)
			r = dp_worker_init(dp, i, fd);
		else
			close(fd);
		if (r == 0)
			dp->nw = i + 1;
	}
	if (r < 0) {
		/* back to one thread */
		for (unsigned i = 1; i < DP_MAX_THREADS; i++) {
			dp_worker_free(&dp->w[i]);
			memset(&dp->w[i], 0, sizeof(dp->w[i]));
			dp->w[i].epfd = dp->w[i].evfd = dp->w[i].udp_fd = -1;
		}
		dp->nw = 1;
	}
	pthread_mutex_unlock(&dp->lock);
	return r;
}

unsigned dp_threads(const struct dp *dp)
{
	return dp->nw;
}

void dp_thread_stats(const struct dp *dp, unsigned i, struct dp_thread_stats *ret)
{
	const struct dp_wstats *st = &dp->w[i].st;

	*ret = (struct dp_thread_stats){
		.wakeups = dp_read(&st->wakeups),
		.tap_reads = dp_read(&st->tap_reads),
		.tap_writes = dp_read(&st->tap_writes),
		.udp_recvs = dp_read(&st->udp_recvs),
		.udp_sends = dp_read(&st->udp_sends),
		.tx_frames = dp_read(&st->tx_frames),
		.rx_frames = dp_read(&st->rx_frames),
		.copied_octets = dp_read(&st->copied_octets),
		.polls = dp_read(&st->polls),
		.poll_ns = dp_read(&st->poll_ns),
	};
}

int dp_set_busy_poll(struct dp *dp, unsigned usec)
{
	if (usec > DP_BUSY_POLL_MAX_US)
		return -EINVAL;
	atomic_store_explicit(&dp->spin_ns, (uint64_t)usec * 1000u, memory_order_relaxed);
	return 0;
}

int dp_set_realtime(struct dp *dp, int rt_prio)
{
	struct sched_param sp = { .sched_priority = rt_prio };
	int r = -ESRCH;

	pthread_mutex_lock(&dp->lock);
	if (dp->started) {
		for (unsigned i = 0; i < dp->nw; i++) {
			int e = -pthread_setschedparam(dp->w[i].thread, rt_prio ? SCHED_FIFO : SCHED_OTHER, &sp);

			if (i == 0 || e < 0)
				r = e;
		}
	}
	pthread_mutex_unlock(&dp->lock);
	return r;
}

int dp_start(struct dp *dp)
{
	sigset_t all, old;
	int r = 0;
	unsigned i;

	pthread_mutex_lock(&dp->lock);
	if (dp->started || dp->stopping) {
		pthread_mutex_unlock(&dp->lock);
		return -EALREADY;
	}
	/* signals belong to the main thread's event loop */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < dp->nw && r == 0; i++) {
		r = -pthread_create(&dp->w[i].thread, NULL, dp_thread_main, &dp->w[i]);
		if (r == 0 && i > 0)
			dp->alive++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0 && i > 1) {
		/* some threads run: stop them (below the lock they wait on) */
		unsigned started = i - 1;
		uint64_t one = 1;

		dp->stopping = true;
		for (unsigned k = 0; k < started; k++)
			(void)!write(dp->w[k].evfd, &one, sizeof(one));
		pthread_mutex_unlock(&dp->lock);
		for (unsigned k = 0; k < started; k++)
			pthread_join(dp->w[k].thread, NULL);
		return r;
	}
	if (r == 0) {
		dp->started = true;
		dp->running = true;
	}
	pthread_mutex_unlock(&dp->lock);
	return r;
}

void dp_destroy(struct dp *dp)
{
	uint64_t one = 1;
	bool join;

	if (!dp)
		return;
	/* frames go back to the TAPs and the socket before the threads end */
	fp_close(dp->fp);
	dp->fp = NULL;
	pthread_mutex_lock(&dp->lock);
	dp->stopping = true;
	join = dp->started;
	dp->started = false;
	if (dp->running) {
		for (unsigned i = 0; i < dp->nw; i++)
			(void)!write(dp->w[i].evfd, &one, sizeof(one));
		pthread_cond_broadcast(&dp->park_cond);
	}
	pthread_mutex_unlock(&dp->lock);
	if (join)
		for (unsigned i = 0; i < dp->nw; i++)
			pthread_join(dp->w[i].thread, NULL);

	if (dp->buckets) {
		for (size_t i = 0; i < dp->nbuckets; i++) {
			struct dp_session *s = dp->buckets[i], *next;

			for (; s; s = next) {
				next = s->hash_next;
				dp_session_free(s);
			}
		}
		free(dp->buckets);
	}
	for (unsigned i = 0; i < DP_MAX_THREADS; i++)
		dp_worker_free(&dp->w[i]);
	pthread_cond_destroy(&dp->park_cond);
	pthread_cond_destroy(&dp->cond);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
}

/*
 * If the TAP has IFF_VNET_HDR, ask for the offloads we handle, the most
 * first: the kernel refuses (EINVAL) flags it does not know, so USO (6.2+)
 * and then ECN are dropped on refusal.  Without any, the TAP still has the
 * header but hands us plain frames with complete checksums.
 */
static void dp_tap_offload(struct dp_session *s)
{
	static const unsigned want[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
		TUN_F_CSUM,
		0,
	};
	struct ifreq ifr;
	int sz = GSO_VNET_HDR_LEN;

	memset(&ifr, 0, sizeof(ifr));
	s->vnet = false;
	s->offload = 0;
	if (ioctl(s->conf.tap_fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_VNET_HDR))
		return;
	if (ioctl(s->conf.tap_fd, TUNSETVNETHDRSZ, &sz) < 0)
		return; /* cannot happen with IFF_VNET_HDR; a header we cannot size is not used */
	s->vnet = true;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (ioctl(s->conf.tap_fd, TUNSETOFFLOAD, want[i]) == 0) {
			s->offload = want[i];
			return;
		}
	}
}

/* Close the queues dp opened and free s. */
static void dp_session_free(struct dp_session *s)
{
	for (unsigned i = 1; i < s->nq; i++)
		close(s->q[i].fd);
	free(s->flowq);
	free(s);
}

/*
 * With several data threads and a multi-queue TAP: one more queue per
 * thread, so that each thread reads its own.  Not for a session that
 * numbers what it sends (tx_seq): the numbers must leave in order, so one
 * thread reads it all.  A queue that cannot be opened leaves fewer (the
 * kernel spreads over the queues attached).
 */
static void dp_tap_queues(const struct dp *dp, struct dp_session *s)
{
	struct ifreq ifr;

	s->q[0] = (struct dp_tapq){ .s = s, .fd = s->conf.tap_fd, .idx = 0 };
	s->nq = 1;
	if (dp->nw < 2 || s->conf.tx_seq)
		return;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(s->conf.tap_fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_MULTI_QUEUE))
		return;
	s->flowq = calloc(DP_FLOWQ, sizeof(*s->flowq));
	if (!s->flowq)
		return;
	for (unsigned i = 1; i < dp->nw; i++) {
		int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd < 0)
			break;
		struct ifreq got;
		int sz = GSO_VNET_HDR_LEN;

		/* the vnet header belongs to each queue's file: asked for and
		 * sized like the first one's, and checked */
		if (s->vnet)
			ifr.ifr_flags |= IFF_VNET_HDR;
		memset(&got, 0, sizeof(got));
		if (ioctl(fd, TUNSETIFF, &ifr) < 0 || (s->vnet && ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) ||
		    ioctl(fd, TUNGETIFF, &got) < 0 || !!(got.ifr_flags & IFF_VNET_HDR) != s->vnet) {
			close(fd);
			break;
		}
		s->q[i] = (struct dp_tapq){ .s = s, .fd = fd, .idx = i };
		s->nq = i + 1;
	}
}

/* ---------------------------------------------------------------------- */
/* the kernel fast path (fastpath.h) */

/*
 * What the fast path needs for s toward peer from local, if it can carry
 * it: UDP over IPv4, no sequencing (numbers must leave in order from one
 * place), no VLAN pseudowire, not IPsec (the programs' packets would not
 * pass through XFRM), a TAP we can name.
 */
static bool dp_fp_conf(const struct dp *dp, const struct dp_session *s, const struct sockaddr_storage *peer,
		       const struct sockaddr_storage *local, struct fp_session_conf *fc)
{
	const struct dp_session_conf *c = &s->conf;
	struct sockaddr_storage p, l;
	struct ifreq ifr;

	if (c->encap != DP_ENCAP_UDP || c->tx_seq || c->rx_seq || c->vlan || c->rx_peer_only)
		return false;
	dp_addr_unmap(peer, &p);
	dp_addr_unmap(local, &l);
	if (p.ss_family != AF_INET || (l.ss_family != AF_INET && l.ss_family != AF_UNSPEC))
		return false;
	memset(fc, 0, sizeof(*fc));
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(c->tap_fd, TUNGETIFF, &ifr) < 0)
		return false;
	fc->tap_ifindex = (int)if_nametoindex(ifr.ifr_name);
	if (fc->tap_ifindex <= 0)
		return false;
	fc->local_sid = c->local_sid;
	fc->remote_sid = c->remote_sid;
	memcpy(fc->rx_cookie, c->rx_cookie, sizeof(fc->rx_cookie));
	memcpy(fc->tx_cookie, c->tx_cookie, sizeof(fc->tx_cookie));
	fc->rx_cookie_len = c->rx_cookie_len;
	fc->tx_cookie_len = c->tx_cookie_len;
	fc->rx_l2ss = c->rx_l2ss;
	fc->tx_l2ss = c->tx_l2ss;
	fc->clamp_mss = c->mss4 || c->mss6;
	memcpy(&fc->peer, &p, sizeof(fc->peer));
	fc->local.sin_family = AF_INET;
	if (l.ss_family == AF_INET)
		memcpy(&fc->local, &l, sizeof(fc->local));
	if (!fc->local.sin_port)
		fc->local.sin_port = dp->port;
	fc->owner = (void *)s;
	return true;
}

/* Hand s to the fast path if it can carry it (else it stays ours). */
static void dp_fp_take(struct dp *dp, struct dp_session *s, const struct sockaddr_storage *peer,
		       const struct sockaddr_storage *local)
{
	struct fp_session_conf fc;

	if (dp_fp_conf(dp, s, peer, local, &fc) && fp_session_add(dp->fp, &fc, &s->fp_slot) == 0)
		s->fp_on = true;
}

/*
 * Add what the fast path has counted for s since it took s to ret, and the
 * time of its last frame received to *last_rx_ns if later: one read of its
 * stats.
 */
static void dp_fp_add(const struct dp_session *s, struct dp_counters *ret, uint64_t *last_rx_ns)
{
	struct fp_stats f;

	if (!s->fp_on)
		return;
	fp_session_stats(s->dp->fp, s->fp_slot, &f);
	ret->rx_packets += f.rx_packets;
	ret->rx_octets += f.rx_octets;
	ret->tx_packets += f.tx_packets;
	ret->tx_octets += f.tx_octets;
	if (f.last_rx_ns > *last_rx_ns)
		*last_rx_ns = f.last_rx_ns;
}

/* Take s back from the fast path, keeping what it counted. */
static void dp_fp_give_back(struct dp *dp, struct dp_session *s)
{
	if (!s->fp_on)
		return;
	dp_fp_add(s, &s->fp_gone, &s->fp_gone_rx_ns);
	fp_session_del(dp->fp, s->fp_slot);
	s->fp_on = false;
}

int dp_session_add(struct dp *dp, const struct dp_session_conf *conf, struct dp_session **ret)
{
	struct dp_session *s;
	struct dp_cmd cmd = { .type = DP_CMD_ADD };
	int r;

	if (conf->local_sid == 0 || conf->tap_fd < 0 || (conf->encap != DP_ENCAP_UDP && conf->encap != DP_ENCAP_IP))
		return -EINVAL;
	if ((conf->rx_cookie_len != 0 && conf->rx_cookie_len != 4 && conf->rx_cookie_len != 8) ||
	    (conf->tx_cookie_len != 0 && conf->tx_cookie_len != 4 && conf->tx_cookie_len != 8))
		return -EINVAL;
	if ((conf->tx_seq && !conf->tx_l2ss) || (conf->rx_seq && !conf->rx_l2ss))
		return -EINVAL; /* the number travels in the sublayer */
	if (conf->vlan > 4094)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->local_sid = conf->local_sid;
	s->dp = dp;
	s->conf = *conf;
	s->rx_hdr_len = l2tp_data_hdr_len(conf->rx_cookie_len, conf->rx_l2ss);
	s->tx_ns = conf->tx_seq_first & L2TP_SEQ24_MASK;
	dp_tap_offload(s);
	if (s->conf.vlan && s->offload) {
		/* tags are added and removed frame by frame: no super-frames */
		if (ioctl(s->conf.tap_fd, TUNSETOFFLOAD, 0) == 0)
			s->offload = 0;
	}
	r = dp_dest_prepare(dp, conf->encap, &conf->peer, &conf->local, &s->dest);
	if (r < 0)
		goto out_free;
	dp_tap_queues(dp, s);

	cmd.s = s;
	r = dp_cmd_run(dp, &cmd);
	if (r < 0)
		goto out_free;
	if (dp->fp)
		dp_fp_take(dp, s, &conf->peer, &conf->local);
	*ret = s;
	return 0;

out_free:
	dp_session_free(s);
	return r;
}

int dp_session_set_peer(struct dp *dp, struct dp_session *s, const struct sockaddr_storage *peer,
			const struct sockaddr_storage *local)
{
	struct dp_dest dest;
	struct dp_cmd cmd = { .type = DP_CMD_SET_PEER, .s = s, .dest = &dest };
	int r;

	r = dp_dest_prepare(dp, s->conf.encap, peer, local, &dest);
	if (r < 0)
		return r;
	r = dp_cmd_run(dp, &cmd);
	if (r == 0 && s->fp_on) {
		struct fp_session_conf fc;

		/* routed again, or back to the data thread if it cannot be */
		if (!dp_fp_conf(dp, s, peer, local, &fc) ||
		    fp_session_set_peer(dp->fp, s->fp_slot, &fc.peer, &fc.local) < 0)
			dp_fp_give_back(dp, s);
	}
	return r;
}

/* fp_refresh's lost(): a session the fast path cannot carry any more */
static void dp_fp_lost(void *owner, void *arg)
{
	struct dp_session *s = owner;
	int *n = arg;

	dp_fp_give_back(s->dp, s);
	(*n)++;
}

int dp_fp_refresh(struct dp *dp)
{
	int n = 0;

	if (dp->fp)
		fp_refresh(dp->fp, dp_fp_lost, &n);
	return n;
}

void dp_session_del(struct dp *dp, struct dp_session *s)
{
	struct dp_cmd cmd = { .type = DP_CMD_DEL, .s = s };

	if (!s)
		return;
	dp_fp_give_back(dp, s);
	(void)dp_cmd_run(dp, &cmd);
	dp_session_free(s);
}

void dp_session_read(const struct dp_session *s, struct dp_counters *ret, uint64_t *ret_last_rx)
{
	struct dp_counters c;
	uint64_t fp_rx_ns = s->fp_gone_rx_ns, sec = dp_read(&s->last_rx);

#define DP_COUNTER_READ(name, json, metric, reason, help) c.name = dp_read(&s->name) + s->fp_gone.name;
	DP_COUNTERS(DP_COUNTER_READ)
#undef DP_COUNTER_READ
	dp_fp_add(s, &c, &fp_rx_ns);
	if (fp_rx_ns / 1000000000u > sec)
		sec = fp_rx_ns / 1000000000u;
	*ret = c;
	if (ret_last_rx)
		*ret_last_rx = sec;
}

void dp_session_counters(const struct dp_session *s, struct dp_counters *ret)
{
	dp_session_read(s, ret, NULL);
}

bool dp_session_fastpath(const struct dp_session *s)
{
	return s->fp_on;
}

int dp_set_fastpath(struct dp *dp, bool on)
{
	int zero = 0, r;

	if (!on || dp->fp)
		return 0;
	pthread_mutex_lock(&dp->lock);
	r = dp->started || dp->nsessions ? -EBUSY : 0;
	pthread_mutex_unlock(&dp->lock);
	if (r < 0)
		return r;
	r = fp_open(ntohs(dp->port), &dp->fp);
	if (r < 0)
		return r;
	/* datagrams coalesced by GRO would reach the programs as one packet,
	 * which they leave alone: each must arrive on its own */
	(void)setsockopt(dp->udp_fd, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
	for (unsigned i = 1; i < dp->nw; i++)
		(void)setsockopt(dp->w[i].udp_fd, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
	for (unsigned i = 0; i < dp->n_udp; i++)
		(void)setsockopt(dp->udp[i].fd, SOL_UDP, UDP_GRO, &zero, sizeof(zero));
	dp->udp_gro = false;
	return 0;
}

void dp_global_counters(const struct dp *dp, struct dp_global_counters *ret)
{
	*ret = (struct dp_global_counters){
		.rx_unknown_session = dp_read(&dp->rx_unknown_session),
		.rx_malformed = dp_read(&dp->rx_malformed),
		.ctrl_forwarded = dp_read(&dp->ctrl_forwarded),
		.ctrl_dropped = dp_read(&dp->ctrl_dropped),
	};
}

int dp_send_ctrl(struct dp *dp, enum dp_encap encap, const struct sockaddr_storage *peer,
		 const struct sockaddr_storage *local, const uint8_t *buf, size_t len)
{
	static const uint8_t zero_sid[4];
	struct dp_dest dest;
	struct iovec iov[2] = {
		{ .iov_base = (void *)zero_sid, .iov_len = sizeof(zero_sid) },
		{ .iov_base = (void *)buf, .iov_len = len },
	};
	struct msghdr mh;
	int r;

	if (!peer || peer->ss_family == AF_UNSPEC)
		return -EDESTADDRREQ;
	r = dp_dest_prepare(dp, encap, peer, local, &dest);
	if (r < 0)
		return r;
	/* over IP, the control message follows a zero Session ID */
	mh = encap == DP_ENCAP_IP ? dp_dest_msg(&dest, iov, 2) : dp_dest_msg(&dest, iov + 1, 1);
	/* the socket is shared with the data thread; sendmsg is atomic */
	if (sendmsg(dest.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

int dp_add_udp_socket(struct dp *dp, int fd)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	struct dp_cmd cmd = { .type = DP_CMD_ADD_UDP, .fd = fd };
	int one = 1, r;

	if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
		return -errno;
	if (bound.ss_family != dp->family)
		return -EAFNOSUPPORT;
	cmd.port = bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
					      : ((struct sockaddr_in6 *)&bound)->sin6_port;
	r = dp_sock_setup(fd, bound.ss_family);
	if (r < 0)
		return r;
	if (!dp->fp)
		(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	return dp_cmd_run(dp, &cmd);
}

int dp_set_ip_socket(struct dp *dp, int family, int fd)
{
	struct dp_cmd cmd = { .type = DP_CMD_SET_IP, .family = family, .fd = fd };
	int r;

	if ((family != AF_INET && family != AF_INET6) || fd < 0)
		return -EINVAL;
	r = dp_sock_setup(fd, family);
	if (r < 0)
		return r;
	return dp_cmd_run(dp, &cmd);
}
