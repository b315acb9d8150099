/* SPDX-License-Identifier: MIT */
/*
 * The UDP sockets' receive buffer, sized for the configured peers, and the
 * kernel's count of datagrams dropped on them.  A hub's branches can send
 * one control message each at the same moment (1,000 StopCCNs when a site
 * with many routers shuts down, 1,000 SCCRQs after a hub restart); the
 * kernel's default buffer (212 KiB) held about 900 such datagrams and
 * dropped the rest (71 RcvbufErrors in one burst of 1,000).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

/* what one queued control datagram costs (its skb's truesize, about
 * 1-2 KiB on veth and virtio; 4 KiB leaves room for data packets too) */
#define RCVBUF_PER_PEER 4096
#define RCVBUF_MIN (256 << 10)
#define RCVBUF_MAX (64 << 20)

static int rcvbuf_of(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l) < 0 ? -errno : v;
}

/* Grow fd's buffer to want bytes (as the kernel counts it: twice what is asked). */
static int rcvbuf_grow(int fd, int want)
{
	int half = want / 2;

	if (rcvbuf_of(fd) >= want)
		return rcvbuf_of(fd);
	/* beyond net.core.rmem_max needs CAP_NET_ADMIN */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof(half)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &half, sizeof(half));
	return rcvbuf_of(fd);
}

void daemon_udp_rcvbuf(struct daemon *d, unsigned peers)
{
	uint64_t w = (uint64_t)peers * RCVBUF_PER_PEER;
	int want = w < RCVBUF_MIN ? RCVBUF_MIN : w > RCVBUF_MAX ? RCVBUF_MAX : (int)w, got;

	if (d->udp_fd < 0)
		return;
	got = rcvbuf_grow(d->udp_fd, want);
	for (int i = 0; i < DAEMON_UDP_EXTRA; i++)
		if (d->udp_extra[i] >= 0)
			(void)rcvbuf_grow(d->udp_extra[i], want);
	if (got < 0)
		return;
	if (got < want)
		log_warnx("UDP receive buffer: %d KiB, %d KiB wanted for %u expected peers: the kernel caps it at "
			  "net.core.rmem_max without CAP_NET_ADMIN (run as root, or raise that sysctl); a burst of "
			  "control messages from many peers may overflow it (metric l2tpv3d_udp_socket_drops_total)",
			  got >> 10, want >> 10, peers);
	else if (got != d->udp_rcvbuf)
		log_info("UDP receive buffer: %d KiB for %u expected peers", got >> 10, peers);
	d->udp_rcvbuf = got;
}

/* SK_MEMINFO_DROPS of fd (sk_drops), 0 if the kernel cannot say */
static uint64_t sock_drops(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t l = sizeof(mem);

	memset(mem, 0, sizeof(mem));
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &l) < 0 || l <= SK_MEMINFO_DROPS * sizeof(mem[0]))
		return 0;
	return mem[SK_MEMINFO_DROPS];
}

/* The value of column `name` in the `prefix` lines of /proc/net/snmp
 * (a header line then a value line), or of the `name value` line of
 * /proc/net/snmp6 (prefix NULL). */
static uint64_t snmp_value(const char *path, const char *prefix, const char *name)
{
	char hdr[2048], val[2048], *hs = NULL, *vs = NULL, *h, *v;
	uint64_t ret = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(hdr, sizeof(hdr), f)) {
		if (!prefix) {
			char key[128];
			unsigned long long x;

			if (sscanf(hdr, "%127s %llu", key, &x) == 2 && !strcmp(key, name)) {
				ret = x;
				break;
			}
			continue;
		}
		if (strncmp(hdr, prefix, strlen(prefix)) || !fgets(val, sizeof(val), f))
			continue;
		h = strtok_r(hdr, " \n", &hs);
		v = strtok_r(val, " \n", &vs);
		while (h && v) {
			if (!strcmp(h, name)) {
				ret = strtoull(v, NULL, 10);
				break;
			}
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		break;
	}
	fclose(f);
	return ret;
}

void daemon_udp_drops(const struct daemon *d, struct daemon_udp_drops *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->rcvbuf = d->udp_rcvbuf > 0 ? (uint64_t)d->udp_rcvbuf : 0;
	ret->socket_drops = sock_drops(d->udp_fd);
	for (int i = 0; i < DAEMON_UDP_EXTRA; i++)
		ret->socket_drops += sock_drops(d->udp_extra[i]);
	ret->netns_rcvbuf_errors = snmp_value("/proc/net/snmp", "Udp:", "RcvbufErrors") +
				   snmp_value("/proc/net/snmp6", NULL, "Udp6RcvbufErrors");
}
