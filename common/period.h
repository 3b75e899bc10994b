/* Time arguments shared by the CLI and the collector: billing periods
 * ("2026-11" = the calendar month, UTC), dates and instants.  All results are
 * unix milliseconds, ranges half-open [from, to). */
#ifndef TM_PERIOD_H
#define TM_PERIOD_H

#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM" → that month; "YYYY-MM-DD" → that day.  0 or -EINVAL. */
int period_parse(const char *s, int64_t *from_ms, int64_t *to_ms);
/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" (or with a space), or unix seconds.
 * 0 or -EINVAL. */
int period_parse_time(const char *s, int64_t *ms);
/* The calendar month (UTC) containing ms. */
void period_month_of(int64_t ms, int64_t *from_ms, int64_t *to_ms);
/* "2026-11-25T17:00:00Z" into buf (at least 21 bytes). */
void period_format_time(int64_t ms, char *buf, size_t len);
/* "2026-11" into buf (at least 8 bytes). */
void period_format_month(int64_t ms, char *buf, size_t len);

#endif
