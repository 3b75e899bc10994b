#include "period.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t utc_ms(int year, int mon, int day, int h, int m, int sec)
{
	struct tm tm = {
		.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
		.tm_hour = h, .tm_min = m, .tm_sec = sec,
	};

	return (int64_t)timegm(&tm) * 1000;
}

static int valid_date(int y, int mo, int d)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 &&
	       d <= days[mo - 1] &&
	       !(mo == 2 && d == 29 && !((y % 4 == 0 && y % 100) || y % 400 == 0));
}

int period_parse(const char *s, int64_t *from_ms, int64_t *to_ms)
{
	int y, mo, d, n = 0;

	if (sscanf(s, "%4d-%2d%n", &y, &mo, &n) == 2 && s[n] == '\0' && n == 7 &&
	    valid_date(y, mo, 1)) {
		*from_ms = utc_ms(y, mo, 1, 0, 0, 0);
		*to_ms = mo == 12 ? utc_ms(y + 1, 1, 1, 0, 0, 0) : utc_ms(y, mo + 1, 1, 0, 0, 0);
		return 0;
	}
	n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && s[n] == '\0' && n == 10 &&
	    valid_date(y, mo, d)) {
		*from_ms = utc_ms(y, mo, d, 0, 0, 0);
		*to_ms = *from_ms + 86400000;
		return 0;
	}
	return -EINVAL;
}

int period_parse_time(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, n = 0;
	char *end;
	long long v;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10 &&
	    valid_date(y, mo, d)) {
		if (s[n] == '\0') {
			*ms = utc_ms(y, mo, d, 0, 0, 0);
			return 0;
		}
		n = 0;
		if ((sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 ||
		     sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6) &&
		    s[n] == '\0' && h < 24 && mi < 60 && sec < 61 && h >= 0 && mi >= 0 && sec >= 0) {
			*ms = utc_ms(y, mo, d, h, mi, sec);
			return 0;
		}
		return -EINVAL;
	}
	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 253402300799LL)
		return -EINVAL;
	*ms = v * 1000;
	return 0;
}

void period_month_of(int64_t ms, int64_t *from_ms, int64_t *to_ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	*from_ms = utc_ms(tm.tm_year + 1900, tm.tm_mon + 1, 1, 0, 0, 0);
	*to_ms = tm.tm_mon == 11 ? utc_ms(tm.tm_year + 1901, 1, 1, 0, 0, 0)
				 : utc_ms(tm.tm_year + 1900, tm.tm_mon + 2, 1, 0, 0, 0);
}

void period_format_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void period_format_month(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m", &tm);
}
