/* SPDX-License-Identifier: MIT */
/*
 * The kernel block policies under an IPsec tunnel's L2TP (xfrmblock.c),
 * against this machine's kernel (XFRM, no ESP needed) in a private network
 * namespace on loopback: with them, L2TP from our port to the peer is
 * refused at send and L2TP from the peer's port is dropped at receive,
 * while other ports and other hosts pass; removed, everything passes
 * again.  Root only (exit 77, skipped, otherwise).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/xfrmblock.h"

static struct sockaddr_storage v4(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static int udp_bound(const char *ip, unsigned port)
{
	struct sockaddr_storage a = v4(ip, port);
	struct timeval tv = { .tv_usec = 200000 };
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
	return fd;
}

/* from FROM_IP:FROM_PORT to TO_IP:TO_PORT: 0 delivered, -EPERM refused at
 * send, -EAGAIN sent and not received */
static int deliver(const char *from_ip, unsigned from_port, const char *to_ip, unsigned to_port)
{
	int tx = udp_bound(from_ip, from_port), rx = udp_bound(to_ip, to_port), r = 0;
	struct sockaddr_storage to = v4(to_ip, to_port);
	char buf[16];

	if (sendto(tx, "l2tp", 4, 0, (struct sockaddr *)&to, sizeof(struct sockaddr_in)) < 0)
		r = -errno;
	else if (recv(rx, buf, sizeof(buf), 0) != 4)
		r = -EAGAIN;
	close(tx);
	close(rx);
	return r;
}

static void test_block_and_unblock(void **state)
{
	struct sockaddr_storage peer = v4("127.0.0.2", 0);

	(void)state;
	/* before: everything passes */
	assert_int_equal(deliver("127.0.0.1", 1701, "127.0.0.2", 1701), 0);
	assert_int_equal(deliver("127.0.0.2", 1701, "127.0.0.1", 1701), 0);

	assert_int_equal(xfrmblock_add(&peer, 1701), 0);
	assert_int_equal(xfrmblock_add(&peer, 1701), 0); /* kept, not an error */
	/* out: our L2TP port to the peer is refused at send */
	assert_int_equal(deliver("127.0.0.1", 1701, "127.0.0.2", 1701), -EPERM);
	assert_int_equal(deliver("127.0.0.1", 1701, "127.0.0.2", 5000), -EPERM);
	/* in: from the peer's L2TP port, dropped before our socket */
	assert_int_equal(deliver("127.0.0.2", 1701, "127.0.0.1", 5000), -EAGAIN);
	/* other ports (IKE, NAT-T, anything else) and other hosts pass */
	assert_int_equal(deliver("127.0.0.1", 4500, "127.0.0.2", 4500), 0);
	assert_int_equal(deliver("127.0.0.2", 500, "127.0.0.1", 500), 0);
	assert_int_equal(deliver("127.0.0.1", 1701, "127.0.0.3", 1701), 0);

	assert_int_equal(xfrmblock_del(&peer, 1701), 0);
	assert_int_equal(xfrmblock_del(&peer, 1701), -ENOENT);
	assert_int_equal(deliver("127.0.0.1", 1701, "127.0.0.2", 1701), 0);
	assert_int_equal(deliver("127.0.0.2", 1701, "127.0.0.1", 5000), 0);
}

/* A connected UDP socket of the peer's (its port 1701) sends to one of our
 * ports where nothing listens: -ECONNREFUSED when our kernel's ICMP port
 * unreachable came back, -EAGAIN when none did */
static int unreachable_seen(void)
{
	int fd = udp_bound("127.0.0.2", 1701), r = 0;
	struct sockaddr_storage to = v4("127.0.0.1", 5999);
	char buf[16];

	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(struct sockaddr_in)), 0);
	if (send(fd, "l2tp", 4, 0) < 0 || recv(fd, buf, sizeof(buf), 0) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The ICMP port unreachable our kernel would send the peer (quoting the
 * start of a decrypted L2TP packet) is blocked too */
static void test_port_unreachable_blocked(void **state)
{
	struct sockaddr_storage peer = v4("127.0.0.2", 0);

	(void)state;
	assert_int_equal(unreachable_seen(), -ECONNREFUSED);
	/* policies for port 1702: the peer's datagram from 1701 passes them,
	 * only the ICMP policy (any port) is in the way of the answer */
	assert_int_equal(xfrmblock_add(&peer, 1702), 0);
	assert_int_equal(unreachable_seen(), -EAGAIN);
	assert_int_equal(xfrmblock_del(&peer, 1702), 0);
	assert_int_equal(unreachable_seen(), -ECONNREFUSED);
}

/* A policy of higher priority (charon's, here an allow one on the same
 * traffic) wins over ours: L2TP passes while it exists */
static void test_higher_priority_wins(void **state)
{
	struct sockaddr_storage peer = v4("127.0.0.2", 0);
	int r;

	(void)state;
	assert_int_equal(xfrmblock_add(&peer, 1701), 0);
	r = system("ip xfrm policy add src 127.0.0.1/32 dst 127.0.0.2/32 proto udp sport 1701 dir out "
		   "priority 1000 action allow");
	assert_int_equal(r, 0);
	assert_int_equal(deliver("127.0.0.1", 1701, "127.0.0.2", 1701), 0);
	r = system("ip xfrm policy delete src 127.0.0.1/32 dst 127.0.0.2/32 proto udp sport 1701 dir out");
	assert_int_equal(r, 0);
	assert_int_equal(deliver("127.0.0.1", 1701, "127.0.0.2", 1701), -EPERM);
	assert_int_equal(xfrmblock_del(&peer, 1701), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_and_unblock),
		cmocka_unit_test(test_higher_priority_wins),
		cmocka_unit_test(test_port_unreachable_blocked),
	};
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (geteuid() != 0) {
		fprintf(stderr, "not root: skipping\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s; skipping\n", strerror(errno));
		return 77;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return 1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return 1;
	close(fd);
	/* loopback skips XFRM by default; here it must not */
	if (system("echo 0 >/proc/sys/net/ipv4/conf/lo/disable_xfrm && "
		   "echo 0 >/proc/sys/net/ipv4/conf/lo/disable_policy") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
