#!/bin/sh
# Reconciliation of one closed month for 10,000 tenants x 5 metrics.
set -eu
dir=$(mktemp -d /tmp/truemeter-bench-reconcile.XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
"$TM_BUILD/tests/reconcile" "$dir/bench.db" 10000
