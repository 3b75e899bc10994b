/* libFuzzer target: a pricing catalog (JSON) and the amounts its plans
 * give.  Input: 8 bytes of quantity, then the catalog text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"
#include "pricing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pricing *p = NULL;
	uint64_t quantity;
	int64_t nano, amount;
	char err[256], *text;

	if (size < sizeof(quantity))
		return 0;
	memcpy(&quantity, data, sizeof(quantity));
	text = malloc(size - sizeof(quantity) + 1);
	if (!text)
		return 0;
	memcpy(text, data + sizeof(quantity), size - sizeof(quantity));
	text[size - sizeof(quantity)] = '\0';
	if (pricing_parse(text, "fuzz", &p, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < p->nplans; i++)
			for (int m = 1; m < METRIC_COUNT; m++) {
				plan_amount(&p->plans[i], m, quantity, &amount);
				plan_amount(&p->plans[i], m, quantity >> 24, &amount);
			}
		pricing_plan_for(p, "acme", (int64_t)quantity);
		pricing_assigned(p, "acme", 0, (int64_t)(quantity >> 1));
	}
	pricing_free(p);
	pricing_parse_money(text, &nano);
	free(text);
	return 0;
}
