/* SPDX-License-Identifier: MIT */
/*
 * Loader of the kernel fast path (fastpath.h): opens the eBPF object
 * compiled from fastpath.bpf.c and built into the daemon, attaches its
 * programs with tc (clsact, direct action) and keeps its maps.
 *
 * Attachments carry a fixed priority and the handle given to fp_open (the
 * daemon's UDP port): a daemon restarted after a crash replaces its own
 * old filters instead of stacking a second set, and two daemons on other
 * ports in one namespace do not disturb each other.
 */
#include "dataplane/fastpath.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef L2TPV3D_FASTPATH
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/fastpath_maps.h"
#include "fastpath_obj.h" /* fp_obj[], fp_obj_len: the compiled fastpath.bpf.c */

#define FP_TC_PRIO 0xc17f
#define FP_MAX_WAN 16
#define FP_UDP_IP_HLEN 28

struct fp_wan {
	int ifindex;
	unsigned users;
};

struct fp_slot {
	bool used;
	bool nat; /* a NAT of this router's own rewrites its packets: see fp_nat */
	uint32_t sid;
	int tap_ifindex;
	int wan_ifindex; /* 0: none yet */
	struct sockaddr_in peer, local; /* as the socket sees them */
	void *owner;			/* the caller's, handed to fp_refresh's lost() */
	struct fp_tx tx;
	struct fp_rx rx;
};

struct fp {
	struct bpf_object *obj;
	int tx_prog, rx_prog, gro_prog;
	int tx_map, rx_map, stats_map, conf_map, slot_map;
	char gro_a[IF_NAMESIZE], gro_b[IF_NAMESIZE]; /* the veth pair, "" = none */
	uint32_t handle;
	int ncpus;
	/* one value of fp_stats_map (a slot's counters, ncpus of them), made
	 * once for every read and zeroing of one, which hold percpu_lock */
	struct fp_counters *percpu;
	pthread_mutex_t percpu_lock;
	struct fp_wan wan[FP_MAX_WAN];
	struct fp_slot *slots; /* FP_MAX_SLOTS */
};

static int fp_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || level == LIBBPF_INFO)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

bool fp_available(void)
{
	return true;
}

static int fp_attach(struct fp *fp, int ifindex, enum bpf_tc_attach_point where, int prog);

/*
 * One netlink round trip (NETLINK_ROUTE unless said): send req and read the
 * kernel's answer into buf.  Returns what its NLMSG_ERROR says (-errno, or 0
 * for an acknowledgement) with *ret_msg NULL, or 0 with *ret_msg at its
 * first message of type want; -EIO when it holds neither.
 */
/* A netlink socket of proto with req sent to the kernel on it: its fd, or
 * -errno.  strict: the kernel filters a dump by what req names
 * (NETLINK_GET_STRICT_CHK; where it cannot, the caller still checks). */
static int fp_nl_send(int proto, struct nlmsghdr *req, bool strict)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd, one = 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	if (strict)
		(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	req->nlmsg_flags |= NLM_F_REQUEST;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int fp_nl_call_proto(int proto, struct nlmsghdr *req, uint16_t want, void *buf, size_t cap,
			    struct nlmsghdr **ret_msg)
{
	ssize_t n;
	int fd, r = -EIO;

	*ret_msg = NULL;
	fd = fp_nl_send(proto, req, false);
	if (fd < 0)
		return fd;
	n = recv(fd, buf, cap, 0);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	for (struct nlmsghdr *nh = buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			r = ((const struct nlmsgerr *)NLMSG_DATA(nh))->error;
			break;
		}
		if (nh->nlmsg_type == want) {
			*ret_msg = nh;
			r = 0;
			break;
		}
	}
out:
	close(fd);
	return r;
}

static int fp_nl_call(struct nlmsghdr *req, uint16_t want, void *buf, size_t cap, struct nlmsghdr **ret_msg)
{
	return fp_nl_call_proto(NETLINK_ROUTE, req, want, buf, cap, ret_msg);
}

/* One rtnetlink request that changes something; returns the kernel's answer (0 or -errno). */
static int fp_nl_request(struct nlmsghdr *req)
{
	char buf[1024];
	struct nlmsghdr *msg;

	req->nlmsg_flags |= NLM_F_ACK;
	return fp_nl_call(req, NLMSG_ERROR, buf, sizeof(buf), &msg);
}

