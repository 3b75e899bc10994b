/* Durable file writes: temp file in the same directory, fsync, rename,
 * fsync the directory.  A crash leaves either the old or the new file. */
#ifndef TM_FILEIO_H
#define TM_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* 0 or negative errno. */
int fileio_write_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* The same for a file written in pieces: they go to a temp file beside
 * path, and path appears whole at commit or not at all.  commit and abort
 * both free the writer (abort accepts NULL and removes the temp file). */
struct fileio_atomic;
int fileio_atomic_open(const char *path, mode_t mode, struct fileio_atomic **out);
int fileio_atomic_write(struct fileio_atomic *f, const void *buf, size_t len);
int fileio_atomic_commit(struct fileio_atomic *f);
void fileio_atomic_abort(struct fileio_atomic *f);
/* Reads at most max bytes; *buf is malloc'd (NUL-terminated, not counted in
 * *len) and owned by the caller.  -EFBIG if the file is larger than max. */
int fileio_read_all(const char *path, size_t max, char **buf, size_t *len);
/* fsync a directory so renames and unlinks inside it are durable. */
int fileio_sync_dir(const char *dir);
/* mkdir -p with mode for every created component. */
int fileio_mkdirs(const char *path, mode_t mode);

#endif
