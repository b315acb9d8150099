/* SPDX-License-Identifier: MIT */
/*
 * Log sink: syslog(3) with LOG_DAEMON as a daemon, stderr (with a
 * timestamp and level) in the foreground.  In the foreground under
 * systemd, when stderr is the journal stream named by $JOURNAL_STREAM
 * (systemd.exec(5)), each line starts with its syslog priority as "<N>"
 * (sd-daemon(3)) instead, and journald adds the time.  Safe from several
 * threads (one vfprintf / vsyslog per line), though only the control
 * thread logs.
 */
#include "daemon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static bool log_foreground = true;
static bool log_verbose;
static bool log_journal; /* stderr is journald's stream */

/* $JOURNAL_STREAM is "DEVICE:INODE" of the journal's socket. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(bool foreground, bool debug)
{
	log_foreground = foreground;
	log_verbose = debug;
	log_journal = foreground && stderr_is_journal();
	if (!foreground)
		openlog("l2tpv3d", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* label: a tunnel's ("tunnel LABEL: " comes first), or NULL */
static void vlog(int pri, const char *label, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];
	int n = 0;

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	if (label)
		n = snprintf(line, sizeof(line), "tunnel %s: ", label);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (!log_foreground) {
		syslog(pri, "%s%s%s", line, suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	if (log_journal) {
		fprintf(stderr, "<%d>%s%s%s\n", pri & 7, line, suffix ? ": " : "", suffix ? suffix : "");
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

/* errno is kept for the caller */
void log_vlabeled(int pri, const char *label, bool with_errno, const char *fmt, va_list ap)
{
	int saved = errno;

	vlog(pri, label, fmt, ap, with_errno ? strerror(saved) : NULL);
	errno = saved;
}

#define LOGFN(name, pri, with_errno)                                    \
	void name(const char *fmt, ...)                                 \
	{                                                               \
		va_list ap;                                             \
		va_start(ap, fmt);                                      \
		log_vlabeled(pri, NULL, with_errno, fmt, ap);           \
		va_end(ap);                                             \
	}

LOGFN(log_warn, LOG_WARNING, true)
LOGFN(log_warnx, LOG_WARNING, false)
LOGFN(log_notice, LOG_NOTICE, false)
LOGFN(log_info, LOG_INFO, false)
LOGFN(log_debug, LOG_DEBUG, false)

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
