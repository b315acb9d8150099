/* SPDX-License-Identifier: MIT */
/*
 * The kernel fast path: two eBPF tc programs (fastpath.bpf.c) that carry
 * the frames of L2TPv3-over-UDP sessions in the kernel, so that no data
 * thread has to wake up for them.
 *
 *   - fp_tx, on each session's TAP (tc egress: frames the bridge sends
 *     into the tunnel port): puts outer IPv4 + UDP + L2TPv3 headers in
 *     front of the frame and hands it to the WAN interface's neighbour
 *     output (bpf_redirect_neigh).  A TCP super-frame stays one packet and
 *     the kernel's UDP tunnel segmentation cuts it where it leaves.
 *   - fp_rx, on the WAN interface (tc ingress): takes a datagram for our
 *     port that carries a known Session ID and the right cookie, strips
 *     what is in front of the inner Ethernet frame and makes it arrive on
 *     the session's TAP as if the data thread had written it.
 *
 * Whatever a program does not recognise or is not sure of (ARP is fine;
 * but IP fragments, frames longer than the path allows, TCP SYNs when the
 * MSS is clamped, datagrams with a checksum the kernel has not checked,
 * unknown Session IDs, wrong cookies, coalesced reads) it leaves alone, and
 * it then reaches the data thread by the usual way: the fast path only ever
 * takes work away from the data thread, it never decides differently.
 *
 * This module loads the programs (built into the daemon), attaches them
 * and keeps their maps.  Calls come from one thread (the control thread);
 * fp_session_stats may be called from any.
 */
#ifndef L2TP_FASTPATH_H
#define L2TP_FASTPATH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fp;

/* What a session needs from the fast path (IPv4 outer only). */
struct fp_session_conf {
	uint32_t local_sid, remote_sid;
	uint8_t rx_cookie[8], tx_cookie[8];
	size_t rx_cookie_len, tx_cookie_len; /* 0, 4, 8 */
	bool rx_l2ss, tx_l2ss;		     /* Default L2SS without sequencing */
	int tap_ifindex;
	struct sockaddr_in peer;  /* where data goes */
	struct sockaddr_in local; /* our address (0.0.0.0: the route's) and port (never 0) */
	bool clamp_mss;		  /* TCP SYNs go to the data thread, which clamps them */
	void *owner;		  /* the caller's, for fp_refresh */
};

/* Counters the programs keep for one session (summed over CPUs). */
struct fp_stats {
	uint64_t rx_packets, rx_octets, tx_packets, tx_octets;
	uint64_t last_rx_ns; /* CLOCK_MONOTONIC ns of the last frame received, 0 if none */
};

/*
 * Load the programs and create their maps; handle (not 0) tags the tc
 * filters (the daemon's UDP port).  Returns 0 and *ret, or a
 * negative errno: -EOPNOTSUPP when built without the fast path, -EPERM
 * without CAP_BPF/CAP_NET_ADMIN, what the kernel said otherwise.
 */
int fp_open(uint32_t handle, struct fp **ret);
/* Detach everything and free; NULL-safe. */
void fp_close(struct fp *fp);
/* Whether this build has the fast path at all. */
bool fp_available(void);

/*
 * Hand a session to the fast path: finds the WAN interface and source
 * address toward the peer, attaches the programs (the TAP's egress; the WAN
 * interface's ingress once for all sessions) and fills the maps.  Returns 0
 * and its slot, or a negative errno; the session then simply stays with the
 * data thread.
 */
int fp_session_add(struct fp *fp, const struct fp_session_conf *conf, int *ret_slot);
/* The peer or our address changed (NAT rebinding): route again. */
int fp_session_set_peer(struct fp *fp, int slot, const struct sockaddr_in *peer, const struct sockaddr_in *local);
/*
 * For the sessions whose packets a NAT of this router's own rewrites: ask
 * conntrack again what address and port they have on the wire, and follow
 * it (the mapping may change without the peer or the socket moving: the
 * outside address renumbered, the entry flushed and made again).  One that
 * cannot be carried any more is handed to lost(owner, arg), which is to
 * take it back (fp_session_del).  Call it now and then (seconds).
 */
void fp_refresh(struct fp *fp, void (*lost)(void *owner, void *arg), void *arg);
/* Take the session back; its frames go to the data thread again. */
void fp_session_del(struct fp *fp, int slot);
/* What the programs counted for the session in slot, summed over the
 * CPUs: one map read, no allocation. */
void fp_session_stats(struct fp *fp, int slot, struct fp_stats *ret);

#endif
