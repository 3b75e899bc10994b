#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fileio_sync_dir(const char *dir)
{
	int fd, err = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct fileio_atomic {
	char path[PATH_MAX];
	char tmp[PATH_MAX];
	mode_t mode;
	int fd;
};

int fileio_atomic_open(const char *path, mode_t mode, struct fileio_atomic **out)
{
	struct fileio_atomic *f;
	int err;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = -1;
	f->mode = mode;
	if (snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path) ||
	    snprintf(f->tmp, sizeof(f->tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(f->tmp)) {
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (f->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	*out = f;
	f = NULL;
	err = 0;
cleanup:
	free(f);
	return err;
}

int fileio_atomic_write(struct fileio_atomic *f, const void *buf, size_t len)
{
	return write_full(f->fd, buf, len);
}

void fileio_atomic_abort(struct fileio_atomic *f)
{
	if (!f)
		return;
	if (f->fd >= 0) {
		close(f->fd);
		unlink(f->tmp);
	}
	free(f);
}

int fileio_atomic_commit(struct fileio_atomic *f)
{
	char dir[PATH_MAX];
	char *slash;
	int fd = f->fd, err;

	if (fchmod(fd, f->mode) < 0 || fsync(fd) < 0) {
		err = -errno;
		goto cleanup;
	}
	f->fd = -1;
	if (close(fd) < 0) {
		err = -errno;
		unlink(f->tmp);
		goto cleanup;
	}
	if (rename(f->tmp, f->path) < 0) {
		err = -errno;
		unlink(f->tmp);
		goto cleanup;
	}
	snprintf(dir, sizeof(dir), "%s", f->path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	err = fileio_sync_dir(dir);
cleanup:
	fileio_atomic_abort(f);
	return err;
}

int fileio_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct fileio_atomic *f;
	int err;

	err = fileio_atomic_open(path, mode, &f);   /* f = NULL if it fails */
	if (!err)
		err = fileio_atomic_write(f, buf, len);
	if (err) {
		fileio_atomic_abort(f);
		return err;
	}
	return fileio_atomic_commit(f);
}

int fileio_read_all(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	int fd, err = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto cleanup;
	}
	if ((size_t)st.st_size > max) {
		err = -EFBIG;
		goto cleanup;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	data[got] = '\0';
	*buf = data;
	*len = got;
	data = NULL;
cleanup:
	free(data);
	close(fd);
	return err;
}

int fileio_mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n;

	n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