static struct rtattr *fp_nl_attr(struct nlmsghdr *nh, size_t cap, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > cap)
		return NULL;
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	nh->nlmsg_len = (uint32_t)(NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(a->rta_len));
	return a;
}

static void fp_nl_end(struct nlmsghdr *nh, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)nh + nh->nlmsg_len - (char *)nest);
}

/* A request of type and flags about a link, in buf (zeroed). */
static struct nlmsghdr *fp_nl_link_msg(uint32_t *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct ifinfomsg *ifi = NLMSG_DATA(nh);

	nh->nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	nh->nlmsg_type = type;
	nh->nlmsg_flags = flags;
	ifi->ifi_family = AF_UNSPEC;
	return nh;
}

static int fp_link_del(const char *name)
{
	uint32_t buf[64] = { 0 };
	struct nlmsghdr *nh = fp_nl_link_msg(buf, RTM_DELLINK, 0);

	fp_nl_attr(nh, sizeof(buf), IFLA_IFNAME, name, strlen(name) + 1);
	return fp_nl_request(nh);
}

/* A veth pair a <-> b, down. */
static int fp_veth_add(const char *a, const char *b)
{
	uint32_t buf[128] = { 0 };
	struct nlmsghdr *nh = fp_nl_link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct rtattr *info, *data, *peer;
	struct ifinfomsg pifi = { .ifi_family = AF_UNSPEC };

	fp_nl_attr(nh, sizeof(buf), IFLA_IFNAME, a, strlen(a) + 1);
	info = fp_nl_attr(nh, sizeof(buf), IFLA_LINKINFO, NULL, 0);
	fp_nl_attr(nh, sizeof(buf), IFLA_INFO_KIND, "veth", 4);
	data = fp_nl_attr(nh, sizeof(buf), IFLA_INFO_DATA, NULL, 0);
	peer = fp_nl_attr(nh, sizeof(buf), 1 /* VETH_INFO_PEER */, &pifi, sizeof(pifi));
	if (!info || !data || !peer || !fp_nl_attr(nh, sizeof(buf), IFLA_IFNAME, b, strlen(b) + 1))
		return -ENOSPC;
	fp_nl_end(nh, peer);
	fp_nl_end(nh, data);
	fp_nl_end(nh, info);
	return fp_nl_request(nh);
}

static int fp_sysfs_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (fputs(value, f) < 0)
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

/*
 * Bring a link of the pair up; gro: turn GRO on (its receive side), else
 * TSO off (its send side): veth hands its peer's NAPI, where GRO runs, only
 * what a device without TSO sends.
 */
static int fp_link_up_gro(const char *name, bool gro)
{
	struct ifreq ifr = { 0 };
	struct ethtool_value ev = { .cmd = gro ? ETHTOOL_SGRO : ETHTOOL_STSO, .data = gro };
	char path[96];
	int fd, r = 0;

	/* a plumbing link: no addresses, nothing sent of its own */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	(void)fp_sysfs_write(path, "1");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		r = -errno;
	if (r == 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	} else if (r == 0) {
		r = -errno;
	}
	close(fd);
	return r;
}

/*
 * The private veth pair fp_rx sends decapsulated frames through: GRO on
 * its far end coalesces each flow's segments, as it does for VXLAN at the
 * WAN interface, so the bridge and the LAN get one packet per 64 KB
 * instead of one per segment.  Named after the handle (our port); a pair
 * left by a killed daemon is replaced.  Without it (no veth, no GRO),
 * fp_rx sends frames straight into the TAPs.
 */
static void fp_gro_setup(struct fp *fp)
{
	struct fp_conf conf = { 0 };
	uint32_t key = 0;
	int ia, ib;

	snprintf(fp->gro_a, sizeof(fp->gro_a), "l2fp%ua", fp->handle);
	snprintf(fp->gro_b, sizeof(fp->gro_b), "l2fp%ub", fp->handle);
	(void)fp_link_del(fp->gro_a);
	if (fp_veth_add(fp->gro_a, fp->gro_b) < 0)
		goto none;
	ia = (int)if_nametoindex(fp->gro_a);
	ib = (int)if_nametoindex(fp->gro_b);
	if (ia <= 0 || ib <= 0 || fp_link_up_gro(fp->gro_b, true) < 0 || fp_link_up_gro(fp->gro_a, false) < 0 ||
	    fp_attach(fp, ib, BPF_TC_INGRESS, fp->gro_prog) < 0)
		goto del;
	conf.gro_ifindex = (uint32_t)ia;
	if (bpf_map_update_elem(fp->conf_map, &key, &conf, BPF_ANY) == 0)
		return;
del:
	(void)fp_link_del(fp->gro_a);
none:
	fp->gro_a[0] = fp->gro_b[0] = '\0';
}

