/* SPDX-License-Identifier: MIT */
/*
 * Data path and netlink helpers, end to end, in a private network
 * namespace (needs root; every test skips otherwise).
 *
 *   AF_PACKET --> tapA --> dp A --UDP 127.0.0.1--> dp B --> tapB --> AF_PACKET
 *   (pk[0])              (udp[0])               (udp[1])              (pk[1])
 *
 * A frame sent on a packet socket bound to tapA is transmitted by the
 * kernel on tapA, read by dp A from the TAP fd, carried over loopback UDP,
 * written by dp B to tapB's fd, received by the kernel on tapB and seen by
 * the packet socket bound there.  Frames use the local experimental
 * EtherType 0x88B5, so the stack ignores them, and IPv6 is off on the TAPs
 * so the kernel sends nothing of its own.  Waits poll a condition with a
 * 2 s bound; nothing sleeps for a guessed time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include "cap.h"
#include "daemon/nl.h"
#include "dataplane/dp.h"

enum {
	WAIT_MS = 2000,
	SID_A = 100,
	SID_B = 200,
	ETHERTYPE_TEST = ETH_P_802_EX1, /* 0x88B5, local experimental */
};

/* Poll `cond` every millisecond for up to WAIT_MS, then assert it. */
#define WAIT_UNTIL(cond)                                             \
	do {                                                         \
		for (int wait_i_ = 0; wait_i_ < WAIT_MS && !(cond); wait_i_++) \
			(void)poll(NULL, 0, 1);                      \
		assert_true(cond);                                   \
	} while (0)

struct fx {
	struct nl_ctx *nl;
	int tap[2];	/* tapA, tapB */
	int ifindex[2];
	int pk[2];	/* AF_PACKET bound to each TAP, EtherType 0x88B5 */
	int udp[2];	/* 127.0.0.1:ephemeral */
	struct sockaddr_storage addr[2];
	int ctl[2][2];	/* per side: [0] dp end, [1] our end */
	struct dp *dp[2];
	struct dp_session *s[2];
};

static const char *const tap_names[2] = { "tapA", "tapB" };

/* ---------------------------------------------------------------------- */
/* helpers */

static void sysctl_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return; /* no IPv6: nothing to silence */
	(void)!write(fd, val, strlen(val));
	close(fd);
}

static struct sockaddr_storage sa4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	return ss;
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void assert_sa4(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(s4->sin_port), port);
}

/* A UDP socket on 127.0.0.1:ephemeral; its address in *ret_addr. */
static int udp_open_reuseport(struct sockaddr_storage *ret_addr, bool reuseport)
{
	struct sockaddr_storage ss = sa4("127.0.0.1", 0);
	socklen_t len = sizeof(ss);
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (reuseport)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*ret_addr = ss;
	return fd;
}

static int udp_open(struct sockaddr_storage *ret_addr)
{
	return udp_open_reuseport(ret_addr, false);
}

static void udp_send(int fd, const struct sockaddr_storage *to, const void *buf, size_t len)
{
	assert_int_equal(sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(struct sockaddr_in)),
			 (ssize_t)len);
}

/* Receive one datagram or frame within WAIT_MS; returns its length. */
static ssize_t recv_wait(int fd, void *buf, size_t cap, struct sockaddr_storage *ret_from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t flen = sizeof(*ret_from);

	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	if (ret_from)
		return recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)ret_from, &flen);
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

static bool readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Ethernet frame: broadcast, EtherType 0x88B5, payload from seed. */
static void make_frame(uint8_t *buf, size_t len, uint8_t seed)
{
	static const uint8_t hdr[14] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0xb5,
	};

	memcpy(buf, hdr, sizeof(hdr));
	for (size_t i = sizeof(hdr); i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7);
}

/* Send a frame into the kernel side of TAP `from`; expect it, byte for
 * byte, out of the other TAP. */
static void pass_frame(struct fx *f, int from, size_t len, uint8_t seed)
{
	uint8_t out[1600], in[1600];

	assert_true(len <= sizeof(out));
	make_frame(out, len, seed);
	assert_int_equal(send(f->pk[from], out, len, 0), (ssize_t)len);
	assert_int_equal(recv_wait(f->pk[!from], in, sizeof(in), NULL), (ssize_t)len);
	assert_memory_equal(in, out, len);
}

static void inject_frame(struct fx *f, int from, size_t len, uint8_t seed)
{
	uint8_t out[1600];

	make_frame(out, len, seed);
	assert_int_equal(send(f->pk[from], out, len, 0), (ssize_t)len);
}

static struct dp_counters counters(const struct dp_session *s)
{
	struct dp_counters c;

	dp_session_counters(s, &c);
	return c;
}

/* The second of s's last data packet received (0: none), read with its
 * counters, which must be those dp_session_counters gives. */
static uint64_t last_rx(const struct dp_session *s)
{
	struct dp_counters c, want = counters(s);
	uint64_t sec = 99;

	dp_session_read(s, &c, &sec);
	assert_memory_equal(&c, &want, sizeof(c));
	return sec;
}

static struct dp_global_counters gcounters(const struct dp *dp)
{
	struct dp_global_counters g;

	dp_global_counters(dp, &g);
	return g;
}

/* Counters are bumped after the syscall, so the far end may see a packet
 * before its sender counted it: wait (bounded) for the expected values,
 * then compare field by field for a readable failure. */
static void assert_counters(const struct dp_session *s, const struct dp_counters *want)
{
	struct dp_counters c;

	for (int i = 0; i < WAIT_MS; i++) {
		c = counters(s);
		if (memcmp(&c, want, sizeof(c)) == 0)
			break;
		(void)poll(NULL, 0, 1);
	}

	assert_int_equal(c.rx_packets, want->rx_packets);
	assert_int_equal(c.rx_octets, want->rx_octets);
	assert_int_equal(c.tx_packets, want->tx_packets);
	assert_int_equal(c.tx_octets, want->tx_octets);
	assert_int_equal(c.rx_cookie_drops, want->rx_cookie_drops);
	assert_int_equal(c.rx_malformed_drops, want->rx_malformed_drops);
	assert_int_equal(c.rx_seq_drops, want->rx_seq_drops);
	assert_int_equal(c.rx_seq_missing, want->rx_seq_missing);
	assert_int_equal(c.rx_tap_errors, want->rx_tap_errors);
	assert_int_equal(c.tx_errors, want->tx_errors);
	assert_int_equal(c.rx_peer_drops, want->rx_peer_drops);
}

static void assert_gcounters(const struct dp *dp, const struct dp_global_counters *want)
{
	struct dp_global_counters g;

	for (int i = 0; i < WAIT_MS; i++) {
		g = gcounters(dp);
		if (memcmp(&g, want, sizeof(g)) == 0)
			break;
		(void)poll(NULL, 0, 1);
	}

	assert_int_equal(g.rx_unknown_session, want->rx_unknown_session);
	assert_int_equal(g.rx_malformed, want->rx_malformed);
	assert_int_equal(g.ctrl_forwarded, want->ctrl_forwarded);
	assert_int_equal(g.ctrl_dropped, want->ctrl_dropped);
}

/* Session conf for side i: sids, peer = the other side, from 127.0.0.1. */
static struct dp_session_conf conf_for(const struct fx *f, int i)
{
	struct dp_session_conf c;

	memset(&c, 0, sizeof(c));
	c.local_sid = i == 0 ? SID_A : SID_B;
	c.remote_sid = i == 0 ? SID_B : SID_A;
	c.peer = f->addr[!i];
	c.local = sa4("127.0.0.1", 0);
	c.tap_fd = f->tap[i];
	return c;
}

static void add_sessions(struct fx *f, const struct dp_session_conf *ca, const struct dp_session_conf *cb)
{
	assert_int_equal(dp_session_add(f->dp[0], ca, &f->s[0]), 0);
	assert_int_equal(dp_session_add(f->dp[1], cb, &f->s[1]), 0);
}

static void del_sessions(struct fx *f)
{
	for (int i = 0; i < 2; i++) {
		dp_session_del(f->dp[i], f->s[i]);
		f->s[i] = NULL;
	}
}

static void start(struct fx *f)
{
	assert_int_equal(dp_start(f->dp[0]), 0);
	assert_int_equal(dp_start(f->dp[1]), 0);
}

/* ---------------------------------------------------------------------- */
/* fixture */

/* A TAP without IFF_VNET_HDR: the data path's plain (no offload) path. */
static int tap_open_plain(const char *name, bool *ret_created)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -errno;
	}
	*ret_created = true;
	return fd;
}

static int fx_setup_common(void **state, bool vnet, unsigned threads)
{
	struct fx *f;

	*state = NULL;
	if (geteuid() != 0 || if_nametoindex("lo") == 0)
		return 0;
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(nl_ctx_open(&f->nl), 0);
	for (int i = 0; i < 2; i++) {
		char path[128];
		struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETHERTYPE_TEST) };
		bool created = false;
		int one = 1;

		tap_set_multi_queue(threads > 1);
		f->tap[i] = vnet ? tap_open(tap_names[i], &created) : tap_open_plain(tap_names[i], &created);
		tap_set_multi_queue(false);
		assert_true(f->tap[i] >= 0);
		assert_true(created);
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", tap_names[i]);
		sysctl_write(path, "1");
		assert_int_equal(nl_link_up(f->nl, tap_names[i]), 0);
		f->ifindex[i] = nl_link_index(f->nl, tap_names[i]);
		assert_true(f->ifindex[i] > 0);

		f->pk[i] = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE_TEST));
		assert_true(f->pk[i] >= 0);
		sll.sll_ifindex = f->ifindex[i];
		assert_int_equal(bind(f->pk[i], (struct sockaddr *)&sll, sizeof(sll)), 0);
		(void)setsockopt(f->pk[i], SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));

		f->udp[i] = udp_open_reuseport(&f->addr[i], threads > 1);
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, f->ctl[i]), 0);
		assert_int_equal(dp_create(f->udp[i], f->ctl[i][0], &f->dp[i]), 0);
		assert_int_equal(dp_set_threads(f->dp[i], threads), 0);
		assert_int_equal(dp_threads(f->dp[i]), threads);
	}
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_common(state, true, 1);
}

static int fx_setup_plain(void **state)
{
	return fx_setup_common(state, false, 1);
}

/* Two data threads per side: multi-queue TAPs, SO_REUSEPORT sockets. */
static int fx_setup_mt(void **state)
{
	return fx_setup_common(state, true, 2);
}

