#!/bin/sh
# The period sum behind every reconcile tick, over a month of 1-minute
# windows (see usage_month.c).  The database is in the build directory, on
# the real disk.
set -eu
B=${TM_BUILD:?}
D=$(mktemp -d "$B/bench-usage.XXXXXX")
trap 'rm -rf "$D"' EXIT
"$B/tests/usage_month" "$D/month.db"
