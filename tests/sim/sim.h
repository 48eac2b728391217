/*
 * sinch-fn-sim: shared state of the Sinch Functions operations API simulator.
 *
 * One libuv loop, one thread: everything here belongs to the loop thread.
 * The module prefixes are sim_ (config, clock, utilities), http_ (server),
 * gen_ (event generator and history), api_ (routes), stream_ (SSE),
 * limit_ (rate limits), fault_ (fault injection) and ctl_ (/_sim endpoints).
 */
#ifndef SINCH_FN_SIM_H
#define SINCH_FN_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum sim_err {
	SIM_OK = 0,
	SIM_ENOMEM = -1,
	SIM_ELIMIT = -2, /* a bounded buffer would exceed its maximum */
	SIM_EINVAL = -3,
};

const char *sim_strerror(int err);

enum sim_shape { SHAPE_FLAT, SHAPE_NESTED, SHAPE_MIXED };
enum sim_level { LVL_DEBUG, LVL_INFO, LVL_WARNING, LVL_ERROR };

struct sim_config {
	char listen_host[64];
	int listen_port;
	int allow_remote;
	char key_id[128];
	char key_secret[128];
	char project[128];
	long token_ttl_s;
	uint64_t seed;
	int have_epoch;
	int64_t epoch_ms;
	int functions;
	double rate;
	long long total; /* < 0: unlimited */
	long long_ms;
	enum sim_shape shape;
	long replay_horizon_s;
	long heartbeat_ms;
	int sse_ids;
	char sse_event[64];
	long sse_retry_ms; /* < 0: no retry: line */
	int no_limits;
	long limit_window_s;
	size_t oversize_bytes;
	size_t oracle_cap;
	size_t stream_buffer_max;
	int verbose;
};

extern struct sim_config sim_cfg;
extern uv_loop_t *sim_loop;

/* The simulated clock: epoch + real time elapsed since start, in ms. */
int64_t sim_now_ms(void);
void sim_clock_start(void);

void sim_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LOGI(...) sim_log("info", __VA_ARGS__)
#define LOGW(...) sim_log("warning", __VA_ARGS__)
#define LOGD(...)                                                                                  \
	do {                                                                                       \
		if (sim_cfg.verbose)                                                               \
			sim_log("debug", __VA_ARGS__);                                             \
	} while (0)

/* Bounded byte buffer: every buffer has a hard maximum set at creation. */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
};

void sbuf_init(struct sbuf *b, size_t max);
void sbuf_free(struct sbuf *b);
int sbuf_add(struct sbuf *b, const void *data, size_t len);
int sbuf_adds(struct sbuf *b, const char *s);
int sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_consume(struct sbuf *b, size_t n);

/* Deterministic pseudo-random numbers (splitmix64). */
uint64_t sim_rng_next(uint64_t *state);
uint64_t sim_mix(uint64_t a, uint64_t b);
uint32_t sim_rng_below(uint64_t *state, uint32_t n);

/* RFC 3339: formats UTC with milliseconds; parses with or without fraction
 * and offset (microsecond resolution, no offset means UTC). */
void sim_fmt_time(int64_t ms, char out[32]);
int sim_parse_time(const char *s, int64_t *out_us);

/* Decodes %XX and '+' in place; returns the new length. */
size_t sim_url_decode(char *s);
/* Finds key in a raw query string and returns its decoded value (malloc'd). */
char *sim_query_get(const char *query, const char *key);

int sim_base64_decode(const char *in, unsigned char *out, size_t outmax, size_t *outlen);
void sim_base64url_encode(const unsigned char *in, size_t len, char *out, size_t outmax);

const char *sim_level_name(int level);
int sim_level_parse(const char *s);

#endif
