/* SPDX-License-Identifier: MIT */
/* Host name lookups off the event loop (see resolve.h). */
#include "daemon/resolve.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* What the threads and the loop share: freed by the last one out */
struct shared {
	pthread_mutex_t lock;
	int fd[2]; /* [0] the loop reads, [1] the threads write */
	unsigned jobs; /* threads running */
	bool closed; /* resolver_free ran */
};

struct resolver {
	struct shared *sh;
	struct event *ev;
	resolve_done_fn *done;
	void *arg;
};

struct job {
	struct shared *sh;
	char name[256];
	int family;
	unsigned tag;
	int err;
	size_t n;
	struct sockaddr_storage addrs[RESOLVE_MAX_ADDRS];
};

static void shared_put(struct shared *sh)
{
	bool last;

	pthread_mutex_lock(&sh->lock);
	sh->jobs--;
	last = sh->closed && !sh->jobs;
	pthread_mutex_unlock(&sh->lock);
	if (last) {
		close(sh->fd[1]);
		pthread_mutex_destroy(&sh->lock);
		free(sh);
	}
}

static void *lookup_thread(void *arg)
{
	struct job *j = arg;
	struct shared *sh = j->sh;
	struct addrinfo hints = { .ai_family = j->family, .ai_socktype = SOCK_DGRAM }, *res = NULL;
	bool sent = false;

	j->err = getaddrinfo(j->name, NULL, &hints, &res);
	for (struct addrinfo *a = res; !j->err && a && j->n < RESOLVE_MAX_ADDRS; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof(j->addrs[0]))
			continue;
		memset(&j->addrs[j->n], 0, sizeof(j->addrs[0]));
		memcpy(&j->addrs[j->n], a->ai_addr, a->ai_addrlen);
		j->n++;
	}
	if (res)
		freeaddrinfo(res);
	pthread_mutex_lock(&sh->lock);
	if (!sh->closed)
		sent = send(sh->fd[1], &j, sizeof(j), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(j);
	pthread_mutex_unlock(&sh->lock);
	if (!sent)
		free(j);
	shared_put(sh);
	return NULL;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;
	struct job *j;

	(void)what;
	while (recv(fd, &j, sizeof(j), MSG_DONTWAIT) == (ssize_t)sizeof(j)) {
		r->done(r->arg, j->tag, j->name, j->err, j->addrs, j->n);
		free(j);
	}
}

struct resolver *resolver_new(struct event_base *base, resolve_done_fn *done, void *arg)
{
	struct resolver *r = calloc(1, sizeof(*r));
	struct shared *sh = calloc(1, sizeof(*sh));

	if (!r || !sh)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sh->fd) < 0)
		goto fail;
	pthread_mutex_init(&sh->lock, NULL);
	r->sh = sh;
	r->done = done;
	r->arg = arg;
	r->ev = event_new(base, sh->fd[0], EV_READ | EV_PERSIST, read_cb, r);
	if (!r->ev || event_add(r->ev, NULL) < 0) {
		if (r->ev)
			event_free(r->ev);
		close(sh->fd[0]);
		close(sh->fd[1]);
		pthread_mutex_destroy(&sh->lock);
		goto fail;
	}
	return r;
fail:
	free(sh);
	free(r);
	return NULL;
}

int resolver_lookup(struct resolver *r, const char *name, int family, unsigned tag)
{
	struct job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t th;
	int e;

	if (!j)
		return -ENOMEM;
	j->sh = r->sh;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->family = family;
	j->tag = tag;
	pthread_mutex_lock(&r->sh->lock);
	r->sh->jobs++;
	pthread_mutex_unlock(&r->sh->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&th, &attr, lookup_thread, j);
	pthread_attr_destroy(&attr);
	if (e) {
		free(j);
		pthread_mutex_lock(&r->sh->lock);
		r->sh->jobs--;
		pthread_mutex_unlock(&r->sh->lock);
		return -e;
	}
	return 0;
}

void resolver_free(struct resolver *r)
{
	struct shared *sh;
	struct job *j;
	bool last;

	if (!r)
		return;
	sh = r->sh;
	event_free(r->ev);
	pthread_mutex_lock(&sh->lock);
	sh->closed = true;
	last = !sh->jobs;
	pthread_mutex_unlock(&sh->lock);
	while (recv(sh->fd[0], &j, sizeof(j), MSG_DONTWAIT) == (ssize_t)sizeof(j))
		free(j);
	close(sh->fd[0]);
	if (last) {
		close(sh->fd[1]);
		pthread_mutex_destroy(&sh->lock);
		free(sh);
	}
	free(r);
}
