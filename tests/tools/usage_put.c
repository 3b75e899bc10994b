/* usage_put DB TENANT METRIC TIME VALUE: stores one usage row as a report of
 * a fixed test agent (next seq of its chain), as the collector would after
 * verifying it.  For end-to-end tests of the billing side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "metric.h"
#include "store.h"

int main(int argc, char **argv)
{
	Truemeter__UsageRow row = TRUEMETER__USAGE_ROW__INIT, *rows[1] = { &row };
	Truemeter__Report r = TRUEMETER__REPORT__INIT;
	uint8_t agent[32], digest[32] = { 0 };
	struct store_chain ch = { 0 };
	struct store *s = NULL;
	char *strings[2] = { "", NULL };
	int64_t at;
	int metric;

	if (argc != 6) {
		fprintf(stderr, "usage: usage_put DB TENANT METRIC TIME VALUE\n");
		return 2;
	}
	metric = metric_from_name(argv[3]);
	if (metric < 0 || period_parse_time(argv[4], &at)) {
		fprintf(stderr, "usage_put: bad metric or time\n");
		return 2;
	}
	memset(agent, 0xE2, sizeof(agent));
	if (store_open(argv[1], &s) || store_chain_get(s, agent, 1, &ch)) {
		fprintf(stderr, "usage_put: cannot open %s\n", argv[1]);
		return 1;
	}
	strings[1] = argv[2];
	r.agent_id.data = agent;
	r.agent_id.len = sizeof(agent);
	r.epoch = 1;
	r.seq = ch.found ? ch.last_seq + 1 : 1;
	memcpy(digest, &r.seq, sizeof(r.seq));
	r.window_start_ms = at;
	r.window_end_ms = at + 10000;
	r.n_strings = 2;
	r.strings = strings;
	row.tenant = 1;
	row.metric = (Truemeter__Metric)metric;
	row.value = strtoull(argv[5], NULL, 10);
	r.n_rows = 1;
	r.rows = rows;
	store_set_clock(s, r.window_end_ms);    /* received as its window ended */
	if (store_report_put(s, &r, digest, 1, 0, NULL) != STORE_PUT_NEW) {
		fprintf(stderr, "usage_put: store failed\n");
		store_close(s);
		return 1;
	}
	store_close(s);
	return 0;
}