/* One thread per side, both busy polling for 2 ms after work. */
static int fx_setup_busy(void **state)
{
	struct fx *f;

	fx_setup_common(state, true, 1);
	f = *state;
	for (int i = 0; f && i < 2; i++)
		assert_int_equal(dp_set_busy_poll(f->dp[i], 2000), 0);
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	for (int i = 0; i < 2; i++) {
		/* sessions still present: dp_destroy frees them */
		dp_destroy(f->dp[i]);
		close(f->ctl[i][0]);
		close(f->ctl[i][1]);
		close(f->udp[i]);
		close(f->pk[i]);
		tap_close(f->tap[i]);
	}
	/* non-persistent TAPs vanish with their fd */
	assert_int_equal(if_nametoindex("tapA"), 0);
	nl_ctx_close(f->nl);
	free(f);
	return 0;
}

/* The fixture, or skip when it could not be built (not root). */
static struct fx *FX(void **state)
{
	if (!*state)
		skip();
	return *state;
}

/* ---------------------------------------------------------------------- */
/* tests */

static void test_both_directions(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	struct dp_global_counters zero = { 0 };

	start(f);
	add_sessions(f, &ca, &cb); /* through the running threads */

	pass_frame(f, 0, 60, 1);
	WAIT_UNTIL(counters(f->s[1]).rx_packets == 1);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 60 });
	assert_counters(f->s[1], &(struct dp_counters){ .rx_packets = 1, .rx_octets = 60 });
	assert_true(last_rx(f->s[1]) > 0);
	assert_int_equal(last_rx(f->s[0]), 0);

	pass_frame(f, 1, 100, 2);
	pass_frame(f, 1, 14, 3); /* header only: the smallest frame */
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 2);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 60, .rx_packets = 2,
						       .rx_octets = 114 });
	assert_counters(f->s[1], &(struct dp_counters){ .rx_packets = 1, .rx_octets = 60, .tx_packets = 2,
						       .tx_octets = 114 });
	assert_gcounters(f->dp[0], &zero);
	assert_gcounters(f->dp[1], &zero);
}


static uint64_t polls(const struct fx *f, int i)
{
	struct dp_thread_stats st;

	dp_thread_stats(f->dp[i], 0, &st);
	return st.polls;
}

/* Busy polling: the thread keeps looking for a while after work (its
 * empty looks counted), then sleeps again (the count stops); off, it never
 * looks without sleeping; bounded. */
static void test_busy_poll(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	bool stopped = false;
	uint64_t p;

	assert_int_equal(dp_set_busy_poll(f->dp[1], DP_BUSY_POLL_MAX_US + 1), -EINVAL);
	assert_int_equal(dp_set_busy_poll(f->dp[1], 5000), 0);
	start(f);
	add_sessions(f, &ca, &cb);
	pass_frame(f, 0, 60, 1);
	WAIT_UNTIL(counters(f->s[1]).rx_packets == 1);
	WAIT_UNTIL(polls(f, 1) > 0);
	/* 5 ms after its last work it sleeps: no more looks (tried three
	 * times in case a stray frame on the TAP restarted the window) */
	for (int i = 0; i < 3 && !stopped; i++) {
		(void)poll(NULL, 0, 50);
		p = polls(f, 1);
		(void)poll(NULL, 0, 100);
		stopped = polls(f, 1) == p;
	}
	assert_true(stopped);
	assert_int_equal(polls(f, 0), 0);
	/* and off again: traffic, but no empty looks */
	assert_int_equal(dp_set_busy_poll(f->dp[1], 0), 0);
	p = polls(f, 1);
	pass_frame(f, 0, 60, 2);
	pass_frame(f, 1, 60, 3);
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 1);
	(void)poll(NULL, 0, 20);
	assert_true(polls(f, 1) <= p + 1); /* at most the look that ended the window */
	assert_counters(f->s[1], &(struct dp_counters){ .rx_packets = 2, .rx_octets = 120, .tx_packets = 1,
						       .tx_octets = 60 });
}

static double secs(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Busy polling under traffic that never lets the window close (a frame
 * every 2 ms, a 10 ms window) takes at most half of the time: the time the
 * thread spent polling, and this process's CPU time (all its threads),
 * stay well under the wall time. */
static void test_busy_poll_share(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	enum { N = 250 };
	double c0, t0, cpu, wall, polled;
	struct dp_thread_stats st;

	assert_int_equal(dp_set_busy_poll(f->dp[1], 10000), 0);
	start(f);
	add_sessions(f, &ca, &cb);
	c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
	t0 = secs(CLOCK_MONOTONIC);
	for (int i = 0; i < N; i++) {
		inject_frame(f, 0, 60, (uint8_t)i);
		(void)poll(NULL, 0, 2);
	}
	cpu = secs(CLOCK_PROCESS_CPUTIME_ID) - c0;
	wall = secs(CLOCK_MONOTONIC) - t0;
	dp_thread_stats(f->dp[1], 0, &st);
	polled = (double)st.poll_ns / 1e9;
	WAIT_UNTIL(counters(f->s[1]).rx_packets == N);
	assert_true(polls(f, 1) > 0);
	print_message("busy polling under traffic: polled %.3f s, %.3f s of CPU, in %.3f s\n", polled, cpu, wall);
	assert_true(polled > 0.2 * wall); /* it did poll */
	/* half of each 100 ms; a look during which the thread was preempted
	 * overshoots, so on a loaded machine the share reaches ~0.63 (without
	 * the cap: ~0.95 on an idle machine, ~0.65 on a loaded one) */
	assert_true(polled < 0.8 * wall);
	assert_true(cpu < 0.8 * wall);
}

/* An ETH_P_ALL packet socket on TAP i that reports VLAN tags (auxdata). */
static int pk_all_vlan(struct fx *f, int i)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = f->ifindex[i] };
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	assert_int_equal(setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)), 0);
	assert_int_equal(setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)), 0);
	return fd;
}

/* The next frame of EtherType 0x88B5 on fd within WAIT_MS; its VLAN ID in
 * *vid (-1: untagged).  Returns its length (tag not included). */
static ssize_t recv_test_frame(int fd, uint8_t *buf, size_t cap, int *vid)
{
	for (;;) {
		union {
			struct cmsghdr c;
			char b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} u;
		struct iovec iov = { .iov_base = buf, .iov_len = cap };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
				     .msg_controllen = sizeof(u.b) };
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&p, 1, WAIT_MS), 1);
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		assert_true(n >= 14);
		if (buf[12] != 0x88 || buf[13] != 0xb5)
			continue; /* IPv6 router solicitations and such */
		*vid = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			struct tpacket_auxdata aux;

			if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
				continue;
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
			if (aux.tp_status & TP_STATUS_VLAN_VALID)
				*vid = aux.tp_vlan_tci & 0xfff;
		}
		return n;
	}
}

/* `l2tp pseudowire Q vlan 100` on B: frames from the tunnel enter B's TAP
 * tagged 100; from B's TAP only frames tagged 100 go, untagged, into the
 * tunnel; untagged ones and VLAN 200 are dropped and counted. */
static void test_vlan(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	uint8_t out[200], in[200], tagged[204];
	int pkb = pk_all_vlan(f, 1), vid;

	cb.vlan = 100;
	start(f);
	add_sessions(f, &ca, &cb);
	/* A -> B: tagged on B's side */
	make_frame(out, 100, 5);
	assert_int_equal(send(f->pk[0], out, 100, 0), 100);
	assert_int_equal(recv_test_frame(pkb, in, sizeof(in), &vid), 100);
	assert_int_equal(vid, 100);
	assert_memory_equal(in, out, 100);
	WAIT_UNTIL(counters(f->s[1]).rx_packets == 1);
	assert_int_equal(counters(f->s[1]).rx_octets, 100); /* as carried in the tunnel, untagged */
	/* B -> A: VLAN 100 goes untagged, byte for byte */
	make_frame(out, 120, 6);
	memcpy(tagged, out, 12);
	memcpy(tagged + 12, "\x81\x00\x20\x64", 4); /* PCP 1, VID 100 */
	memcpy(tagged + 16, out + 12, 120 - 12);
	assert_int_equal(send(pkb, tagged, 124, 0), 124);
	assert_int_equal(recv_wait(f->pk[0], in, sizeof(in), NULL), 120);
	assert_memory_equal(in, out, 120);
	WAIT_UNTIL(counters(f->s[1]).tx_packets == 1);
	assert_int_equal(counters(f->s[1]).tx_octets, 120);
	/* untagged, VLAN 200, and a runt tag: not sent */
	assert_int_equal(send(pkb, out, 120, 0), 120);
	tagged[15] = 200;
	assert_int_equal(send(pkb, tagged, 124, 0), 124);
	assert_int_equal(send(pkb, tagged, 16, 0), 16);
	WAIT_UNTIL(counters(f->s[1]).tx_vlan_drops == 3);
	(void)poll(NULL, 0, 50);
	assert_false(readable_now(f->pk[0]));
	assert_int_equal(counters(f->s[1]).tx_packets, 1);
	/* the bad VLAN ID is refused */
	cb.vlan = 4095;
	cb.local_sid = 0x4242;
	{
		struct dp_session *x;

		assert_int_equal(dp_session_add(f->dp[1], &cb, &x), -EINVAL);
	}
	close(pkb);
}

static void test_sessions_before_start(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1), bad;
	struct dp_session *dup = NULL;

	add_sessions(f, &ca, &cb); /* applied directly: no thread yet */
	assert_int_equal(dp_session_add(f->dp[0], &ca, &dup), -EEXIST);
	bad = ca;
	bad.local_sid = 0;
	assert_int_equal(dp_session_add(f->dp[0], &bad, &dup), -EINVAL);
	bad = ca;
	bad.local_sid = 7;
	bad.rx_cookie_len = 5;
	assert_int_equal(dp_session_add(f->dp[0], &bad, &dup), -EINVAL);
	assert_null(dup);
	start(f);
	assert_int_equal(dp_start(f->dp[0]), -EALREADY);
	/* same sid again, now through the thread */
	assert_int_equal(dp_session_add(f->dp[1], &cb, &dup), -EEXIST);

	pass_frame(f, 0, 64, 4);
	pass_frame(f, 1, 64, 5);
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 1 && counters(f->s[1]).rx_packets == 1);
}

