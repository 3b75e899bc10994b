#!/bin/sh
# Compares the BPF cost of two builds of the HTTP meter, both loaded at
# once: build X meters one port and build Y another port of the same nginx
# worker, and two wrk (-t1 -c25, keep-alive, tiny responses) drive both
# ports together.  Both programs then run on every socket read and write
# under the same load, so a drift of the host's speed moves both alike;
# measured one after the other, the same build varies by 10-20%.
#
#   sh scripts/meter_ab.sh BUILD_X BUILD_Y [ROUNDS]
#   HOOKS=syscall sh scripts/meter_ab.sh ...   both with the syscall hook
#   STATIC=1 sh scripts/meter_ab.sh ...   nginx serves a small file instead
#                      (an open, a sendfile and a close per request)
#
# Each round prints what each build's programs took (run_time_ns with
# kernel.bpf_stats_enabled) per request to its own port.  That includes
# the runs that leave at the port check, for the other port's traffic and
# for wrk's own sockets, which cost both builds alike.  The program that
# runs first on a tracepoint is charged more by the statistics' clock reads
# (≈250 ns per request here), so the rounds alternate which build loads
# first, and which port each meters; the difference of the means is what
# to read, to within ≈40 ns with 6 rounds on the CI VM (an A/A run, the
# same build on both ports, gave X - Y = -11 ns with 8).  With HOOKS=syscall
# the first-loaded charge is ≈600 ns, and the same build on both ports (an
# A/A run) gave X - Y = 7-117 ns with 8 rounds: run one beside a result.
set -u
. "$(dirname "$0")/../tests/lib/nginx.sh"
. "$(dirname "$0")/../tests/lib/meter_stats.sh"

X=${1:?usage: meter_ab.sh BUILD_X BUILD_Y [ROUNDS]}
Y=${2:?usage: meter_ab.sh BUILD_X BUILD_Y [ROUNDS]}
ROUNDS=${3:-6}
SECS=${SECS:-3}
HOOKS=${HOOKS:-auto}     # the meter's [http] hooks: auto, socket or syscall
STATIC=${STATIC:-0}
ID=tmab$$
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
PA=$((16000 + $$ % 2000))
PB=$((PA + 2000))
NGINX_PID=
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)

cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
	wait 2>/dev/null
	sysctl -q -w kernel.bpf_stats_enabled="$OLD_STATS" 2>/dev/null
	[ -f "$TMP/X.conf" ] && "$X/tests/meter_dump" -c "$TMP/X.conf" -u 2>/dev/null
	[ -f "$TMP/Y.conf" ] && "$Y/tests/meter_dump" -c "$TMP/Y.conf" -u 2>/dev/null
	rm -rf "$TMP" "/sys/fs/bpf/${ID}X" "/sys/fs/bpf/${ID}Y"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for b in "$X" "$Y"; do
	[ -x "$b/tests/meter_dump" ] || { echo "no $b/tests/meter_dump (make tests)" >&2; exit 2; }
done
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
if [ "$STATIC" = 1 ]; then
	mkdir -p "$TMP/www/v1/items"
	echo ok > "$TMP/www/v1/items/1"
	chmod -R a+rX "$TMP/www"
	nginx_conf "$TMP" "	server { listen 127.0.0.1:$PA; listen 127.0.0.1:$PB; root $TMP/www; }"
else
	nginx_conf "$TMP" "$(nginx_ok_server "$PA" "$PB")"
fi
cat > "$TMP/hdr.lua" <<'EOF'
wrk.headers["X-Tenant-Id"] = "bench"
wrk.path = "/v1/items/1"
EOF
nginx_start "$TMP" || exit 1

conf() { # X|Y port
	printf '[meter]\npin_dir = /sys/fs/bpf/%s%s\n[http]\nports = %s\nhooks = %s\ntenant_header = X-Tenant-Id\nroute = /v1/items/*\n' \
		"$ID" "$1" "$2" "$HOOKS" > "$TMP/$1.conf"
}
load() { # X|Y build
	"$2/tests/meter_dump" -c "$TMP/$1.conf" </dev/null 2>"$TMP/load.err" ||
		{ echo "build $2 did not load: $(cat "$TMP/load.err")" >&2; exit 1; }
}
prog_ns() { # X|Y: run_time_ns summed over that copy's linked programs
	meter_prog_ns "/sys/fs/bpf/$ID$1/http" | cut -d' ' -f1
}
reqs() { awk '/requests in/ { print $1 }' "$1"; }

for r in $(seq "$ROUNDS"); do
	if [ $(((r + 1) / 2 % 2)) = 1 ]; then px=$PA py=$PB; else px=$PB py=$PA; fi
	conf X "$px"
	conf Y "$py"
	if [ $((r % 2)) = 1 ]; then first=X; load X "$X"; load Y "$Y"
	else first=Y; load Y "$Y"; load X "$X"; fi
	sysctl -q -w kernel.bpf_stats_enabled=1
	x0=$(prog_ns X) y0=$(prog_ns Y)
	# the two wrk start in the order the builds loaded
	wrks=
	for b in $first $([ "$first" = X ] && echo Y || echo X); do
		p=$px
		[ "$b" = Y ] && p=$py
		wrk -t1 -c25 -d"${SECS}s" -s "$TMP/hdr.lua" "http://127.0.0.1:$p/" \
			>"$TMP/w$(echo "$b" | tr XY xy)" 2>&1 &
		wrks="$wrks $!"
	done
	wait $wrks
	x1=$(prog_ns X) y1=$(prog_ns Y)
	sysctl -q -w kernel.bpf_stats_enabled=0
	nx=$(reqs "$TMP/wx") ny=$(reqs "$TMP/wy")
	[ -n "$nx" ] && [ -n "$ny" ] || { echo "wrk failed: $(cat "$TMP/wx" "$TMP/wy")" >&2; exit 1; }
	echo "round $r: X $(((x1 - x0) / nx)) ns/request, Y $(((y1 - y0) / ny)) ns/request" \
		"($nx and $ny requests; $first loaded first)" | tee -a "$TMP/rounds"
	"$X/tests/meter_dump" -c "$TMP/X.conf" -u 2>/dev/null
	"$Y/tests/meter_dump" -c "$TMP/Y.conf" -u 2>/dev/null
done
awk '{ x += $4; y += $7 } END {
	printf "mean: X %.0f, Y %.0f ns/request; X - Y = %.0f ns\n", x / NR, y / NR, (x - y) / NR }' \
	"$TMP/rounds"
