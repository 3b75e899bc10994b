/* Audit bundles: the signed reports of a period, exported so that an
 * auditor can check signatures and hash chains and recompute usage without
 * trusting the collector or its database. */
#ifndef TM_AUDIT_H
#define TM_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"
#include "store.h"

/* Largest envelope audit_verify accepts: the collector's largest message
 * ([collector] max_message may be up to 1 GiB). */
#define AUDIT_MAX_ENVELOPE (1024UL * 1024 * 1024)

/* Writes every stored signed report whose window starts in [from_ms, to_ms)
 * to path (atomic write), streamed from the store.  *n_reports gets the
 * count. */
int audit_export(struct store *s, int64_t from_ms, int64_t to_ms,
		 const char *path, size_t *n_reports);

struct audit_total {
	char *tenant;
	int metric;
	uint64_t value;
};

/* Everything audit_verify found; owned by the caller, freed with
 * audit_result_free() (NULL-safe). */
struct audit_result {
	int64_t from_ms, to_ms;
	size_t reports;          /* envelopes in the bundle */
	size_t verified;         /* signature good and signer trusted */
	size_t bad_signatures, untrusted, duplicates, chain_breaks;
	size_t gaps;             /* runs of missing seqs inside a chain */
	size_t agents;           /* distinct (agent, epoch) chains */
	/* events the verified reports declare their meters lost in their
	 * windows: the usage totals are short by what they were */
	size_t lossy_reports;
	uint64_t lost_map_overflow, lost_event_drops;
	struct audit_total *totals;   /* usage from verified reports */
	size_t n_totals;
	char **problems;         /* one readable line per finding */
	size_t n_problems;
};

/* Verifies the bundle at path, reading it one envelope at a time (memory
 * follows the largest report, the number of reports and the distinct
 * totals, not the file).  keys: the agents' public keys the auditor trusts
 * (n_keys == 0: trust whatever key signed each report, and say so in
 * problems).  Returns 0 when the bundle could be read (the findings are in
 * res), or a negative errno for an unreadable file, -EBADMSG for one that
 * is not a bundle (res is then empty). */
int audit_verify(const char *path, const uint8_t (*keys)[REPORT_PK_LEN],
		 size_t n_keys, struct audit_result *res);
void audit_result_free(struct audit_result *res);

#endif
