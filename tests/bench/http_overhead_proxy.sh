#!/bin/sh
# The HTTP meter's overhead with nginx as a reverse proxy to a backend on
# the same host (see PROXY=1 in http_overhead.sh): fewer rounds, since the
# direct case is the one measured closely.
SESSIONS=${SESSIONS:-2} ROUNDS=${ROUNDS:-3} PROXY=1 \
	exec sh "$(dirname "$0")/http_overhead.sh"
