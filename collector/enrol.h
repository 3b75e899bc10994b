/* Enrolled agents: the public keys the collector accepts reports from.
 * Keys come from the config (enroll = HEX) and from a directory of *.pub
 * files (one hex key each).  The directory is read again when an unknown
 * key reports (at most once a second), so agents can be enrolled without a
 * restart, and at least once a minute and on enrol_reload(), so a key
 * removed from it is refused: the set is then what the directory holds.
 * A directory that cannot be read leaves the set as it was.  Thread-safe.
 *
 * Ownership: enrol_new() returns a set freed with enrol_free() (NULL ok);
 * dir and keys are copied. */
#ifndef TM_ENROL_H
#define TM_ENROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

struct enrol;

/* dir may be NULL or "".  A missing or unreadable directory is an error;
 * a bad *.pub file is logged and skipped. */
int enrol_new(const char *dir, const uint8_t (*keys)[REPORT_PK_LEN], size_t n,
	      struct enrol **out);
void enrol_free(struct enrol *e);
bool enrol_check(struct enrol *e, const uint8_t pk[REPORT_PK_LEN]);
/* Reads the directory again now (SIGHUP).  0 or a negative errno (the set
 * unchanged). */
int enrol_reload(struct enrol *e);
size_t enrol_count(struct enrol *e);
/* The enrolled keys now, in lower-case hex: *hex is malloc'd (the caller
 * frees it; NULL when *n is 0). */
int enrol_keys_hex(struct enrol *e, char (**hex)[REPORT_PK_HEX_LEN + 1], size_t *n);

#endif
