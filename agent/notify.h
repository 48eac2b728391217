/* notify: the service manager's readiness protocol (sd_notify(3)), spoken
 * directly: one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket named
 * by $NOTIFY_SOCKET (a path, or an abstract name when it starts with '@'),
 * so no libsystemd is needed. Without $NOTIFY_SOCKET every call does
 * nothing.
 *
 * The watchdog: when $WATCHDOG_USEC is set (and $WATCHDOG_PID, if set, is
 * this process), a timer on the loop sends WATCHDOG=1 every half of that
 * interval, so that a loop stuck for longer stops the pings and systemd
 * restarts the service. Sends never block (a full socket drops the
 * message). */
#ifndef SINCH_NOTIFY_H
#define SINCH_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

struct notify {
	int fd; /* -1: not under a service manager */
	struct sockaddr_un addr;
	socklen_t addr_len;
	uv_timer_t watchdog;
	bool watchdog_open;
	uint64_t watchdog_usec; /* 0: no watchdog */
};

/* Reads the environment; opens the socket and starts the watchdog timer. */
void notify_init(struct notify *n, uv_loop_t *loop);
/* Sends one message (lines "KEY=VALUE", '\n'-separated). */
void notify_send(struct notify *n, const char *msg);
/* STATUS=... (printf-style, one line: newlines become spaces). */
void notify_status(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* RELOADING=1 with MONOTONIC_USEC= (what systemd 253's notify-reload wants). */
void notify_reloading(struct notify *n);
/* Closes the socket and the timer (the timer is closed through the loop). */
void notify_close(struct notify *n);

#endif
