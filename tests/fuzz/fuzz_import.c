/* libFuzzer target: billing import files into a store.  Input: one byte
 * choosing the format (CSV, JSON lines, Stripe invoice export), then the
 * file's bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "billing.h"
#include "fuzz_util.h"
#include "store.h"
#include "store_billing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *store;
static char input[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum billing_format formats[] = {
		BILLING_FORMAT_CSV, BILLING_FORMAT_JSONL, BILLING_FORMAT_STRIPE,
	};
	struct billing_import_result res;
	char err[512];

	if (!store) {
		char path[64];

		snprintf(path, sizeof(path), "/tmp/tm-fuzz-import.%d.db", (int)getpid());
		unlink(path);
		if (store_open(path, &store) || store_billing_init(store))
			abort();
		snprintf(input, sizeof(input), "/tmp/tm-fuzz-import.%d.in", (int)getpid());
	}
	if (size < 1 || fuzz_write_file(input, data + 1, size - 1))
		return 0;
	memset(&res, 0, sizeof(res));
	billing_import_file(store, input, formats[data[0] % 3], NULL, &res, err, sizeof(err));
	return 0;
}
