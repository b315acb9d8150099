/* SPDX-License-Identifier: MIT */
/*
 * `l2tp static probe A.B.C.D`: the glue of the ARP probe of a static
 * session (frames and bookkeeping in probe.c).
 *
 * A packet socket bound to the tunnel's TAP port sends the probe there:
 * the kernel hands it to the TAP, the data thread reads it like any frame
 * from the LAN and carries it across the session.  The far host's reply
 * comes back through the session, the data thread writes it to the TAP,
 * and the same socket sees it arrive.  The data thread is not involved
 * beyond carrying the two frames.
 *
 * The socket is bound with ETH_P_ALL, not ETH_P_ARP: a frame arriving on a
 * bridge port is taken by the bridge before protocol-specific packet
 * sockets of the port see it; ETH_P_ALL taps see it first.  A socket filter
 * keeps only ARP replies, so other frames never reach us, and
 * PACKET_IGNORE_OUTGOING spares the kernel a copy of what the TAP sends.
 *
 * One probe every keepalive interval (10 s with keepalive off); count of
 * them unanswered in a row (3 with keepalive off) and the probe is down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

#define PROBE_INTERVAL_KEEPALIVE_OFF 10
#define PROBE_COUNT_KEEPALIVE_OFF 3
#define PROBE_RX_BATCH 32 /* frames read per wake-up */

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static unsigned probe_interval(const struct cfg_tunnel *ct)
{
	return ct->keepalive ? ct->keepalive_interval : PROBE_INTERVAL_KEEPALIVE_OFF;
}

static unsigned probe_count(const struct cfg_tunnel *ct)
{
	return ct->keepalive ? ct->keepalive_count : PROBE_COUNT_KEEPALIVE_OFF;
}

static void target_str(const struct tunnel *t, char *buf, size_t len)
{
	if (!inet_ntop(AF_INET, &t->cfg->static_probe, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* The monitor hears of each verdict, as the log does. */
static void probe_event(struct tunnel *t, const char *event, const char *reason)
{
	char peer[64];

	sockaddr_format(&t->peer, peer, sizeof(peer));
	control_event(t->d, &(struct ctl_event){ .event = event, .tunnel = t->cfg->id, .peer = peer,
						 .local_sid = t->cfg->static_local_sid,
						 .remote_sid = t->cfg->static_remote_sid, .reason = reason });
}

static void verdict_changed(struct tunnel *t, enum probe_verdict v, unsigned unanswered)
{
	char target[INET_ADDRSTRLEN], why[96];

	target_str(t, target, sizeof(target));
	if (v == PROBE_UP) {
		snprintf(why, sizeof(why), "probe %s answered", target);
		log_tunnel_notice(t, "static session up: %s", why);
		probe_event(t, "probe-up", why);
	} else if (v == PROBE_DOWN) {
		snprintf(why, sizeof(why), "%u probes to %s unanswered", unanswered, target);
		log_tunnel_notice(t, "static session down: %s", why);
		probe_event(t, "probe-down", why);
	}
}

/* The TAP's MAC address: the probe's sender, which the answer names. */
static int tap_mac(const struct tunnel *t, uint8_t mac[PROBE_ETH_ALEN])
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
	if (ioctl(t->probe_fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, PROBE_ETH_ALEN);
	return 0;
}

static void send_probe(struct tunnel *t)
{
	uint8_t mac[PROBE_ETH_ALEN], frame[PROBE_FRAME_LEN];
	unsigned unanswered = t->probe.outstanding;
	enum probe_verdict v;
	bool changed;
	int r;

	v = probe_on_send(&t->probe, &changed);
	if (changed)
		verdict_changed(t, v, unanswered);
	r = tap_mac(t, mac);
	if (r == 0 && probe_build(frame, sizeof(frame), mac, t->cfg->static_probe) == 0)
		r = -EINVAL;
	if (r == 0 && send(t->probe_fd, frame, sizeof(frame), 0) < 0)
		r = -errno;
	if (r < 0) {
		/* counted as sent and unanswered: a probe that cannot leave is no sign of life */
		errno = -r;
		log_tunnel_debug(t, "cannot send the probe on %s: %s", t->ifname, strerror(errno));
	}
}

static void probe_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_probe(arg);
}

static void probe_rx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	uint8_t buf[128], mac[PROBE_ETH_ALEN];
	bool have_mac = false;

	(void)what;
	for (int i = 0; i < PROBE_RX_BATCH; i++) {
		struct sockaddr_ll from = { 0 };
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &flen);
		enum probe_verdict v;
		bool changed;

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_tunnel_warn(t, "probe socket on %s", t->ifname);
			return;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (!have_mac && tap_mac(t, mac) < 0)
			return;
		have_mac = true;
		if (!probe_is_answer(buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n, mac,
				     t->cfg->static_probe))
			continue;
		v = probe_on_answer(&t->probe, now_ms(), &changed);
		if (changed)
			verdict_changed(t, v, 0);
	}
}

