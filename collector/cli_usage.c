/* truemeter usage: stored usage per tenant x metric x period.
 *
 *   truemeter usage [--tenant T] [--metric M] [--period YYYY-MM |
 *                   --from DATE --to DATE] [--by hour|day|month] [--detail]
 *                   [--json]
 *
 * --detail splits it by route x method x status class.  A table by
 * default; --json prints one JSON object per line. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli.h"
#include "metric.h"
#include "period.h"
#include "store.h"

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

enum bucket { BY_HOUR, BY_DAY, BY_MONTH };

struct usage_args {
	const char *tenant;
	int metric;
	int64_t from, to;
	enum bucket by;
	bool json, detail;
};

struct usage_out {
	const struct usage_args *a;
	int64_t from, to;         /* the current bucket */
	size_t rows;
};

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_line(FILE *f, int status)
{
	fprintf(f, "usage: truemeter usage [--tenant T] [--metric M] "
		"[--period YYYY-MM | --from DATE --to DATE] [--by hour|day|month] "
		"[--detail] [--json]\n");
	return status;
}

static int bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "truemeter usage: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return usage_line(stderr, 2);
}

static void bucket_of(enum bucket by, int64_t ms, int64_t *from, int64_t *to)
{
	int64_t len = by == BY_HOUR ? HOUR_MS : DAY_MS;

	if (by == BY_MONTH) {
		period_month_of(ms, NULL, 0, from, to);
		return;
	}
	*from = ms - ((ms % len) + len) % len;
	*to = *from + len;
}

static void bucket_label(enum bucket by, int64_t ms, char *buf, size_t len)
{
	char t[32];

	if (by == BY_MONTH) {
		int64_t from, to;

		period_month_of(ms, buf, len, &from, &to);
		return;
	}
	period_format_time(ms, t, sizeof(t));
	if (by == BY_DAY)
		snprintf(buf, len, "%.10s", t);
	else
		snprintf(buf, len, "%.13s:00Z", t);
}

static void print_header(const struct usage_args *a)
{
	if (a->detail)
		printf("%-20s %-24s %-20s %-24s %-8s %-6s %20s\n", "PERIOD", "TENANT",
		       "METRIC", "ROUTE", "METHOD", "STATUS", "VALUE");
	else
		printf("%-20s %-24s %-20s %20s\n", "PERIOD", "TENANT", "METRIC", "VALUE");
}

static int print_row(const struct store_usage *u, void *arg)
{
	struct usage_out *o = arg;
	const char *metric = metric_name(u->metric);
	const char *status = metric_status_class(u->status_class);
	char label[32], from[32], to[32];

	bucket_label(o->a->by, o->from, label, sizeof(label));
	if (!metric)
		metric = "unknown";
	o->rows++;
	if (!o->a->json && o->a->detail) {
		printf("%-20s %-24s %-20s %-24s %-8s %-6s %20" PRIu64 "\n", label, u->tenant,
		       metric, *u->route ? u->route : "-", *u->method ? u->method : "-",
		       status ? status : "-", u->value);
		return 0;
	}
	if (!o->a->json) {
		printf("%-20s %-24s %-20s %20" PRIu64 "\n", label, u->tenant, metric,
		       u->value);
		return 0;
	}
	json_object *j = json_object_new_object();

	period_format_time(o->from, from, sizeof(from));
	period_format_time(o->to, to, sizeof(to));
	json_object_object_add(j, "period", json_object_new_string(label));
	json_object_object_add(j, "from", json_object_new_string(from));
	json_object_object_add(j, "to", json_object_new_string(to));
	json_object_object_add(j, "tenant", json_object_new_string(u->tenant));
	json_object_object_add(j, "metric", json_object_new_string(metric));
	if (o->a->detail) {
		json_object_object_add(j, "route", json_object_new_string(u->route));
		json_object_object_add(j, "method", json_object_new_string(u->method));
		json_object_object_add(j, "status_class",
				       status ? json_object_new_string(status) : NULL);
	}
	json_object_object_add(j, "value", json_object_new_int64((int64_t)u->value));
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return 0;
}

