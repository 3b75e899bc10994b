/* Agents' status and the dashboard's agents table (see agents_view.h). */
#include "agents_view.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "httpd.h"
#include "period.h"

int64_t agents_view_quiet(int64_t silent_after_ms, int64_t gap_min_ms)
{
	if (silent_after_ms <= 0)
		return 0;
	return gap_min_ms > silent_after_ms ? gap_min_ms : silent_after_ms;
}

enum agent_state agents_view_state(const struct store_agent *a, int64_t now_ms,
				   int64_t quiet_ms, int64_t from_ms)
{
	if (a->retired_ms)
		return AGENT_RETIRED;
	if (quiet_ms > 0 && now_ms - a->heard_ms >= quiet_ms && now_ms - from_ms >= quiet_ms)
		return AGENT_SILENT;
	return AGENT_REPORTING;
}

const char *agents_view_state_name(enum agent_state st)
{
	switch (st) {
	case AGENT_SILENT: return "silent";
	case AGENT_RETIRED: return "retired";
	default: return "reporting";
	}
}

/* ---- /metrics ----------------------------------------------------------------- */

/* One agent's figures, copied out of the store's callback. */
struct agent_row {
	char agent[17];                 /* the first 8 bytes of its key, hex */
	char hostname[64];
	uint64_t v[6];                  /* in the order of gauges[] below */
	enum agent_state st;
};

static const struct {
	const char *name, *help;
} gauges[] = {
	{ "truemeter_agent_event_drops", "Events the agent's meter could not "
	  "parse or connections it could not see, cumulative (its latest report)." },
	{ "truemeter_agent_map_overflow", "Events lost to the agent's full BPF "
	  "maps, cumulative (its latest report)." },
	{ "truemeter_agent_spool_drops", "Reports the agent dropped from a full "
	  "spool, cumulative (its latest report)." },
	{ "truemeter_agent_hooks_missing", "Meter hooks the agent could not "
	  "attach (its latest report)." },
	{ "truemeter_agent_last_window_end_seconds", "End of the agent's latest "
	  "stored report window, unix seconds (0: none yet)." },
	{ "truemeter_agent_last_heard_seconds", "When the collector last received "
	  "a report from the agent, by its own clock, unix seconds (0: none yet)." },
};

struct rows_ctx {
	struct agent_row *v;
	size_t n, cap;
	int64_t now_ms, quiet_ms, from_ms;
};

static uint64_t count_names(const char *list)       /* "a,b" -> 2, "" -> 0 */
{
	uint64_t n = *list ? 1 : 0;

	for (; *list; list++)
		n += *list == ',';
	return n;
}

static int add_row(const struct store_agent *a, void *arg)
{
	struct rows_ctx *c = arg;
	struct agent_row *r;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;

		r = realloc(c->v, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		c->v = r;
		c->cap = cap;
	}
	r = &c->v[c->n++];
	snprintf(r->agent, sizeof(r->agent), "%.16s", a->agent_hex);
	snprintf(r->hostname, sizeof(r->hostname), "%s", a->hostname);
	r->v[0] = a->event_drops;
	r->v[1] = a->map_overflow;
	r->v[2] = a->spool_drops;
	r->v[3] = count_names(a->hooks_missing);
	/* 0: enrolled, never reported */
	r->v[4] = a->reports ? (uint64_t)(a->window_end_ms / 1000) : 0;
	r->v[5] = a->reports ? (uint64_t)(a->heard_ms / 1000) : 0;
	r->st = agents_view_state(a, c->now_ms, c->quiet_ms, c->from_ms);
	return 0;
}

/* A Prometheus label value: backslash, quote and newline escaped (an
 * agent's hostname is its own to choose). */
static void label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

int agents_view_metrics(FILE *f, struct store *s, int64_t now_ms, int64_t quiet_ms,
			int64_t from_ms)
{
	struct rows_ctx c = { .now_ms = now_ms, .quiet_ms = quiet_ms, .from_ms = from_ms };
	uint64_t n[AGENT_RETIRED + 1] = { 0 };
	int rc = store_agents(s, add_row, &c);

	if (rc)
		goto cleanup;
	for (size_t i = 0; i < c.n; i++)
		n[c.v[i].st]++;
	fputs("# HELP truemeter_agents Agents enrolled or that have stored reports, by "
	      "status (silent: a metering gap).\n# TYPE truemeter_agents gauge\n", f);
	for (int st = AGENT_REPORTING; st <= AGENT_RETIRED; st++)
		fprintf(f, "truemeter_agents{status=\"%s\"} %" PRIu64 "\n",
			agents_view_state_name((enum agent_state)st), n[st]);
	for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].name,
			gauges[g].help, gauges[g].name);
		for (size_t i = 0; i < c.n; i++) {
			fprintf(f, "%s{agent=\"%s\",hostname=\"", gauges[g].name, c.v[i].agent);
			label_value(f, c.v[i].hostname);
			fprintf(f, "\"} %" PRIu64 "\n", c.v[i].v[g]);
		}
	}
cleanup:
	free(c.v);
	return rc;
}

struct html_ctx {
	FILE *f;
	int64_t now_ms, quiet_ms, from_ms;
};

static int html_row(const struct store_agent *a, void *arg)
{
	const struct html_ctx *h = arg;
	enum agent_state st = agents_view_state(a, h->now_ms, h->quiet_ms, h->from_ms);
	bool lossy = a->event_drops || a->map_overflow || a->spool_drops || *a->hooks_missing;
	char end[32];

	if (a->reports)
		period_format_time(a->window_end_ms, end, sizeof(end));
	else
		snprintf(end, sizeof(end), "never reported");
	fprintf(h->f, "<tr class=\"%s\"><td>%.16s</td><td>",
		st == AGENT_SILENT || lossy ? "warn" : "ok", a->agent_hex);
	httpd_html_escape(h->f, a->hostname);
	fprintf(h->f, "</td><td>%s</td><td>%s</td><td>%" PRIu64 "</td><td>%" PRIu64
		"</td><td>%" PRIu64 "</td><td>", end, agents_view_state_name(st),
		a->event_drops, a->map_overflow, a->spool_drops);
	httpd_html_escape(h->f, *a->hooks_missing ? a->hooks_missing : "-");
	fputs("</td></tr>\n", h->f);
	return 0;
}

int agents_view_html(FILE *f, struct store *s, int64_t now_ms, int64_t quiet_ms,
		     int64_t from_ms)
{
	struct html_ctx h = { .f = f, .now_ms = now_ms, .quiet_ms = quiet_ms, .from_ms = from_ms };
	int rc;

	fputs("<h2>Agents</h2><table><tr><th>agent</th><th>hostname</th>"
	      "<th>latest window end</th><th>status</th><th>event drops</th>"
	      "<th>map overflow</th><th>spool drops</th><th>hooks missing</th></tr>\n", f);
	rc = store_agents(s, html_row, &h);
	fputs("</table>\n", f);
	return rc;
}
