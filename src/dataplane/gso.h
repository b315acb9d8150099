/* SPDX-License-Identifier: MIT */
/*
 * Segmentation, coalescing, checksum and MSS helpers for the data path:
 * pure functions over Ethernet frames in memory, no I/O.
 *
 * A TAP opened with IFF_VNET_HDR hands us frames prefixed by a
 * struct virtio_net_hdr (here struct gso_vnet_hdr, host byte order as the
 * TAP uses it): up to 64 KB TCP (or UDP, with USO) super-frames that we cut
 * into MSS-sized segments (gso_parse, gso_segment), or frames whose
 * checksum the kernel left for us to finish (gso_csum_complete).  In the
 * other direction, consecutive TCP segments of one flow received from the
 * tunnel are coalesced back into one super-frame written with a GSO header
 * (struct gso_coal).  gso_mss_clamp rewrites the MSS option of TCP SYNs.
 *
 * Frames: Ethernet, at most one 802.1Q/802.1ad tag, IPv4 (no fragments) or
 * IPv6 (no extension headers), TCP or UDP.  Anything else is "not ours" and
 * is passed as is.
 */
#ifndef L2TP_GSO_H
#define L2TP_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* struct virtio_net_hdr, host byte order (TAP default on little-endian) */
struct gso_vnet_hdr {
	uint8_t flags;	   /* GSO_F_* */
	uint8_t gso_type;  /* GSO_TYPE_*, GSO_TYPE_ECN or'ed in */
	uint16_t hdr_len;  /* Ethernet + IP + L4 header bytes */
	uint16_t gso_size; /* payload bytes per segment */
	uint16_t csum_start;
	uint16_t csum_offset;
};

enum {
	GSO_VNET_HDR_LEN = 10,
	GSO_F_NEEDS_CSUM = 1,
	GSO_F_DATA_VALID = 2,
	GSO_TYPE_NONE = 0,
	GSO_TYPE_TCPV4 = 1,
	GSO_TYPE_TCPV6 = 4,
	GSO_TYPE_UDP_L4 = 5,
	GSO_TYPE_ECN = 0x80,
	GSO_COAL_MAX = 64,  /* segments in one coalesced frame */
	GSO_HDR_MAX = 18 + 60 + 60, /* Ethernet+tag, IP, L4 */
	GSO_MAX_FRAME = 65535 + 18, /* IP packet + Ethernet header */
};

/* A parsed super-frame. */
struct gso_super {
	size_t l3_off;	   /* IP header */
	size_t l4_off;	   /* TCP/UDP header */
	size_t hdr_len;	   /* payload starts here */
	size_t payload_len;
	size_t gso_size;   /* payload per segment */
	unsigned nsegs;
	uint8_t proto;	   /* IPPROTO_TCP or IPPROTO_UDP */
	bool ipv6;
};

/* Internet checksum helpers: 32-bit partial sum over len bytes added to
 * `sum`; fold to 16 bits (not complemented). */
uint32_t gso_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t gso_csum_fold(uint32_t sum);

/* Finish a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM):
 * sum from csum_start to the end, store the complement at
 * csum_start + csum_offset.  -EINVAL if the offsets lie outside the frame. */
int gso_csum_complete(uint8_t *frame, size_t len, size_t csum_start, size_t csum_offset);

/* Check a super-frame against its vnet header and fill *ret.  0, or
 * -EINVAL (malformed / inconsistent), -EPROTONOSUPPORT (not TCP/UDP over
 * IPv4/IPv6 as described above). */
int gso_parse(const uint8_t *frame, size_t len, const struct gso_vnet_hdr *vh, struct gso_super *ret);

/* Write segments first..first+count-1 of a parsed super-frame, segment i at
 * out + (i - first) * stride, each a complete Ethernet frame with correct
 * IP and L4 headers and checksums (IPv4 ID incremented per segment, TCP
 * sequence advanced, FIN/PSH only on the last segment, CWR only on the
 * first).  stride must be >= hdr_len + gso_size.  Returns the length of the
 * last segment written (the others are hdr_len + gso_size). */
size_t gso_segment(const uint8_t *frame, const struct gso_super *g, unsigned first, unsigned count,
		   uint8_t *out, size_t stride);

/* The same segments without copying their payloads (for scatter-gather
 * sendmsg): segment i's headers are written at
 * hdrs + (i - first) * hstride + pre (the pre bytes in front are the
 * caller's, e.g. an L2TP header), and iov[2k] = those pre + hdr_len bytes,
 * iov[2k+1] = the payload slice inside `frame`, which must stay valid
 * until the send.  hstride >= pre + hdr_len; iov has room for 2 * count.
 * Returns the number of segments written. */
unsigned gso_segment_iov(const uint8_t *frame, const struct gso_super *g, unsigned first, unsigned count,
			 uint8_t *hdrs, size_t hstride, size_t pre, struct iovec *iov);

/* Valid L4 checksum of a TCP frame (as gso_tcp_info found it). */
bool gso_tcp_csum_ok(const uint8_t *frame, size_t len);

/* Coalescing of consecutive TCP segments of one flow (RX direction). */
struct gso_coal {
	unsigned n;	     /* segments held; 0 = empty */
	bool closed;	     /* no more may follow (short segment, PSH) */
	bool psh;	     /* the last segment had PSH */
	bool ipv6;
	size_t l3_off, l4_off, hdr_len;
	size_t seg_size;     /* payload of the first segment */
	size_t payload;	     /* total payload */
	uint32_t next_seq;
	const uint8_t *first; /* first frame (headers are taken from it) */
	size_t first_len;
	uint8_t hdr[GSO_HDR_MAX]; /* rewritten headers, by gso_coal_finish */
	struct iovec iov[GSO_COAL_MAX + 2]; /* [vnet hdr][headers][payloads...] */
	struct gso_vnet_hdr vh;
};

/* Offer a frame to the coalescer.  Returns true if it was taken (the frame
 * memory must stay valid until gso_coal_finish); false if it cannot join
 * the frames held (the caller flushes them, then offers it again to the
 * empty coalescer; a frame that is refused by an empty coalescer is not
 * coalescable and is written alone). */
bool gso_coal_add(struct gso_coal *c, const uint8_t *frame, size_t len);
/* Build the frame held: returns the number of iovecs in c->iov (vnet
 * header first), 0 if empty.  With one segment the vnet header is all
 * zeros and the frame is unchanged.  Resets the coalescer. */
int gso_coal_finish(struct gso_coal *c);

/* A hash of the frame's flow (IP addresses, protocol and ports of TCP or
 * UDP over IPv4/IPv6, as gso_parse reads them) that is the same for both
 * directions and never 0; 0 for any other frame. */
uint32_t gso_flow_hash(const uint8_t *frame, size_t len);

/* MSS clamping: if the frame is a TCP SYN over IPv4 or IPv6 carrying an
 * MSS option above the limit for its family (mss4 / mss6; 0 = leave),
 * lower it and fix the TCP checksum incrementally.  Returns true if the
 * frame was changed.  A frame whose checksum the kernel left partial is
 * handled by the caller (complete it first). */
bool gso_mss_clamp(uint8_t *frame, size_t len, uint16_t mss4, uint16_t mss6);

#endif
