#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int open_socket(struct notify *n, const char *path)
{
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 || len >= sizeof(n->addr.sun_path)) {
		log_warn(NULL, "NOTIFY_SOCKET is not a socket path or abstract name: ignored");
		return -1;
	}
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0'; /* an abstract name has no terminating NUL */
	n->addr_len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		log_warn(NULL, "cannot open the notification socket: %s", strerror(errno));
	return fd;
}

static void on_watchdog(uv_timer_t *t)
{
	notify_send(t->data, "WATCHDOG=1");
}

void notify_init(struct notify *n, uv_loop_t *loop)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return;
	n->fd = open_socket(n, path);
	if (n->fd < 0)
		return;
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	if (!usec || !*usec)
		return;
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(usec, &end, 10);
	if (errno || *end || v == 0) {
		log_warn(NULL, "WATCHDOG_USEC is not a positive number: no watchdog pings");
		return;
	}
	n->watchdog_usec = v;
	/* Half the interval, as sd_watchdog_enabled(3) advises; at least 1 ms. */
	uint64_t every = v / 2000 ? v / 2000 : 1;
	uv_timer_init(loop, &n->watchdog);
	n->watchdog.data = n;
	n->watchdog_open = true;
	uv_timer_start(&n->watchdog, on_watchdog, every, every);
	log_debug(NULL, "watchdog: pinging systemd every %llu ms", (unsigned long long)every);
}

void notify_send(struct notify *n, const char *msg)
{
	if (n->fd < 0)
		return;
	/* A datagram is all or nothing; a full or gone socket must not stall
	 * the loop, and systemd retries nothing, so a lost ping is tolerated
	 * (the watchdog interval allows one). */
	if (sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	           (struct sockaddr *)&n->addr, n->addr_len) < 0)
		log_debug(NULL, "notification not sent: %s", strerror(errno));
}

void notify_status(struct notify *n, const char *fmt, ...)
{
	if (n->fd < 0)
		return;
	char msg[512];
	int k = snprintf(msg, sizeof(msg), "STATUS=");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + k, sizeof(msg) - (size_t)k, fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	notify_send(n, msg);
}

void notify_reloading(struct notify *n)
{
	if (n->fd < 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[128];
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ull +
	             (unsigned long long)ts.tv_nsec / 1000);
	notify_send(n, msg);
}

void notify_close(struct notify *n)
{
	if (n->watchdog_open && !uv_is_closing((uv_handle_t *)&n->watchdog))
		uv_close((uv_handle_t *)&n->watchdog, NULL);
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
