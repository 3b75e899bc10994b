/* Time arguments and billing periods, one implementation for the CLI, the
 * importers and the collector.  All results are unix milliseconds (UTC);
 * ranges are half-open [from, to). */
#ifndef TM_PERIOD_H
#define TM_PERIOD_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-01", "2026-11-01T10:00:00Z" (or a space for T, or +hh:mm / -hh:mm
 * for Z; seconds may have a fraction, kept to the millisecond), or unix
 * seconds.  0 or -EINVAL. */
int period_parse_time(const char *s, int64_t *ms);
/* "2026-11" -> [2026-11-01, 2026-12-01).  0 or -EINVAL. */
int period_parse_month(const char *s, int64_t *from_ms, int64_t *to_ms);
/* A month ("2026-11") or a day ("2026-11-25").  0 or -EINVAL. */
int period_parse(const char *s, int64_t *from_ms, int64_t *to_ms);
/* The calendar month containing ms: its name ("2026-11"; name needs 8
 * bytes, may be NULL) and range. */
void period_month_of(int64_t ms, char *name, size_t namelen,
		     int64_t *from_ms, int64_t *to_ms);
/* The wall clock now, unix milliseconds. */
int64_t period_now_ms(void);
/* "2026-11-25T17:00:00Z"; out needs 21 bytes. */
void period_format_time(int64_t ms, char *out, size_t outlen);

#endif
