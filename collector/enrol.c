#include "enrol.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* A key removed from the directory is refused within this many seconds
 * (at once on enrol_reload()). */
#define RESCAN_S 60

struct keyset {
	uint8_t (*keys)[REPORT_PK_LEN];
	size_t n, cap;
};

struct enrol {
	pthread_mutex_t lock;
	char *dir;
	struct keyset set;
	size_t n_static;               /* set.keys[0..n_static) came from the config */
	struct timespec last_scan;
};

static bool has_key(const struct keyset *s, const uint8_t pk[REPORT_PK_LEN])
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->keys[i], pk, REPORT_PK_LEN) == 0)
			return true;
	return false;
}

static int add_key(struct keyset *s, const uint8_t pk[REPORT_PK_LEN])
{
	if (has_key(s, pk))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *v = realloc(s->keys, cap * REPORT_PK_LEN);

		if (!v)
			return -ENOMEM;
		s->keys = v;
		s->cap = cap;
	}
	memcpy(s->keys[s->n++], pk, REPORT_PK_LEN);
	return 0;
}

/* The config's keys and the directory's *.pub files as they are now: the
 * set replaces the old one only when the whole directory was read, so a
 * transient error never unenrols anyone.  Called under e->lock. */
static int scan_dir(struct enrol *e)
{
	struct keyset next = { 0 };
	struct dirent *de;
	DIR *d;
	size_t added = 0, removed = 0;
	bool first = !e->last_scan.tv_sec && !e->last_scan.tv_nsec;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &e->last_scan);
	d = opendir(e->dir);
	if (!d) {
		err = -errno;
		log_warn("cannot read enrolled_keys directory %s: %s (the enrolled keys "
			 "stay as they were)", e->dir, strerror(errno));
		return err;
	}
	for (size_t i = 0; i < e->n_static && !err; i++)
		err = add_key(&next, e->set.keys[i]);
	while (!err && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		uint8_t pk[REPORT_PK_LEN];
		char path[PATH_MAX];

		if (len < 5 || strcmp(de->d_name + len - 4, ".pub") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", e->dir, de->d_name);
		if (report_pubkey_load(path, pk)) {
			log_warn("enrolled key %s is not a public key file; skipped", path);
			continue;
		}
		err = add_key(&next, pk);
	}
	closedir(d);
	if (err) {
		free(next.keys);
		return err;
	}
	for (size_t i = 0; i < next.n; i++)
		added += !has_key(&e->set, next.keys[i]);
	for (size_t i = 0; i < e->set.n; i++)
		removed += !has_key(&next, e->set.keys[i]);
	if (!first && (added || removed))
		log_info("enrolled_keys %s: %zu agent keys (%zu added, %zu removed)", e->dir,
			 next.n, added, removed);
	free(e->set.keys);
	e->set = next;
	return 0;
}

int enrol_new(const char *dir, const uint8_t (*keys)[REPORT_PK_LEN], size_t n,
	      struct enrol **out)
{
	struct enrol *e;
	int err = 0;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	for (size_t i = 0; i < n && !err; i++)
		err = add_key(&e->set, keys[i]);
	if (err)
		goto cleanup;
	e->n_static = e->set.n;
	if (dir && *dir) {
		e->dir = strdup(dir);
		err = e->dir ? scan_dir(e) : -ENOMEM;
		if (err)
			goto cleanup;
	}
	*out = e;
	e = NULL;
cleanup:
	enrol_free(e);
	return err;
}

void enrol_free(struct enrol *e)
{
	if (!e)
		return;
	pthread_mutex_destroy(&e->lock);
	free(e->set.keys);
	free(e->dir);
	free(e);
}

bool enrol_check(struct enrol *e, const uint8_t pk[REPORT_PK_LEN])
{
	struct timespec now;
	time_t since;
	bool ok;

	pthread_mutex_lock(&e->lock);
	ok = has_key(&e->set, pk);
	if (e->dir) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		since = now.tv_sec - e->last_scan.tv_sec;
		if ((!ok && since >= 1) || since >= RESCAN_S) {
			scan_dir(e);
			ok = has_key(&e->set, pk);
		}
	}
	pthread_mutex_unlock(&e->lock);
	return ok;
}

int enrol_reload(struct enrol *e)
{
	int err = 0;

	if (!e)
		return 0;
	pthread_mutex_lock(&e->lock);
	if (e->dir)
		err = scan_dir(e);
	pthread_mutex_unlock(&e->lock);
	return err;
}

int enrol_keys_hex(struct enrol *e, char (**hex)[REPORT_PK_HEX_LEN + 1], size_t *n)
{
	char (*v)[REPORT_PK_HEX_LEN + 1] = NULL;
	int err = 0;

	pthread_mutex_lock(&e->lock);
	if (e->set.n) {
		v = malloc(e->set.n * sizeof(*v));
		if (!v)
			err = -ENOMEM;
	}
	for (size_t i = 0; v && i < e->set.n; i++)
		report_hex(e->set.keys[i], REPORT_PK_LEN, v[i]);
	*n = v ? e->set.n : 0;
	pthread_mutex_unlock(&e->lock);
	*hex = v;
	return err;
}

size_t enrol_count(struct enrol *e)
{
	size_t n;

	pthread_mutex_lock(&e->lock);
	n = e->set.n;
	pthread_mutex_unlock(&e->lock);
	return n;
}
