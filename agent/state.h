/* The agent's durable state (STATE_DIR/state): the epoch, the last sealed
 * report's seq and digest, the end of its window, cumulative spool drops,
 * the meter's loss counters as that report declared them and the baseline
 * of every counter.  Written atomically (temp, fsync, rename, fsync dir)
 * after each report is spooled; a BLAKE2b-256 checksum over the whole file
 * is verified on load.
 *
 * Ownership: state_init()/state_load() fill *st, whose baseline is owned by
 * it and freed by state_free(). */
#ifndef TM_STATE_H
#define TM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "delta.h"
#include "report.h"
#include "spool.h"

struct agent_state {
	uint64_t epoch;
	uint64_t seq;                           /* last report sealed, 0 = none */
	uint8_t last_digest[REPORT_DIGEST_LEN]; /* valid when seq > 0 */
	int64_t window_end_ms;                  /* end of the last window, 0 = none */
	uint64_t spool_drops;                   /* cumulative */
	/* The meter's cumulative loss counters at the last sealed report: a
	 * report declares the losses since (state_losses_since()).  Unknown after
	 * a state file written before they were kept. */
	struct state_losses {
		uint64_t map_overflow, event_drops;
	} lost;
	bool lost_known;
	struct delta_table *baseline;
};

/* A fresh state: new random epoch, seq 0, empty baseline. */
int state_init(struct agent_state *st);
/* 0; -ENOENT when there is no state file; -EBADMSG when it is corrupt. */
int state_load(const char *path, struct agent_state *st);
int state_save(const char *path, const struct agent_state *st);
void state_free(struct agent_state *st);

/* The losses since the last sealed report, from the meter's cumulative
 * counters now: their increase, or all of a counter that went down (its
 * maps were created afresh: a reboot emptied bpffs).  Nothing while the
 * last report's counters are unknown. */
struct state_losses state_losses_since(const struct agent_state *st,
				       uint64_t map_overflow, uint64_t event_drops);
/* The meter's cumulative loss counters as a report now declares them: the
 * next report's losses count from here. */
void state_losses_declared(struct agent_state *st, uint64_t map_overflow,
			   uint64_t event_drops);

/* Crash roll-forward: while the spool holds this key's report with
 * seq = st->seq + 1 of st->epoch (the agent died after spooling it but
 * before saving the state), applies its deltas to the baseline and adopts
 * its seq, digest, window end, declared spool drops and loss counters.
 * Returns how many reports were applied (the caller saves the state) or a
 * negative errno. */
int state_roll_forward(struct agent_state *st, const uint8_t pk[REPORT_PK_LEN],
		       struct spool *spool);

#endif
