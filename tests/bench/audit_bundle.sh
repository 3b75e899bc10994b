#!/bin/sh
# Audit export and verify of a month's bundle: 5,000 signed reports of 200
# rows (see audit_bundle.c), each command's time and peak memory.  Then
# verify alone of 100,000 reports of 2 rows (audit_verify_many_*): its
# memory must not follow the number of reports.  The store lives in the
# build directory, on the real disk.
set -eu
B=${TM_BUILD:?}
D=$(mktemp -d "$B/bench-audit.XXXXXX")
trap 'rm -rf "$D"' EXIT
"$B/tests/audit_bundle" fill "$D" "${REPORTS:-5000}" "${ROWS:-200}"
"$B/tests/audit_bundle" run export "$B/truemeter" -d "$D/t.db" audit export \
	--period 2026-11 -o "$D/2026-11.tmb"
echo "BENCH audit_bundle_mib $(du -m --apparent-size "$D/2026-11.tmb" | cut -f1) MiB"
"$B/tests/audit_bundle" run verify "$B/truemeter" audit verify "$D/2026-11.tmb" \
	--key "$D/a.pub"
M=$D/many
mkdir "$M"
"$B/tests/audit_bundle" fill "$M" "${MANY:-100000}" 2
"$B/tests/audit_bundle" run many_export "$B/truemeter" -d "$M/t.db" audit export \
	--period 2026-11 -o "$M/2026-11.tmb" >/dev/null
"$B/tests/audit_bundle" run verify_many "$B/truemeter" audit verify "$M/2026-11.tmb" \
	--key "$M/a.pub"
