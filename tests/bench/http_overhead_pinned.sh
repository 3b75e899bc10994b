#!/bin/sh
# The HTTP meter's overhead with nginx's worker and wrk each on a core of
# its own (see PINNED=1 in http_overhead.sh): nginx is then CPU-bound, so
# the ratio is what the meter takes from a busy worker's capacity, without
# the shared cores' scheduling moving it.  Fewer rounds: the effect is
# several times the pairs' spread.
SESSIONS=${SESSIONS:-2} ROUNDS=${ROUNDS:-3} PINNED=1 \
	exec sh "$(dirname "$0")/http_overhead.sh"
