/* SPDX-License-Identifier: MIT */
/*
 * The maps shared by the fast path's eBPF programs (fastpath.bpf.c) and
 * their loader (fastpath.c).  Addresses and ports in network order.
 */
#ifndef L2TP_FASTPATH_MAPS_H
#define L2TP_FASTPATH_MAPS_H

#include <linux/types.h>

#define FP_MAX_SLOTS 16384
#define FP_HDR_MAX 20 /* L2TPv3 data header over UDP: 8 + cookie 8 + L2SS 4 */

/* fp_tx_map: TAP ifindex -> how to send what its bridge hands it. */
struct fp_tx {
	__u32 slot;
	__u32 saddr, daddr;
	__u16 sport, dport;
	__u32 wan_ifindex;
	__u16 max_frame; /* longest Ethernet frame (segment) that fits unfragmented */
	__u8 hdr_len;	 /* bytes of hdr used */
	__u8 clamp_mss;	 /* TCP SYNs go to the data thread */
	__u8 hdr[FP_HDR_MAX];
};

/* fp_rx_map: our Session ID (host order) -> where its frames go. */
struct fp_rx {
	__u32 slot;
	__u32 tap_ifindex;
	__u32 daddr; /* our address, 0 = any */
	__u16 dport; /* our port */
	__u8 hdr_len; /* 8 + cookie + L2SS */
	__u8 cookie_len;
	__u8 cookie[8];
	__u8 clamp_mss;
	__u8 pad[3];
};


/* fp_conf_map (array of one): the private veth pair through which fp_rx
 * sends what it decapsulated, so that GRO coalesces it (0 = none: straight
 * into the TAP). */
struct fp_conf {
	__u32 gro_ifindex;
};

/* fp_slot_map (array, by slot): the TAP of the session in that slot (0 =
 * free), for fp_gro, which finds the slot in the frame's 802.1ad tag. */

/* fp_stats_map (per CPU), indexed by slot. */
struct fp_counters {
	__u64 rx_packets, rx_octets, tx_packets, tx_octets;
	__u64 last_rx_ns;
};

/* One slot's counters as a lookup in fp_stats_map gives them, one entry a
 * CPU (percpu[0..ncpus)), summed into *ret: counts added, last_rx_ns the
 * latest.  For user space; the programs never call it. */
static inline void fp_counters_sum(const struct fp_counters *percpu, int ncpus, struct fp_counters *ret)
{
	struct fp_counters sum = { 0 };

	for (int i = 0; i < ncpus; i++) {
		sum.rx_packets += percpu[i].rx_packets;
		sum.rx_octets += percpu[i].rx_octets;
		sum.tx_packets += percpu[i].tx_packets;
		sum.tx_octets += percpu[i].tx_octets;
		if (percpu[i].last_rx_ns > sum.last_rx_ns)
			sum.last_rx_ns = percpu[i].last_rx_ns;
	}
	*ret = sum;
}

#endif