/*
 * Classic BPF: keep Ethernet ARP replies (EtherType 0x0806 at offset 12,
 * operation 2 at offset 20), drop everything else in the kernel.
 */
static int attach_filter(int fd)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_ARP, 0, 3),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 128),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ? -errno : 0;
}

static int open_socket(struct tunnel *t, const char **what)
{
	struct sockaddr_ll sll;
	unsigned ifindex = if_nametoindex(t->ifname);
	int one = 1, fd, r;

	*what = "find";
	if (!ifindex)
		return -errno;
	/* protocol 0: nothing is queued before the filter is on and the bind is done */
	*what = "open a packet socket on";
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*what = "filter the packet socket on";
	if ((r = attach_filter(fd)) < 0)
		goto fail;
	/* Linux 4.20; older kernels copy the TAP's outgoing frames too, which we skip */
	(void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)ifindex;
	*what = "bind the packet socket to";
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		r = -errno;
		goto fail;
	}
	return fd;

fail:
	close(fd);
	return r;
}

void tunnel_probe_start(struct tunnel *t)
{
	const struct cfg_tunnel *ct = t->cfg;
	struct timeval tv = { (time_t)probe_interval(ct), 0 };
	char target[INET_ADDRSTRLEN];
	const char *what;
	int fd;

	tunnel_probe_stop(t);
	if (!ct->is_static || !ct->static_probe)
		return;
	probe_state_init(&t->probe, probe_count(ct));
	target_str(t, target, sizeof(target));
	fd = open_socket(t, &what);
	if (fd < 0) {
		errno = -fd;
		snprintf(t->probe_error, sizeof(t->probe_error), "cannot %s %s: %s", what, t->ifname,
			 strerror(errno));
		log_tunnel_warnx(t, "no probe of %s: %s%s", target, t->probe_error,
				 errno == EPERM || errno == EAFNOSUPPORT || errno == EACCES
				 ? " (needs CAP_NET_RAW and AF_PACKET, see l2tpv3d(8))"
				 : "");
		return;
	}
	t->probe_fd = fd;
	t->probe_rx = event_new(t->d->base, fd, EV_READ | EV_PERSIST, probe_rx_cb, t);
	t->probe_timer = event_new(t->d->base, -1, EV_PERSIST, probe_timer_cb, t);
	if (!t->probe_rx || !t->probe_timer || event_add(t->probe_rx, NULL) < 0 ||
	    event_add(t->probe_timer, &tv) < 0) {
		log_tunnel_warnx(t, "no probe of %s: out of memory", target);
		tunnel_probe_stop(t);
		snprintf(t->probe_error, sizeof(t->probe_error), "out of memory");
		return;
	}
	log_tunnel_info(t, "probing %s across the static session every %u s (down after %u unanswered)",
			target, probe_interval(ct), probe_count(ct));
	send_probe(t);
}

void tunnel_probe_stop(struct tunnel *t)
{
	if (t->probe_rx)
		event_free(t->probe_rx);
	if (t->probe_timer)
		event_free(t->probe_timer);
	t->probe_rx = t->probe_timer = NULL;
	if (t->probe_fd >= 0)
		close(t->probe_fd);
	t->probe_fd = -1;
	t->probe_error[0] = '\0';
}

bool tunnel_probe_up(const struct tunnel *t)
{
	return t->probe_fd >= 0 && t->probe.verdict == PROBE_UP;
}

void tunnel_probe_json(const struct tunnel *t, json_t *o, uint64_t now)
{
	char target[INET_ADDRSTRLEN];
	const struct probe_state *s = &t->probe;
	bool running = t->probe_fd >= 0;

	if (!t->cfg->static_probe)
		return;
	target_str(t, target, sizeof(target));
	json_object_set_new(o, "probe_target", json_string(target));
	json_object_set_new(o, "probe_state", json_string(running ? probe_verdict_name(s->verdict) : "off"));
	json_object_set_new(o, "probe_last_answer_ago",
			    running && s->last_answer_ms ? json_integer((json_int_t)((now - s->last_answer_ms) / 1000))
							 : json_null());
	json_object_set_new(o, "probe_sent", json_integer(running ? (json_int_t)s->sent : 0));
	json_object_set_new(o, "probe_answered", json_integer(running ? (json_int_t)s->answered : 0));
	json_object_set_new(o, "probe_unanswered", json_integer(running ? (json_int_t)s->outstanding : 0));
	json_object_set_new(o, "probe_interval", json_integer((json_int_t)probe_interval(t->cfg)));
	json_object_set_new(o, "probe_count", json_integer((json_int_t)probe_count(t->cfg)));
	json_object_set_new(o, "probe_error", json_string(t->probe_error));
}
