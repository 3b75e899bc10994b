/* Durable file writes: temp file in the same directory, fsync, rename,
 * fsync the directory.  A crash leaves either the old or the new file. */
#ifndef TM_FILEIO_H
#define TM_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* 0 or negative errno. */
int fileio_write_atomic(const char *path, const void *buf, size_t len, mode_t mode);
/* Reads at most max bytes; *buf is malloc'd (NUL-terminated, not counted in
 * *len) and owned by the caller.  -EFBIG if the file is larger than max. */
int fileio_read_all(const char *path, size_t max, char **buf, size_t *len);
/* fsync a directory so renames and unlinks inside it are durable. */
int fileio_sync_dir(const char *dir);
/* mkdir -p with mode for every created component. */
int fileio_mkdirs(const char *path, mode_t mode);

#endif
