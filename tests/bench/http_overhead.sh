#!/bin/sh
# HTTP meter overhead: nginx requests/s with and without the meter, measured
# alternately in one run (ROUNDS x wrk -t2 -c50 -d${SECS}s each way,
# keep-alive, small responses; odd rounds run "without" first, even rounds
# "with" first, so a drift of the machine's speed does not favour either).
# Prints
#   BENCH nginx_rps_ratio <with/without> ratio   median of per-round pairs
#   BENCH bpf_ns_per_request <ns> ns      total run_time_ns of the HTTP
#         programs (kernel.bpf_stats_enabled) / requests nginx served
#   BENCH agent_cpu_percent <pct> %       the meter process (meter_dump
#         reading every second) over the "with" rounds
#   BENCH agent_rss_kib <kib> KiB
# "without" means no HTTP programs attached at all (pins removed); each
# "with" round loads the meter afresh before wrk starts.  Throughput rounds
# run with kernel.bpf_stats_enabled=0 (the stats themselves cost two clock
# reads per program run); one extra "with" round measures the BPF time.
set -u

B=${TM_BUILD:?TM_BUILD not set}
DUMP=$B/tests/meter_dump
ROUNDS=${ROUNDS:-6}
SECS=${SECS:-5}
ID=tmhbench$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
PORT=$((16000 + $$ % 2000))
NGINX_PID=
METER_PID=
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)

cleanup() {
	[ -n "$METER_PID" ] && kill "$METER_PID" 2>/dev/null
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
	exec 3>&- 2>/dev/null
	wait 2>/dev/null
	sysctl -q -w kernel.bpf_stats_enabled="$OLD_STATS" 2>/dev/null
	[ -f "$TMP/meter.conf" ] && "$DUMP" -c "$TMP/meter.conf" -u 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

chmod 755 "$TMP"
mkdir -p "$TMP/logs"
cat > "$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $TMP/body;
	proxy_temp_path $TMP/proxy;
	fastcgi_temp_path $TMP/fcgi;
	uwsgi_temp_path $TMP/uwsgi;
	scgi_temp_path $TMP/scgi;
	keepalive_requests 10000000;
	server {
		listen 127.0.0.1:$PORT;
		location / { return 200 "ok\n"; }
	}
}
EOF
nginx -p "$TMP" -c "$TMP/nginx.conf" >"$TMP/logs/stdout" 2>&1 &
NGINX_PID=$!
sleep 1
kill -0 "$NGINX_PID" 2>/dev/null || { echo "nginx did not start" >&2; exit 1; }

cat > "$TMP/meter.conf" <<EOF
[meter]
pin_dir = $PIN
[http]
ports = $PORT
tenant_header = X-Tenant-Id
route = /v1/items/*
EOF
cat > "$TMP/hdr.lua" <<'EOF'
wrk.headers["X-Tenant-Id"] = "bench"
wrk.path = "/v1/items/1"
EOF

run_wrk() { # -> requests/s and total requests in $TMP/wrk.out
	wrk -t2 -c50 -d"${SECS}s" -s "$TMP/hdr.lua" "http://127.0.0.1:$PORT/" >"$TMP/wrk.out" 2>&1
	RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.out")
	REQS=$(awk '/requests in/ { print $1 }' "$TMP/wrk.out")
}

cpu_ticks() { # utime + stime of $1
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

prog_ns() { # total run_time_ns of the programs behind our pinned links
	total=0
	for l in "$PIN"/http/link_*; do
		pid=$(bpftool -j link show pinned "$l" | sed 's/.*"prog_id":\([0-9]*\).*/\1/')
		ns=$(bpftool -j prog show id "$pid" | sed -n 's/.*"run_time_ns":\([0-9]*\).*/\1/p')
		total=$((total + ${ns:-0}))
	done
	echo "$total"
}