/* Matching cookies deliver; a wrong one is dropped and counted. */
static void cookie_case(struct fx *f, size_t clen)
{
	static const uint8_t ck[8] = { 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04 };
	static const uint8_t ck2[8] = { 0xca, 0xfe, 0xba, 0xbe, 0x05, 0x06, 0x07, 0x08 };
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);

	start(f);
	/* A -> B carries ck; B -> A carries ck2 */
	memcpy(ca.tx_cookie, ck, clen);
	ca.tx_cookie_len = clen;
	memcpy(cb.rx_cookie, ck, clen);
	cb.rx_cookie_len = clen;
	memcpy(cb.tx_cookie, ck2, clen);
	cb.tx_cookie_len = clen;
	memcpy(ca.rx_cookie, ck2, clen);
	ca.rx_cookie_len = clen;
	add_sessions(f, &ca, &cb);
	pass_frame(f, 0, 200, 6);
	pass_frame(f, 1, 300, 7);
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 1 && counters(f->s[1]).rx_packets == 1);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 200, .rx_packets = 1,
						       .rx_octets = 300 });
	assert_counters(f->s[1], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 300, .rx_packets = 1,
						       .rx_octets = 200 });

	/* B now expects a different cookie than A sends */
	del_sessions(f);
	ca.tx_cookie[clen - 1] ^= 0x80;
	add_sessions(f, &ca, &cb);
	inject_frame(f, 0, 200, 8);
	WAIT_UNTIL(counters(f->s[1]).rx_cookie_drops == 1);
	assert_false(readable_now(f->pk[1]));
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 200 });
	assert_counters(f->s[1], &(struct dp_counters){ .rx_cookie_drops = 1 });
	/* the other direction still works */
	pass_frame(f, 1, 100, 9);
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 1);
}

static void test_cookie4(void **state)
{
	cookie_case(FX(state), 4);
}

static void test_cookie8(void **state)
{
	cookie_case(FX(state), 8);
}

/* L2SS in the A -> B direction only (each side asks independently). */
static void test_l2ss_one_side(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);

	ca.tx_l2ss = true;
	cb.rx_l2ss = true;
	start(f);
	add_sessions(f, &ca, &cb);
	pass_frame(f, 0, 90, 10);
	pass_frame(f, 1, 91, 11);
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 1 && counters(f->s[1]).rx_packets == 1);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 90, .rx_packets = 1,
						       .rx_octets = 91 });
	assert_counters(f->s[1], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 91, .rx_packets = 1,
						       .rx_octets = 90 });
}

/* What A puts on the wire, seen by a plain UDP socket C. */
static void test_tx_wire_format(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0);
	struct sockaddr_storage caddr, from;
	uint8_t frame[60], got[200];
	int c = udp_open(&caddr);

	ca.peer = caddr;
	memcpy(ca.tx_cookie, "\x11\x22\x33\x44", 4);
	ca.tx_cookie_len = 4;
	ca.tx_l2ss = true;
	start(f);
	assert_int_equal(dp_session_add(f->dp[0], &ca, &f->s[0]), 0);
	inject_frame(f, 0, sizeof(frame), 12);
	make_frame(frame, sizeof(frame), 12);
	assert_int_equal(recv_wait(c, got, sizeof(got), &from), 8 + 4 + 4 + 60);
	assert_memory_equal(got, "\x00\x03\x00\x00\x00\x00\x00\xc8\x11\x22\x33\x44\x00\x00\x00\x00", 16);
	assert_memory_equal(got + 16, frame, sizeof(frame));
	assert_sa4(&from, "127.0.0.1", sa_port(&f->addr[0]));
	WAIT_UNTIL(counters(f->s[0]).tx_packets == 1);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 60 });
	close(c);
}

/* Hand-made datagrams into B: every drop reason, then a good one. */
static void test_rx_checks(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf cb = conf_for(f, 1);
	static const uint8_t ck[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct sockaddr_storage caddr;
	uint8_t pkt[200], in[200];
	int c = udp_open(&caddr);

	memcpy(cb.rx_cookie, ck, 8);
	cb.rx_cookie_len = 8;
	start(f);
	assert_int_equal(dp_session_add(f->dp[1], &cb, &f->s[1]), 0);

	/* global: 1 byte; data shorter than 8; version 2 */
	udp_send(c, &f->addr[1], "\x00", 1);
	udp_send(c, &f->addr[1], "\x00\x03\x00\x00", 4);
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, "\x00\x02\x00\x00\x00\x00\x00\xc8", 8);
	udp_send(c, &f->addr[1], pkt, 80);
	/* unknown session 999 */
	memcpy(pkt, "\x00\x03\x00\x00\x00\x00\x03\xe7", 8);
	udp_send(c, &f->addr[1], pkt, 80);
	/* session 200: shorter than its header; frame under 14 bytes */
	memcpy(pkt, "\x00\x03\x00\x00\x00\x00\x00\xc8", 8);
	memcpy(pkt + 8, ck, 8);
	udp_send(c, &f->addr[1], pkt, 12);
	udp_send(c, &f->addr[1], pkt, 16 + 13);
	/* wrong cookie */
	pkt[15] ^= 1;
	make_frame(pkt + 16, 60, 13);
	udp_send(c, &f->addr[1], pkt, 16 + 60);
	/* good */
	pkt[15] ^= 1;
	udp_send(c, &f->addr[1], pkt, 16 + 60);

	assert_int_equal(recv_wait(f->pk[1], in, sizeof(in), NULL), 60);
	assert_memory_equal(in, pkt + 16, 60);
	WAIT_UNTIL(counters(f->s[1]).rx_packets == 1);
	assert_counters(f->s[1], &(struct dp_counters){ .rx_packets = 1, .rx_octets = 60, .rx_cookie_drops = 1,
						       .rx_malformed_drops = 2 });
	assert_gcounters(f->dp[1], &(struct dp_global_counters){ .rx_unknown_session = 1, .rx_malformed = 3 });
	close(c);
}

/* rx_peer_only (IPsec): data from the peer's address and port only; the
 * same session's data from another port of the same address is dropped */
static void test_rx_peer_only(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	struct sockaddr_storage caddr;
	uint8_t pkt[200];
	int c = udp_open(&caddr);

	cb.rx_peer_only = true;
	start(f);
	add_sessions(f, &ca, &cb);
	/* from 127.0.0.1, another port: dropped */
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, "\x00\x03\x00\x00", 4);
	pkt[4] = (uint8_t)(SID_B >> 24);
	pkt[5] = (uint8_t)(SID_B >> 16);
	pkt[6] = (uint8_t)(SID_B >> 8);
	pkt[7] = (uint8_t)SID_B;
	make_frame(pkt + 8, 60, 21);
	udp_send(c, &f->addr[1], pkt, 8 + 60);
	WAIT_UNTIL(counters(f->s[1]).rx_peer_drops == 1);
	/* from the peer's session: delivered */
	pass_frame(f, 0, 60, 1);
	WAIT_UNTIL(counters(f->s[1]).rx_packets == 1);
	assert_counters(f->s[1], &(struct dp_counters){ .rx_packets = 1, .rx_octets = 60, .rx_peer_drops = 1 });
	close(c);
}

static void test_ctrl(void **state)
{
	struct fx *f = FX(state);
	static const uint8_t msg[12] = { 0xc8, 0x03, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0, 0 };
	struct sockaddr_storage caddr, from;
	struct dp_ctrl_hdr hdr;
	uint8_t buf[sizeof(hdr) + 64];
	int c = udp_open(&caddr);
	struct dp_global_counters g;

	start(f);
	udp_send(c, &f->addr[0], msg, sizeof(msg));
	assert_int_equal(recv_wait(f->ctl[0][1], buf, sizeof(buf), NULL), (ssize_t)(sizeof(hdr) + sizeof(msg)));
	memcpy(&hdr, buf, sizeof(hdr));
	assert_sa4(&hdr.peer, "127.0.0.1", sa_port(&caddr));
	assert_sa4(&hdr.local, "127.0.0.1", sa_port(&f->addr[0]));
	assert_int_equal(hdr.ifindex, (int)if_nametoindex("lo"));
	assert_int_equal(hdr.len, sizeof(msg));
	assert_memory_equal(buf + sizeof(hdr), msg, sizeof(msg));
	WAIT_UNTIL(gcounters(f->dp[0]).ctrl_forwarded == 1);
	assert_gcounters(f->dp[0], &(struct dp_global_counters){ .ctrl_forwarded = 1 });

	/* and back out from the control thread, from 127.0.0.1 */
	struct sockaddr_storage local = sa4("127.0.0.1", 0);

	assert_int_equal(dp_send_ctrl(f->dp[0], DP_ENCAP_UDP, &caddr, &local, msg, sizeof(msg)), 0);
	assert_int_equal(recv_wait(c, buf, sizeof(buf), &from), (ssize_t)sizeof(msg));
	assert_memory_equal(buf, msg, sizeof(msg));
	assert_sa4(&from, "127.0.0.1", sa_port(&f->addr[0]));
	assert_int_equal(dp_send_ctrl(f->dp[0], DP_ENCAP_UDP, &caddr, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(recv_wait(c, buf, sizeof(buf), &from), (ssize_t)sizeof(msg));

	/* nobody reads the control channel: it fills, the rest is dropped
	 * (a socketpair is bounded by the sender's SO_SNDBUF, not by
	 * net.unix.max_dgram_qlen, so make it small) */
	int small = 1;

	assert_int_equal(setsockopt(f->ctl[0][0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < 64; i++)
		udp_send(c, &f->addr[0], msg, sizeof(msg));
	WAIT_UNTIL((g = gcounters(f->dp[0]), g.ctrl_forwarded + g.ctrl_dropped == 65));
	assert_true(g.ctrl_dropped > 0);
	assert_true(g.ctrl_forwarded > 1);
	close(c);
}

/* A full-size frame: 1514 bytes in a 1550-byte outer packet, over a
 * 1500-byte loopback, so the outer packet must be fragmented (DF off). */
static void test_big_frame(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	int pmtu = -1;
	socklen_t len = sizeof(pmtu);

	assert_int_equal(getsockopt(f->udp[0], IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, &len), 0);
	assert_int_equal(pmtu, IP_PMTUDISC_DONT);
	assert_int_equal(nl_link_set_mtu(f->nl, "lo", 1500), 0);
	start(f);
	add_sessions(f, &ca, &cb);
	pass_frame(f, 0, 1514, 14);
	pass_frame(f, 1, 1514, 15);
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 1 && counters(f->s[1]).rx_packets == 1);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 1514, .rx_packets = 1,
						       .rx_octets = 1514 });
	assert_int_equal(nl_link_set_mtu(f->nl, "lo", 65536), 0);
}

static void test_set_peer(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	struct sockaddr_storage caddr, from, local = sa4("127.0.0.1", 0);
	uint8_t frame[80], got[200];
	int c = udp_open(&caddr);

	start(f);
	add_sessions(f, &ca, &cb);
	pass_frame(f, 0, 80, 16);

	assert_int_equal(dp_session_set_peer(f->dp[0], f->s[0], &caddr, &local), 0);
	inject_frame(f, 0, sizeof(frame), 17);
	make_frame(frame, sizeof(frame), 17);
	assert_int_equal(recv_wait(c, got, sizeof(got), &from), 8 + 80);
	assert_memory_equal(got, "\x00\x03\x00\x00\x00\x00\x00\xc8", 8);
	assert_memory_equal(got + 8, frame, sizeof(frame));
	assert_false(readable_now(f->pk[1]));

	/* back to B, letting the kernel pick the source */
	assert_int_equal(dp_session_set_peer(f->dp[0], f->s[0], &f->addr[1], NULL), 0);
	pass_frame(f, 0, 80, 18);
	WAIT_UNTIL(counters(f->s[1]).rx_packets == 2);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 3, .tx_octets = 240 });
	close(c);
}

