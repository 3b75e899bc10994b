/* How each agent stands, for the people reading about it: reporting,
 * silent (a metering gap) or retired, by the same rule the metering_gap
 * detector uses; and the dashboard's table of agents, read from the store
 * (the CLI's `truemeter agents` shows the same). */
#ifndef TM_AGENTS_VIEW_H
#define TM_AGENTS_VIEW_H

#include <stdint.h>
#include <stdio.h>

#include "store.h"

enum agent_state { AGENT_REPORTING, AGENT_SILENT, AGENT_RETIRED };

/* How long an agent must be silent to count: [reconcile] silent_after
 * (0: never), and no less than gap_min, which holds back shorter gaps. */
int64_t agents_view_quiet(int64_t silent_after_ms, int64_t gap_min_ms);

/* a at now_ms: retired, or silent when the collector has received nothing
 * from it for quiet_ms (by the collector's clock: an agent's may be off),
 * and nothing since from_ms (0: no such bound); quiet_ms 0: never
 * silent. */
enum agent_state agents_view_state(const struct store_agent *a, int64_t now_ms,
				   int64_t quiet_ms, int64_t from_ms);
const char *agents_view_state_name(enum agent_state st);

/* /metrics: truemeter_agents{status=...}, how many agents stand how, and
 * per agent (agent, hostname labels) the health its latest report
 * declared.  0 or a negative errno. */
int agents_view_metrics(FILE *f, struct store *s, int64_t now_ms, int64_t quiet_ms,
			int64_t from_ms);

/* The HTML table of every agent in s (a row stands out when the agent is
 * silent, or declared losses or missing hooks).  0 or a negative errno. */
int agents_view_html(FILE *f, struct store *s, int64_t now_ms, int64_t quiet_ms,
		     int64_t from_ms);

#endif
