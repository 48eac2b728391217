/* normalize's timestamps: RFC 3339 in and out, without libc's time zone
 * machinery (gmtime, timegm), which is slow and reads TZ. */
#include "normalize.h"

#include "err.h"

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dim[m - 1];
}

/* n decimal digits at s[*i]; -1 if not there. */
static int digits(const char *s, size_t len, size_t *i, int n)
{
	int v = 0;
	for (int k = 0; k < n; k++, (*i)++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return -1;
		v = v * 10 + (s[*i] - '0');
	}
	return v;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i < len && s[*i] == c) {
		(*i)++;
		return true;
	}
	return false;
}

int norm_parse_time(const char *s, size_t len, int64_t *ms)
{
	size_t i = 0;
	int y = digits(s, len, &i, 4);
	if (y < 0 || !expect(s, len, &i, '-'))
		return LG_EINVAL;
	int mo = digits(s, len, &i, 2);
	if (mo < 1 || mo > 12 || !expect(s, len, &i, '-'))
		return LG_EINVAL;
	int d = digits(s, len, &i, 2);
	if (d < 1 || (unsigned)d > days_in_month((unsigned)y, (unsigned)mo))
		return LG_EINVAL;
	int h = 0, mi = 0, sec = 0, frac = 0, off = 0;
	if (i < len) {
		if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
			return LG_EINVAL;
		i++;
		h = digits(s, len, &i, 2);
		if (h < 0 || h > 23 || !expect(s, len, &i, ':'))
			return LG_EINVAL;
		mi = digits(s, len, &i, 2);
		if (mi < 0 || mi > 59)
			return LG_EINVAL;
		if (expect(s, len, &i, ':')) {
			sec = digits(s, len, &i, 2);
			if (sec < 0 || sec > 60)
				return LG_EINVAL;
			if (expect(s, len, &i, '.') || expect(s, len, &i, ',')) {
				size_t start = i;
				for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
					if (i - start < 3)
						frac = frac * 10 + (s[i] - '0');
				if (i == start)
					return LG_EINVAL;
				for (size_t k = i - start; k < 3; k++)
					frac *= 10;
			}
		}
		if (expect(s, len, &i, 'Z') || expect(s, len, &i, 'z')) {
			off = 0;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			int sign = s[i++] == '-' ? -1 : 1;
			int oh = digits(s, len, &i, 2), om = 0;
			if (oh < 0 || oh > 23)
				return LG_EINVAL;
			if (i < len) {
				expect(s, len, &i, ':');
				om = digits(s, len, &i, 2);
				if (om < 0 || om > 59)
					return LG_EINVAL;
			}
			off = sign * (oh * 60 + om);
		}
		if (i != len)
			return LG_EINVAL;
	}
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	int64_t secs = ((days * 24 + h) * 60 + mi - off) * 60 + sec;
	*ms = secs * 1000 + frac;
	return 0;
}

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
#define MS_MIN (-62167219200000LL)
#define MS_MAX 253402300799999LL

size_t norm_format_time(int64_t ms, char *out)
{
	if (ms < MS_MIN || ms > MS_MAX) {
		out[0] = '\0';
		return 0;
	}
	int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rem = ms - days * 86400000;
	/* Hinnant's civil_from_days. */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);
	unsigned msec = (unsigned)(rem % 1000), secs = (unsigned)(rem / 1000);
	put2(out, (unsigned)(y / 100));
	put2(out + 2, (unsigned)(y % 100));
	out[4] = '-';
	put2(out + 5, m);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = 'T';
	put2(out + 11, secs / 3600);
	out[13] = ':';
	put2(out + 14, secs / 60 % 60);
	out[16] = ':';
	put2(out + 17, secs % 60);
	out[19] = '.';
	out[20] = (char)('0' + msec / 100);
	put2(out + 21, msec % 100);
	out[23] = 'Z';
	out[24] = '\0';
	return NORM_TIME_LEN - 1;
}