int fp_open(uint32_t handle, struct fp **ret)
{
	struct fp *fp;
	int r;

	if (!handle)
		return -EINVAL;
	libbpf_set_print(fp_print);
	fp = calloc(1, sizeof(*fp));
	if (!fp)
		return -ENOMEM;
	pthread_mutex_init(&fp->percpu_lock, NULL);
	fp->slots = calloc(FP_MAX_SLOTS, sizeof(*fp->slots));
	fp->ncpus = libbpf_num_possible_cpus();
	if (fp->ncpus > 0)
		fp->percpu = calloc((size_t)fp->ncpus, sizeof(*fp->percpu));
	if (!fp->slots || !fp->percpu) {
		r = fp->ncpus < 0 ? fp->ncpus : -ENOMEM;
		goto fail;
	}
	fp->handle = handle;
	fp->obj = bpf_object__open_mem(fp_obj, fp_obj_len, NULL);
	if (!fp->obj) {
		r = -errno;
		goto fail;
	}
	r = bpf_object__load(fp->obj);
	if (r < 0)
		goto fail;
	fp->tx_prog = bpf_program__fd(bpf_object__find_program_by_name(fp->obj, "fp_tx"));
	fp->rx_prog = bpf_program__fd(bpf_object__find_program_by_name(fp->obj, "fp_rx"));
	fp->gro_prog = bpf_program__fd(bpf_object__find_program_by_name(fp->obj, "fp_gro"));
	fp->tx_map = bpf_object__find_map_fd_by_name(fp->obj, "fp_tx_map");
	fp->rx_map = bpf_object__find_map_fd_by_name(fp->obj, "fp_rx_map");
	fp->stats_map = bpf_object__find_map_fd_by_name(fp->obj, "fp_stats_map");
	fp->conf_map = bpf_object__find_map_fd_by_name(fp->obj, "fp_conf_map");
	fp->slot_map = bpf_object__find_map_fd_by_name(fp->obj, "fp_slot_map");
	if (fp->tx_prog < 0 || fp->rx_prog < 0 || fp->gro_prog < 0 || fp->conf_map < 0 || fp->slot_map < 0 || fp->tx_map < 0 || fp->rx_map < 0 || fp->stats_map < 0) {
		r = -ENOENT;
		goto fail;
	}
	fp_gro_setup(fp);
	*ret = fp;
	return 0;
fail:
	if (fp->obj)
		bpf_object__close(fp->obj);
	free(fp->percpu);
	free(fp->slots);
	pthread_mutex_destroy(&fp->percpu_lock);
	free(fp);
	return r;
}

static int fp_attach(struct fp *fp, int ifindex, enum bpf_tc_attach_point where, int prog)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog, .handle = fp->handle, .priority = FP_TC_PRIO,
		    .flags = BPF_TC_F_REPLACE);
	int r = bpf_tc_hook_create(&hook);

	if (r < 0 && r != -EEXIST)
		return r;
	return bpf_tc_attach(&hook, &opts);
}

static void fp_detach(struct fp *fp, int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = fp->handle, .priority = FP_TC_PRIO);

	(void)bpf_tc_detach(&hook, &opts);
}

static void fp_wan_put(struct fp *fp, int ifindex);

void fp_close(struct fp *fp)
{
	if (!fp)
		return;
	for (unsigned i = 0; i < FP_MAX_SLOTS; i++)
		if (fp->slots[i].used)
			fp_session_del(fp, (int)i);
	for (unsigned i = 0; i < FP_MAX_WAN; i++)
		if (fp->wan[i].users) {
			fp->wan[i].users = 1;
			fp_wan_put(fp, fp->wan[i].ifindex);
		}
	if (fp->gro_a[0])
		(void)fp_link_del(fp->gro_a);
	bpf_object__close(fp->obj);
	free(fp->percpu);
	free(fp->slots);
	pthread_mutex_destroy(&fp->percpu_lock);
	free(fp);
}

/*
 * The route toward peer (from local, if set): its interface and preferred
 * source address, as `ip route get` asks rtnetlink.
 */
