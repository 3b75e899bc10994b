#!/bin/sh
# Collector ingest into SQLite (synchronous=FULL, one transaction and one
# fsync per report) through the real receiver path.  The database lives in
# the build directory so it is on the real disk, not a tmpfs.
set -eu
B=${TM_BUILD:?}
D=$(mktemp -d "$B/bench-ingest.XXXXXX")
trap 'rm -rf "$D"' EXIT
"$B/tests/ingest" "$D"
