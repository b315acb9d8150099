/* SPDX-License-Identifier: MIT */
/*
 * Service manager notifications (sd_notify(3)): READY=1 once the UDP and
 * control sockets are open, RELOADING=1 while a reload runs (then READY=1
 * again), STOPPING=1 when shutdown begins, STATUS= lines for
 * `systemctl status`.  Without $NOTIFY_SOCKET (not started by systemd with
 * Type=notify) and in builds without libsystemd, every call does nothing.
 */
#ifndef L2TP_NOTIFY_H
#define L2TP_NOTIFY_H

/* Start-up finished, or a reload finished: the daemon serves requests. */
void notify_ready(void);
/* A reload starts; call notify_ready() when it is over, failed or not. */
void notify_reloading(void);
/* Shutdown has begun (tunnels are being closed). */
void notify_stopping(void);
/* A one-line status for `systemctl status`. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