static int fp_route(const struct sockaddr_in *peer, const struct sockaddr_in *local, int *ret_oif,
		    uint32_t *ret_src)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req = { 0 };
	char buf[4096];
	struct nlmsghdr *nh;
	struct rtmsg *rt;
	int len, r;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.rt.rtm_family = AF_INET;
	req.rt.rtm_dst_len = 32;
	fp_nl_attr(&req.nh, sizeof(req), RTA_DST, &peer->sin_addr, 4);
	if (local->sin_addr.s_addr != htonl(INADDR_ANY)) {
		req.rt.rtm_src_len = 32;
		fp_nl_attr(&req.nh, sizeof(req), RTA_SRC, &local->sin_addr, 4);
	}
	r = fp_nl_call(&req.nh, RTM_NEWROUTE, buf, sizeof(buf), &nh);
	if (r < 0)
		return r;
	if (!nh)
		return -ENETUNREACH;
	rt = NLMSG_DATA(nh);
	len = (int)RTM_PAYLOAD(nh);
	*ret_oif = 0;
	*ret_src = 0;
	for (struct rtattr *at = RTM_RTA(rt); RTA_OK(at, len); at = RTA_NEXT(at, len)) {
		if (at->rta_type == RTA_OIF)
			memcpy(ret_oif, RTA_DATA(at), 4);
		else if (at->rta_type == RTA_PREFSRC)
			memcpy(ret_src, RTA_DATA(at), 4);
	}
	if (rt->rtm_type != RTN_UNICAST || !*ret_oif)
		return -ENETUNREACH; /* local, blackhole, unreachable: not ours to send */
	return 0;
}

static int fp_mtu(int ifindex)
{
	struct ifreq ifr = { 0 };
	int fd, mtu = -ENODEV;

	if (!if_indextoname((unsigned)ifindex, ifr.ifr_name))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;
	else
		mtu = -errno;
	close(fd);
	return mtu;
}

static int fp_wan_get(struct fp *fp, int ifindex)
{
	int freei = -1, r;

	for (int i = 0; i < FP_MAX_WAN; i++) {
		if (fp->wan[i].users && fp->wan[i].ifindex == ifindex) {
			fp->wan[i].users++;
			return 0;
		}
		if (!fp->wan[i].users && freei < 0)
			freei = i;
	}
	if (freei < 0)
		return -ENOSPC;
	r = fp_attach(fp, ifindex, BPF_TC_INGRESS, fp->rx_prog);
	if (r < 0)
		return r;
	fp->wan[freei] = (struct fp_wan){ .ifindex = ifindex, .users = 1 };
	return 0;
}

static void fp_wan_put(struct fp *fp, int ifindex)
{
	for (int i = 0; i < FP_MAX_WAN; i++) {
		if (fp->wan[i].users && fp->wan[i].ifindex == ifindex) {
			if (--fp->wan[i].users == 0)
				fp_detach(fp, ifindex, BPF_TC_INGRESS);
			return;
		}
	}
}

/* Is addr (network order) one of ifindex's own IPv4 addresses? */
static bool fp_addr_on(uint32_t addr, int ifindex)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
	} req = { .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
			  .nlmsg_type = RTM_GETADDR,
			  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		  .ifa = { .ifa_family = AF_INET, .ifa_index = (uint32_t)ifindex } };
	char buf[8192];
	bool found = false, done = false;
	int fd;

	/* a dump of this interface's addresses only */
	fd = fp_nl_send(NETLINK_ROUTE, &req.nh, true);
	if (fd < 0)
		return false;
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			struct ifaddrmsg *ifa = NLMSG_DATA(nh);
			int len;

			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			if (nh->nlmsg_type != RTM_NEWADDR || ifa->ifa_index != (uint32_t)ifindex)
				continue;
			len = (int)IFA_PAYLOAD(nh);
			for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
				if (a->rta_type == IFA_LOCAL && RTA_PAYLOAD(a) == 4 && memcmp(RTA_DATA(a), &addr, 4) == 0)
					found = true;
		}
	}
	close(fd);
	return found;
}

