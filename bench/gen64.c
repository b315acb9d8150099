/* SPDX-License-Identifier: MIT */
/*
 * gen64: a small batching UDP generator and counter for the benchmark and
 * the counter tests.
 *
 *   gen64 send DST PORT SECS [COUNT]   send 18-byte UDP payloads (64-byte
 *                                      Ethernet frames with the FCS) with
 *                                      sendmmsg, for SECS seconds or until
 *                                      COUNT datagrams left; prints the
 *                                      number sent
 *   gen64 recv PORT SECS               count datagrams arriving on PORT
 *                                      for SECS seconds; prints the count
 *
 * iperf3's UDP sender stops near 110 kpps on our machines, so frame rate
 * figures need a sender of our own.  IPv4 only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	GEN_BATCH = 64,
	GEN_PAYLOAD = 18, /* 14 Ethernet + 20 IP + 8 UDP + 18 + 4 FCS = 64 */
};

static double gen_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int gen_send(const char *dst, int port, double secs, unsigned long long count)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint8_t payload[GEN_BATCH][GEN_PAYLOAD];
	struct mmsghdr msgs[GEN_BATCH];
	struct iovec iov[GEN_BATCH];
	unsigned long long sent = 0;
	double end;
	int fd;

	if (inet_pton(AF_INET, dst, &sin.sin_addr) != 1) {
		fprintf(stderr, "gen64: bad address %s\n", dst);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("gen64: socket");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (unsigned i = 0; i < GEN_BATCH; i++) {
		memset(payload[i], 0x5a, GEN_PAYLOAD);
		iov[i].iov_base = payload[i];
		iov[i].iov_len = GEN_PAYLOAD;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = gen_now() + secs;
	while (gen_now() < end && (count == 0 || sent < count)) {
		unsigned n = GEN_BATCH;
		int r;

		if (count && count - sent < n)
			n = (unsigned)(count - sent);
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED)
				continue;
			perror("gen64: sendmmsg");
			return 1;
		}
		sent += (unsigned)r;
	}
	printf("%llu\n", sent);
	close(fd);
	return 0;
}

static int gen_recv(int port, double secs)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static uint8_t bufs[GEN_BATCH][2048];
	struct mmsghdr msgs[GEN_BATCH];
	struct iovec iov[GEN_BATCH];
	unsigned long long got = 0;
	int fd, sz = 4 << 20;
	double end;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("gen64: bind");
		return 1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	memset(msgs, 0, sizeof(msgs));
	for (unsigned i = 0; i < GEN_BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = gen_now() + secs;
	for (;;) {
		double left = end - gen_now();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		while ((r = recvmmsg(fd, msgs, GEN_BATCH, MSG_DONTWAIT, NULL)) > 0)
			got += (unsigned)r;
	}
	printf("%llu\n", got);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "send"))
		return gen_send(argv[2], atoi(argv[3]), atof(argv[4]), argc > 5 ? strtoull(argv[5], NULL, 10) : 0);
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return gen_recv(atoi(argv[2]), atof(argv[3]));
	fprintf(stderr, "usage: gen64 send DST PORT SECS [COUNT] | gen64 recv PORT SECS\n");
	return 2;
}
