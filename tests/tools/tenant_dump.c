/* tenant_dump: reads the cgroup/CIDR meter for tests.
 *
 *   tenant_dump -c meter.conf [-u] [-v]
 *
 * Opens the meter with the [meter]/[tenant NAME] sections of the config
 * (loading or reusing what is pinned), then for each line read on stdin
 * prints every cumulative row as TSV "tenant metric route method status
 * value" followed by "END", and the health as "#health overflow N" and
 * "#hook attached|missing NAME" lines before it.  -u removes the pins
 * instead (meter_cgroup_unpin).  Only the cgroup meter is linked in: the
 * HTTP part is stubbed out below. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/meter.h"
#include "agent/meter_parts.h"
#include "log.h"
#include "metric.h"

/* Weak stubs keep agent/meter_http.o out of this program. */
__attribute__((weak)) int meter_http_open(const struct meter_conf *conf,
					  struct meter_health *h, struct meter_http **out)
{
	*out = NULL;
	return -ENOTSUP;
}

__attribute__((weak)) int meter_http_read(struct meter_http *m, struct meter_rows *rows,
					  struct meter_health *h)
{
	return 0;
}

__attribute__((weak)) void meter_http_close(struct meter_http *m)
{
}

static int dump(struct meter *m)
{
	struct meter_health h;
	struct meter_row *rows = NULL;
	size_t n = 0;
	int err = meter_read(m, &rows, &n, &h);

	if (err) {
		fprintf(stderr, "tenant_dump: meter_read: %s\n", strerror(-err));
		return err;
	}
	printf("#health overflow %llu\n", (unsigned long long)h.map_overflow);
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

	log_init("tenant_dump", LOG_LVL_WARN);
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
		fprintf(stderr, "tenant_dump: %s\n", err);
		return 1;
	}
	if (unpin)
		return meter_cgroup_unpin(conf.pin_dir) ? 1 : 0;
	if (meter_open(&conf, &m)) {
		fprintf(stderr, "tenant_dump: cannot open the meter\n");
		return 1;
	}
	rc = 0;
	while (fgets(line, sizeof(line), stdin))
		if (dump(m))
			rc = 1;
	meter_close(m);
	return rc;
usage:
	fprintf(stderr, "usage: tenant_dump -c meter.conf [-u] [-v]\n");
	return 2;
}
