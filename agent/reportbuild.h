/* Building a Report from a window's deltas, and reading the deltas back out
 * of a report (crash roll-forward).
 *
 * Strings (tenant, route, method) are interned once per report; index 0 is
 * always "" so absent dimensions cost one byte.  Only non-zero rows go in.
 *
 * Ownership: reportbuild_make() returns a report owned by the caller and
 * freed with reportbuild_free() (NULL accepted); it is NOT a protobuf-c
 * unpacked message, so never pass it to report_free(). */
#ifndef TM_REPORTBUILD_H
#define TM_REPORTBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "meter.h"
#include "report.h"

struct reportbuild_in {
	const uint8_t *agent_id;                 /* REPORT_PK_LEN bytes */
	uint64_t epoch, seq;
	int64_t window_start_ms, window_end_ms;
	const struct meter_row *deltas;          /* value = delta */
	size_t n_deltas;
	const struct meter_health *health;       /* NULL = none */
	uint64_t spool_drops, spool_bytes;
	/* the meter's losses in this window (state_losses_since()) */
	uint64_t map_overflow_window, event_drops_window;
	const uint8_t *prev_digest;              /* NULL for seq 1 */
	const char *hostname;
};

int reportbuild_make(const struct reportbuild_in *in, Truemeter__Report **out);

/* Room a sealed report needs beyond its packed size: the envelope and the
 * signature, and growth of the health varints between two builds. */
#define REPORTBUILD_SLACK 128

/* How many of in->deltas, from the first, go into one report whose packed
 * size plus REPORTBUILD_SLACK stays within max_bytes: all when they fit,
 * else the longest prefix that does; *size gets that report's packed size.
 * -EMSGSIZE when not even the first row (or, with no rows, the report
 * itself) fits. */
int reportbuild_fit(const struct reportbuild_in *in, size_t max_bytes, size_t *n_fit,
		    size_t *size);
void reportbuild_free(Truemeter__Report *r);

/* The usage rows of a (decoded) report as meter rows; *rows malloc'd.
 * -EBADMSG when a row names a string index that does not exist or a string
 * too long for a meter row. */
int reportbuild_rows(const Truemeter__Report *r, struct meter_row **rows, size_t *n);

#endif
