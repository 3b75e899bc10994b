/* The agent's on-disk spool: every sealed report is written here (temp
 * file, fsync, rename, fsync dir) before it is sent, and deleted only after
 * the collector acknowledged it.  One file per report:
 *
 *   DIR/<serial 20>-<epoch 16 hex>-<seq 20>.rep
 *
 * The serial is the spool's own insertion counter, so sending "oldest first"
 * never depends on the wall clock.  Each file starts with a 64-byte header
 * (magic, epoch, seq, length, BLAKE2b-256 over header and payload) that is
 * verified on every read: a corrupt file is moved to DIR/corrupt/ and
 * counted, never sent and never fatal.  Rejected reports go to
 * DIR/rejected/.  Both keep the newest 1,000 files within max_bytes (a
 * revoked agent's every report is rejected).  The spool is bounded by
 * bytes and by report count; making room drops the oldest reports and
 * returns how many (the agent counts them into its cumulative
 * health.spool_drops).
 *
 * Thread safety: every function may be called from any thread (the agent's
 * main loop adds, the sender thread reads and removes).
 * Ownership: spool_open() returns a spool freed by spool_close() (NULL ok);
 * payloads from spool_read() are malloc'd and owned by the caller. */
#ifndef TM_SPOOL_H
#define TM_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_HEADER_LEN 64
#define SPOOL_MAX_PAYLOAD (64u << 20)

struct spool;

struct spool_entry {
	uint64_t serial, epoch, seq;
	size_t size;                 /* file size, header included */
};

struct spool_stats {
	uint64_t reports, bytes;     /* what is spooled now */
	uint64_t corrupt;            /* files moved to corrupt/ since open */
	uint64_t rejected;           /* files moved to rejected/ since open */
	uint64_t dropped;            /* reports dropped to make room since open */
};

/* Creates dir (and corrupt/, rejected/) as needed, removes leftover temp
 * files, and indexes the spooled reports.  max_bytes / max_reports bound the
 * spool (0 = unbounded). */
int spool_open(const char *dir, int64_t max_bytes, int64_t max_reports,
	       struct spool **out);
void spool_close(struct spool *s);

/* Drops the oldest reports until one more of payload_len bytes fits;
 * *dropped gets how many were dropped (each logged as a warning). */
int spool_make_room(struct spool *s, size_t payload_len, uint64_t *dropped);

/* Durably writes one report.  The sender does not see it until
 * spool_publish(): the agent publishes only after saving the state that
 * covers it, so an acked (and deleted) report is never missing from both
 * the spool and the state after a crash. */
int spool_add(struct spool *s, uint64_t epoch, uint64_t seq,
	      const uint8_t *payload, size_t len);
/* Makes every report added so far sendable; wakes spool_wait(). */
void spool_publish(struct spool *s);

/* The oldest entry if published: 1 and *e, or 0 when there is none.  The entry is
 * marked in flight: spool_make_room() will not drop it (it may be stored
 * already, even if no ack came) until spool_remove() or spool_reject(). */
int spool_oldest(struct spool *s, struct spool_entry *e);
/* The entry for (epoch, seq): 1 and *e, or 0. */
int spool_find(struct spool *s, uint64_t epoch, uint64_t seq, struct spool_entry *e);

/* Reads and verifies an entry's payload.  -EBADMSG: the file was corrupt
 * and has been moved aside (and dropped from the index); -ENOENT: it is
 * gone (dropped meanwhile). */
int spool_read(struct spool *s, const struct spool_entry *e, uint8_t **payload,
	       size_t *len);

/* Deletes an acknowledged entry (a missing file is fine). */
int spool_remove(struct spool *s, const struct spool_entry *e);
/* Moves an entry the collector refused to rejected/. */
int spool_reject(struct spool *s, const struct spool_entry *e);

/* Waits up to timeout_ms for the spool to be non-empty or for
 * spool_wakeup(); returns 1 if non-empty. */
int spool_wait(struct spool *s, int64_t timeout_ms);
void spool_wakeup(struct spool *s);

void spool_stats_get(struct spool *s, struct spool_stats *st);

/* The file name of an entry (for logs and tests); buf of 80 bytes. */
void spool_entry_name(const struct spool_entry *e, char *buf, size_t size);

#endif