prog_breakdown() { # "# name: runs per request, ns per run" for each program
	for l in "$PIN"/http/link_*; do
		pid=$(bpftool -j link show pinned "$l" | sed 's/.*"prog_id":\([0-9]*\).*/\1/')
		bpftool -j prog show id "$pid" | sed -n 's/.*"name":"\([^"]*\)".*"run_time_ns":\([0-9]*\),"run_cnt":\([0-9]*\).*/\1 \2 \3/p'
	done | awk -v reqs="$1" '$3 > 0 {
		printf "# %s: %.2f runs per request, %d ns per run\n", $1, $3 / reqs, $2 / $3 }'
}

HZ=$(getconf CLK_TCK)
sum_without=0
sum_with=0
ns_total=0
req_total=0
ticks_total=0
wall_total=0
rss=0

with_round() { # label stats(0/1)
	sysctl -q -w kernel.bpf_stats_enabled="$2"
	rm -f "$TMP/in"
	mkfifo "$TMP/in"
	"$DUMP" -c "$TMP/meter.conf" <"$TMP/in" >"$TMP/dump.out" 2>"$TMP/dump.err" &
	METER_PID=$!
	exec 3>"$TMP/in"
	echo >&3
	i=0
	while ! grep -q '^END$' "$TMP/dump.out" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q '^END$' "$TMP/dump.out" || { echo "meter did not load: $(cat "$TMP/dump.err")" >&2; exit 1; }
	ns0=$(prog_ns)
	t0=$(cpu_ticks "$METER_PID")
	start=$(date +%s.%N)
	(for s in $(seq "$SECS"); do sleep 1; echo >&3; done) &
	ticker=$!
	run_wrk
	wait "$ticker"
	end=$(date +%s.%N)
	t1=$(cpu_ticks "$METER_PID")
	ns1=$(prog_ns)
	kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$METER_PID/status")
	[ "${kb:-0}" -gt "$rss" ] && rss=$kb
	exec 3>&-
	wait "$METER_PID"
	METER_PID=
	ticks_total=$((ticks_total + t1 - t0))
	wall_total=$(echo "$wall_total + $end - $start" | bc -l)
	if [ "$2" = 1 ]; then
		ns_total=$((ns_total + ns1 - ns0))
		req_total=$((req_total + REQS))
		echo "# $1: $RPS req/s, $((ns1 - ns0)) BPF ns for $REQS requests"
		prog_breakdown "$REQS"
	else
		sum_with=$(echo "$sum_with + $RPS" | bc -l)
		WITH_RPS=$RPS
		echo "# $1 with: $RPS req/s"
	fi
	"$DUMP" -c "$TMP/meter.conf" -u 2>/dev/null
}

sysctl -q -w kernel.bpf_stats_enabled=0
run_wrk     # warm-up
without_round() {
	"$DUMP" -c "$TMP/meter.conf" -u 2>/dev/null
	run_wrk
	echo "# round $1 without: $RPS req/s"
	WITHOUT_RPS=$RPS
	sum_without=$(echo "$sum_without + $RPS" | bc -l)
}
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		without_round "$r"
		with_round "round $r" 0
	else
		with_round "round $r" 0
		without_round "$r"
	fi
	echo "$WITH_RPS $WITHOUT_RPS" | awk '{ printf "%.6f\n", $1 / $2 }' >> "$TMP/ratios"
done
with_round "BPF time round" 1
"$DUMP" -c "$TMP/meter.conf" -u 2>/dev/null

# The VM's own noise moves whole rounds by +-15%: each "with" round is
# paired with the "without" round just before it and the median pair wins.
echo "# per-round ratios: $(sort -n "$TMP/ratios" | tr '\n' ' ')(sums: $(echo "$sum_with / $sum_without" | bc -l | cut -c1-6))"
printf 'BENCH nginx_rps_ratio %.4f ratio\n' \
	"$(sort -n "$TMP/ratios" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
printf 'BENCH bpf_ns_per_request %.0f ns\n' "$(echo "$ns_total / $req_total" | bc -l)"
printf 'BENCH agent_cpu_percent %.2f %%\n' "$(echo "100 * $ticks_total / $HZ / $wall_total" | bc -l)"
printf 'BENCH agent_rss_kib %d KiB\n' "$rss"
