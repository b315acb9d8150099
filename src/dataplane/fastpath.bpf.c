// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/*
 * The kernel fast path's two tc programs (see fastpath.h for what they
 * take and what they leave to the data thread).  Built with
 * `clang -target bpf`; loaded by fastpath.c.  Every test that could go
 * either way ends in TC_ACT_OK before the packet is changed: the frame
 * then goes on as if no program were attached (to the TAP's reader, or up
 * the stack to our UDP socket) and the data thread handles it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fastpath_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct fp_tx);
} fp_tx_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct fp_rx);
} fp_rx_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_conf);
} fp_conf_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} fp_slot_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct fp_counters);
} fp_stats_map SEC(".maps");

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define TCP_SYN 0x02

/* Is the IPv4 or IPv6 packet at off a TCP SYN?  Sets *l34 to the length
 * of its IP and TCP headers when it is TCP (0 otherwise). */
static __always_inline int l4_info(struct __sk_buff *skb, __u32 off, __u16 proto, __u32 *l34, __u8 *l4)
{
	__u8 ip[40];
	__u8 tcp[14];
	__u32 iphl;

	*l34 = 0;
	*l4 = 0;
	if (proto == ETH_P_IP) {
		if (bpf_skb_load_bytes(skb, off, ip, 20))
			return -1;
		if ((ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
			return -1;
		iphl = (ip[0] & 0xf) * 4;
		*l4 = ip[9];
		/* a fragment's TCP header is not where it seems */
		if ((ip[6] << 8 | ip[7]) & (IP_MF | IP_OFFSET))
			return 0;
	} else if (proto == ETH_P_IPV6) {
		if (bpf_skb_load_bytes(skb, off, ip, 40))
			return -1;
		iphl = 40;
		*l4 = ip[6]; /* extension headers: not TCP as far as we know */
	} else {
		return 0;
	}
	if (*l4 != 6)
		return 0;
	if (bpf_skb_load_bytes(skb, off + iphl, tcp, sizeof(tcp)))
		return -1;
	*l34 = iphl + (tcp[12] >> 4) * 4;
	return tcp[13] & TCP_SYN;
}

static __always_inline __u16 csum_fold20(const __u8 *h)
{
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 20; i += 2)
		sum += (__u32)h[i] << 8 | h[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("tc")
int fp_tx(struct __sk_buff *skb)
{
	__u32 key = skb->ifindex;
	struct fp_tx *t = bpf_map_lookup_elem(&fp_tx_map, &key);
	struct fp_counters *c;
	__u8 eth[ETH_HLEN];
	__u8 oh[28]; /* outer IPv4 + UDP */
	__u32 l34, segs = 1, octets, hl, room, len, id, slot, mtu, max;
	__u16 proto, outer;
	__u8 l4;
	int syn;

	/* a VLAN tag the bridge keeps beside the frame (vlan_filtering)
	 * would not travel: the data thread puts it in */
	if (!t || skb->vlan_present)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, 0, eth, sizeof(eth)))
		return TC_ACT_OK;
	proto = (__u16)(eth[12] << 8 | eth[13]);
	/* bpf_skb_adjust_room works on IP packets only: ARP, VLAN tags and
	 * the rest go by the data thread */
	if ((proto != ETH_P_IP && proto != ETH_P_IPV6) || skb->protocol != bpf_htons(proto))
		return TC_ACT_OK;
	syn = l4_info(skb, ETH_HLEN, proto, &l34, &l4);
	if (syn < 0 || (syn && t->clamp_mss))
		return TC_ACT_OK;
	hl = t->hdr_len;
	if (hl < 8 || hl > FP_HDR_MAX)
		return TC_ACT_OK;
	/* the WAN's MTU now (it may have changed since the session began),
	 * and never more than the session was set up with */
	mtu = 1;
	if (bpf_check_mtu(skb, t->wan_ifindex, &mtu, 0, 0) < 0 || mtu < 28 + hl + ETH_HLEN)
		return TC_ACT_OK;
	max = mtu - 28 - hl;
	if (max > t->max_frame)
		max = t->max_frame;
	octets = skb->len;
	if (skb->gso_size) {
		/* a super-frame: only TCP, whose segments must each fit */
		if (l4 != 6 || !l34 || ETH_HLEN + l34 + skb->gso_size > max)
			return TC_ACT_OK;
		segs = skb->gso_segs;
		if (!segs) {
			__u32 payload = skb->len - ETH_HLEN - l34;
			segs = (payload + skb->gso_size - 1) / skb->gso_size;
		}
		octets = skb->len + (segs - 1) * (ETH_HLEN + l34);
	} else if (skb->len > max) {
		return TC_ACT_OK; /* the data thread lets the kernel fragment it */
	}
	room = 28 + hl + ETH_HLEN;
	if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
					BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
					BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN)))
		return TC_ACT_OK;

	/* a super-frame's lengths are set per segment where it is cut */
	len = skb->len - ETH_HLEN;
	outer = len > 0xffff ? 0xffff : (__u16)len;
	id = bpf_get_prandom_u32();
	oh[0] = 0x45;
	oh[1] = 0;
	oh[2] = outer >> 8;
	oh[3] = outer & 0xff;
	oh[4] = (id >> 8) & 0xff;
	oh[5] = id & 0xff;
	oh[6] = 0; /* no DF: as the data thread's socket (IP_PMTUDISC_DONT) */
	oh[7] = 0;
	oh[8] = 64;
	oh[9] = 17;
	oh[10] = 0;
	oh[11] = 0;
	__builtin_memcpy(&oh[12], &t->saddr, 4);
	__builtin_memcpy(&oh[16], &t->daddr, 4);
	__u16 ck = csum_fold20(oh);
	oh[10] = ck >> 8;
	oh[11] = ck & 0xff;
	__builtin_memcpy(&oh[20], &t->sport, 2);
	__builtin_memcpy(&oh[22], &t->dport, 2);
	len -= 20;
	outer = len > 0xffff ? 0xffff : (__u16)len;
	oh[24] = outer >> 8;
	oh[25] = outer & 0xff;
	oh[26] = 0; /* no UDP checksum over IPv4, as the kernel's L2TP and VXLAN */
	oh[27] = 0;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, oh, sizeof(oh), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 28, t->hdr, hl, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 28 + hl, eth, ETH_HLEN, 0))
		return TC_ACT_SHOT;
	eth[12] = ETH_P_IP >> 8;
	eth[13] = ETH_P_IP & 0xff;
	if (bpf_skb_store_bytes(skb, 12, &eth[12], 2, 0))
		return TC_ACT_SHOT;

	slot = t->slot;
	c = bpf_map_lookup_elem(&fp_stats_map, &slot);
	if (c) {
		c->tx_packets += segs;
		c->tx_octets += octets;
	}
	return bpf_redirect_neigh(t->wan_ifindex, NULL, 0, 0);
}

