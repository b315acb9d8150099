/* SPDX-License-Identifier: MIT */
/*
 * Log sink: syslog(3) with LOG_DAEMON as a daemon, stderr (with a
 * timestamp and level) in the foreground.  Safe from several threads
 * (one vfprintf / vsyslog per line), though only the control thread logs.
 */
#include "daemon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static bool log_foreground = true;
static bool log_verbose;

void log_init(bool foreground, bool debug)
{
	log_foreground = foreground;
	log_verbose = debug;
	if (!foreground)
		openlog("l2tpv3d", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (!log_foreground) {
		syslog(pri, "%s%s%s", line, suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	static const char *const names[] = { "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld %s: %s%s%s\n", stamp, ts.tv_nsec / 1000000, names[pri & 7], line,
		suffix ? ": " : "", suffix ? suffix : "");
}

#define LOGFN(name, pri, with_errno)                                      \
	void name(const char *fmt, ...)                                   \
	{                                                                 \
		int saved = errno;                                        \
		va_list ap;                                               \
		va_start(ap, fmt);                                        \
		vlog(pri, fmt, ap, with_errno ? strerror(saved) : NULL);  \
		va_end(ap);                                               \
		errno = saved;                                            \
	}

LOGFN(log_warn, LOG_WARNING, 1)
LOGFN(log_warnx, LOG_WARNING, 0)
LOGFN(log_notice, LOG_NOTICE, 0)
LOGFN(log_info, LOG_INFO, 0)
LOGFN(log_debug, LOG_DEBUG, 0)

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
