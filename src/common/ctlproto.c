/* SPDX-License-Identifier: MIT */
/*
 * Control socket client: connect, write one request line, read one reply
 * line (bounded in size and time); or, for `monitor`, keep reading one
 * JSON line per event until the daemon closes or the callback stops.
 */
#include "common/ctlproto.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_REPLY_MAX (64u << 20) /* status: about 1.7 KB per tunnel (bench/scale), so room for 30,000 */
#define CTL_TIMEOUT_MS 10000

/* Room for at least 4 KiB more after len bytes in *buf (doubling, bounded). */
static int buf_reserve(char **buf, size_t *cap, size_t len, char *err, size_t errlen)
{
	size_t ncap = *cap ? *cap * 2 : 65536;
	char *nb;

	if (len + 4096 <= *cap)
		return 0;
	if (ncap > CTL_REPLY_MAX) {
		snprintf(err, errlen, "reply too large");
		return -EMSGSIZE;
	}
	nb = realloc(*buf, ncap);
	if (!nb) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Connect and send req; returns the fd or negative errno with err set. */
static int ctl_send(const char *path, json_t *req, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *out = NULL;
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(-r));
		return r;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		if (r == -ENOENT || r == -ECONNREFUSED)
			snprintf(err, errlen, "l2tpv3d is not running (nothing listens on %s)", path);
		else if (r == -EACCES || r == -EPERM)
			snprintf(err, errlen, "permission denied on %s (run as root or a member of its group)", path);
		else
			snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(-r));
		goto out_close;
	}
	out = json_dumps(req, JSON_COMPACT);
	if (!out) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_close;
	}
	r = write_all(fd, out, strlen(out));
	if (!r)
		r = write_all(fd, "\n", 1);
	free(out);
	if (r) {
		snprintf(err, errlen, "write to %s: %s", path, strerror(-r));
		goto out_close;
	}
	return fd;
out_close:
	close(fd);
	return r;
}

int ctl_stream(const char *path, json_t *req, int (*cb)(json_t *msg, void *arg), void *arg, char *err,
	       size_t errlen)
{
	char *buf = NULL, *nl;
	size_t len = 0, cap = 0;
	int fd, r;

	fd = ctl_send(path, req, err, errlen);
	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n;

		/* hand over every complete line */
		while (buf && (nl = memchr(buf, '\n', len))) {
			json_error_t jerr;
			size_t ll = (size_t)(nl - buf);
			json_t *msg = json_loadb(buf, ll, 0, &jerr);

			memmove(buf, nl + 1, len - ll - 1);
			len -= ll + 1;
			if (!msg || !json_is_object(msg)) {
				json_decref(msg);
				r = -EPROTO;
				snprintf(err, errlen, "malformed message from l2tpv3d");
				goto out_close;
			}
			r = cb(msg, arg);
			json_decref(msg);
			if (r) {
				r = r < 0 ? r : 0;
				if (r)
					snprintf(err, errlen, "%s", strerror(-r));
				goto out_close;
			}
		}
		r = buf_reserve(&buf, &cap, len, err, errlen);
		if (r < 0)
			goto out_close;
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "read: %s", strerror(-r));
			goto out_close;
		}
		if (n == 0) {
			r = -ECONNRESET;
			snprintf(err, errlen, "l2tpv3d closed the connection");
			goto out_close;
		}
		len += (size_t)n;
	}
out_close:
	free(buf);
	close(fd);
	return r;
}

int ctl_request(const char *path, json_t *req, json_t **ret_reply, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	json_t *reply;
	int fd, r;

	fd = ctl_send(path, req, err, errlen);
	if (fd < 0)
		return fd;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		r = poll(&p, 1, CTL_TIMEOUT_MS);
		if (r == 0) {
			r = -ETIMEDOUT;
			snprintf(err, errlen, "no reply from l2tpv3d within %d s", CTL_TIMEOUT_MS / 1000);
			goto out_close;
		}
		if (r < 0 && errno == EINTR)
			continue;
		r = buf_reserve(&buf, &cap, len, err, errlen);
		if (r < 0)
			goto out_close;
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "read: %s", strerror(-r));
			goto out_close;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - n, '\n', (size_t)n))
			break;
	}
	reply = json_loadb(buf ? buf : "", len, 0, &jerr);
	if (!reply || !json_is_object(reply)) {
		json_decref(reply);
		r = -EPROTO;
		snprintf(err, errlen, "malformed reply from l2tpv3d");
		goto out_close;
	}
	*ret_reply = reply;
	r = 0;
out_close:
	free(buf);
	close(fd);
	return r;
}
