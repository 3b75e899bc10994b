/* libFuzzer target: `truemeter audit verify` of an arbitrary file (the
 * bundle's own wire reader, then each envelope's decoding and checks). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct audit_result res;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/tm-fuzz-audit.%d.tmb", (int)getpid());
	if (fuzz_write_file(path, data, size))
		return 0;
	if (audit_verify(path, NULL, 0, &res) == 0)
		audit_result_free(&res);
	return 0;
}