static void test_del(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);

	start(f);
	add_sessions(f, &ca, &cb);
	pass_frame(f, 0, 70, 19);
	dp_session_del(f->dp[1], f->s[1]);
	f->s[1] = NULL;
	dp_session_del(f->dp[1], NULL);
	inject_frame(f, 0, 70, 20);
	inject_frame(f, 0, 70, 21);
	WAIT_UNTIL(gcounters(f->dp[1]).rx_unknown_session == 2);
	assert_false(readable_now(f->pk[1]));
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 3, .tx_octets = 210 });
	/* re-added, it works again */
	assert_int_equal(dp_session_add(f->dp[1], &cb, &f->s[1]), 0);
	pass_frame(f, 0, 70, 22);
}

/* A burst: the TAP and UDP batches fill (recvmmsg/sendmmsg with many
 * datagrams), order and bytes are kept, counters add up. */
static void test_burst(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	enum { N = 256, LEN = 120 };
	int big = 4 << 20;
	uint8_t out[LEN], in[LEN + 1];

	/* room for the whole burst wherever it waits */
	assert_int_equal(setsockopt(f->pk[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	assert_int_equal(setsockopt(f->udp[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	start(f);
	add_sessions(f, &ca, &cb);
	for (int i = 0; i < N; i++)
		inject_frame(f, 0, LEN, (uint8_t)i);
	for (int i = 0; i < N; i++) {
		make_frame(out, LEN, (uint8_t)i);
		assert_int_equal(recv_wait(f->pk[1], in, sizeof(in), NULL), LEN);
		assert_memory_equal(in, out, LEN);
	}
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = N, .tx_octets = N * LEN });
	assert_counters(f->s[1], &(struct dp_counters){ .rx_packets = N, .rx_octets = N * LEN });
}

/* Many sessions (the table grows), some removed, the rest left for
 * dp_destroy; each needs its own fd in epoll, so dups of one pipe. */
static void test_many_sessions(void **state)
{
	struct fx *f = FX(state);
	enum { N = 300 };
	struct dp_session *s[N];
	int p[2], fds[N];
	uint8_t pkt[80];

	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	start(f);
	for (int i = 0; i < N; i++) {
		struct dp_session_conf c = conf_for(f, 1);

		fds[i] = dup(p[0]);
		c.local_sid = 1000 + (uint32_t)i * 4096; /* equal low bits */
		c.tap_fd = fds[i];
		assert_int_equal(dp_session_add(f->dp[1], &c, &s[i]), 0);
	}
	for (int i = 0; i < N; i += 2) {
		dp_session_del(f->dp[1], s[i]);
		close(fds[i]);
	}
	/* a removed sid is unknown, a present one is not */
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, "\x00\x03\x00\x00", 4);
	for (int i = 0; i < 4; i++) {
		uint32_t sid = htonl(1000 + (uint32_t)i * 4096);

		memcpy(pkt + 4, &sid, 4);
		udp_send(f->udp[0], &f->addr[1], pkt, sizeof(pkt));
	}
	WAIT_UNTIL(gcounters(f->dp[1]).rx_unknown_session == 2);
	WAIT_UNTIL(counters(s[1]).rx_tap_errors + counters(s[3]).rx_tap_errors == 2); /* pipe read end */
	dp_destroy(f->dp[1]);
	f->dp[1] = NULL;
	for (int i = 1; i < N; i += 2)
		close(fds[i]);
	close(p[0]);
	close(p[1]);
}

/* ---------------------------------------------------------------------- */
/* several data threads */

/* A packet socket sending IPv4 frames on TAP i (so the kernel hashes
 * their flows to pick the TAP queue). */
static int pk_ip(struct fx *f, int i)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = f->ifindex[i] };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

/* An IPv4/UDP frame from 10.0.0.1:sport to 10.0.0.2:9 whose payload is
 * a 32-bit number; checksums are not checked by anyone on the way. */
static size_t make_udp_frame(uint8_t *b, uint16_t sport, uint32_t seq)
{
	static const uint8_t hdr[14] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00 };
	uint8_t *ip = b + 14, *udp = ip + 20;

	memset(b, 0, 14 + 20 + 8 + 4);
	memcpy(b, hdr, sizeof(hdr));
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 4;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[3] = 9;
	udp[5] = 8 + 4;
	udp[8] = (uint8_t)(seq >> 24);
	udp[9] = (uint8_t)(seq >> 16);
	udp[10] = (uint8_t)(seq >> 8);
	udp[11] = (uint8_t)seq;
	return 14 + 20 + 8 + 4;
}

/* Two threads: each TAP has two queues; frames of 16 UDP flows read from
 * tapA are spread over both threads (each sends some) and arrive at tapB
 * all, each flow in order; the per-thread figures add up to the
 * session's counters. */
static void test_threads_flows(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	enum { FLOWS = 16, PER = 64 };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = f->ifindex[1] };
	int big = 4 << 20, one = 1, rx, tx = pk_ip(f, 0);
	uint32_t next[FLOWS] = { 0 };
	struct dp_thread_stats t0, t1;
	uint8_t b[128];

	rx = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
	assert_true(rx >= 0);
	assert_int_equal(bind(rx, (struct sockaddr *)&sll, sizeof(sll)), 0);
	(void)setsockopt(rx, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	assert_int_equal(setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	start(f);
	add_sessions(f, &ca, &cb);
	for (uint32_t k = 0; k < PER; k++) {
		for (int i = 0; i < FLOWS; i++) {
			size_t len = make_udp_frame(b, (uint16_t)(40000 + i), k);

			assert_int_equal(send(tx, b, len, 0), (ssize_t)len);
		}
		/* within the TAP's 500-frame queue: every 128 frames, wait until
		 * the threads have taken them (a fixed pause lost frames on a
		 * loaded machine) */
		for (int w = 0; k % 8 == 7 && w < 5000 && counters(f->s[0]).tx_packets < (k + 1) * FLOWS; w++)
			(void)poll(NULL, 0, 1);
	}
	for (int got = 0; got < FLOWS * PER; got++) {
		ssize_t n = recv_wait(rx, b, sizeof(b), NULL);
		int i;
		uint32_t seq;

		assert_int_equal(n, 14 + 20 + 8 + 4);
		i = (b[34] << 8 | b[35]) - 40000;
		assert_true(i >= 0 && i < FLOWS);
		seq = (uint32_t)b[42] << 24 | (uint32_t)b[43] << 16 | (uint32_t)b[44] << 8 | b[45];
		assert_int_equal(seq, next[i]); /* in order, none lost */
		next[i]++;
	}
	dp_thread_stats(f->dp[0], 0, &t0);
	dp_thread_stats(f->dp[0], 1, &t1);
	assert_true(t0.tx_frames > 0);
	assert_true(t1.tx_frames > 0);
	assert_int_equal(t0.tx_frames + t1.tx_frames, FLOWS * PER);
	assert_int_equal(counters(f->s[0]).tx_packets, FLOWS * PER);
	/* one peer, one 4-tuple: one thread of B received it all */
	dp_thread_stats(f->dp[1], 0, &t0);
	dp_thread_stats(f->dp[1], 1, &t1);
	assert_int_equal(t0.rx_frames + t1.rx_frames, FLOWS * PER);
	assert_true(t0.rx_frames == 0 || t1.rx_frames == 0);
	close(rx);
	close(tx);
}

/* A session that numbers what it sends keeps one queue (the numbers must
 * leave in order): 16 flows are all read by thread 0, none is dropped as
 * out of order; removed and re-added, the session works again. */
static void test_threads_seq_one_queue(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	struct dp_thread_stats t0, t1;
	uint8_t b[128];
	int tx = pk_ip(f, 0);

	ca.tx_l2ss = cb.rx_l2ss = true;
	ca.tx_seq = cb.rx_seq = true;
	start(f);
	add_sessions(f, &ca, &cb);
	for (int k = 0; k < 8; k++) {
		for (int i = 0; i < 16; i++) {
			size_t len = make_udp_frame(b, (uint16_t)(40000 + i), (uint32_t)k);

			assert_int_equal(send(tx, b, len, 0), (ssize_t)len);
		}
		(void)poll(NULL, 0, 1);
	}
	WAIT_UNTIL(counters(f->s[1]).rx_packets == 128);
	dp_thread_stats(f->dp[0], 0, &t0);
	dp_thread_stats(f->dp[0], 1, &t1);
	assert_int_equal(t0.tx_frames, 128);
	assert_int_equal(t1.tx_frames, 0);
	assert_int_equal(counters(f->s[1]).rx_seq_drops, 0);
	close(tx);
	del_sessions(f);
	add_sessions(f, &ca, &cb);
	pass_frame(f, 1, 80, 1);
	pass_frame(f, 0, 80, 2);
}

/* Sessions added and removed while both threads run and traffic flows:
 * thread 0 changes the table while thread 1 waits between two rounds. */
static void test_threads_handoff(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	enum { N = 200 };
	struct dp_session *s[N];
	int p[2], fds[N];

	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	start(f);
	add_sessions(f, &ca, &cb);
	for (int i = 0; i < N; i++) {
		struct dp_session_conf c = conf_for(f, 1);

		fds[i] = dup(p[0]);
		c.local_sid = 1000 + (uint32_t)i;
		c.tap_fd = fds[i];
		assert_int_equal(dp_session_add(f->dp[1], &c, &s[i]), 0);
		if (i % 20 == 0)
			pass_frame(f, i % 40 == 0, 90, (uint8_t)i);
	}
	for (int i = 0; i < N; i++) {
		dp_session_del(f->dp[1], s[i]);
		close(fds[i]);
		if (i % 20 == 0)
			pass_frame(f, 0, 90, (uint8_t)i);
	}
	close(p[0]);
	close(p[1]);
	pass_frame(f, 1, 90, 7);
	/* and stops cleanly with both threads (fx_teardown's dp_destroy) */
}

/* A first socket without SO_REUSEPORT: no second thread, and the data
 * path goes on with one. */
static void test_threads_refused(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);

	assert_int_equal(dp_set_threads(f->dp[0], 2), -EADDRINUSE);
	assert_int_equal(dp_threads(f->dp[0]), 1);
	assert_int_equal(dp_set_threads(f->dp[0], 0), -EINVAL);
	assert_int_equal(dp_set_threads(f->dp[0], DP_MAX_THREADS + 1), -EINVAL);
	start(f);
	assert_int_equal(dp_set_threads(f->dp[1], 1), 0); /* no change */
	add_sessions(f, &ca, &cb);
	pass_frame(f, 0, 64, 1);
	pass_frame(f, 1, 64, 2);
}

/* dp_create raises the shared socket's send buffer (a slow peer's queued
 * datagrams must not use up the room of the others): to DP_UDP_SNDBUF
 * with CAP_NET_ADMIN, else as far as wmem_max allows. */
static void test_sndbuf(void **state)
{
	struct sockaddr_storage addr;
	int ctl[2], u = udp_open(&addr), got = 0;
	long want = DP_UDP_SNDBUF, wmem_max = 0;
	socklen_t len = sizeof(got);
	FILE *fp = fopen("/proc/sys/net/core/wmem_max", "r");
	struct dp *dp;

	(void)state;
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%ld", &wmem_max), 1);
	fclose(fp);
	if (geteuid() != 0 && wmem_max < want)
		want = wmem_max;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ctl), 0);
	assert_int_equal(dp_create(u, ctl[0], &dp), 0);
	assert_int_equal(getsockopt(u, SOL_SOCKET, SO_SNDBUF, &got, &len), 0);
	assert_true(got >= 2 * want); /* the kernel doubles what it is given */
	dp_destroy(dp);
	close(ctl[0]);
	close(ctl[1]);
	close(u);
}

