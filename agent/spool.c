#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"

static const char spool_magic[8] = { 'T', 'M', 'S', 'P', 'O', 'O', 'L', '1' };

/* Header layout (little-endian):
 *   0  magic[8]  8 epoch  16 seq  24 len (u32)  28 zero (u32)
 *   32 BLAKE2b-256 of bytes 0..31 followed by the payload */
struct spool {
	char *dir;
	int64_t max_bytes, max_reports;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool wakeup;
	struct spool_entry *v;       /* v[head .. n) is the index, oldest first */
	size_t head, n, cap;
	uint64_t bytes, next_serial;
	uint64_t inflight;           /* serial the sender is sending, 0 = none */
	uint64_t published;          /* entries up to this serial may be sent */
	uint64_t corrupt, rejected, dropped;
};

void spool_entry_name(const struct spool_entry *e, char *buf, size_t size)
{
	snprintf(buf, size, "%020" PRIu64 "-%016" PRIx64 "-%020" PRIu64 ".rep",
		 e->serial, e->epoch, e->seq);
}

static int entry_path(const struct spool *s, const struct spool_entry *e,
		      const char *sub, char *buf, size_t size)
{
	char name[80];

	spool_entry_name(e, name, sizeof(name));
	if (snprintf(buf, size, "%s/%s%s%s", s->dir, sub ? sub : "", sub ? "/" : "",
		     name) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void checksum(const uint8_t *hdr, const uint8_t *payload, size_t len,
		     uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, hdr, 32);
	crypto_generichash_update(&st, payload, len);
	crypto_generichash_final(&st, out, 32);
}

/* Index insert keeping serial order (entries almost always arrive last). */
static int index_insert(struct spool *s, const struct spool_entry *e)
{
	size_t i;

	if (s->head > 0 && s->head == s->n) {
		s->head = s->n = 0;
	}
	if (s->n == s->cap) {
		if (s->head > s->cap / 2) {
			memmove(s->v, s->v + s->head, (s->n - s->head) * sizeof(*s->v));
			s->n -= s->head;
			s->head = 0;
		} else {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct spool_entry *v = realloc(s->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			s->v = v;
			s->cap = cap;
		}
	}
	i = s->n;
	while (i > s->head && s->v[i - 1].serial > e->serial)
		i--;
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = *e;
	s->n++;
	s->bytes += e->size;
	if (e->serial >= s->next_serial)
		s->next_serial = e->serial + 1;
	return 0;
}

/* Removes the entry with e's serial; false if it is not indexed. */
static bool index_remove(struct spool *s, const struct spool_entry *e)
{
	if (s->inflight == e->serial)
		s->inflight = 0;
	for (size_t i = s->head; i < s->n; i++) {
		if (s->v[i].serial != e->serial)
			continue;
		s->bytes -= s->v[i].size;
		if (i == s->head) {
			s->head++;
		} else {
			memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
			s->n--;
		}
		return true;
	}
	return false;
}

static int make_subdirs(const char *dir)
{
	char p[PATH_MAX];
	int err;

	err = fileio_mkdirs(dir, 0700);
	if (err)
		return err;
	snprintf(p, sizeof(p), "%s/corrupt", dir);
	err = fileio_mkdirs(p, 0700);
	if (err)
		return err;
	snprintf(p, sizeof(p), "%s/rejected", dir);
	return fileio_mkdirs(p, 0700);
}

/* Reads the directory into the index; temp files of a crashed write are
 * removed, unknown names are left alone. */
static int scan(struct spool *s)
{
	DIR *d;
	struct dirent *de;
	int err = 0;

	d = opendir(s->dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct spool_entry e = { 0 };
		char path[PATH_MAX];
		struct stat st;
		int used = 0;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (strstr(de->d_name, ".rep.tmp.")) {
			log_info("spool: removing unfinished write %s", path);
			unlink(path);
			continue;
		}
		if (sscanf(de->d_name, "%20" SCNu64 "-%16" SCNx64 "-%20" SCNu64 ".rep%n",
			   &e.serial, &e.epoch, &e.seq, &used) != 3 ||
		    de->d_name[used] != '\0')
			continue;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		e.size = (size_t)st.st_size;
		err = index_insert(s, &e);
		if (err)
			break;
	}
	closedir(d);
	return err;
}

int spool_open(const char *dir, int64_t max_bytes, int64_t max_reports,
	       struct spool **out)
{
	struct spool *s;
	int err;

	*out = NULL;
	if (sodium_init() < 0)
		return -EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->max_bytes = max_bytes;
	s->max_reports = max_reports;
	s->next_serial = 1;
	s->dir = strdup(dir);
	if (!s->dir) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = make_subdirs(dir);
	if (err) {
		log_warn("spool: cannot create %s: %s", dir, strerror(-err));
		goto cleanup;
	}
	err = scan(s);
	/* what an earlier run spooled is covered by its saved state (or by
	 * the roll-forward that runs before the sender starts) */
	s->published = s->next_serial - 1;
	if (err) {
		log_warn("spool: cannot read %s: %s", dir, strerror(-err));
		goto cleanup;
	}
	if (s->n - s->head)
		log_info("spool: %zu reports (%" PRIu64 " bytes) waiting in %s",
			 s->n - s->head, s->bytes, dir);
	*out = s;
	s = NULL;
cleanup:
	spool_close(s);
	return err;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->v);
	free(s->dir);
	free(s);
}

/* The oldest entry that is not being sent right now, or NULL.  Dropping
 * the one in flight could count a report as dropped that is then stored. */
static struct spool_entry *oldest_idle(struct spool *s)
{
	for (size_t i = s->head; i < s->n; i++)
		if (s->v[i].serial != s->inflight)
			return &s->v[i];
	return NULL;
}

static bool full_for(const struct spool *s, size_t size)
{
	uint64_t count = s->n - s->head;

	if (count == 0)
		return false;
	if (s->max_reports && count + 1 > (uint64_t)s->max_reports)
		return true;
	return s->max_bytes && s->bytes + size > (uint64_t)s->max_bytes;
}

int spool_make_room(struct spool *s, size_t payload_len, uint64_t *dropped)
{
	size_t size = payload_len + SPOOL_HEADER_LEN;
	bool synced = true;

	*dropped = 0;
	pthread_mutex_lock(&s->lock);
	while (full_for(s, size) && oldest_idle(s)) {
		struct spool_entry e = *oldest_idle(s);
		char path[PATH_MAX];

		index_remove(s, &e);
		s->dropped++;
		(*dropped)++;
		if (entry_path(s, &e, NULL, path, sizeof(path)) == 0 &&
		    unlink(path) < 0 && errno != ENOENT)
			log_warn("spool: cannot remove %s: %s", path, strerror(errno));
		synced = false;
		log_warn("spool full (%" PRId64 " bytes / %" PRId64 " reports max): "
			 "dropped unsent report epoch %016" PRIx64 " seq %" PRIu64,
			 s->max_bytes, s->max_reports, e.epoch, e.seq);
	}
	pthread_mutex_unlock(&s->lock);
	if (!synced)
		fileio_sync_dir(s->dir);
	return 0;
}

int spool_add(struct spool *s, uint64_t epoch, uint64_t seq,
	      const uint8_t *payload, size_t len)
{
	struct spool_entry e = { .epoch = epoch, .seq = seq };
	uint8_t *buf = NULL;
	char path[PATH_MAX];
	int err;

	if (len > SPOOL_MAX_PAYLOAD)
		return -EFBIG;
	buf = malloc(SPOOL_HEADER_LEN + len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, spool_magic, 8);
	put64(buf + 8, epoch);
	put64(buf + 16, seq);
	put64(buf + 24, (uint64_t)len);       /* u32 len + u32 zero */
	memcpy(buf + SPOOL_HEADER_LEN, payload, len);
	checksum(buf, payload, len, buf + 32);
	e.size = SPOOL_HEADER_LEN + len;
	pthread_mutex_lock(&s->lock);
	e.serial = s->next_serial++;
	pthread_mutex_unlock(&s->lock);
	err = entry_path(s, &e, NULL, path, sizeof(path));
	if (err)
		goto cleanup;
	err = fileio_write_atomic(path, buf, e.size, 0600);
	if (err) {
		log_warn("spool: cannot write %s: %s", path, strerror(-err));
		goto cleanup;
	}
	pthread_mutex_lock(&s->lock);
	err = index_insert(s, &e);
	pthread_mutex_unlock(&s->lock);
cleanup:
	free(buf);
	return err;
}

void spool_publish(struct spool *s)
{
	pthread_mutex_lock(&s->lock);
	s->published = s->next_serial - 1;
	s->wakeup = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* The oldest entry exists and may be sent; under the lock. */
static bool sendable(const struct spool *s)
{
	return s->head < s->n && s->v[s->head].serial <= s->published;
}

int spool_oldest(struct spool *s, struct spool_entry *e)
{
	int found = 0;

	pthread_mutex_lock(&s->lock);
	if (sendable(s)) {
		*e = s->v[s->head];
		s->inflight = e->serial;
		found = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

int spool_find(struct spool *s, uint64_t epoch, uint64_t seq, struct spool_entry *e)
{
	int found = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = s->n; i > s->head; i--) {
		if (s->v[i - 1].epoch == epoch && s->v[i - 1].seq == seq) {
			*e = s->v[i - 1];
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

/* corrupt/ and rejected/ hold reports for a person to look at, never to
 * send: at most ASIDE_MAX files, and no more bytes than the spool itself
 * may hold; the oldest (lowest serial, first in name order) go first. */
#define ASIDE_MAX 1000

struct aside_file {
	char name[80];
	uint64_t size;
};

static int aside_cmp(const void *a, const void *b)
{
	return strcmp(((const struct aside_file *)a)->name, ((const struct aside_file *)b)->name);
}

static void prune_aside(struct spool *s, const char *sub)
{
	struct aside_file *v = NULL, *grown;
	char dir[PATH_MAX], path[PATH_MAX + 80];
	size_t n = 0, cap = 0, keep = 0, removed = 0;
	uint64_t bytes = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", s->dir, sub);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || len >= sizeof(v->name) || strcmp(de->d_name + len - 4, ".rep"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown)
				break;
			v = grown;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n++].size = (uint64_t)st.st_size;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), aside_cmp);
	/* the newest that fit */
	while (keep < n && keep < ASIDE_MAX &&
	       (!s->max_bytes || bytes + v[n - 1 - keep].size <= (uint64_t)s->max_bytes))
		bytes += v[n - 1 - keep++].size;
	for (size_t i = 0; i < n - keep; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
		removed += unlink(path) == 0;
	}
	if (removed) {
		log_warn("spool: %s/ keeps the newest %zu reports; the %zu oldest were deleted",
			 sub, keep, removed);
		fileio_sync_dir(dir);
	}
	free(v);
}

/* Moves an entry's file into sub/ and drops it from the index. */
static int move_aside(struct spool *s, const struct spool_entry *e, const char *sub)
{
	char from[PATH_MAX], to[PATH_MAX];
	int err;

	pthread_mutex_lock(&s->lock);
	index_remove(s, e);
	pthread_mutex_unlock(&s->lock);
	err = entry_path(s, e, NULL, from, sizeof(from));
	if (!err)
		err = entry_path(s, e, sub, to, sizeof(to));
	if (err)
		return err;
	if (rename(from, to) < 0 && errno != ENOENT) {
		err = -errno;
		log_warn("spool: cannot move %s to %s/: %s", from, sub, strerror(errno));
		unlink(from);
	}
	fileio_sync_dir(s->dir);
	prune_aside(s, sub);
	return err;
}

static int verify(const uint8_t *buf, size_t n, const struct spool_entry *e,
		  const char **why)
{
	uint8_t sum[32];
	uint64_t len;

	if (n < SPOOL_HEADER_LEN || memcmp(buf, spool_magic, 8) != 0) {
		*why = "bad header";
		return -EBADMSG;
	}
	len = get64(buf + 24);
	if (len != n - SPOOL_HEADER_LEN) {
		*why = "length does not match the file size";
		return -EBADMSG;
	}
	if (get64(buf + 8) != e->epoch || get64(buf + 16) != e->seq) {
		*why = "header names another report than the file name";
		return -EBADMSG;
	}
	checksum(buf, buf + SPOOL_HEADER_LEN, len, sum);
	if (sodium_memcmp(sum, buf + 32, 32) != 0) {
		*why = "checksum mismatch";
		return -EBADMSG;
	}
	return 0;
}

int spool_read(struct spool *s, const struct spool_entry *e, uint8_t **payload,
	       size_t *len)
{
	char path[PATH_MAX];
	char *buf = NULL;
	const char *why = NULL;
	size_t n = 0;
	int err;

	*payload = NULL;
	*len = 0;
	err = entry_path(s, e, NULL, path, sizeof(path));
	if (err)
		goto cleanup;
	err = fileio_read_all(path, SPOOL_MAX_PAYLOAD + SPOOL_HEADER_LEN, &buf, &n);
	if (err == -ENOENT)
		goto cleanup;
	if (err == -EFBIG) {
		why = "file too large";
		err = -EBADMSG;
	} else if (err) {
		log_warn("spool: cannot read %s: %s", path, strerror(-err));
		goto cleanup;
	} else {
		err = verify((uint8_t *)buf, n, e, &why);
	}
	if (err == -EBADMSG) {
		log_warn("spool: corrupt report file %s (%s): moved to %s/corrupt/, "
			 "not sent", path, why, s->dir);
		pthread_mutex_lock(&s->lock);
		s->corrupt++;
		pthread_mutex_unlock(&s->lock);
		move_aside(s, e, "corrupt");
		goto cleanup;
	}
	memmove(buf, buf + SPOOL_HEADER_LEN, n - SPOOL_HEADER_LEN);
	*payload = (uint8_t *)buf;
	*len = n - SPOOL_HEADER_LEN;
	buf = NULL;
cleanup:
	free(buf);
	return err;
}

int spool_remove(struct spool *s, const struct spool_entry *e)
{
	char path[PATH_MAX];
	int err;

	pthread_mutex_lock(&s->lock);
	index_remove(s, e);
	pthread_mutex_unlock(&s->lock);
	err = entry_path(s, e, NULL, path, sizeof(path));
	if (err)
		return err;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return fileio_sync_dir(s->dir);
}

int spool_reject(struct spool *s, const struct spool_entry *e)
{
	pthread_mutex_lock(&s->lock);
	s->rejected++;
	pthread_mutex_unlock(&s->lock);
	return move_aside(s, e, "rejected");
}

int spool_wait(struct spool *s, int64_t timeout_ms)
{
	struct timespec ts;
	int nonempty;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!sendable(s) && !s->wakeup) {
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	}
	s->wakeup = false;
	nonempty = sendable(s);
	pthread_mutex_unlock(&s->lock);
	return nonempty;
}

void spool_wakeup(struct spool *s)
{
	pthread_mutex_lock(&s->lock);
	s->wakeup = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void spool_stats_get(struct spool *s, struct spool_stats *st)
{
	pthread_mutex_lock(&s->lock);
	st->reports = s->n - s->head;
	st->bytes = s->bytes;
	st->corrupt = s->corrupt;
	st->rejected = s->rejected;
	st->dropped = s->dropped;
	pthread_mutex_unlock(&s->lock);
}