/* Count n frames of flen bytes in all received for slot. */
static __always_inline void count_rx(__u32 slot, __u32 n, __u32 flen)
{
	struct fp_counters *c = bpf_map_lookup_elem(&fp_stats_map, &slot);

	if (c) {
		c->rx_packets += n;
		c->rx_octets += flen;
		c->last_rx_ns = bpf_ktime_get_ns();
	}
}

SEC("tc")
int fp_rx(struct __sk_buff *skb)
{
	struct fp_rx *r;
	struct fp_conf *conf;
	__u32 zero;
	__u8 ip[20], uh[8], l2[8], ck[8], eth[ETH_HLEN];
	__u32 iphl, off, inner, flen, sid, l34, segs = 1;
	__u16 tot;
	__u8 l4;
	int syn;

	/* a tag of the WAN's own, or not for this host (the stack drops it;
	 * a promiscuous WAN sees such): not ours */
	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->vlan_present || skb->pkt_type != PACKET_HOST)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, ip, sizeof(ip)))
		return TC_ACT_OK;
	if (ip[0] >> 4 != 4 || (ip[0] & 0xf) < 5 || ip[9] != 17 || ((ip[6] << 8 | ip[7]) & (IP_MF | IP_OFFSET)))
		return TC_ACT_OK;
	iphl = (ip[0] & 0xf) * 4;
	tot = (__u16)(ip[2] << 8 | ip[3]);
	off = ETH_HLEN + iphl;
	if (bpf_skb_load_bytes(skb, off, uh, sizeof(uh)) || bpf_skb_load_bytes(skb, off + 8, l2, sizeof(l2)))
		return TC_ACT_OK;
	/* One datagram must fill its IP packet exactly, as the socket would
	 * read it (UDP drops a longer length; a shorter one ends the data).
	 * A super-packet (GSO: a link that let a fast path's super-frame
	 * through uncut, as between veths) has its lengths set where it is
	 * cut; only the kind that holds one L2TPv3 header before a TCP
	 * super-frame is ours, checked below. */
	if (!skb->gso_size &&
	    (ETH_HLEN + tot != skb->len || (__u32)(uh[4] << 8 | uh[5]) != (__u32)tot - iphl))
		return TC_ACT_OK;
	if ((l2[0] & 0x80) || (l2[1] & 0x0f) != 3)
		return TC_ACT_OK; /* control messages, or not L2TPv3 */
	sid = (__u32)l2[4] << 24 | (__u32)l2[5] << 16 | (__u32)l2[6] << 8 | l2[7];
	r = bpf_map_lookup_elem(&fp_rx_map, &sid);
	if (!r)
		return TC_ACT_OK;
	if (__builtin_memcmp(&uh[2], &r->dport, 2) != 0)
		return TC_ACT_OK;
	if (r->daddr && __builtin_memcmp(&ip[16], &r->daddr, 4) != 0)
		return TC_ACT_OK;
	/* a checksum nobody has checked yet: the socket checks it */
	if ((uh[6] | uh[7]) && bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) < 0)
		return TC_ACT_OK;
	if (r->cookie_len) {
		if (bpf_skb_load_bytes(skb, off + 16, ck, sizeof(ck)))
			return TC_ACT_OK;
		if (__builtin_memcmp(ck, r->cookie, 4) != 0)
			return TC_ACT_OK;
		if (r->cookie_len == 8 && __builtin_memcmp(&ck[4], &r->cookie[4], 4) != 0)
			return TC_ACT_OK;
	}
	if (r->hdr_len < 8 || r->hdr_len > FP_HDR_MAX)
		return TC_ACT_OK;
	inner = off + 8 + r->hdr_len;
	/* what adjust_room leaves must still look like an IP packet's length */
	if (skb->len < inner + ETH_HLEN + 20 || inner > 200)
		return TC_ACT_OK;
	flen = skb->len - inner;
	if (bpf_skb_load_bytes(skb, inner, eth, sizeof(eth)))
		return TC_ACT_OK;
	syn = l4_info(skb, inner + ETH_HLEN, (__u16)(eth[12] << 8 | eth[13]), &l34, &l4);
	if (syn < 0 || (syn && r->clamp_mss))
		return TC_ACT_OK;
	if (skb->gso_size) {
		/* Ours: one L2TPv3 header, then one TCP super-frame longer than
		 * a segment.  Datagrams a sender coalesced (UDP_SEGMENT: each
		 * with its own L2TPv3 header, the first frame no longer than a
		 * segment) go to the socket, which cuts them apart. */
		__u8 l3[6];
		__u32 ilen;

		if (l4 != 6 || !l34 || bpf_skb_load_bytes(skb, inner + ETH_HLEN, l3, sizeof(l3)))
			return TC_ACT_OK;
		if ((l3[0] >> 4) == 4)
			ilen = (__u32)(l3[2] << 8 | l3[3]);
		else
			ilen = 40 + (__u32)(l3[4] << 8 | l3[5]);
		if (ilen <= skb->gso_size || ilen <= l34)
			return TC_ACT_OK;
		/* counted as the segments it stands for */
		segs = (ilen - l34 + skb->gso_size - 1) / skb->gso_size;
		flen = ETH_HLEN + ilen + (segs - 1) * (ETH_HLEN + l34);
	}
	if (bpf_skb_store_bytes(skb, 0, eth, sizeof(eth), 0))
		return TC_ACT_OK;
	if (bpf_skb_adjust_room(skb, -(__s32)inner, BPF_ADJ_ROOM_MAC, skb->gso_size ? BPF_F_ADJ_ROOM_FIXED_GSO : 0))
		return TC_ACT_SHOT; /* its Ethernet header is already rewritten */

	count_rx(r->slot, segs, flen);
	/* TCP through the veth pair, where GRO coalesces a flow's segments,
	 * tagged with the session's slot for fp_gro; the rest (what GRO would
	 * not coalesce, and every frame when there is no pair) straight to
	 * the TAP: a flow always takes the same way */
	zero = 0;
	conf = bpf_map_lookup_elem(&fp_conf_map, &zero);
	if (l4 == 6 && l34 && conf && conf->gro_ifindex && r->slot < FP_MAX_SLOTS &&
	    bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021AD), (__u16)r->slot) == 0)
		return bpf_redirect(conf->gro_ifindex, 0);
	return bpf_redirect(r->tap_ifindex, BPF_F_INGRESS);
}

/*
 * The far end of the veth pair (tc ingress), after GRO: the tag fp_rx
 * pushed names the slot; the frame, untagged, goes into its TAP.  Nothing
 * else is expected here.
 */
SEC("tc")
int fp_gro(struct __sk_buff *skb)
{
	__u32 slot, *tap;

	if (!skb->vlan_present || skb->vlan_proto != bpf_htons(ETH_P_8021AD))
		return TC_ACT_SHOT;
	slot = skb->vlan_tci;
	tap = bpf_map_lookup_elem(&fp_slot_map, &slot);
	if (!tap || !*tap || bpf_skb_vlan_pop(skb))
		return TC_ACT_SHOT;
	return bpf_redirect(*tap, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