/* Dual-stack AF_INET6 socket: IPv4 shows up as AF_INET both ways. */
static void test_dual_stack(void **state)
{
	struct fx *f = FX(state);
	static const uint8_t msg[12] = { 0xc8, 0x03, 0x00, 0x0c };
	struct sockaddr_in6 b6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_storage bound, caddr, from, local = sa4("127.0.0.1", 0), to;
	socklen_t blen = sizeof(bound);
	struct dp_ctrl_hdr hdr;
	uint8_t buf[sizeof(hdr) + 64];
	int ctl[2], zero = 0, c = udp_open(&caddr);
	int u = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct dp *dp;

	assert_true(u >= 0);
	assert_int_equal(setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)), 0);
	assert_int_equal(bind(u, (struct sockaddr *)&b6, sizeof(b6)), 0);
	assert_int_equal(getsockname(u, (struct sockaddr *)&bound, &blen), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ctl), 0);
	assert_int_equal(dp_create(u, ctl[0], &dp), 0);
	assert_int_equal(dp_start(dp), 0);

	to = sa4("127.0.0.1", sa_port(&bound));
	udp_send(c, &to, msg, sizeof(msg));
	assert_int_equal(recv_wait(ctl[1], buf, sizeof(buf), NULL), (ssize_t)(sizeof(hdr) + sizeof(msg)));
	memcpy(&hdr, buf, sizeof(hdr));
	assert_sa4(&hdr.peer, "127.0.0.1", sa_port(&caddr));
	assert_sa4(&hdr.local, "127.0.0.1", sa_port(&bound));

	assert_int_equal(dp_send_ctrl(dp, DP_ENCAP_UDP, &caddr, &local, msg, sizeof(msg)), 0);
	assert_int_equal(recv_wait(c, buf, sizeof(buf), &from), (ssize_t)sizeof(msg));
	assert_sa4(&from, "127.0.0.1", sa_port(&bound));

	/* and data: a session on the v6 socket sending to an IPv4 peer */
	struct dp_session_conf ca = conf_for(f, 0);
	struct dp_session *s;

	ca.peer = caddr;
	assert_int_equal(dp_session_add(dp, &ca, &s), 0);
	inject_frame(f, 0, 60, 23);
	assert_int_equal(recv_wait(c, buf, sizeof(buf), &from), 8 + 60);
	assert_sa4(&from, "127.0.0.1", sa_port(&bound));

	dp_destroy(dp);
	close(ctl[0]);
	close(ctl[1]);
	close(u);
	close(c);
}

/* ---------------------------------------------------------------------- */
/* data sequencing (RFC 3931 §4.6) */

/* The 24-bit number of a received datagram's Default L2SS at off; -1 if
 * S=0.  The other bits of the first byte must be 0. */
static long l2ss_seq(const uint8_t *l2ss)
{
	assert_int_equal(l2ss[0] & ~0x40, 0);
	if (!(l2ss[0] & 0x40))
		return -1;
	return (long)l2ss[1] << 16 | (long)l2ss[2] << 8 | l2ss[3];
}

/* Sequencing both ways between A and B: frames pass, nothing counted;
 * sequencing without the sublayer is refused. */
static void test_seq_both_ways(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1), bad;
	struct dp_session *dup = NULL;

	ca.tx_l2ss = ca.rx_l2ss = cb.tx_l2ss = cb.rx_l2ss = true;
	ca.tx_seq = ca.rx_seq = cb.tx_seq = cb.rx_seq = true;
	bad = ca;
	bad.tx_l2ss = false;
	assert_int_equal(dp_session_add(f->dp[0], &bad, &dup), -EINVAL);
	bad = ca;
	bad.rx_l2ss = false;
	assert_int_equal(dp_session_add(f->dp[0], &bad, &dup), -EINVAL);
	assert_null(dup);
	start(f);
	add_sessions(f, &ca, &cb);
	for (int i = 0; i < 5; i++) {
		pass_frame(f, 0, 60 + (size_t)i, (uint8_t)(30 + i));
		pass_frame(f, 1, 70 + (size_t)i, (uint8_t)(40 + i));
	}
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 5 && counters(f->s[1]).rx_packets == 5);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 5, .tx_octets = 310, .rx_packets = 5,
						       .rx_octets = 360 });
	assert_counters(f->s[1], &(struct dp_counters){ .tx_packets = 5, .tx_octets = 360, .rx_packets = 5,
						       .rx_octets = 310 });
}

/* What A sends with tx_seq: S=1 and 0, 1, 2, ...; from another start the
 * numbers wrap from 2^24 - 1 to 0; the cookie stays in front. */
static void test_seq_tx_numbers(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0);
	struct sockaddr_storage caddr, from;
	uint8_t frame[60], got[200];
	int c = udp_open(&caddr);
	static const long wrap[] = { 0xfffffe, 0xffffff, 0, 1 };

	ca.peer = caddr;
	memcpy(ca.tx_cookie, "\x11\x22\x33\x44", 4);
	ca.tx_cookie_len = 4;
	ca.tx_l2ss = ca.tx_seq = true;
	start(f);
	assert_int_equal(dp_session_add(f->dp[0], &ca, &f->s[0]), 0);
	for (int i = 0; i < 3; i++) {
		inject_frame(f, 0, sizeof(frame), (uint8_t)(50 + i));
		make_frame(frame, sizeof(frame), (uint8_t)(50 + i));
		assert_int_equal(recv_wait(c, got, sizeof(got), &from), 8 + 4 + 4 + 60);
		assert_memory_equal(got, "\x00\x03\x00\x00\x00\x00\x00\xc8\x11\x22\x33\x44", 12);
		assert_int_equal(l2ss_seq(got + 12), i);
		assert_memory_equal(got + 16, frame, sizeof(frame));
	}
	dp_session_del(f->dp[0], f->s[0]);
	ca.tx_seq_first = 0xfffffe;
	assert_int_equal(dp_session_add(f->dp[0], &ca, &f->s[0]), 0);
	for (size_t i = 0; i < sizeof(wrap) / sizeof(wrap[0]); i++) {
		inject_frame(f, 0, sizeof(frame), (uint8_t)(60 + i));
		assert_int_equal(recv_wait(c, got, sizeof(got), &from), 8 + 4 + 4 + 60);
		assert_int_equal(l2ss_seq(got + 12), wrap[i]);
	}
	/* without tx_seq the sublayer is all zero */
	dp_session_del(f->dp[0], f->s[0]);
	ca.tx_seq = false;
	assert_int_equal(dp_session_add(f->dp[0], &ca, &f->s[0]), 0);
	inject_frame(f, 0, sizeof(frame), 70);
	assert_int_equal(recv_wait(c, got, sizeof(got), &from), 8 + 4 + 4 + 60);
	assert_memory_equal(got + 12, "\x00\x00\x00\x00", 4);
	close(c);
}

/* Hand-made datagrams into B, which asked for sequencing: what is newer
 * than the last number kept passes (gaps too, across the wrap), what is
 * not is dropped and counted; S=0 passes and is counted; a run of old
 * numbers that follow each other is a sender that started again. */
static void test_seq_rx_window(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf cb = conf_for(f, 1);
	struct sockaddr_storage caddr;
	uint8_t pkt[200], in[200];
	int c = udp_open(&caddr);
	static const struct {
		long ns; /* -1: S=0 */
		bool pass;
	} seq[] = {
		{ 0xfffffe, true }, /* the first one sets the start */
		{ 0xffffff, true },
		{ 0, true },	    /* wraps */
		{ 1, true },
		{ 0xffffff, false }, /* late */
		{ 1, false },	    /* duplicate */
		{ 3, true },	    /* 2 lost: a gap is fine */
		{ -1, true },	    /* unnumbered: delivered, counted */
		{ 2, false },	    /* late */
		{ 3, false },	    /* duplicate after an unnumbered one */
		{ 0x800003, true }, /* 2^23 ahead: still newer */
		{ 4, false },	    /* 2^23 - 1 behind: old */
		/* the sender restarted from 0x10: four old ones in a row are
		 * dropped, the fifth is taken and counting goes on from it */
		{ 0x10, false }, { 0x11, false }, { 0x12, false }, { 0x13, false }, { 0x14, true },
		{ 0x15, true },
		{ 0x14, false },
	};
	unsigned want_pass = 0, want_drop = 0;

	cb.rx_l2ss = cb.rx_seq = true;
	start(f);
	assert_int_equal(dp_session_add(f->dp[1], &cb, &f->s[1]), 0);
	memcpy(pkt, "\x00\x03\x00\x00\x00\x00\x00\xc8", 8);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		uint32_t ns = seq[i].ns < 0 ? 0x123456 : (uint32_t)seq[i].ns; /* garbage behind S=0 */

		pkt[8] = seq[i].ns < 0 ? 0 : 0x40;
		pkt[9] = (uint8_t)(ns >> 16);
		pkt[10] = (uint8_t)(ns >> 8);
		pkt[11] = (uint8_t)ns;
		make_frame(pkt + 12, 60, (uint8_t)(80 + i));
		udp_send(c, &f->addr[1], pkt, 12 + 60);
		if (seq[i].pass) {
			assert_int_equal(recv_wait(f->pk[1], in, sizeof(in), NULL), 60);
			assert_memory_equal(in, pkt + 12, 60);
			want_pass++;
		} else {
			want_drop++;
		}
		/* in order: what was dropped was dropped before the next is sent */
		WAIT_UNTIL(counters(f->s[1]).rx_packets == want_pass && counters(f->s[1]).rx_seq_drops == want_drop);
	}
	assert_false(readable_now(f->pk[1]));
	assert_counters(f->s[1], &(struct dp_counters){ .rx_packets = want_pass, .rx_octets = want_pass * 60,
						       .rx_seq_drops = want_drop, .rx_seq_missing = 1 });

	/* without rx_seq nothing is checked: a duplicate passes */
	dp_session_del(f->dp[1], f->s[1]);
	cb.rx_seq = false;
	assert_int_equal(dp_session_add(f->dp[1], &cb, &f->s[1]), 0);
	for (int i = 0; i < 2; i++) {
		udp_send(c, &f->addr[1], pkt, 12 + 60);
		assert_int_equal(recv_wait(f->pk[1], in, sizeof(in), NULL), 60);
	}
	assert_counters(f->s[1], &(struct dp_counters){ .rx_packets = 2, .rx_octets = 120 });
	close(c);
}