/* A UDP flow's two ends, in network order. */
struct fp_flow {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

/* Read a conntrack tuple (CTA_TUPLE_ORIG/REPLY's content) into f. */
static void fp_ct_tuple(struct rtattr *t, struct fp_flow *f)
{
	int len = (int)RTA_PAYLOAD(t);

	for (struct rtattr *a = RTA_DATA(t); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		int l2 = (int)RTA_PAYLOAD(a);

		for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2)) {
			unsigned short ta = a->rta_type & NLA_TYPE_MASK, tb = b->rta_type & NLA_TYPE_MASK;

			if (ta == CTA_TUPLE_IP && tb == CTA_IP_V4_SRC && RTA_PAYLOAD(b) == 4)
				memcpy(&f->saddr, RTA_DATA(b), 4);
			else if (ta == CTA_TUPLE_IP && tb == CTA_IP_V4_DST && RTA_PAYLOAD(b) == 4)
				memcpy(&f->daddr, RTA_DATA(b), 4);
			else if (ta == CTA_TUPLE_PROTO && tb == CTA_PROTO_SRC_PORT && RTA_PAYLOAD(b) == 2)
				memcpy(&f->sport, RTA_DATA(b), 2);
			else if (ta == CTA_TUPLE_PROTO && tb == CTA_PROTO_DST_PORT && RTA_PAYLOAD(b) == 2)
				memcpy(&f->dport, RTA_DATA(b), 2);
		}
	}
}

/*
 * What a NAT of this router's own makes of the socket's flow f (the
 * reference scenario: the tunnel on an inside address that the router's
 * masquerade rewrites on the way out, and whose replies its static
 * mapping brings back): the conntrack entry of f, in either direction,
 * says the address and port the packets have on the wire, which the
 * programs then write themselves (their packets skip netfilter).  Returns
 * 0 and *wire, or -ENOENT when conntrack has no entry for f.
 */
static int fp_nat(const struct fp_flow *f, struct fp_flow *wire)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg nfg;
		char attrs[128];
	} req = { 0 };
	char buf[4096];
	struct nlmsghdr *nh;
	struct rtattr *tuple, *nest, *a;
	struct fp_flow orig = { 0 }, reply = { 0 };
	uint8_t udp = IPPROTO_UDP;
	int len, r;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
	req.nh.nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	req.nfg.nfgen_family = AF_INET;
	req.nfg.version = NFNETLINK_V0;
	tuple = fp_nl_attr(&req.nh, sizeof(req), CTA_TUPLE_ORIG | NLA_F_NESTED, NULL, 0);
	nest = fp_nl_attr(&req.nh, sizeof(req), CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
	fp_nl_attr(&req.nh, sizeof(req), CTA_IP_V4_SRC, &f->saddr, 4);
	fp_nl_attr(&req.nh, sizeof(req), CTA_IP_V4_DST, &f->daddr, 4);
	fp_nl_end(&req.nh, nest);
	nest = fp_nl_attr(&req.nh, sizeof(req), CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
	fp_nl_attr(&req.nh, sizeof(req), CTA_PROTO_NUM, &udp, 1);
	fp_nl_attr(&req.nh, sizeof(req), CTA_PROTO_SRC_PORT, &f->sport, 2);
	a = fp_nl_attr(&req.nh, sizeof(req), CTA_PROTO_DST_PORT, &f->dport, 2);
	if (!a)
		return -EMSGSIZE;
	fp_nl_end(&req.nh, nest);
	fp_nl_end(&req.nh, tuple);
	r = fp_nl_call_proto(NETLINK_NETFILTER, &req.nh, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, buf,
			     sizeof(buf), &nh);
	if (r < 0)
		return r;
	if (!nh)
		return -ENOENT;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg)));
	for (a = (struct rtattr *)((char *)NLMSG_DATA(nh) + NLMSG_ALIGN(sizeof(struct nfgenmsg))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if ((a->rta_type & NLA_TYPE_MASK) == CTA_TUPLE_ORIG)
			fp_ct_tuple(a, &orig);
		else if ((a->rta_type & NLA_TYPE_MASK) == CTA_TUPLE_REPLY)
			fp_ct_tuple(a, &reply);
	}
	/* our packets are f's direction; the other direction's tuple, turned
	 * round, is what they look like once translated */
	if (!memcmp(&orig, f, sizeof(*f)))
		*wire = (struct fp_flow){ reply.daddr, reply.saddr, reply.dport, reply.sport };
	else if (!memcmp(&reply, f, sizeof(*f)))
		*wire = (struct fp_flow){ orig.daddr, orig.saddr, orig.dport, orig.sport };
	else
		return -ENOENT;
	return 0;
}

