/* meter_dump: reads the whole meter (HTTP and cgroup/CIDR parts) for tests
 * and debugging, without the agent.
 *
 *   meter_dump -c meter.conf [-u] [-v]
 *
 * Opens the meter with the meter sections of the config ([meter], [http],
 * [api_key NAME], [tenant NAME]), loading or reusing what is pinned, then
 * for each line read on stdin prints every cumulative row as TSV
 * "tenant metric route method status value" followed by "END".  Health
 * goes before the rows as "#health overflow N", "#health drops N" and
 * "#hook attached|missing NAME" lines.  Exits on EOF (meter_close leaves
 * the pins).  -u removes the pins instead (meter_http_unpin and
 * meter_cgroup_unpin). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/meter.h"
#include "agent/meter_parts.h"
#include "log.h"
#include "metric.h"

static int dump(struct meter *m)
{
	struct meter_health h;
	struct meter_row *rows = NULL;
	size_t n = 0;
	int err = meter_read(m, &rows, &n, &h);

	if (err) {
		fprintf(stderr, "meter_dump: meter_read: %s\n", strerror(-err));
		return err;
	}
	printf("#health overflow %llu\n", (unsigned long long)h.map_overflow);
	printf("#health drops %llu\n", (unsigned long long)h.event_drops);
	for (size_t i = 0; i < h.n_attached; i++)
		printf("#hook attached %s\n", h.attached[i]);
	for (size_t i = 0; i < h.n_missing; i++)
		printf("#hook missing %s\n", h.missing[i]);
	for (size_t i = 0; i < n; i++)
		printf("%s\t%s\t%s\t%s\t%u\t%llu\n", rows[i].tenant,
		       metric_name(rows[i].metric), rows[i].route, rows[i].method,
		       rows[i].status_class, (unsigned long long)rows[i].value);
	printf("END\n");
	fflush(stdout);
	free(rows);
	return 0;
}

int main(int argc, char **argv)
{
	static struct meter_conf conf;
	const char *path = NULL;
	bool unpin = false;
	struct meter *m = NULL;
	char err[512], line[256];
	int opt, rc = 1;

	log_init("meter_dump", LOG_LVL_WARN);
	while ((opt = getopt(argc, argv, "c:uv")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'u': unpin = true; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		default: goto usage;
		}
	}
	if (!path || optind != argc)
		goto usage;
	meter_conf_defaults(&conf);
	struct conf_table tables[] = { { meter_conf_keys(), &conf }, { NULL, NULL } };

	if (conf_load(path, tables, err, sizeof(err)) ||
	    meter_conf_check(&conf, err, sizeof(err))) {
		fprintf(stderr, "meter_dump: %s\n", err);
		return 1;
	}
	if (unpin) {
		int e1 = meter_http_unpin(conf.pin_dir);
		int e2 = meter_cgroup_unpin(conf.pin_dir);

		return e1 || e2 ? 1 : 0;
	}
	if (meter_open(&conf, &m)) {
		fprintf(stderr, "meter_dump: cannot open the meter\n");
		return 1;
	}
	rc = 0;
	while (fgets(line, sizeof(line), stdin))
		if (dump(m))
			rc = 1;
	meter_close(m);
	return rc;
usage:
	fprintf(stderr, "usage: meter_dump -c meter.conf [-u] [-v]\n");
	return 2;
}
