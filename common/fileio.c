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

int fileio_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	char *slash;
	int fd = -1, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = write_full(fd, buf, len);
	if (err)
		goto cleanup;
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		goto cleanup;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = -errno;
		goto cleanup;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	err = fileio_sync_dir(dir);
cleanup:
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	return err;
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
