/* wire_bytes: bytes on the wire per usage row for a realistic report:
 * 100 tenants x 7 metrics, the HTTP ones split by 4 routes x 2 methods x 2
 * status classes (the others have no dimensions), sealed exactly as the
 * agent sends it (signed envelope).  Prints
 *   BENCH wire_bytes_per_row VALUE bytes
 * plus the totals as comments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metric.h"
#include "reportbuild.h"

int main(void)
{
	static const char *const routes[] = { "/v1/items/*", "/v1/orders/*",
					      "/v1/users/*", "other" };
	static const char *const methods[] = { "GET", "POST" };
	struct meter_row *rows;
	struct report_key key;
	Truemeter__Report *r;
	uint8_t *env, digest[REPORT_DIGEST_LEN], prev[REPORT_DIGEST_LEN] = { 0 };
	size_t n = 0, len;
	char kp[64], pp[64];

	snprintf(kp, sizeof(kp), "/tmp/tm-wire-%d.key", (int)getpid());
	snprintf(pp, sizeof(pp), "/tmp/tm-wire-%d.pub", (int)getpid());
	if (report_keygen(kp, pp) || report_key_load(kp, &key))
		return 1;
	unlink(kp);
	unlink(pp);
	rows = calloc(100 * 7 * 16, sizeof(*rows));
	if (!rows)
		return 1;
	/* deterministic, realistic magnitudes: requests in the hundreds,
	 * bytes in the hundreds of thousands, cpu in the millions of ns */
	for (int t = 0; t < 100; t++) {
		for (int m = METRIC_API_REQUESTS; m <= METRIC_TCP_CONNECTIONS; m++) {
			int http = m <= METRIC_API_RESPONSE_BYTES;
			int ndim = http ? 16 : 1;

			for (int d = 0; d < ndim; d++) {
				struct meter_row *w = &rows[n++];
				uint64_t scale = m == METRIC_API_REQUESTS ? 300 :
						 m == METRIC_CPU_NS ? 40000000 :
						 m == METRIC_TCP_CONNECTIONS ? 50 : 400000;

				snprintf(w->tenant, sizeof(w->tenant), "tenant-%03d", t);
				w->metric = m;
				if (http) {
					snprintf(w->route, sizeof(w->route), "%s", routes[d % 4]);
					snprintf(w->method, sizeof(w->method), "%s",
						 methods[(d / 4) % 2]);
					w->status_class = d / 8 ? 5 : 2;
				}
				w->value = scale / 2 + (uint64_t)(t * 7919 + m * 104729 + d * 31) % scale;
			}
		}
	}
	struct reportbuild_in in = {
		.agent_id = key.pk, .epoch = 0x1234567890abcdefULL, .seq = 123456,
		.window_start_ms = 1764000000000LL, .window_end_ms = 1764000010000LL,
		.deltas = rows, .n_deltas = n, .prev_digest = prev,
		.hostname = "web-17.prod.example.com",
	};

	if (reportbuild_make(&in, &r) || report_seal(&key, r, &env, &len, digest))
		return 1;
	printf("# report: %zu rows, %zu strings, %zu bytes sealed\n", r->n_rows,
	       r->n_strings, len);
	printf("BENCH wire_bytes_per_row %.2f bytes\n", (double)len / (double)r->n_rows);
	reportbuild_free(r);
	free(env);
	free(rows);
	return 0;
}
