/* SPDX-License-Identifier: MIT */
/*
 * Logging for the daemon glue (wire, fsm and config never log):
 * syslog (journald picks it up) as a daemon, stderr in the foreground.
 * log_warn appends strerror(errno); fatal* exit and are for start-up only.
 */
#ifndef L2TP_LOG_H
#define L2TP_LOG_H

#include <stdarg.h>
#include <stdbool.h>

void log_init(bool foreground, bool debug);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A line at pri (LOG_WARNING...), with "tunnel LABEL: " before fmt unless
 * label is NULL, and ": strerror(errno)" after it with with_errno: the
 * primitive of all the above and of log_tunnel_warnx and its kin
 * (daemon.h, tunnel.c).
 */
void log_vlabeled(int pri, const char *label, bool with_errno, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
