/* SPDX-License-Identifier: MIT */
/*
 * Netlink helpers: the links, bridges and addresses the daemon sets up,
 * through libnl-route-3, plus TAP creation through /dev/net/tun.
 *
 * One struct nl_ctx wraps one NETLINK_ROUTE socket; it is used from the
 * control thread only.  Each call asks the kernel afresh (no caches kept
 * between calls), so what we see is never stale, at the price of a round
 * trip that set-up and reload can afford.  Every function returns 0 (or a
 * value) or negative errno; libnl's NLE_* codes are translated, and
 * nothing is logged.
 */
#include "daemon/nl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/socket.h>

struct nl_ctx {
	struct nl_sock *sk;
};

/* libnl error (negative NLE_*) to negative errno. */
static int nl_err_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_SUCCESS:
		return 0;
	case NLE_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	default:
		return -EIO;
	}
}

int nl_ctx_open(struct nl_ctx **ret)
{
	struct nl_ctx *n;
	int r;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->sk = nl_socket_alloc();
	if (!n->sk) {
		r = -ENOMEM;
		goto out_free;
	}
	r = nl_connect(n->sk, NETLINK_ROUTE);
	if (r < 0) {
		r = nl_err_errno(r);
		goto out_free_sock;
	}
	*ret = n;
	return 0;

out_free_sock:
	nl_socket_free(n->sk);
out_free:
	free(n);
	return r;
}

void nl_ctx_close(struct nl_ctx *n)
{
	if (!n)
		return;
	nl_socket_free(n->sk); /* closes it */
	free(n);
}

/* Fetch a link by name; -ENODEV if there is none.  Caller puts it. */
static int nl_link_lookup(struct nl_ctx *n, const char *ifname, struct rtnl_link **ret)
{
	int r;

	if (!ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	r = rtnl_link_get_kernel(n->sk, 0, ifname, ret);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return -ENODEV;
	return nl_err_errno(r);
}

/* Apply the changes in `change` to link `orig`. */
static int nl_link_apply(struct nl_ctx *n, struct rtnl_link *orig, struct rtnl_link *change)
{
	return nl_err_errno(rtnl_link_change(n->sk, orig, change, 0));
}

int nl_link_up(struct nl_ctx *n, const char *ifname)
{
	struct rtnl_link *link, *change;
	int r;

	r = nl_link_lookup(n, ifname, &link);
	if (r < 0)
		return r;
	if (rtnl_link_get_flags(link) & IFF_UP) {
		r = 0;
		goto out_put;
	}
	change = rtnl_link_alloc();
	if (!change) {
		r = -ENOMEM;
		goto out_put;
	}
	rtnl_link_set_flags(change, IFF_UP);
	r = nl_link_apply(n, link, change);
	rtnl_link_put(change);
out_put:
	rtnl_link_put(link);
	return r;
}

int nl_link_pin_address(struct nl_ctx *n, const char *ifname)
{
	struct rtnl_link *link, *change;
	struct nl_addr *addr;
	int r;

	r = nl_link_lookup(n, ifname, &link);
	if (r < 0)
		return r;
	addr = rtnl_link_get_addr(link);
	if (!addr) {
		r = -EADDRNOTAVAIL;
		goto out_put;
	}
	change = rtnl_link_alloc();
	if (!change) {
		r = -ENOMEM;
		goto out_put;
	}
	rtnl_link_set_addr(change, addr);
	r = nl_link_apply(n, link, change);
	rtnl_link_put(change);
out_put:
	rtnl_link_put(link);
	return r;
}

int nl_link_set_mtu(struct nl_ctx *n, const char *ifname, unsigned mtu)
{
	struct rtnl_link *link, *change;
	int r;

	r = nl_link_lookup(n, ifname, &link);
	if (r < 0)
		return r;
	if (rtnl_link_get_mtu(link) == mtu) {
		r = 0;
		goto out_put;
	}
	change = rtnl_link_alloc();
	if (!change) {
		r = -ENOMEM;
		goto out_put;
	}
	rtnl_link_set_mtu(change, mtu);
	r = nl_link_apply(n, link, change);
	rtnl_link_put(change);
out_put:
	rtnl_link_put(link);
	return r;
}

int nl_link_index(struct nl_ctx *n, const char *ifname)
{
	struct rtnl_link *link;
	int r;

	r = nl_link_lookup(n, ifname, &link);
	if (r < 0)
		return r;
	r = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return r;
}

int nl_link_mtu(struct nl_ctx *n, const char *ifname)
{
	struct rtnl_link *link;
	int r;

	r = nl_link_lookup(n, ifname, &link);
	if (r < 0)
		return r;
	r = (int)rtnl_link_get_mtu(link);
	rtnl_link_put(link);
	return r;
}

int nl_bridge_ensure(struct nl_ctx *n, const char *name, bool *ret_created)
{
	struct rtnl_link *link;
	bool created = false;
	int r;

	r = nl_link_lookup(n, name, &link);
	if (r == 0) {
		bool is_bridge = rtnl_link_is_bridge(link);

		rtnl_link_put(link);
		if (!is_bridge)
			return -EEXIST; /* the name is taken by something else */
	} else if (r == -ENODEV) {
		link = rtnl_link_bridge_alloc();
		if (!link)
			return -ENOMEM;
		rtnl_link_set_name(link, name);
		r = nl_err_errno(rtnl_link_add(n->sk, link, NLM_F_CREATE | NLM_F_EXCL));
		rtnl_link_put(link);
		if (r < 0)
			return r;
		created = true;
	} else {
		return r;
	}
	r = nl_link_up(n, name);
	if (r < 0)
		return r;
	if (ret_created)
		*ret_created = created;
	return 0;
}

/* Send msg (freed) and wait for the kernel's acknowledgement. */
static int nl_send_ack(struct nl_ctx *n, struct nl_msg *msg)
{
	int r = nl_send_auto(n->sk, msg);

	nlmsg_free(msg);
	if (r < 0)
		return nl_err_errno(r);
	return nl_err_errno(nl_wait_for_ack(n->sk));
}

/* An RTM_* link message for ifindex (0: none) with its struct ifinfomsg; NULL if out of memory. */
static struct nl_msg *nl_link_msg(int type, int ifindex, unsigned flags, unsigned change)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = flags,
				 .ifi_change = change };
	struct nl_msg *msg = nlmsg_alloc_simple(type, 0);

	if (msg && nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

int nl_port_release(struct nl_ctx *n, const char *port)
{
	int ifindex = (int)if_nametoindex(port);
	struct nl_msg *msg;

	if (!ifindex)
		return -ENODEV;
	msg = nl_link_msg(RTM_SETLINK, ifindex, 0, IFF_UP); /* down */
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, IFLA_MASTER, 0) < 0) { /* no master */
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return nl_send_ack(n, msg);
}