/*
 * Where the session's data leaves: route, source address, room; and where
 * the peer's arrives (rx.daddr, rx.dport).  From an address of the
 * outgoing interface itself; or, when a NAT of this router's own rewrites
 * the tunnel's address (the reference scenario's `nat descriptor` routers,
 * whose tunnel is on an inside address), from the address and port that
 * NAT gives it (s->nat), as long as it is the outgoing interface's.  Else
 * -EADDRNOTAVAIL, and the session stays with the data thread.
 */
static int fp_tx_route(struct fp_slot *s, const struct sockaddr_in *peer, const struct sockaddr_in *local)
{
	struct fp_flow f, wire;
	int oif, mtu, r;
	uint32_t src;

	r = fp_route(peer, local, &oif, &src);
	if (r < 0)
		return r;
	if (local->sin_addr.s_addr != htonl(INADDR_ANY))
		src = local->sin_addr.s_addr;
	if (!src)
		return -EADDRNOTAVAIL;
	f = (struct fp_flow){ src, peer->sin_addr.s_addr, local->sin_port, peer->sin_port };
	wire = f;
	s->nat = false;
	if (!fp_addr_on(src, oif)) {
		r = fp_nat(&f, &wire);
		if (r < 0)
			return r == -ENOENT ? -ENOENT : -EADDRNOTAVAIL;
		if (!fp_addr_on(wire.saddr, oif))
			return -EADDRNOTAVAIL;
		s->nat = true;
	}
	mtu = fp_mtu(oif);
	if (mtu < 0)
		return mtu;
	if (mtu <= FP_UDP_IP_HLEN + s->tx.hdr_len + 14)
		return -EMSGSIZE;
	s->tx.saddr = wire.saddr;
	s->tx.daddr = wire.daddr;
	s->tx.sport = wire.sport;
	s->tx.dport = wire.dport;
	s->tx.wan_ifindex = (uint32_t)oif;
	s->tx.max_frame = (uint16_t)(mtu - FP_UDP_IP_HLEN - s->tx.hdr_len);
	/* what arrives: at our address (any, if the socket's is), or at the
	 * one the NAT gives us */
	s->rx.daddr = s->nat ? wire.saddr : local->sin_addr.s_addr;
	s->rx.dport = wire.sport;
	s->peer = *peer;
	s->local = *local;
	return oif;
}

/*
 * The one choice of how a session's TAP takes what fp_rx decapsulates.
 * With the veth pair, its TCP goes through the pair, where GRO makes the
 * frames few and large and the pair's poll keeps them in order: nothing to
 * do.  Without the pair, fp_rx hands every frame straight to the TAP: it
 * enters the per-CPU backlog of whichever CPU received its datagram, and
 * the WAN interface's poll moves between CPUs, so two CPUs would deliver
 * one flow's frames at once, out of order; receive packet steering on the
 * TAP keeps each flow on one CPU.
 */
static void fp_tap_rps(const struct fp *fp, int ifindex)
{
	char name[IF_NAMESIZE], path[128], mask[32];

	if (fp->gro_a[0] || !if_indextoname((unsigned)ifindex, name))
		return;
	if (fp->ncpus >= 64)
		snprintf(mask, sizeof(mask), "ffffffff,ffffffff");
	else
		snprintf(mask, sizeof(mask), "%llx", (1ull << fp->ncpus) - 1);
	for (int q = 0; q < 64; q++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%d/rps_cpus", name, q);
		if (fp_sysfs_write(path, mask) == -ENOENT)
			break; /* no more queues */
	}
}

static size_t fp_hdr(uint8_t *h, uint32_t sid, const uint8_t *cookie, size_t cookie_len, bool l2ss)
{
	size_t n = 8;

	memset(h, 0, FP_HDR_MAX);
	h[1] = 3; /* T=0, Ver=3 */
	h[4] = (uint8_t)(sid >> 24);
	h[5] = (uint8_t)(sid >> 16);
	h[6] = (uint8_t)(sid >> 8);
	h[7] = (uint8_t)sid;
	memcpy(h + n, cookie, cookie_len);
	n += cookie_len;
	if (l2ss)
		n += 4; /* Default L2SS, S=0: four zero bytes */
	return n;
}