/* Internet checksum of the IPv4 pseudo-header + TCP length, not folded
 * into the complement: what a NEEDS_CSUM frame carries in its TCP sum. */
static uint16_t pseudo_sum(const uint8_t *ip, size_t tcp_len)
{
	uint32_t sum = 0;

	for (int i = 12; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	sum += 6 + (uint32_t)tcp_len;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* A TCP super-frame from the TAP: every segment leaves as its own datagram
 * with its own number, in order, and numbering goes on after it. */
static void test_seq_gso_segments(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf ca = conf_for(f, 0);
	struct sockaddr_storage caddr, from;
	enum { MSS = 1000, NSEG = 5, HDR = 14 + 20 + 20 };
	static uint8_t sup[10 + HDR + NSEG * MSS];
	uint8_t got[2000], *fr = sup + 10, *ip = fr + 14, *tcp = ip + 20;
	int c = udp_open(&caddr), pk, one = 1, big = 4 << 20;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	uint16_t v;

	ca.peer = caddr;
	ca.tx_l2ss = ca.tx_seq = true;
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	start(f);
	assert_int_equal(dp_session_add(f->dp[0], &ca, &f->s[0]), 0); /* turns the TAP's TSO on */

	/* virtio_net_hdr: NEEDS_CSUM, TCPV4, hdr_len, gso_size, csum_start/offset */
	memset(sup, 0, sizeof(sup));
	sup[0] = 1;
	sup[1] = 1;
	v = HDR, memcpy(sup + 2, &v, 2);
	v = MSS, memcpy(sup + 4, &v, 2);
	v = 14 + 20, memcpy(sup + 6, &v, 2);
	v = 16, memcpy(sup + 8, &v, 2);
	memcpy(fr, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	memcpy(ip, "\x45\x00\x00\x00\x12\x34\x40\x00\x40\x06\x00\x00\xc6\x33\x64\x01\xc6\x33\x64\x02", 20);
	ip[2] = (uint8_t)((20 + 20 + NSEG * MSS) >> 8);
	ip[3] = (uint8_t)(20 + 20 + NSEG * MSS);
	{
		uint32_t sum = 0;

		for (int i = 0; i < 20; i += 2)
			sum += (uint32_t)ip[i] << 8 | ip[i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		ip[10] = (uint8_t)(~sum >> 8);
		ip[11] = (uint8_t)~sum;
	}
	memcpy(tcp, "\x30\x39\x00\x50\x00\x00\x10\x00\x00\x00\x00\x00\x50\x18\xff\xff", 16);
	v = pseudo_sum(ip, 20 + NSEG * MSS);
	tcp[16] = (uint8_t)(v >> 8);
	tcp[17] = (uint8_t)v;
	for (size_t i = 0; i < NSEG * MSS; i++)
		fr[HDR + i] = (uint8_t)(i / MSS + 1);

	pk = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	assert_true(pk >= 0);
	assert_int_equal(setsockopt(pk, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)), 0);
	sll.sll_ifindex = f->ifindex[0];
	assert_int_equal(bind(pk, (struct sockaddr *)&sll, sizeof(sll)), 0);
	assert_int_equal(send(pk, sup, sizeof(sup), 0), (ssize_t)sizeof(sup));
	for (int i = 0; i < NSEG; i++) {
		assert_int_equal(recv_wait(c, got, sizeof(got), &from), 8 + 4 + HDR + MSS);
		assert_int_equal(l2ss_seq(got + 8), i);
		assert_int_equal(got[12 + HDR], i + 1); /* segment i's payload */
	}
	WAIT_UNTIL(counters(f->s[0]).tx_packets == NSEG);
	assert_int_equal(counters(f->s[0]).tx_super, 1); /* it went through the segmentation */
	/* the next frame goes on from there */
	inject_frame(f, 0, 60, 90);
	assert_int_equal(recv_wait(c, got, sizeof(got), &from), 8 + 4 + 60);
	assert_int_equal(l2ss_seq(got + 8), NSEG);
	close(pk);
	close(c);
}

/* ---------------------------------------------------------------------- */
/* netlink helpers */

static int link_master(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l;
	int m;

	assert_int_equal(rtnl_link_get_kernel(sk, 0, name, &l), 0);
	m = rtnl_link_get_master(l);
	rtnl_link_put(l);
	return m;
}

static unsigned link_flags(const char *name)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	close(fd);
	return (unsigned)(uint16_t)ifr.ifr_flags;
}

/* Addresses of `family` on ifindex, counted through the kernel's dump. */
static int count_addrs(struct nl_sock *sk, int ifindex, int family)
{
	struct nl_cache *cache;
	int n = 0;

	assert_int_equal(rtnl_addr_alloc_cache(sk, &cache), 0);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
		if (rtnl_addr_get_ifindex((struct rtnl_addr *)o) == ifindex &&
		    rtnl_addr_get_family((struct rtnl_addr *)o) == family)
			n++;
	nl_cache_free(cache);
	return n;
}

static void test_nl(void **state)
{
	struct nl_ctx *n;
	struct nl_sock *sk;
	bool created = false;
	uint8_t a4[4] = { 192, 0, 2, 1 }, a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	int port, br;

	(void)state;
	if (geteuid() != 0)
		skip();
	sk = nl_socket_alloc();
	assert_non_null(sk);
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	assert_int_equal(nl_ctx_open(&n), 0);

	assert_int_equal(nl_bridge_ensure(n, "br-test", &created), 0);
	assert_true(created);
	assert_int_equal(nl_bridge_ensure(n, "br-test", &created), 0);
	assert_false(created);
	assert_true(link_flags("br-test") & IFF_UP);
	assert_int_equal(nl_bridge_ensure(n, "lo", &created), -EEXIST); /* not a bridge */
	br = nl_link_index(n, "br-test");
	assert_int_equal(br, (int)if_nametoindex("br-test"));
	assert_int_equal(nl_link_index(n, "no-such-if"), -ENODEV);
	assert_int_equal(nl_link_mtu(n, "no-such-if"), -ENODEV);
	assert_int_equal(nl_link_up(n, "this-name-is-too-long"), -EINVAL);

	port = tap_open("tp-port", &created);
	assert_true(port >= 0);
	assert_true(created);
	assert_int_equal(tap_open("tp-port", &created), -EBUSY); /* attached already */
	assert_false(link_flags("tp-port") & IFF_UP);
	assert_int_equal(nl_bridge_add_port(n, "br-test", "tp-port"), 0);
	assert_int_equal(link_master(sk, "tp-port"), br);
	assert_true(link_flags("tp-port") & IFF_UP);
	assert_int_equal(nl_bridge_add_port(n, "br-test", "tp-port"), 0); /* no-op */
	assert_int_equal(nl_bridge_add_port(n, "br-test", "no-such-if"), -ENODEV);

	assert_int_equal(nl_addr_ensure(n, "br-test", AF_INET, a4, 24), 0);
	assert_int_equal(nl_addr_ensure(n, "br-test", AF_INET, a4, 24), 0);
	assert_int_equal(count_addrs(sk, br, AF_INET), 1);
	assert_int_equal(nl_addr_ensure(n, "br-test", AF_INET6, a6, 64), 0);
	assert_int_equal(nl_addr_ensure(n, "br-test", AF_INET6, a6, 64), 0);
	assert_int_equal(nl_addr_ensure(n, "br-test", AF_INET, a4, 33), -EINVAL);
	assert_int_equal(nl_addr_ensure(n, "br-test", AF_UNIX, a4, 8), -EAFNOSUPPORT);
	/* the bridge may carry a link-local too; ours is there exactly once */
	{
		struct nl_cache *cache;
		int seen = 0;

		assert_int_equal(rtnl_addr_alloc_cache(sk, &cache), 0);
		for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
			struct nl_addr *l = rtnl_addr_get_local((struct rtnl_addr *)o);

			if (rtnl_addr_get_ifindex((struct rtnl_addr *)o) == br && l && nl_addr_get_len(l) == 16 &&
			    memcmp(nl_addr_get_binary_addr(l), a6, 16) == 0)
				seen++;
		}
		nl_cache_free(cache);
		assert_int_equal(seen, 1);
	}

	assert_int_equal(nl_link_set_mtu(n, "tp-port", 1400), 0);
	assert_int_equal(nl_link_mtu(n, "tp-port"), 1400);
	assert_int_equal(nl_link_set_mtu(n, "br-test", 1400), 0);
	assert_int_equal(nl_link_mtu(n, "br-test"), 1400);
	assert_int_equal(nl_link_set_mtu(n, "tp-port", 1400), 0); /* unchanged */

	tap_close(port);
	assert_int_equal(if_nametoindex("tp-port"), 0);
	{
		struct rtnl_link *l = rtnl_link_alloc();

		rtnl_link_set_name(l, "br-test");
		assert_int_equal(rtnl_link_delete(sk, l), 0);
		rtnl_link_put(l);
	}
	nl_ctx_close(n);
	nl_ctx_close(NULL);
	nl_socket_free(sk);
}

/* tap_open gives the data path a TAP with a vnet header; the plain fixture
 * does not. */
static void tap_flags(void **state, bool want)
{
	struct fx *f = FX(state);
	struct ifreq ifr;

	for (int i = 0; i < 2; i++) {
		memset(&ifr, 0, sizeof(ifr));
		assert_int_equal(ioctl(f->tap[i], TUNGETIFF, &ifr), 0);
		assert_int_equal(!!(ifr.ifr_flags & IFF_VNET_HDR), want);
	}
}

static void test_tap_flags_vnet(void **state)
{
	tap_flags(state, true);
}

static void test_tap_flags_plain(void **state)
{
	tap_flags(state, false);
}


/* `l2tp local port`: a second UDP socket; what is bound to its port leaves
 * from it, and control read from it names its port. */
static void test_extra_udp_port(void **state)
{
	struct fx *f = FX(state);
	static const uint8_t msg[12] = { 0xc8, 0x03, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0, 0 };
	struct sockaddr_storage extra_addr, from, local;
	struct dp_session_conf ca = conf_for(f, 0), cb = conf_for(f, 1);
	int extra = udp_open(&extra_addr), c;
	struct sockaddr_storage caddr;
	struct dp_ctrl_hdr hdr;
	uint8_t buf[sizeof(hdr) + 2048];

	c = udp_open(&caddr);
	assert_int_equal(dp_add_udp_socket(f->dp[0], extra), 0);
	assert_int_equal(dp_add_udp_socket(f->dp[0], extra), -EEXIST);
	assert_int_equal(dp_add_udp_socket(f->dp[0], f->udp[0]), -EEXIST);
	start(f);
	/* control to the extra port: handed on with that local port */
	udp_send(c, &extra_addr, msg, sizeof(msg));
	assert_int_equal(recv_wait(f->ctl[0][1], buf, sizeof(buf), NULL), (ssize_t)(sizeof(hdr) + sizeof(msg)));
	memcpy(&hdr, buf, sizeof(hdr));
	assert_sa4(&hdr.local, "127.0.0.1", sa_port(&extra_addr));
	assert_sa4(&hdr.peer, "127.0.0.1", sa_port(&caddr));
	/* control sent from that local port leaves from the extra socket */
	local = sa4("127.0.0.1", sa_port(&extra_addr));
	assert_int_equal(dp_send_ctrl(f->dp[0], DP_ENCAP_UDP, &caddr, &local, msg, sizeof(msg)), 0);
	assert_int_equal(recv_wait(c, buf, sizeof(buf), &from), (ssize_t)sizeof(msg));
	assert_sa4(&from, "127.0.0.1", sa_port(&extra_addr));
	/* a wildcard address with the port: the kernel picks the address */
	local = sa4("0.0.0.0", sa_port(&extra_addr));
	assert_int_equal(dp_send_ctrl(f->dp[0], DP_ENCAP_UDP, &caddr, &local, msg, sizeof(msg)), 0);
	assert_int_equal(recv_wait(c, buf, sizeof(buf), &from), (ssize_t)sizeof(msg));
	assert_sa4(&from, "127.0.0.1", sa_port(&extra_addr));
	/* a port nobody serves */
	local = sa4("127.0.0.1", 9);
	assert_int_equal(dp_send_ctrl(f->dp[0], DP_ENCAP_UDP, &caddr, &local, msg, sizeof(msg)), -EADDRNOTAVAIL);

	/* data: A sends from the extra port, B sends to it; both ways work */
	ca.local = sa4("127.0.0.1", sa_port(&extra_addr));
	cb.peer = extra_addr;
	add_sessions(f, &ca, &cb);
	pass_frame(f, 0, 60, 31);
	pass_frame(f, 1, 1514, 32);
	WAIT_UNTIL(counters(f->s[0]).rx_packets == 1);
	/* and what A sent came from the extra port: B's peer check is none,
	 * so look at the wire with a plain socket in B's place */
	del_sessions(f);
	ca.peer = caddr;
	assert_int_equal(dp_session_add(f->dp[0], &ca, &f->s[0]), 0);
	inject_frame(f, 0, 60, 33);
	assert_int_equal(recv_wait(c, buf, sizeof(buf), &from), 8 + 60);
	assert_sa4(&from, "127.0.0.1", sa_port(&extra_addr));
	close(c);
	/* the fixture's teardown closes the dp before this socket's number can
	 * be reused */
	dp_destroy(f->dp[0]);
	assert_int_equal(dp_create(f->udp[0], f->ctl[0][0], &f->dp[0]), 0);
	f->s[0] = NULL;
	close(extra);
}

/* ---------------------------------------------------------------------- */
/* IP encapsulation (RFC 3931 §4.1.1.2, §4.1.2.2) */

/* A raw IP/115 socket bound to `ip` (so the two sides on one loopback each
 * see only their own packets). */
static int raw_open(const char *ip)
{
	struct sockaddr_storage ss = sa4(ip, 0);
	int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, DP_IPPROTO_L2TP);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	return fd;
}

