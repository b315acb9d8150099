/* SPDX-License-Identifier: MIT */
/*
 * Deleting TAP ports in batches.  Closing a TAP's last fd deletes the
 * interface, but the kernel then unregisters it alone, with its own RCU
 * grace periods: about 18 ms a port on a 2-vCPU VM, 18 s for a hub of
 * 1,000 at SIGTERM, all of it blocking the control thread.  Deleted
 * together in one RTM_DELLINK (nl_links_delete) they cost about 1 ms a
 * port.  So a port that is no longer wanted is retired here: its fd is
 * kept for 200 ms (or until a port of the same name is wanted again, or
 * the daemon exits), then every port retired by then is deleted at once
 * and the fds are closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/nl.h"

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	daemon_ports_reap(arg);
}

void daemon_port_retire(struct daemon *d, int fd, const char *ifname, bool created)
{
	struct retired_port *v;
	struct timeval soon = { 0, 200 * 1000 }; /* the others retired by then join the batch */

	if (fd < 0)
		return;
	v = realloc(d->retired, (d->n_retired + 1) * sizeof(*v));
	if (!v) {
		close(fd); /* deleted alone, slowly */
		return;
	}
	d->retired = v;
	v[d->n_retired].fd = fd;
	snprintf(v[d->n_retired].ifname, sizeof(v->ifname), "%s", ifname);
	v[d->n_retired].created = created;
	d->n_retired++;
	if (!d->ev_reap && d->base)
		d->ev_reap = evtimer_new(d->base, reap_cb, d);
	if (d->ev_reap) {
		if (!evtimer_pending(d->ev_reap, NULL))
			evtimer_add(d->ev_reap, &soon);
	} else {
		daemon_ports_reap(d);
	}
}

bool daemon_port_retiring(const struct daemon *d, const char *ifname)
{
	for (size_t i = 0; i < d->n_retired; i++)
		if (!strcmp(d->retired[i].ifname, ifname))
			return true;
	return false;
}

void daemon_ports_reap(struct daemon *d)
{
	const char **names;
	size_t n = 0;
	struct nl_delete_times tm = { 0, 0 };
	uint64_t t0 = now_ms();
	int r = 0;

	if (!d->n_retired)
		return;
	if (d->ev_reap)
		evtimer_del(d->ev_reap);
	names = calloc(d->n_retired, sizeof(*names));
	for (size_t i = 0; names && i < d->n_retired; i++)
		if (d->retired[i].created)
			names[n++] = d->retired[i].ifname;
	if (n && names && d->nl) {
		r = nl_links_delete(d->nl, names, n, &tm);
		if (r < 0) {
			errno = -r;
			log_warn("cannot delete all of %zu TAP ports in one go; the rest go as their fds close", n);
		}
	}
	for (size_t i = 0; i < d->n_retired; i++)
		close(d->retired[i].fd);
	if (n && tm.delete_ms)
		log_info("deleted %zu TAP port%s in %llu ms (%llu ms moving them to one link group, %llu ms "
			 "deleting it)", n, n == 1 ? "" : "s", (unsigned long long)(now_ms() - t0),
			 (unsigned long long)(tm.group_ms - t0), (unsigned long long)(tm.delete_ms - tm.group_ms));
	else if (n)
		log_info("deleted %zu TAP port%s in %llu ms", n, n == 1 ? "" : "s",
			 (unsigned long long)(now_ms() - t0));
	free(names);
	free(d->retired);
	d->retired = NULL;
	d->n_retired = 0;
}
