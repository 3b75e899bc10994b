#!/bin/sh
# How long the HTTP meter takes to load (mostly the verifier: while a new
# build loads, the old one goes on counting), and how much of the
# verifier's budget of 1,000,000 instructions its largest program takes,
# for the socket hooks and for the syscall-exit hook of kernels before 6.3.
# The parser is sized against that budget: a change that takes it close to
# the limit here may not load on another kernel.  Prints
#   BENCH http_load_s <s> s                     socket hooks
#   BENCH http_verified_insns <n> insns         their largest program
#   BENCH http_load_s_syscall, http_verified_insns_syscall   the same with
#         hooks = syscall
set -u
B=${TM_BUILD:?TM_BUILD not set}
ID=tmload$$
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
cleanup() {
	for h in auto syscall; do
		[ -f "$TMP/$h.conf" ] && "$B/tests/meter_dump" -c "$TMP/$h.conf" -u 2>/dev/null
	done
	rm -rf "$TMP" "/sys/fs/bpf/${ID}auto" "/sys/fs/bpf/${ID}syscall"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

for h in auto syscall; do
	printf '[meter]\npin_dir = /sys/fs/bpf/%s%s\n[http]\nports = 1\nhooks = %s\ntenant_header = X-Tenant-Id\nroute = /v1/items/*\n' \
		"$ID" "$h" "$h" > "$TMP/$h.conf"
	echo | "$B/tests/meter_dump" -c "$TMP/$h.conf" -v >/dev/null 2>"$TMP/$h.log" ||
		{ echo "the meter did not load (hooks = $h): $(grep -v 'libbpf' "$TMP/$h.log" | tail -n 5)" >&2; exit 1; }
	"$B/tests/meter_dump" -c "$TMP/$h.conf" -u 2>/dev/null
	S=
	[ "$h" = syscall ] && S=_syscall
	sed -n 's/.*HTTP programs loaded in \([0-9.]*\) s; the verifier went through \([0-9]*\) instructions.*(\(.*\)).*/\1 \2 \3/p' \
		"$TMP/$h.log" | head -n 1 | {
		read -r secs insns prog || { echo "no load figures in the log (hooks = $h)" >&2; exit 1; }
		echo "# hooks = $h: the largest program is $prog"
		echo "BENCH http_load_s$S $secs s"
		echo "BENCH http_verified_insns$S $insns insns"
	} || exit 1
done
