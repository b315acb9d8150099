/* SPDX-License-Identifier: MIT */
/*
 * L2TPv3/IPsec in the daemon: drives strongSwan's charon over VICI
 * (src/ipsec/vici.h) for the tunnels with `tunnel encapsulation l2tpv3`,
 * and gates their L2TP traffic on the CHILD SA: the control connection
 * starts once the SA is up and stops when it goes down, nothing is sent
 * without it, and only packets from the SA's peer are taken.
 */
#ifndef L2TP_DAEMON_IPSEC_H
#define L2TP_DAEMON_IPSEC_H

#include <stdbool.h>
#include <sys/socket.h>

/* Bytes ESP in UDP adds at most (AES-CBC, HMAC-SHA1-96; shared/ipsec.md) */
#define IPSEC_ESP_OVERHEAD_MAX 61

struct daemon;
struct tunnel;
struct cfg;
struct json_t;

/* At start, after the tunnels were added: probe ESP, connect to charon,
 * load the IPsec tunnels' connections.  Never fails the daemon: an error
 * is logged once and kept for status (ipsec_error). */
void ipsec_start(struct daemon *d);
/* After a reload replaced d->cfg (old is the previous one, still valid):
 * load changed or new connections, unload removed ones. */
void ipsec_reload(struct daemon *d, const struct cfg *old);
/* At shutdown: unload our connections, close the socket. */
void ipsec_stop(struct daemon *d);

/* The tunnel is not IPsec, or its CHILD SA is up (L2TP may run). */
bool ipsec_tunnel_ready(const struct tunnel *t);
/*
 * An IPsec tunnel's peer as its SA says (remote host, UDP port 1701);
 * false when no SA is up (or not IPsec).
 */
bool ipsec_tunnel_peer(const struct tunnel *t, struct sockaddr_storage *ret);
/*
 * May this packet belong to the tunnel: true for a raw tunnel; for an
 * IPsec one only from the SA's remote host and, with udp/1701 selectors,
 * from port 1701 (the kernel lets clear text from other ports through).
 * A refusal is counted and logged at a bounded rate, unless what is NULL
 * (a packet tried against every tunnel, such as an SCCRQ).
 */
/* t is an IPsec tunnel whose SA is not up as far as we know, and charon
 * is connected: asked (list-sas), it may still say it is (issue 15). */
bool ipsec_tunnel_sa_pending(const struct tunnel *t);

bool ipsec_tunnel_accepts(const struct tunnel *t, const struct sockaddr_storage *src, const char *what);

/* Why IPsec cannot work here ("" if it can): no ESP, no charon... */
const char *ipsec_error(const struct daemon *d);
/* Per-tunnel status object (NULL if not IPsec) */
struct json_t *ipsec_tunnel_json(const struct tunnel *t);
struct evbuffer;
/* Prometheus families of the IPsec tunnels (none without one) */
void ipsec_metrics(const struct daemon *d, struct evbuffer *b);

#endif
