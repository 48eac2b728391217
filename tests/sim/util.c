/* Small pure helpers: bounded buffers, PRNG, time, URL and base64 codecs. */
#include "sim.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct sim_config sim_cfg;
uv_loop_t *sim_loop;

static uint64_t clock_start_ms;
static int64_t clock_epoch_ms;

const char *sim_strerror(int err)
{
	switch (err) {
	case SIM_OK:
		return "ok";
	case SIM_ENOMEM:
		return "out of memory";
	case SIM_ELIMIT:
		return "buffer limit exceeded";
	case SIM_EINVAL:
		return "invalid argument";
	}
	return "unknown error";
}

void sim_clock_start(void)
{
	uv_update_time(sim_loop);
	clock_start_ms = uv_now(sim_loop);
	if (!sim_cfg.have_epoch) {
		uv_timeval64_t tv;

		uv_gettimeofday(&tv);
		sim_cfg.epoch_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	}
	clock_epoch_ms = sim_cfg.epoch_ms;
}

int64_t sim_now_ms(void)
{
	return clock_epoch_ms + (int64_t)(uv_now(sim_loop) - clock_start_ms);
}

void sim_log(const char *level, const char *fmt, ...)
{
	char ts[32];
	uv_timeval64_t tv;
	va_list ap;

	uv_gettimeofday(&tv);
	sim_fmt_time((int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, ts);
	fprintf(stderr, "%s %s sinch-fn-sim: ", ts, level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void sbuf_init(struct sbuf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	sbuf_init(b, b->max);
}

static int sbuf_reserve(struct sbuf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	size_t ncap;
	char *np;

	if (extra > b->max || b->len + extra > b->max)
		return SIM_ELIMIT;
	if (need <= b->cap)
		return SIM_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (!np)
		return SIM_ENOMEM;
	b->p = np;
	b->cap = ncap;
	return SIM_OK;
}

int sbuf_add(struct sbuf *b, const void *data, size_t len)
{
	int rc = sbuf_reserve(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return SIM_OK;
}

int sbuf_adds(struct sbuf *b, const char *s)
{
	return sbuf_add(b, s, strlen(s));
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return SIM_EINVAL;
	rc = sbuf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return SIM_OK;
}

void sbuf_consume(struct sbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->p, b->p + n, b->len - n);
		b->len -= n;
	}
	if (b->p)
		b->p[b->len] = '\0';
}

uint64_t sim_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t sim_mix(uint64_t a, uint64_t b)
{
	uint64_t s = a ^ (b * 0xd6e8feb86659fd93ULL);

	return sim_rng_next(&s);
}

uint32_t sim_rng_below(uint64_t *state, uint32_t n)
{
	return n ? (uint32_t)(sim_rng_next(state) % n) : 0;
}

/* Howard Hinnant's days_from_civil: timegm() is not in C11. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void sim_fmt_time(int64_t ms, char out[32])
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int msec = (int)(ms - secs * 1000);
	time_t t = (time_t)secs;
	struct tm tm;
	char tmp[96];
	size_t n;

	gmtime_r(&t, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
	/* Only years past 9999 are longer, and those are not timestamps we make. */
	n = strlen(tmp);
	if (n > 31)
		n = 31;
	memcpy(out, tmp, n);
	out[n] = '\0';
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int sim_parse_time(const char *s, int64_t *out_us)
{
	int Y, M, D, h, mi, sec, oh = 0, om = 0;
	int64_t frac_us = 0, off_s = 0;
	const char *p = s;

	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
	    digits(&p, 2, &D))
		return SIM_EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return SIM_EINVAL;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return SIM_EINVAL;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
		return SIM_EINVAL;
	if (*p == '.' || *p == ',') {
		int64_t scale = 100000;

		p++;
		if (!isdigit((unsigned char)*p))
			return SIM_EINVAL;
		while (isdigit((unsigned char)*p)) {
			frac_us += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-' || *p == ' ') {
		/* A raw '+' in a query string arrives decoded as a space. */
		int sign = *p == '-' ? -1 : 1;

		p++;
		if (digits(&p, 2, &oh))
			return SIM_EINVAL;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om) || oh > 23 || om > 59)
			return SIM_EINVAL;
		off_s = sign * (oh * 3600 + om * 60);
	}
	if (*p)
		return SIM_EINVAL;
	*out_us = ((days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 +
	            sec - off_s) *
	           1000000) +
	          frac_us;
	return SIM_OK;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t sim_url_decode(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '%' && hexval((unsigned char)r[1]) >= 0 &&
		    hexval((unsigned char)r[2]) >= 0) {
			*w++ =
			    (char)(hexval((unsigned char)r[1]) * 16 + hexval((unsigned char)r[2]));
			r += 2;
		} else if (*r == '+') {
			*w++ = ' ';
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

char *sim_query_get(const char *query, const char *key)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;
		char *name = strndup(p, nlen);

		if (!name)
			return NULL;
		sim_url_decode(name);
		if (strlen(name) == klen && memcmp(name, key, klen) == 0) {
			char *val = eq ? strndup(eq + 1, len - nlen - 1) : strdup("");

			free(name);
			if (val)
				sim_url_decode(val);
			return val;
		}
		free(name);
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int sim_base64_decode(const char *in, unsigned char *out, size_t outmax, size_t *outlen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *in && *in != '='; in++) {
		int v = b64val((unsigned char)*in);

		if (v < 0)
			return SIM_EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outmax)
				return SIM_ELIMIT;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = n;
	return SIM_OK;
}

void sim_base64url_encode(const unsigned char *in, size_t len, char *out, size_t outmax)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6 && n + 1 < outmax) {
			bits -= 6;
			out[n++] = tbl[(acc >> bits) & 63];
		}
	}
	if (bits > 0 && n + 1 < outmax)
		out[n++] = tbl[(acc << (6 - bits)) & 63];
	out[n] = '\0';
}

static const char *const level_names[] = {"Debug", "Info", "Warning", "Error"};

const char *sim_level_name(int level)
{
	return level_names[level & 3];
}

int sim_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warn") == 0)
		return LVL_WARNING;
	return -1;
}