int fp_session_add(struct fp *fp, const struct fp_session_conf *c, int *ret_slot)
{
	struct fp_slot *s = NULL;
	struct fp_rx *rx;
	uint32_t key;
	int slot = -1, oif, r;

	if (c->local_sid == 0 || c->tap_ifindex <= 0 || c->local.sin_port == 0 || c->rx_cookie_len > 8 ||
	    c->tx_cookie_len > 8 || c->peer.sin_family != AF_INET)
		return -EINVAL;
	for (int i = 0; i < FP_MAX_SLOTS; i++) {
		if (!fp->slots[i].used) {
			slot = i;
			break;
		}
	}
	if (slot < 0)
		return -ENOSPC;
	s = &fp->slots[slot];
	*s = (struct fp_slot){ .sid = c->local_sid, .tap_ifindex = c->tap_ifindex, .owner = c->owner };
	s->tx.slot = (uint32_t)slot;
	s->tx.clamp_mss = c->clamp_mss;
	s->tx.hdr_len = (uint8_t)fp_hdr(s->tx.hdr, c->remote_sid, c->tx_cookie, c->tx_cookie_len, c->tx_l2ss);
	oif = fp_tx_route(s, &c->peer, &c->local);
	if (oif < 0)
		return oif;

	rx = &s->rx; /* its daddr and dport: fp_tx_route's */
	rx->slot = (uint32_t)slot;
	rx->tap_ifindex = (uint32_t)c->tap_ifindex;
	rx->hdr_len = (uint8_t)(8 + c->rx_cookie_len + (c->rx_l2ss ? 4 : 0));
	rx->cookie_len = (uint8_t)c->rx_cookie_len;
	memcpy(rx->cookie, c->rx_cookie, c->rx_cookie_len);
	rx->clamp_mss = c->clamp_mss;

	key = (uint32_t)slot;
	pthread_mutex_lock(&fp->percpu_lock);
	memset(fp->percpu, 0, (size_t)fp->ncpus * sizeof(*fp->percpu));
	r = bpf_map_update_elem(fp->stats_map, &key, fp->percpu, BPF_ANY);
	pthread_mutex_unlock(&fp->percpu_lock);
	if (r < 0)
		return r;
	key = (uint32_t)slot;
	r = bpf_map_update_elem(fp->slot_map, &key, &c->tap_ifindex, BPF_ANY);
	if (r < 0)
		return r;
	r = fp_wan_get(fp, oif);
	if (r < 0)
		goto fail_slot;
	key = c->local_sid;
	r = bpf_map_update_elem(fp->rx_map, &key, rx, BPF_ANY);
	if (r < 0)
		goto fail_wan;
	key = (uint32_t)c->tap_ifindex;
	r = bpf_map_update_elem(fp->tx_map, &key, &s->tx, BPF_ANY);
	if (r < 0)
		goto fail_rx;
	r = fp_attach(fp, c->tap_ifindex, BPF_TC_EGRESS, fp->tx_prog);
	if (r < 0)
		goto fail_tx;
	fp_tap_rps(fp, c->tap_ifindex);
	s->used = true;
	s->wan_ifindex = oif;
	*ret_slot = slot;
	return 0;

fail_tx:
	key = (uint32_t)c->tap_ifindex;
	(void)bpf_map_delete_elem(fp->tx_map, &key);
fail_rx:
	key = c->local_sid;
	(void)bpf_map_delete_elem(fp->rx_map, &key);
fail_wan:
	fp_wan_put(fp, oif);
fail_slot:
	key = (uint32_t)slot;
	(void)bpf_map_update_elem(fp->slot_map, &key, &(uint32_t){ 0 }, BPF_ANY);
	return r;
}

int fp_session_set_peer(struct fp *fp, int slot, const struct sockaddr_in *peer, const struct sockaddr_in *local)
{
	struct fp_slot *s;
	struct fp_slot next;
	uint32_t key;
	int oif, r;

	if (slot < 0 || slot >= FP_MAX_SLOTS || !fp->slots[slot].used)
		return -ENOENT;
	s = &fp->slots[slot];
	next = *s;
	oif = fp_tx_route(&next, peer, local);
	if (oif < 0)
		return oif;
	if (oif != s->wan_ifindex) {
		r = fp_wan_get(fp, oif);
		if (r < 0)
			return r;
	}
	/* where the peer's frames arrive first, then where ours leave from:
	 * for a moment both ways may be taken (the old and the new address) */
	key = s->sid;
	r = 0;
	if (memcmp(&next.rx, &s->rx, sizeof(next.rx)) != 0)
		r = bpf_map_update_elem(fp->rx_map, &key, &next.rx, BPF_ANY);
	key = (uint32_t)s->tap_ifindex;
	if (r == 0 && memcmp(&next.tx, &s->tx, sizeof(next.tx)) != 0)
		r = bpf_map_update_elem(fp->tx_map, &key, &next.tx, BPF_ANY);
	if (r < 0) {
		key = s->sid;
		(void)bpf_map_update_elem(fp->rx_map, &key, &s->rx, BPF_ANY);
		if (oif != s->wan_ifindex)
			fp_wan_put(fp, oif);
		return r;
	}
	if (oif != s->wan_ifindex)
		fp_wan_put(fp, s->wan_ifindex);
	next.wan_ifindex = oif;
	*s = next;
	return 0;
}

