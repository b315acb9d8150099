/* SPDX-License-Identifier: MIT */
/*
 * The XFRM block policies of xfrmblock.h, over a NETLINK_XFRM socket opened
 * per call (they change when an SA first comes up or a tunnel goes, not per
 * packet).
 */
#include "daemon/xfrmblock.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Our three policies: L2TP from our port to the peer (out), from the
 * peer's port to us (in), and the ICMP "port unreachable" our kernel sends
 * the peer when nothing listens on our port (a daemon killed while ESP
 * still arrives): it quotes the start of the decrypted L2TP packet, and
 * charon's udp/1701 policy does not cover ICMP. */
enum which { OUT_L2TP, IN_L2TP, OUT_UNREACH, N_WHICH };

static const uint8_t which_dir[N_WHICH] = { XFRM_POLICY_OUT, XFRM_POLICY_IN, XFRM_POLICY_OUT };

/* The selector of one policy: any address on our side, any port on the
 * other, so that it never equals one of charon's (which name both hosts),
 * and deleting ours never deletes one of them.  An ICMP selector's ports
 * are the type and the code. */
static int selector(struct xfrm_selector *sel, const struct sockaddr_storage *peer, unsigned port, enum which w)
{
	xfrm_address_t a;
	unsigned plen;

	memset(sel, 0, sizeof(*sel));
	memset(&a, 0, sizeof(a));
	if (peer->ss_family == AF_INET) {
		memcpy(&a.a4, &((const struct sockaddr_in *)peer)->sin_addr, 4);
		plen = 32;
	} else if (peer->ss_family == AF_INET6) {
		memcpy(a.a6, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
		plen = 128;
	} else {
		return -EAFNOSUPPORT;
	}
	sel->family = peer->ss_family;
	sel->proto = IPPROTO_UDP;
	sel->sport = htons((uint16_t)port);
	sel->sport_mask = 0xffff;
	if (w == OUT_UNREACH) {
		bool v6 = peer->ss_family == AF_INET6;

		sel->proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		sel->sport = htons(v6 ? 1 : 3); /* destination unreachable */
		sel->dport = htons(v6 ? 4 : 3); /* port unreachable */
		sel->dport_mask = 0xffff;
	}
	if (which_dir[w] == XFRM_POLICY_OUT) {
		sel->daddr = a;
		sel->prefixlen_d = (uint8_t)plen;
	} else {
		sel->saddr = a;
		sel->prefixlen_s = (uint8_t)plen;
	}
	return 0;
}

/* Send one request and read its acknowledgement: 0 or -errno */
static int request(int fd, struct nlmsghdr *h)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr h;
		char buf[1024];
	} ans;
	ssize_t n;

	if (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, &ans, sizeof(ans), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((size_t)n < sizeof(struct nlmsghdr) || ans.h.nlmsg_seq != h->nlmsg_seq)
			continue;
		if (ans.h.nlmsg_type == NLMSG_ERROR && (size_t)n >= NLMSG_LENGTH(sizeof(struct nlmsgerr)))
			return ((struct nlmsgerr *)NLMSG_DATA(&ans.h))->error;
		return 0;
	}
}

static int open_xfrm(void)
{
	struct timeval tv = { .tv_sec = 1 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);

	if (fd < 0)
		return -errno;
	/* the kernel answers at once; never hang the loop on it */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int xfrmblock_add(const struct sockaddr_storage *peer, unsigned port)
{
	int fd, r = 0;

	if ((fd = open_xfrm()) < 0)
		return fd;
	for (enum which i = 0; i < N_WHICH && r == 0; i++) {
		struct {
			struct nlmsghdr h;
			struct xfrm_userpolicy_info p;
		} m;

		memset(&m, 0, sizeof(m));
		m.h.nlmsg_len = NLMSG_LENGTH(sizeof(m.p));
		m.h.nlmsg_type = XFRM_MSG_UPDPOLICY; /* added, or kept as it is */
		m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		m.h.nlmsg_seq = (uint32_t)i + 1;
		r = selector(&m.p.sel, peer, port, i);
		if (r)
			break;
		m.p.lft.soft_byte_limit = m.p.lft.hard_byte_limit = XFRM_INF;
		m.p.lft.soft_packet_limit = m.p.lft.hard_packet_limit = XFRM_INF;
		m.p.priority = XFRMBLOCK_PRIORITY;
		m.p.dir = which_dir[i];
		m.p.action = XFRM_POLICY_BLOCK;
		m.p.share = XFRM_SHARE_ANY;
		r = request(fd, &m.h);
	}
	close(fd);
	return r;
}

int xfrmblock_del(const struct sockaddr_storage *peer, unsigned port)
{
	int fd, r = 0;

	if ((fd = open_xfrm()) < 0)
		return fd;
	for (enum which i = 0; i < N_WHICH; i++) {
		struct {
			struct nlmsghdr h;
			struct xfrm_userpolicy_id id;
		} m;
		int e;

		memset(&m, 0, sizeof(m));
		m.h.nlmsg_len = NLMSG_LENGTH(sizeof(m.id));
		m.h.nlmsg_type = XFRM_MSG_DELPOLICY;
		m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		m.h.nlmsg_seq = (uint32_t)i + 1;
		e = selector(&m.id.sel, peer, port, i);
		if (e == 0) {
			m.id.dir = which_dir[i];
			e = request(fd, &m.h);
		}
		if (e && !r)
			r = e;
	}
	close(fd);
	return r;
}
