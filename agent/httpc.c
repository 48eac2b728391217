#include "httpc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"

/* One per socket curl asks us to watch. */
struct httpc_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct httpc *h;
	struct httpc_sock *prev, *next;
};

static void sock_close(struct httpc_sock *s);

static void unlink_req(struct httpc *h, struct httpc_req *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		h->running = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
	req->owner = NULL;
}

static void check_done(struct httpc *h)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct httpc_req *req = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req);
		curl_multi_remove_handle(h->multi, easy);
		if (req) {
			unlink_req(h, req);
			if (req->done)
				req->done(req, rc);
		}
	}
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	struct httpc_sock *s = poll->data;
	struct httpc *h = s->h;
	int flags = 0;
	int running;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, s->fd, flags, &running);
	check_done(h);
}

static void on_timer(uv_timer_t *t)
{
	struct httpc *h = t->data;
	int running;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static void maybe_closed(struct httpc *h)
{
	if (h->closing && h->open_handles == 0) {
		if (h->closed)
			h->closed(h);
	}
}

static void on_sock_closed(uv_handle_t *handle)
{
	struct httpc_sock *s = handle->data;
	struct httpc *h = s->h;
	free(s);
	h->open_handles--;
	maybe_closed(h);
}

static void sock_close(struct httpc_sock *s)
{
	struct httpc *h = s->h;
	if (s->prev)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	(void)easy;
	struct httpc *h = userp;
	struct httpc_sock *s = sockp;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(h->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->fd = fd;
		s->h = h;
		if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		s->next = h->socks;
		if (h->socks)
			h->socks->prev = s;
		h->socks = s;
		h->open_handles++;
		curl_multi_assign(h->multi, fd, s);
	}
	int events = 0;
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

static int on_timeout(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct httpc *h = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

int httpc_init(struct httpc *h, uv_loop_t *loop)
{
	h->loop = loop;
	h->closing = 0;
	h->closed = NULL;
	h->running = NULL;
	h->socks = NULL;
	h->multi = curl_multi_init();
	if (!h->multi)
		return LG_ENOMEM;
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	h->open_handles = 1;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return 0;
}

int httpc_start(struct httpc *h, struct httpc_req *req)
{
	if (h->closing)
		return LG_ECLOSED;
	curl_easy_setopt(req->easy, CURLOPT_PRIVATE, (char *)req);
	req->errbuf[0] = '\0';
	curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf);
	if (curl_multi_add_handle(h->multi, req->easy) != CURLM_OK)
		return LG_EINVAL;
	req->owner = h;
	req->prev = NULL;
	req->next = h->running;
	if (h->running)
		h->running->prev = req;
	h->running = req;
	return 0;
}

void httpc_cancel(struct httpc_req *req)
{
	struct httpc *h = req->owner;
	if (!h)
		return;
	curl_multi_remove_handle(h->multi, req->easy);
	unlink_req(h, req);
}

static void on_timer_closed(uv_handle_t *handle)
{
	struct httpc *h = handle->data;
	h->open_handles--;
	maybe_closed(h);
}

void httpc_close(struct httpc *h, void (*closed)(struct httpc *h))
{
	h->closing = 1;
	h->closed = closed;
	/* Removing the remaining easy handles makes curl ask us to stop
	 * watching their sockets, which closes the polls. */
	while (h->running)
		httpc_cancel(h->running);
	/* Cached connections keep sockets open until the multi handle goes;
	 * whatever curl did not ask us to stop watching is closed here. */
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	while (h->socks)
		sock_close(h->socks);
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

long httpc_status(const struct httpc_req *req)
{
	long code = 0;
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

void httpc_set_common(CURL *easy, const char *proxy, const char *ca_file, bool verify)
{
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "sinch-logd/" SINCH_LOGD_VERSION);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (proxy)
		curl_easy_setopt(easy, CURLOPT_PROXY, proxy);
	if (ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
	if (!verify) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

uint64_t httpc_parse_retry_after(const char *v, size_t len)
{
	char tmp[64];
	if (len >= sizeof(tmp))
		return 0;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	char *end;
	unsigned long long secs = strtoull(tmp, &end, 10);
	if (end != tmp && *end == '\0')
		return secs > 86400 ? 86400000 : secs * 1000;
	time_t when = curl_getdate(tmp, NULL);
	time_t now = time(NULL);
	if (when <= 0)
		return 0;
	return when > now ? (uint64_t)(when - now) * 1000 : 0;
}

const char *httpc_strerror(const struct httpc_req *req, CURLcode result)
{
	return req->errbuf[0] ? req->errbuf : curl_easy_strerror(result);
}