void fp_refresh(struct fp *fp, void (*lost)(void *owner, void *arg), void *arg)
{
	if (!fp)
		return;
	for (int i = 0; i < FP_MAX_SLOTS; i++) {
		struct fp_slot *s = &fp->slots[i];
		struct sockaddr_in peer, local;
		int r;

		if (!s->used || !s->nat)
			continue;
		peer = s->peer;
		local = s->local;
		r = fp_session_set_peer(fp, i, &peer, &local);
		/* no entry (flushed, not yet made again by our next control
		 * message): keep what was, ask again next time */
		if (r < 0 && r != -ENOENT && lost)
			lost(s->owner, arg);
	}
}

void fp_session_del(struct fp *fp, int slot)
{
	struct fp_slot *s;
	uint32_t key;

	if (!fp || slot < 0 || slot >= FP_MAX_SLOTS || !fp->slots[slot].used)
		return;
	s = &fp->slots[slot];
	/* the programs stop taking its frames before the TAP loses them */
	key = (uint32_t)s->tap_ifindex;
	(void)bpf_map_delete_elem(fp->tx_map, &key);
	key = s->sid;
	(void)bpf_map_delete_elem(fp->rx_map, &key);
	key = (uint32_t)slot;
	(void)bpf_map_update_elem(fp->slot_map, &key, &(uint32_t){ 0 }, BPF_ANY);
	fp_detach(fp, s->tap_ifindex, BPF_TC_EGRESS);
	fp_wan_put(fp, s->wan_ifindex);
	s->used = false;
}

void fp_session_stats(struct fp *fp, int slot, struct fp_stats *ret)
{
	struct fp_counters sum = { 0 };
	uint32_t key = (uint32_t)slot;

	if (fp && slot >= 0 && slot < FP_MAX_SLOTS) {
		pthread_mutex_lock(&fp->percpu_lock);
		if (bpf_map_lookup_elem(fp->stats_map, &key, fp->percpu) == 0)
			fp_counters_sum(fp->percpu, fp->ncpus, &sum);
		pthread_mutex_unlock(&fp->percpu_lock);
	}
	*ret = (struct fp_stats){ .rx_packets = sum.rx_packets,
				  .rx_octets = sum.rx_octets,
				  .tx_packets = sum.tx_packets,
				  .tx_octets = sum.tx_octets,
				  .last_rx_ns = sum.last_rx_ns };
}

#else /* !L2TPV3D_FASTPATH */

bool fp_available(void)
{
	return false;
}

int fp_open(uint32_t handle, struct fp **ret)
{
	(void)handle;
	(void)ret;
	return -EOPNOTSUPP;
}

void fp_close(struct fp *fp)
{
	(void)fp;
}

int fp_session_add(struct fp *fp, const struct fp_session_conf *conf, int *ret_slot)
{
	(void)fp;
	(void)conf;
	(void)ret_slot;
	return -EOPNOTSUPP;
}

int fp_session_set_peer(struct fp *fp, int slot, const struct sockaddr_in *peer, const struct sockaddr_in *local)
{
	(void)fp;
	(void)slot;
	(void)peer;
	(void)local;
	return -EOPNOTSUPP;
}

void fp_refresh(struct fp *fp, void (*lost)(void *owner, void *arg), void *arg)
{
	(void)fp;
	(void)lost;
	(void)arg;
}

void fp_session_del(struct fp *fp, int slot)
{
	(void)fp;
	(void)slot;
}

void fp_session_stats(struct fp *fp, int slot, struct fp_stats *ret)
{
	(void)fp;
	(void)slot;
	*ret = (struct fp_stats){ 0 };
}

#endif
