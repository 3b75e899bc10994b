/* webhook_sign stripe SECRET FILE [TIMESTAMP]  prints a Stripe-Signature value
 * webhook_sign razorpay SECRET FILE            prints X-Razorpay-Signature
 * For end-to-end tests that post webhooks with curl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "razorpay.h"
#include "stripe.h"

int main(int argc, char **argv)
{
	char *body = NULL, out[160];
	size_t len;

	if (argc < 4 || fileio_read_all(argv[3], 16u << 20, &body, &len)) {
		fprintf(stderr, "usage: webhook_sign stripe|razorpay SECRET FILE [TIMESTAMP]\n");
		return 2;
	}
	if (strcmp(argv[1], "stripe") == 0) {
		long long t = argc > 4 ? atoll(argv[4]) : (long long)time(NULL);

		if (stripe_sign(argv[2], t, body, len, out, sizeof(out)))
			return 1;
	} else {
		razorpay_sign(argv[2], body, len, out);
	}
	printf("%s\n", out);
	free(body);
	return 0;
}
