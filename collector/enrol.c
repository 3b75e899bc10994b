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

struct enrol {
	pthread_mutex_t lock;
	char *dir;
	uint8_t (*keys)[REPORT_PK_LEN];
	size_t n, cap;
	size_t n_static;               /* keys[0..n_static) came from the config */
	struct timespec last_scan;
};

static bool has_key(const struct enrol *e, const uint8_t pk[REPORT_PK_LEN])
{
	for (size_t i = 0; i < e->n; i++)
		if (memcmp(e->keys[i], pk, REPORT_PK_LEN) == 0)
			return true;
	return false;
}

static int add_key(struct enrol *e, const uint8_t pk[REPORT_PK_LEN])
{
	if (has_key(e, pk))
		return 0;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		void *v = realloc(e->keys, cap * REPORT_PK_LEN);

		if (!v)
			return -ENOMEM;
		e->keys = v;
		e->cap = cap;
	}
	memcpy(e->keys[e->n++], pk, REPORT_PK_LEN);
	return 0;
}

static int scan_dir(struct enrol *e)
{
	struct dirent *de;
	DIR *d;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &e->last_scan);
	d = opendir(e->dir);
	if (!d) {
		err = -errno;
		log_warn("cannot read enrolled_keys directory %s: %s", e->dir, strerror(errno));
		return err;
	}
	while ((de = readdir(d))) {
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
		err = add_key(e, pk);
		if (err)
			break;
	}
	closedir(d);
	return err;
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
		err = add_key(e, keys[i]);
	if (err)
		goto cleanup;
	e->n_static = e->n;
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
	free(e->keys);
	free(e->dir);
	free(e);
}

bool enrol_check(struct enrol *e, const uint8_t pk[REPORT_PK_LEN])
{
	struct timespec now;
	bool ok;

	pthread_mutex_lock(&e->lock);
	ok = has_key(e, pk);
	if (!ok && e->dir) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - e->last_scan.tv_sec >= 1) {
			scan_dir(e);
			ok = has_key(e, pk);
		}
	}
	pthread_mutex_unlock(&e->lock);
	return ok;
}

size_t enrol_count(struct enrol *e)
{
	size_t n;

	pthread_mutex_lock(&e->lock);
	n = e->n;
	pthread_mutex_unlock(&e->lock);
	return n;
}
