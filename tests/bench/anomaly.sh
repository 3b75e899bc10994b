#!/bin/sh
# Anomaly detector precision / recall on seeded synthetic series.
set -eu
"$TM_BUILD/tests/anomaly" 300 20261125
