/* SPDX-License-Identifier: MIT */
/*
 * What a wake-up costs on this machine: a system call (getppid), a round
 * of two wake-ups between two threads through a pipe and epoll (run it
 * with `taskset -c 0` for one CPU, without for two), and the same after
 * 10 ms of sleep each time.  doc/performance.md, "The kernel fast path".
 *
 *   cc -O2 -pthread bench/wakeup.c -o wakeup && ./wakeup
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int to_echo[2], from_echo[2];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The other thread: sleeps in epoll_wait, echoes each byte back. */
static void *echo(void *arg)
{
	struct epoll_event e = { .events = EPOLLIN };
	int ep = epoll_create1(0);
	char c;

	(void)arg;
	epoll_ctl(ep, EPOLL_CTL_ADD, to_echo[0], &e);
	for (;;) {
		epoll_wait(ep, &e, 1, -1);
		if (read(to_echo[0], &c, 1) != 1 || write(from_echo[1], &c, 1) != 1)
			break;
	}
	return NULL;
}

static void round_trip(void)
{
	char c = 'a';

	if (write(to_echo[1], &c, 1) != 1 || read(from_echo[0], &c, 1) != 1)
		perror("pipe");
}

int main(void)
{
	pthread_t t;
	double t0, sum = 0;
	int n;

	n = 1000000;
	t0 = now();
	for (int i = 0; i < n; i++)
		syscall(SYS_getppid);
	printf("system call: %.0f ns\n", (now() - t0) / n * 1e9);

	if (pipe(to_echo) < 0 || pipe(from_echo) < 0 || pthread_create(&t, NULL, echo, NULL) != 0)
		return 1;
	n = 20000;
	t0 = now();
	for (int i = 0; i < n; i++)
		round_trip();
	printf("two wake-ups, back to back: %.1f us\n", (now() - t0) / n * 1e6);

	n = 200;
	for (int i = 0; i < n; i++) {
		usleep(10000);
		t0 = now();
		round_trip();
		sum += now() - t0;
	}
	printf("two wake-ups after 10 ms of sleep: %.1f us\n", sum / n * 1e6);
	return 0;
}
