/* Shared by the libFuzzer targets that hand their input over as a file. */
#ifndef TM_FUZZ_UTIL_H
#define TM_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>

/* No fsync: a file per run, thousands of runs a second.  0 or -1. */
static inline int fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	int err;

	if (!f)
		return -1;
	err = fwrite(data, 1, size, f) != size;
	return fclose(f) || err ? -1 : 0;
}

#endif
