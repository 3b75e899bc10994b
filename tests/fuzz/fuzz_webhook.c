/* libFuzzer target: webhook bodies as the collector's HTTP handler takes
 * them after their signature checks, parsed and applied to a store.
 * Input: one byte (bit 0: Stripe, else Razorpay; bit 1: a Razorpay event
 * id header), then the body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "billing.h"
#include "razorpay.h"
#include "store.h"
#include "store_billing.h"
#include "stripe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *store;

static struct store *fuzz_store(void)
{
	char path[64];

	if (!store) {
		snprintf(path, sizeof(path), "/tmp/tm-fuzz-webhook.%d.db", (int)getpid());
		unlink(path);
		if (store_open(path, &store) || store_billing_init(store))
			abort();
	}
	return store;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *s = fuzz_store();
	struct billing_event ev;
	const char *body = (const char *)data + 1;
	char err[256];
	int rc;

	if (size < 1)
		return 0;
	memset(&ev, 0, sizeof(ev));
	if (data[0] & 1)
		rc = stripe_event_parse(body, size - 1, s, NULL, &ev, err, sizeof(err));
	else
		rc = razorpay_event_parse(body, size - 1, (data[0] & 2) ? "evt_fuzz" : NULL, s,
					  NULL, &ev, err, sizeof(err));
	if (rc == 0 && !ev.ignored)
		billing_event_apply(s, &ev);
	billing_event_free(&ev);
	return 0;
}