static uint64_t nl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A link group (IFLA_GROUP) that no link in the namespace is in, or 0. */
static uint32_t nl_free_group(struct nl_ctx *n)
{
	struct nl_cache *cache;
	struct nl_object *o;
	uint32_t g = 0x4c325450; /* "L2TP": any value not in use will do */
	bool used = true;

	if (rtnl_link_alloc_cache(n->sk, AF_UNSPEC, &cache) < 0)
		return 0;
	for (unsigned tries = 0; tries < 64; tries++, g++) {
		used = false;
		for (o = nl_cache_get_first(cache); o && !used; o = nl_cache_get_next(o))
			used = rtnl_link_get_group((struct rtnl_link *)o) == g;
		if (!used)
			break;
	}
	nl_cache_free(cache);
	return used ? 0 : g;
}

/* Messages sent ahead of their acknowledgements (nl_links_delete): the
 * acks of a window fit the socket's default receive buffer. */
#define NL_WINDOW 64

int nl_links_delete(struct nl_ctx *n, const char *const *names, size_t count, struct nl_delete_times *times)
{
	struct nl_msg *msg;
	uint32_t g;
	int r, deleted = 0, err = 0;
	size_t i = 0;

	if (times)
		memset(times, 0, sizeof(*times));
	if (!count)
		return 0;
	g = nl_free_group(n);
	if (!g)
		return -EBUSY;
	/* each link to group g: a window of requests, then their acks (one
	 * round trip per window, not per link: on a loaded machine the wait
	 * for each answer is what costs) */
	while (i < count && !err) {
		size_t sent = 0;

		for (; i < count && sent < NL_WINDOW; i++) {
			int ifindex = (int)if_nametoindex(names[i]);

			if (!ifindex)
				continue; /* gone already */
			msg = nl_link_msg(RTM_SETLINK, ifindex, 0, 0);
			if (!msg || nla_put_u32(msg, IFLA_GROUP, g) < 0) {
				nlmsg_free(msg);
				err = -ENOMEM;
				break;
			}
			r = nl_send_auto(n->sk, msg);
			nlmsg_free(msg);
			if (r < 0) {
				err = nl_err_errno(r);
				break;
			}
			sent++;
		}
		for (; sent > 0; sent--) {
			r = nl_err_errno(nl_wait_for_ack(n->sk));
			if (r == 0)
				deleted++;
			else if (r != -ENODEV && !err)
				err = r;
		}
	}
	if (times)
		times->group_ms = nl_now_ms();
	if (!deleted)
		return err;
	msg = nl_link_msg(RTM_DELLINK, 0, 0, 0);
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, IFLA_GROUP, g) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	r = nl_send_ack(n, msg);
	if (times)
		times->delete_ms = nl_now_ms();
	return r < 0 ? r : err < 0 ? err : deleted;
}

