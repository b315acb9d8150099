/* SPDX-License-Identifier: MIT */
/*
 * sd_notify(3) messages for Type=notify services.  libsystemd speaks the
 * protocol (a datagram to $NOTIFY_SOCKET); we keep $NOTIFY_SOCKET set
 * (unset_environment = 0) because READY=1 is sent again after each reload.
 * RELOADING=1 carries MONOTONIC_USEC, the CLOCK_MONOTONIC time of the
 * reload request, as systemd.service(5) asks for Type=notify-reload.
 * Failures are ignored: a missing service manager is not an error.
 */
#include "daemon/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

void notify_ready(void)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "READY=1");
#endif
}

void notify_reloading(void)
{
#ifdef HAVE_LIBSYSTEMD
	struct timespec ts;
	unsigned long long usec;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	usec = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
#endif
}

void notify_stopping(void)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "STOPPING=1");
#endif
}

void notify_status(const char *fmt, ...)
{
#ifdef HAVE_LIBSYSTEMD
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *c = line; *c; c++)
		if (*c == '\n')
			*c = ' '; /* one assignment, one line */
	(void)sd_notifyf(0, "STATUS=%s", line);
#else
	(void)fmt;
#endif
}
