/* SPDX-License-Identifier: MIT */
/*
 * Logging for the daemon glue (wire, fsm and config never log):
 * syslog (journald picks it up) as a daemon, stderr in the foreground.
 * log_warn appends strerror(errno); fatal* exit and are for start-up only.
 */
#ifndef L2TP_LOG_H
#define L2TP_LOG_H

#include <stdbool.h>

void log_init(bool foreground, bool debug);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