/* Next packet of a raw sniffer whose IPv4 destination is `dst`: its L2TP
 * payload (IP header stripped) in buf; returns the payload length. */
static size_t sniff_to(int fd, const char *dst, uint8_t *buf, size_t cap)
{
	struct in_addr want;
	uint8_t pkt[2048];

	assert_int_equal(inet_pton(AF_INET, dst, &want), 1);
	for (;;) {
		ssize_t n = recv_wait(fd, pkt, sizeof(pkt), NULL);
		size_t ihl;

		assert_true(n >= 20);
		ihl = (size_t)(pkt[0] & 0x0f) * 4;
		if (memcmp(pkt + 16, &want, 4) != 0)
			continue;
		assert_true((size_t)n - ihl <= cap);
		memcpy(buf, pkt + ihl, (size_t)n - ihl);
		return (size_t)n - ihl;
	}
}

static void test_ip_encap(void **state)
{
	struct fx *f = FX(state);
	static const char *const addr[2] = { "127.0.0.1", "127.0.0.2" };
	static const uint8_t ctl[12] = { 0xc8, 0x03, 0x00, 0x0c, 0, 0, 0, 7, 0, 0, 0, 0 };
	struct dp_session_conf c[2];
	int raw[2], sniff = raw_open("0.0.0.0");
	uint8_t buf[2048], frame[100];
	struct dp_ctrl_hdr hdr;
	size_t n;

	for (int i = 0; i < 2; i++) {
		raw[i] = raw_open(addr[i]);
		assert_int_equal(dp_set_ip_socket(f->dp[i], AF_INET, raw[i]), 0);
		c[i] = conf_for(f, i);
		c[i].encap = DP_ENCAP_IP;
		c[i].peer = sa4(addr[!i], 0);
		c[i].local = sa4(addr[i], 0);
	}
	assert_int_equal(dp_set_ip_socket(f->dp[0], AF_INET, raw[0]), -EEXIST);
	/* a 4-byte cookie one way, the sublayer the other */
	memcpy(c[0].tx_cookie, "\x11\x22\x33\x44", 4);
	memcpy(c[1].rx_cookie, "\x11\x22\x33\x44", 4);
	c[0].tx_cookie_len = c[1].rx_cookie_len = 4;
	c[1].tx_l2ss = c[0].rx_l2ss = true;
	start(f);
	add_sessions(f, &c[0], &c[1]);

	/* A -> B: Session ID, cookie, frame; nothing else */
	pass_frame(f, 0, 60, 21);
	n = sniff_to(sniff, addr[1], buf, sizeof(buf));
	make_frame(frame, 60, 21);
	assert_int_equal(n, 4 + 4 + 60);
	assert_memory_equal(buf, "\x00\x00\x00\xc8\x11\x22\x33\x44", 8); /* SID_B = 200 */
	assert_memory_equal(buf + 8, frame, 60);
	/* B -> A: Session ID, sublayer, frame; and a full-size frame */
	pass_frame(f, 1, 100, 22);
	n = sniff_to(sniff, addr[0], buf, sizeof(buf));
	assert_int_equal(n, 4 + 4 + 100);
	assert_memory_equal(buf, "\x00\x00\x00\x64\x00\x00\x00\x00", 8); /* SID_A = 100 */
	pass_frame(f, 1, 1514, 23);
	assert_counters(f->s[0], &(struct dp_counters){ .tx_packets = 1, .tx_octets = 60, .rx_packets = 2,
						       .rx_octets = 1614 });

	/* control: a zero Session ID in front, handed on without it */
	assert_int_equal(dp_send_ctrl(f->dp[0], DP_ENCAP_IP, &c[0].peer, &c[0].local, ctl, sizeof(ctl)), 0);
	n = sniff_to(sniff, addr[1], buf, sizeof(buf));
	assert_int_equal(n, 4 + sizeof(ctl));
	assert_memory_equal(buf, "\0\0\0\0", 4);
	assert_memory_equal(buf + 4, ctl, sizeof(ctl));
	assert_int_equal(recv_wait(f->ctl[1][1], buf, sizeof(buf), NULL), (ssize_t)(sizeof(hdr) + sizeof(ctl)));
	memcpy(&hdr, buf, sizeof(hdr));
	assert_int_equal(hdr.encap, DP_ENCAP_IP);
	assert_sa4(&hdr.peer, addr[0], 0);
	assert_sa4(&hdr.local, addr[1], 0);
	assert_memory_equal(buf + sizeof(hdr), ctl, sizeof(ctl));

	/* bad input on the raw socket: too short, zero Session ID without a
	 * control header (T=0), unknown session, a UDP session's ID over IP */
	struct dp_session *u = NULL;
	struct dp_session_conf cu = conf_for(f, 1);

	cu.local_sid = 300;
	cu.tap_fd = dup(f->tap[1]); /* epoll takes one registration per fd */
	assert_int_equal(dp_session_add(f->dp[1], &cu, &u), 0);
	{
		struct sockaddr_in to = { .sin_family = AF_INET };
		static const uint8_t shorty[3] = { 0, 0, 1 }, t0[8] = { 0, 0, 0, 0, 0x00, 0x03, 0, 0 },
				     unknown[4 + 14] = { 0, 0, 0x30, 0x39 }, udp_sid[4 + 14] = { 0, 0, 0x01, 0x2c };

		assert_int_equal(inet_pton(AF_INET, addr[1], &to.sin_addr), 1);
		assert_int_equal(sendto(raw[0], shorty, sizeof(shorty), 0, (struct sockaddr *)&to, sizeof(to)), 3);
		assert_int_equal(sendto(raw[0], t0, sizeof(t0), 0, (struct sockaddr *)&to, sizeof(to)), 8);
		assert_int_equal(sendto(raw[0], unknown, sizeof(unknown), 0, (struct sockaddr *)&to, sizeof(to)), 18);
		assert_int_equal(sendto(raw[0], udp_sid, sizeof(udp_sid), 0, (struct sockaddr *)&to, sizeof(to)), 18);
	}
	assert_gcounters(f->dp[1], &(struct dp_global_counters){ .rx_malformed = 2, .rx_unknown_session = 2,
								  .ctrl_forwarded = 1 });
	assert_false(readable_now(f->pk[1]));
	assert_int_equal(counters(u).rx_packets, 0);
	dp_session_del(f->dp[1], u);
	close(cu.tap_fd);
	del_sessions(f);
	for (int i = 0; i < 2; i++) {
		dp_destroy(f->dp[i]);
		f->dp[i] = NULL;
		close(raw[i]);
	}
	/* the fixture's teardown destroys nothing twice (dp_destroy is NULL-safe) */
	assert_int_equal(dp_create(f->udp[0], f->ctl[0][0], &f->dp[0]), 0);
	assert_int_equal(dp_create(f->udp[1], f->ctl[1][0], &f->dp[1]), 0);
	close(sniff);
}

