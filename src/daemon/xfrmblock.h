/* SPDX-License-Identifier: MIT */
/*
 * A floor under an IPsec tunnel's L2TP: three kernel XFRM policies per
 * peer (out: from our port to the peer; in: from the peer's port to us;
 * out: ICMP port unreachable to the peer, which would quote decrypted
 * L2TP) that block, at a priority below any of charon's.  While charon's transport
 * policies are installed they match first and L2TP goes through ESP; when
 * they are gone (charon stopped or restarted, a connection unloaded) the
 * kernel drops L2TP to and from the peer instead of sending or taking it
 * in clear text, until the daemon has noticed and torn the session down.
 */
#ifndef L2TP_DAEMON_XFRMBLOCK_H
#define L2TP_DAEMON_XFRMBLOCK_H

#include <sys/socket.h>

/* The priority of our policies: below every policy charon installs (a
 * larger number is a lower priority). */
#define XFRMBLOCK_PRIORITY 0xfffff000u

/* Add (or keep) the policies for peer (its address; port is our
 * and the peer's L2TP port, 1701).  0 or -errno. */
int xfrmblock_add(const struct sockaddr_storage *peer, unsigned port);
/* Remove them.  0, or -errno (-ENOENT: there were none). */
int xfrmblock_del(const struct sockaddr_storage *peer, unsigned port);

#endif
