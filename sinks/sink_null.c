/* sink_null: discards records and acknowledges them, for benchmarks; with
 * ack_delay > 0 each acknowledgement comes that long after the submit, for
 * testing back-pressure. Acknowledgements always come from a timer callback,
 * never from inside submit (the router does not expect re-entrancy). */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "sink.h"

/* Far above any router queue bound; only a broken caller reaches it. */
#define QUEUE_MAX ((size_t)1 << 20)

struct null_conf {
	uint64_t ack_delay; /* ms */
};

static const struct opt_def null_opts[] = {
    {"ack_delay", OPT_DURATION, "0", 0, offsetof(struct null_conf, ack_delay), NULL,
     "acknowledge each record this long after it was submitted (0: on the next loop "
     "iteration); for testing back-pressure"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct pending {
	struct record *r;
	uint64_t due; /* uv_now() when it is acknowledged */
};

struct null_sink {
	struct sink *s;
	uint64_t delay;
	/* In submit order; with one delay for all, also in order of due time. */
	struct pending *q;
	size_t cap, head, len;
	uv_timer_t ack_timer, flush_timer;
	sink_cb flush_done, closed;
	bool closing;
	unsigned close_pending;
};

static void on_ack_timer(uv_timer_t *t);

static void arm(struct null_sink *n)
{
	if (!n->len || n->closing)
		return;
	uint64_t now = uv_now(n->s->loop);
	uint64_t due = n->q[n->head].due;
	uv_timer_start(&n->ack_timer, on_ack_timer, due > now ? due - now : 0, 0);
}

static void check_flush(struct null_sink *n)
{
	if (!n->flush_done || n->len || n->closing)
		return;
	sink_cb done = n->flush_done;
	n->flush_done = NULL;
	uv_timer_stop(&n->flush_timer);
	done(n->s);
}

static void on_ack_timer(uv_timer_t *t)
{
	struct null_sink *n = t->data;
	uint64_t now = uv_now(n->s->loop);
	/* Records submitted from on_ack wait for the next round. */
	size_t count = n->len;
	while (count-- && n->len && !n->closing && n->q[n->head].due <= now) {
		struct record *r = n->q[n->head].r;
		n->head = (n->head + 1) % n->cap;
		n->len--;
		sink_ack(n->s, r, 0, NULL);
		record_unref(r);
	}
	check_flush(n);
	if (!uv_is_active((uv_handle_t *)&n->ack_timer))
		arm(n);
}

static int null_submit(struct sink *s, struct record *r)
{
	struct null_sink *n = s->priv;
	if (!n || n->closing)
		return LG_ECLOSED;
	if (n->len == n->cap) {
		if (n->cap >= QUEUE_MAX)
			return LG_ETOOBIG;
		size_t cap = n->cap ? n->cap * 2 : 64;
		struct pending *q = malloc(cap * sizeof(*q));
		if (!q)
			return LG_ENOMEM;
		for (size_t i = 0; i < n->len; i++)
			q[i] = n->q[(n->head + i) % n->cap];
		free(n->q);
		n->q = q;
		n->cap = cap;
		n->head = 0;
	}
	struct pending *p = &n->q[(n->head + n->len) % n->cap];
	p->r = record_ref(r);
	p->due = uv_now(s->loop) + n->delay;
	n->len++;
	if (!uv_is_active((uv_handle_t *)&n->ack_timer))
		arm(n);
	return 0;
}

static void on_flush_timer(uv_timer_t *t)
{
	struct null_sink *n = t->data;
	sink_cb done = n->flush_done;
	n->flush_done = NULL;
	if (done)
		done(n->s);
}

static void null_flush(struct sink *s, uint64_t deadline, sink_cb done)
{
	struct null_sink *n = s->priv;
	if (!n || n->closing) {
		done(s);
		return;
	}
	uint64_t now = uv_now(s->loop);
	n->flush_done = done;
	uv_timer_start(&n->flush_timer, on_flush_timer,
	               n->len && deadline > now ? deadline - now : 0, 0);
}

static void on_closed(uv_handle_t *h)
{
	struct null_sink *n = h->data;
	if (--n->close_pending > 0)
		return;
	struct sink *s = n->s;
	sink_cb closed = n->closed;
	for (size_t i = 0; i < n->len; i++)
		record_unref(n->q[(n->head + i) % n->cap].r);
	free(n->q);
	free(n);
	s->priv = NULL;
	closed(s);
}

static void null_close(struct sink *s, sink_cb closed)
{
	struct null_sink *n = s->priv;
	if (!n) {
		closed(s);
		return;
	}
	/* What is not acknowledged yet stays so: it is replayed on restart. */
	n->closing = true;
	n->closed = closed;
	n->flush_done = NULL;
	n->close_pending = 2;
	uv_close((uv_handle_t *)&n->ack_timer, on_closed);
	uv_close((uv_handle_t *)&n->flush_timer, on_closed);
}

static int null_open(struct sink *s, struct conf_errs *errs)
{
	(void)errs;
	if (s->check_only)
		return 0;
	const struct null_conf *c = s->conf;
	struct null_sink *n = calloc(1, sizeof(*n));
	if (!n)
		return LG_ENOMEM;
	n->s = s;
	n->delay = c ? c->ack_delay : 0;
	uv_timer_init(s->loop, &n->ack_timer);
	uv_timer_init(s->loop, &n->flush_timer);
	n->ack_timer.data = n;
	n->flush_timer.data = n;
	s->priv = n;
	return 0;
}

const struct sink_type sink_null_type = {
    .name = "null",
    .desc = "discards records and acknowledges them (benchmarks, back-pressure tests)",
    .opts = null_opts,
    .conf_size = sizeof(struct null_conf),
    .open = null_open,
    .submit = null_submit,
    .flush = null_flush,
    .close = null_close,
    .reopen = NULL,
};