/* IP encapsulation without a raw socket for the family: refused. */
static void test_ip_encap_no_socket(void **state)
{
	struct fx *f = FX(state);
	struct dp_session_conf c = conf_for(f, 0);
	static const uint8_t ctl[12] = { 0xc8, 0x03, 0x00, 0x0c };

	c.encap = DP_ENCAP_IP;
	c.peer = sa4("127.0.0.2", 0);
	assert_int_equal(dp_session_add(f->dp[0], &c, &f->s[0]), -EPROTONOSUPPORT);
	f->s[0] = NULL;
	assert_int_equal(dp_send_ctrl(f->dp[0], DP_ENCAP_IP, &c.peer, NULL, ctl, sizeof(ctl)), -EPROTONOSUPPORT);
	assert_int_equal(dp_set_ip_socket(f->dp[0], AF_UNIX, 3), -EINVAL);
}

/* ---------------------------------------------------------------------- */
/* test vectors: data captured between the Linux kernel and QEMU */

/*
 * Replay the data packets of a capture (tests/captures, from independent
 * implementations; see the README there) into our data path, as the peer
 * of both sides: packets for Session ID 0xAAAA go to dp B, those for
 * 0xBBBB to dp A, each over `encap` with the receive cookie and sublayer
 * the capture's README gives.  Each must come out of the session's TAP as
 * exactly the frame the capture carries after its L2TP header; nothing is
 * dropped.  Returns how many were replayed.
 */
static unsigned replay_capture(struct fx *f, const char *path, enum dp_encap encap, const char *cookie_a,
			       const char *cookie_b, bool l2ss)
{
	static const char *const addr[2] = { "127.0.0.1", "127.0.0.2" };
	struct dp_session_conf c[2];
	struct cap *cp = malloc(sizeof(*cp));
	int pk[2], raw[2] = { -1, -1 }, sender = -1;
	unsigned n = 0, got[2] = { 0, 0 };

	assert_non_null(cp);
	for (int i = 0; i < 2; i++) {
		struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
					   .sll_ifindex = f->ifindex[i] };
		int one = 1;
		const char *ck = i == 0 ? cookie_b : cookie_a;

		/* every frame the TAP hands the kernel, whatever its type */
		pk[i] = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
		assert_true(pk[i] >= 0);
		assert_int_equal(bind(pk[i], (struct sockaddr *)&sll, sizeof(sll)), 0);
		assert_int_equal(setsockopt(pk[i], SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)), 0);
		c[i] = conf_for(f, i);
		c[i].local_sid = i == 0 ? 0xBBBB : 0xAAAA;
		c[i].remote_sid = i == 0 ? 0xAAAA : 0xBBBB;
		c[i].rx_l2ss = c[i].tx_l2ss = l2ss;
		c[i].rx_cookie_len = strlen(ck) / 2;
		for (size_t k = 0; k < c[i].rx_cookie_len; k++)
			assert_int_equal(sscanf(ck + 2 * k, "%2hhx", &c[i].rx_cookie[k]), 1);
		if (encap == DP_ENCAP_IP) {
			raw[i] = raw_open(addr[i]);
			assert_int_equal(dp_set_ip_socket(f->dp[i], AF_INET, raw[i]), 0);
			c[i].encap = DP_ENCAP_IP;
			c[i].peer = sa4(addr[!i], 0);
		}
	}
	if (encap == DP_ENCAP_IP)
		sender = raw_open("127.0.0.3");
	else
		sender = udp_open(&(struct sockaddr_storage){ 0 });
	start(f);
	add_sessions(f, &c[0], &c[1]);

	assert_true(cap_open(cp, path));
	while (cap_next(cp)) {
		const uint8_t *l2tp = cp->ip + cp->ihl;
		size_t len = cp->ip_len - cp->ihl, hlen;
		uint32_t sid;
		int to;
		uint8_t in[2048];
		ssize_t r;

		if (encap == DP_ENCAP_UDP) {
			if (cp->ip[9] != 17 || len < 8 + 8 || cap_be16(l2tp + 2) != 1701)
				continue;
			l2tp += 8;
			len -= 8;
			sid = (uint32_t)l2tp[4] << 24 | (uint32_t)l2tp[5] << 16 | (uint32_t)l2tp[6] << 8 | l2tp[7];
			hlen = 8;
		} else {
			if (cp->ip[9] != 115 || len < 4)
				continue;
			sid = (uint32_t)l2tp[0] << 24 | (uint32_t)l2tp[1] << 16 | (uint32_t)l2tp[2] << 8 | l2tp[3];
			hlen = 4;
		}
		assert_true(sid == 0xAAAA || sid == 0xBBBB);
		to = sid == 0xAAAA ? 1 : 0;
		hlen += c[to].rx_cookie_len + (l2ss ? 4 : 0);
		assert_true(len > hlen);
		if (encap == DP_ENCAP_UDP) {
			udp_send(sender, &f->addr[to], l2tp, len);
		} else {
			struct sockaddr_in dst = { .sin_family = AF_INET };

			assert_int_equal(inet_pton(AF_INET, addr[to], &dst.sin_addr), 1);
			assert_int_equal(sendto(sender, l2tp, len, 0, (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)len);
		}
		r = recv_wait(pk[to], in, sizeof(in), NULL);
		if (r != (ssize_t)(len - hlen) || memcmp(in, l2tp + hlen, len - hlen) != 0)
			fail_msg("%s frame %u (Session ID 0x%x): %zd bytes out of the TAP, not the %zu captured "
				 "after the header", path, cp->frame, sid, r, len - hlen);
		got[to]++;
		n++;
	}
	free(cp);
	/* both directions of the capture, nothing dropped */
	assert_true(got[0] >= 3 && got[1] >= 3);
	/* (counted after the write: the frame may be seen first) */
	WAIT_UNTIL(counters(f->s[0]).rx_packets == got[0]);
	WAIT_UNTIL(counters(f->s[1]).rx_packets == got[1]);
	assert_int_equal(counters(f->s[0]).rx_cookie_drops + counters(f->s[1]).rx_cookie_drops, 0);
	for (int i = 0; i < 2; i++) {
		close(pk[i]);
		dp_destroy(f->dp[i]);
		f->s[i] = NULL;
		assert_int_equal(dp_create(f->udp[i], f->ctl[i][0], &f->dp[i]), 0);
		if (raw[i] >= 0)
			close(raw[i]);
	}
	close(sender);
	return n;
}

static void test_vectors_kernel_udp(void **state)
{
	assert_true(replay_capture(FX(state), "tests/captures/linux-kernel-l2tpv3-udp-static.pcap", DP_ENCAP_UDP,
				   "", "", false) >= 10);
}

/* the kernel sends cookie 11223344 and expects 55667788; sublayer both ways */
static void test_vectors_kernel_udp_cookie4_l2ss(void **state)
{
	assert_true(replay_capture(FX(state), "tests/captures/linux-kernel-l2tpv3-udp-static-cookie4-l2ss.pcap",
				   DP_ENCAP_UDP, "11223344", "55667788", true) >= 10);
}

static void test_vectors_kernel_ip(void **state)
{
	assert_true(replay_capture(FX(state), "tests/captures/linux-kernel-l2tpv3-ip-static.pcap", DP_ENCAP_IP, "",
				   "", false) >= 10);
}

static void test_vectors_qemu_udp(void **state)
{
	assert_true(replay_capture(FX(state), "tests/captures/qemu-l2tpv3-udp-static.pcap", DP_ENCAP_UDP, "", "",
				   false) >= 10);
}

/* QEMU's counter=on: a sublayer holding a plain counter, S bit clear */
static void test_vectors_qemu_udp_cookie4_l2ss(void **state)
{
	assert_true(replay_capture(FX(state), "tests/captures/qemu-l2tpv3-udp-static-cookie4-l2ss.pcap",
				   DP_ENCAP_UDP, "11223344", "11223344", true) >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nl),
		cmocka_unit_test(test_sndbuf),
		cmocka_unit_test_setup_teardown(test_tap_flags_vnet, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_both_directions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vlan, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sessions_before_start, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cookie4, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cookie8, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_l2ss_one_side, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_wire_format, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_checks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_peer_only, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ctrl, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_big_frame, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_set_peer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_del, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_burst, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_many_sessions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dual_stack, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seq_both_ways, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seq_tx_numbers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seq_rx_window, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seq_gso_segments, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ip_encap, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_extra_udp_port, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vectors_kernel_udp, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vectors_kernel_udp_cookie4_l2ss, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vectors_kernel_ip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vectors_qemu_udp, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vectors_qemu_udp_cookie4_l2ss, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ip_encap_no_socket, fx_setup, fx_teardown),
		/* two data threads per side */
		cmocka_unit_test_setup_teardown(test_busy_poll, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_busy_poll_share, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_both_directions, fx_setup_busy, fx_teardown),
		cmocka_unit_test_setup_teardown(test_burst, fx_setup_busy, fx_teardown),
		cmocka_unit_test_setup_teardown(test_threads_flows, fx_setup_mt, fx_teardown),
		cmocka_unit_test_setup_teardown(test_threads_seq_one_queue, fx_setup_mt, fx_teardown),
		cmocka_unit_test_setup_teardown(test_threads_handoff, fx_setup_mt, fx_teardown),
		cmocka_unit_test_setup_teardown(test_threads_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_both_directions, fx_setup_mt, fx_teardown),
		cmocka_unit_test_setup_teardown(test_burst, fx_setup_mt, fx_teardown),
		cmocka_unit_test_setup_teardown(test_many_sessions, fx_setup_mt, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seq_tx_numbers, fx_setup_mt, fx_teardown),
		/* the same without IFF_VNET_HDR (a kernel without offloads) */
		cmocka_unit_test_setup_teardown(test_tap_flags_plain, fx_setup_plain, fx_teardown),
		cmocka_unit_test_setup_teardown(test_both_directions, fx_setup_plain, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vlan, fx_setup_plain, fx_teardown),
		cmocka_unit_test_setup_teardown(test_big_frame, fx_setup_plain, fx_teardown),
		cmocka_unit_test_setup_teardown(test_burst, fx_setup_plain, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_checks, fx_setup_plain, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seq_rx_window, fx_setup_plain, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seq_tx_numbers, fx_setup_plain, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ip_encap, fx_setup_plain, fx_teardown),
	};
	int fd;

	if (geteuid() == 0) {
		/* everything below happens in a private network namespace */
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "unshare(CLONE_NEWNET): %s; skipping\n", strerror(errno));
			return 77;
		}
		struct ifreq ifr = { .ifr_name = "lo" };

		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
			return 1;
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			return 1;
		close(fd);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
