#include "period.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

static int parse_unix(const char *s, int64_t *ms)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 253402300799LL)
		return -EINVAL;
	*ms = (int64_t)v * 1000;
	return 0;
}

static int parse_tz(const char *p, int *off_s)
{
	int hh, mm, sign;

	*off_s = 0;
	if (*p == 'Z' || *p == 'z')
		return p[1] ? -EINVAL : 0;
	if (*p != '+' && *p != '-')
		return -EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	if (parse_digits(&p, 2, &hh) || *p++ != ':' || parse_digits(&p, 2, &mm) || *p ||
	    hh > 23 || mm > 59)
		return -EINVAL;
	*off_s = sign * (hh * 3600 + mm * 60);
	return 0;
}

/* ".123", ".5", ".123456789" after the seconds: milliseconds, the digits
 * past them dropped (RFC 3339 allows any number; APIs and JavaScript's
 * toISOString() write some). */
static int parse_fraction(const char **p, int *ms)
{
	int n = 0;

	*ms = 0;
	if (**p != '.')
		return 0;
	for ((*p)++; isdigit((unsigned char)**p); (*p)++, n++)
		if (n < 3)
			*ms = *ms * 10 + (**p - '0');
	if (!n || n > 9)
		return -EINVAL;
	for (; n < 3; n++)
		*ms *= 10;
	return 0;
}

/* y-m-d h:m:s UTC to ms; -EINVAL for a day the month does not have. */
static int utc_ms(int y, int mo, int d, int h, int mi, int sec, int64_t *ms)
{
	struct tm tm = {
		.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
		.tm_hour = h, .tm_min = mi, .tm_sec = sec,
	};
	time_t t;

	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	t = timegm(&tm);
	if (tm.tm_mday != d)        /* normalised: 2026-02-30 is not a date */
		return -EINVAL;
	*ms = (int64_t)t * 1000;
	return 0;
}

static int parse_date(const char **p, int *y, int *mo, int *d)
{
	if (parse_digits(p, 4, y) || *(*p)++ != '-' || parse_digits(p, 2, mo) ||
	    *(*p)++ != '-' || parse_digits(p, 2, d))
		return -EINVAL;
	return 0;
}

int period_parse_time(const char *s, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (strlen(s) < 10 || s[4] != '-')
		return parse_unix(s, ms);
	if (parse_date(&p, &y, &mo, &d))
		return -EINVAL;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi) ||
		    *p++ != ':' || parse_digits(&p, 2, &sec) || parse_fraction(&p, &frac))
			return -EINVAL;
		/* "2026-11-01 10:00:00" without a zone is UTC */
		if (*p && parse_tz(p, &off))
			return -EINVAL;
	} else if (*p) {
		return -EINVAL;
	}
	if (utc_ms(y, mo, d, h, mi, sec, ms))
		return -EINVAL;
	*ms += frac - (int64_t)off * 1000;
	return 0;
}

int period_parse_month(const char *s, int64_t *from_ms, int64_t *to_ms)
{
	const char *p = s;
	int y, m;

	if (!p || parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &m) || *p ||
	    utc_ms(y, m, 1, 0, 0, 0, from_ms))
		return -EINVAL;
	return m == 12 ? utc_ms(y + 1, 1, 1, 0, 0, 0, to_ms) : utc_ms(y, m + 1, 1, 0, 0, 0, to_ms);
}

int period_parse(const char *s, int64_t *from_ms, int64_t *to_ms)
{
	const char *p = s;
	int y, mo, d;

	if (period_parse_month(s, from_ms, to_ms) == 0)
		return 0;
	if (!s || parse_date(&p, &y, &mo, &d) || *p || utc_ms(y, mo, d, 0, 0, 0, from_ms))
		return -EINVAL;
	*to_ms = *from_ms + 86400000;
	return 0;
}

void period_month_of(int64_t ms, char *name, size_t namelen,
		     int64_t *from_ms, int64_t *to_ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];

	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
	if (name)
		snprintf(name, namelen, "%s", buf);
	period_parse_month(buf, from_ms, to_ms);
}

void period_format_time(int64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t period_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