/* Earliest window start and latest window end of the matching usage. */
struct bounds {
	int64_t first, last;
	bool any;
};

static int widen(const struct store_usage *u, void *arg)
{
	struct bounds *b = arg;

	if (!b->any || u->first_ms < b->first)
		b->first = u->first_ms;
	if (!b->any || u->last_ms > b->last)
		b->last = u->last_ms;
	b->any = true;
	return 0;
}

static int parse_args(int argc, char **argv, struct usage_args *a)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 'T' },
		{ "metric", required_argument, NULL, 'm' },
		{ "period", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "by", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "detail", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool period = false, range = false;
	int opt;

	*a = (struct usage_args){ .from = 0, .to = INT64_MAX, .by = BY_MONTH };
	while ((opt = getopt_long(argc, argv, "T:m:p:f:t:b:jdh", opts, NULL)) != -1) {
		switch (opt) {
		case 'T':
			if (!*optarg)
				return bad("--tenant needs a name");
			a->tenant = optarg;
			break;
		case 'm':
			a->metric = metric_from_name(optarg);
			if (a->metric <= 0)
				return bad("--metric '%s' is not a metric (api_requests, "
					   "api_request_bytes, api_response_bytes, net_rx_bytes, "
					   "net_tx_bytes, cpu_ns, tcp_connections)", optarg);
			break;
		case 'p':
			if (period_parse(optarg, &a->from, &a->to))
				return bad("--period '%s' is not YYYY-MM or YYYY-MM-DD", optarg);
			period = true;
			break;
		case 'f':
		case 't':
			if (period_parse_time(optarg, opt == 'f' ? &a->from : &a->to))
				return bad("'%s' is not a date (YYYY-MM-DD[THH:MM:SSZ]) or "
					   "unix time", optarg);
			range = true;
			break;
		case 'b':
			if (!strcmp(optarg, "hour"))
				a->by = BY_HOUR;
			else if (!strcmp(optarg, "day"))
				a->by = BY_DAY;
			else if (!strcmp(optarg, "month"))
				a->by = BY_MONTH;
			else
				return bad("--by '%s' must be hour, day or month", optarg);
			break;
		case 'j':
			a->json = true;
			break;
		case 'd':
			a->detail = true;
			break;
		case 'h':
			return usage_line(stdout, 0);
		default:        /* getopt said which */
			return usage_line(stderr, 2);
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (period && range)
		return bad("--period and --from/--to exclude each other");
	if (a->from >= a->to)
		return bad("the time range is empty (--from must be before --to)");
	return -1;
}

int cli_usage(const struct cli_env *env, int argc, char **argv)
{
	struct usage_args a;
	struct usage_out o = { .a = &a };
	struct bounds b = { 0 };
	int (*query)(struct store *, const char *, int, int64_t, int64_t, store_usage_cb,
		     void *);
	struct store *s = NULL;
	int rc, err;

	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (cli_store_open(env, "usage", false, &s))
		return 1;
	query = a.detail ? store_usage_detail : store_usage_sum;
	err = query(s, a.tenant, a.metric, a.from, a.to, widen, &b);
	if (!err && !a.json)
		print_header(&a);
	if (!err && b.any) {
		int64_t start = b.first > a.from ? b.first : a.from;
		int64_t bf, bt;

		for (bucket_of(a.by, start, &bf, &bt); !err && bf < a.to && bf < b.last;
		     bucket_of(a.by, bt, &bf, &bt)) {
			o.from = bf > a.from ? bf : a.from;
			o.to = bt < a.to ? bt : a.to;
			err = query(s, a.tenant, a.metric, o.from, o.to, print_row, &o);
		}
	}
	store_close(s);
	if (err) {
		fprintf(stderr, "truemeter usage: query failed: %s\n", err == -ERANGE ?
			"the range needs windows the store pruned (see above)" : strerror(-err));
		return 1;
	}
	return 0;
}
