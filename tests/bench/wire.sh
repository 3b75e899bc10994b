#!/bin/sh
# Wire size: bytes per usage row of a sealed 100-tenant report.
set -eu
"${TM_BUILD:?}/tests/wire_bytes"
