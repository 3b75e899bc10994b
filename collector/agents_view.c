/* Agents' status and the dashboard's agents table (see agents_view.h). */
#include "agents_view.h"

#include <inttypes.h>
#include <stdbool.h>

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
	if (quiet_ms > 0 && now_ms - a->window_end_ms >= quiet_ms &&
	    now_ms - from_ms >= quiet_ms)
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

struct count_ctx {
	int64_t now_ms, quiet_ms, from_ms;
	uint64_t n[AGENT_RETIRED + 1];
};

static int count_agent(const struct store_agent *a, void *arg)
{
	struct count_ctx *c = arg;

	c->n[agents_view_state(a, c->now_ms, c->quiet_ms, c->from_ms)]++;
	return 0;
}

int agents_view_metrics(FILE *f, struct store *s, int64_t now_ms, int64_t quiet_ms,
			int64_t from_ms)
{
	struct count_ctx c = { .now_ms = now_ms, .quiet_ms = quiet_ms, .from_ms = from_ms };
	int rc = store_agents(s, count_agent, &c);

	if (rc)
		return rc;
	fputs("# HELP truemeter_agents Agents that have stored reports, by status "
	      "(silent: a metering gap).\n# TYPE truemeter_agents gauge\n", f);
	for (int st = AGENT_REPORTING; st <= AGENT_RETIRED; st++)
		fprintf(f, "truemeter_agents{status=\"%s\"} %" PRIu64 "\n",
			agents_view_state_name((enum agent_state)st), c.n[st]);
	return 0;
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

	period_format_time(a->window_end_ms, end, sizeof(end));
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
