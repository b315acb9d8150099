/* SPDX-License-Identifier: MIT */
/*
 * A tunnel's IPsec settings (struct cfg_ipsec, from RTX lines) as the
 * strongSwan connection that carries it: the VICI messages load-conn,
 * load-shared, initiate and unload-conn (swanctl.conf terms).  Pure.
 *
 * Connection "l2tpv3d-tN" for tunnel N; IKE version, aggressive mode,
 * proposals, identities and addresses from the gateway; a transport-mode
 * child "l2tp" on dynamic[udp/1701] both ways.  A responder (`ipsec ike
 * remote address GW any`) also gets a child "l2tp-host" on host-to-host
 * selectors: IKEv1 has no narrowing and strongSwan picks the child whose
 * selectors equal the proposal (peer_cfg.c select_child_cfg), so an RTX
 * proposing no IDs (= host to host) or udp/1701 is answered with exactly
 * what it proposed.  An initiator proposes udp/1701: what `ipsec transport
 * ... udp 1701` says, what every pairing measured in shared/ipsec.md
 * accepted, and it leaves the hosts' other traffic alone; the clear-text
 * packets it lets through (from the peer's address with another source
 * port) are refused by the daemon itself.
 */
#ifndef L2TP_IPSEC_CONN_H
#define L2TP_IPSEC_CONN_H

#include "config/config.h"
#include "ipsec/vici.h"

#define IPSEC_CONN_PREFIX "l2tpv3d-t"
#define IPSEC_CHILD_UDP "l2tp"
#define IPSEC_CHILD_HOST "l2tp-host"
#define IPSEC_CONN_NAME_MAX 32

/* "l2tpv3d-tN" */
void ipsec_conn_name(unsigned tunnel_id, char *buf, size_t len);
/* the tunnel number of a connection name of ours, 0 if not ours */
unsigned ipsec_conn_tunnel(const char *name);

/* load-conn: one section named after the connection.  0 or -EINVAL
 * (tunnel not IPsec or not resolved), -ENOMEM. */
int ipsec_conn_build(const struct cfg_tunnel *t, struct vici_msg *m);
/* The same, the IKE remote host name preceded by its address `to` (the
 * daemon's last good resolution) in remote_addrs; to NULL: the name only. */
int ipsec_conn_build_to(const struct cfg_tunnel *t, const struct sockaddr_storage *to, struct vici_msg *m);
/* load-shared: the PSK with its owners (our and the peer's identities) */
int ipsec_shared_build(const struct cfg_tunnel *t, struct vici_msg *m);
/* the "id" of load-shared/unload-shared for the tunnel's key */
void ipsec_shared_id(unsigned tunnel_id, char *buf, size_t len);

/* swanctl terms used above */
void ipsec_ike_proposal(const struct cfg_ipsec_gw *gw, char *buf, size_t len);
void ipsec_esp_proposal(const struct cfg_ipsec *s, char *buf, size_t len);
/* "keyid:l2tpv3", "fqdn:x", "192.0.2.1"; "" if no identity is configured */
void ipsec_local_id(const struct cfg_ipsec *s, char *buf, size_t len);
void ipsec_remote_id(const struct cfg_ipsec *s, char *buf, size_t len);

#endif