int nl_bridge_add_port(struct nl_ctx *n, const char *bridge, const char *port)
{
	struct rtnl_link *br, *pt;
	int r;

	r = nl_link_lookup(n, bridge, &br);
	if (r < 0)
		return r;
	r = nl_link_lookup(n, port, &pt);
	if (r < 0)
		goto out_put_br;
	if (!rtnl_link_is_bridge(br)) {
		r = -ENOTSUP;
		goto out_put_pt;
	}
	if (rtnl_link_get_master(pt) != rtnl_link_get_ifindex(br)) {
		/* sets IFLA_MASTER and checks that it stuck */
		r = nl_err_errno(rtnl_link_enslave(n->sk, br, pt));
		if (r < 0)
			goto out_put_pt;
	}
	r = nl_link_up(n, port);
out_put_pt:
	rtnl_link_put(pt);
out_put_br:
	rtnl_link_put(br);
	return r;
}

/* Is addr (family, bytes alen) already on ifindex?  1, 0 or negative errno. */
static int nl_addr_present(struct nl_ctx *n, int ifindex, int family, const void *addr, size_t alen)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int found = 0, r;

	r = rtnl_addr_alloc_cache(n->sk, &cache);
	if (r < 0)
		return nl_err_errno(r);
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		struct rtnl_addr *a = (struct rtnl_addr *)obj;
		struct nl_addr *local = rtnl_addr_get_local(a);

		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != family || !local)
			continue;
		if (nl_addr_get_len(local) == alen && memcmp(nl_addr_get_binary_addr(local), addr, alen) == 0) {
			found = 1;
			break;
		}
	}
	nl_cache_free(cache);
	return found;
}

int nl_addr_ensure(struct nl_ctx *n, const char *ifname, int family, const void *addr, unsigned prefixlen)
{
	struct rtnl_addr *ra;
	struct nl_addr *local;
	size_t alen;
	int ifindex, r;

	if (family == AF_INET)
		alen = 4;
	else if (family == AF_INET6)
		alen = 16;
	else
		return -EAFNOSUPPORT;
	if (prefixlen > alen * 8)
		return -EINVAL;
	ifindex = nl_link_index(n, ifname);
	if (ifindex < 0)
		return ifindex;
	/* present with any prefix length counts: we do not renumber */
	r = nl_addr_present(n, ifindex, family, addr, alen);
	if (r != 0)
		return r < 0 ? r : 0;

	local = nl_addr_build(family, addr, alen);
	if (!local)
		return -ENOMEM;
	nl_addr_set_prefixlen(local, (int)prefixlen);
	ra = rtnl_addr_alloc();
	if (!ra) {
		r = -ENOMEM;
		goto out_put_local;
	}
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, family);
	r = nl_err_errno(rtnl_addr_set_local(ra, local));
	if (r < 0)
		goto out_put_addr;
	rtnl_addr_set_prefixlen(ra, (int)prefixlen);
	r = nl_err_errno(rtnl_addr_add(n->sk, ra, 0));
	if (r == -EEXIST)
		r = 0; /* raced with someone adding it */
out_put_addr:
	rtnl_addr_put(ra);
out_put_local:
	nl_addr_put(local);
	return r;
}

static bool tap_mq;

void tap_set_multi_queue(bool on)
{
	tap_mq = on;
}

int tap_open(const char *name, bool *ret_created)
{
	struct ifreq ifr;
	bool existed;
	int fd, r;

	if (!name || !name[0] || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	existed = if_nametoindex(name) != 0;
	/* non-blocking (the data thread never waits) and close-on-exec */
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* IFF_VNET_HDR: the data path turns on TSO/checksum offloads (dp.c);
	 * a kernel that refuses it gets a plain TAP.  IFF_MULTI_QUEUE with
	 * several data threads (`dataplane threads`): dp opens one queue per
	 * thread; an existing single-queue TAP stays one. */
	static const short try[] = {
		IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE,
		IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
		IFF_TAP | IFF_NO_PI,
	};
	r = -EINVAL;
	for (size_t i = tap_mq ? 0 : 1; i < sizeof(try) / sizeof(try[0]); i++) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = try[i];
		memcpy(ifr.ifr_name, name, strlen(name));
		if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
			r = 0;
			break;
		}
		r = -errno;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	/* not TUNSETPERSIST: the interface goes away with the fd */
	if (ret_created)
		*ret_created = !existed;
	return fd;
}

void tap_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
