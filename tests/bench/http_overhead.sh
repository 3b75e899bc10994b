#!/bin/sh
# HTTP meter overhead: nginx requests/s with and without the meter, in
# SESSIONS sessions of ROUNDS rounds of wrk -t2 -c50 -d${SECS}s runs
# (keep-alive, small responses).  A round is three runs: no program
# attached ("without"), the meter ("with"), and the meter's programs set to
# a port nothing listens on ("hooks"), in rotating order with "with" always
# next to "without" (a pair), so a drift of the machine's speed favours
# none.  Each session starts nginx and loads both copies of the meter
# afresh, so the figure does not rest on one placement of their memory.
# (The host's own load moves whole runs more: 0.85 to 1.00 within an hour
# on this VM, which nothing inside one run removes.)  Within a session the
# copies stay loaded; hook_toggle detaches and re-attaches their programs
# between runs, so no run follows a reload.  Prints
#   BENCH nginx_rps_ratio <with/without> ratio   median of the pair ratios
#   BENCH nginx_rps_ratio_total <with/without> ratio   all "with" requests
#         over all "without" requests
#   BENCH nginx_rps_ratio_hooks_only <ratio> ratio   the same for a second
#         copy of the meter set to a port nothing listens on: its programs
#         run as often but leave at the port check, so this is the cost of
#         having programs on these two tracepoints at all (runs of the three
#         kinds in rotating order)
#   BENCH nginx_cpu_added_per_request <ns> ns   the nginx worker's CPU time
#         per request, with minus without (median of the pairs): the cost
#         in the served process, whatever share of the two cores wrk takes
#   BENCH nginx_cpu_per_request <ns> ns   the worker's CPU time per
#         request without the meter (median of the "without" runs): a
#         CPU-bound worker keeps 97% of its requests/s while the meter adds
#         at most 3.1% of this
#   BENCH bpf_ns_per_request <ns> ns      total run_time_ns of the HTTP
#         programs (kernel.bpf_stats_enabled) / requests nginx served, less
#         what the stats themselves add to each run (below)
#   BENCH bpf_ns_per_request_raw <ns> ns  the same as the kernel reports it
#   BENCH bpf_stats_ns_per_run <ns> ns    what an empty program on the same
#         two tracepoints, attached after the meter, is charged per run in
#         the same wrk run (tests/bench/stats_calib): the stats' own clock
#         reads.  A second one attached before the meter keeps the clock
#         path as warm for the meter's runs as for its own; it is printed
#         as a comment (the first program to run pays more)
#   BENCH agent_cpu_percent <pct> %       truemeter-agent itself (loading
#         the meter, reading it and sending a signed report every second
#         to a collector on this host) over the BPF time run
#   BENCH agent_rss_kib <kib> KiB         its resident memory then
# and, as comments, each session's mean ratio and a 95% interval from the
# session means, and each session's BPF time per request from one more
# "with" run with the statistics on (whether a session's ratio follows its
# programs' time).  "without" means no HTTP program attached at all.
# PROXY=1 (tests/bench/http_overhead_proxy.sh): the metered server is a
# reverse proxy to a second server block of the same nginx worker, over
# keep-alive upstream connections, as an API gateway in front of a backend
# on the same host; the figures are named with a "_proxy" suffix.  The
# meter parses the client side only, but its programs run for every socket
# read and write on the host, the upstream ones too.
# PINNED=1 (tests/bench/http_overhead_pinned.sh): the nginx worker on CPU 1
# and wrk (one thread) on CPU 0, so that nginx is CPU-bound on a core of its
# own and neither takes the other's core: the ratio is then the share of a
# busy worker's requests/s that the meter costs; figures get "_pinned".
# HOOKS=syscall: the meter on its syscall-exit hook (kernels without the
# socket tracepoints); the figures get a "_syscall" suffix.
# Throughput runs have kernel.bpf_stats_enabled=0 (the stats themselves
# cost two clock reads per program run); one extra "with" run measures
# the BPF time.
set -u

B=${TM_BUILD:?TM_BUILD not set}
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/nginx.sh"
. "$TM_ROOT/tests/lib/meter_stats.sh"
DUMP=$B/tests/meter_dump
SESSIONS=${SESSIONS:-4}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-3}
ID=tmhbench$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
PORT=$((16000 + $$ % 2000))
UPORT=$((PORT + 2000))
CPORT=$((PORT + 4000))  # the collector the agent reports to
PROXY=${PROXY:-0}
HOOKS=${HOOKS:-auto}    # the meter's [http] hooks
PINNED=${PINNED:-0}
S=
[ "$PROXY" = 1 ] && S=_proxy
[ "$PINNED" = 1 ] && S=${S}_pinned
[ "$HOOKS" = syscall ] && S=${S}_syscall
S=$S${SUFFIX:-}         # tests/bench/http_floor.sh: "_floor"
NGINX_PID=
AGENT_PID=
TOGGLE_PID_meter=
TOGGLE_PID_hooks=
COLLECTOR_PID=
CALIB_PIDS=
CALIB_OFF=
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)

cleanup() {
	[ -n "$COLLECTOR_PID" ] && kill "$COLLECTOR_PID" 2>/dev/null
	for p in $CALIB_PIDS; do kill "$p" 2>/dev/null; done
	for p in $TOGGLE_PID_meter $TOGGLE_PID_hooks; do kill "$p" 2>/dev/null; done
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
	exec 3>&- 4>&- 5>&- 6>&- 7>&- 2>/dev/null
	wait 2>/dev/null
	sysctl -q -w kernel.bpf_stats_enabled="$OLD_STATS" 2>/dev/null
	for c in meter hooks; do
		[ -f "$TMP/$c.conf" ] && "$DUMP" -c "$TMP/$c.conf" -u 2>/dev/null
	done
	rm -rf "$PIN" "${PIN}h" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

if [ "$PROXY" = 1 ]; then
	SERVERS=$(cat <<EOF
	upstream backend { server 127.0.0.1:$UPORT; keepalive 64; }
	server {
		listen 127.0.0.1:$PORT;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
$(nginx_ok_server "$UPORT")
EOF
)
else
	SERVERS=$(nginx_ok_server "$PORT")
fi
nginx_conf "$TMP" "$SERVERS"
WRK="wrk -t2"
[ "$PINNED" = 1 ] && [ "$(nproc)" -lt 2 ] &&
	{ echo "# skipped: PINNED=1 needs two cores, this machine has $(nproc)"; exit 0; }
if [ "$PINNED" = 1 ]; then     # CPU 1 (mask 10) for the worker, CPU 0 for wrk
	sed -i 's/^worker_processes 1;$/&\nworker_cpu_affinity 10;/' "$TMP/nginx.conf"
	WRK="taskset -c 0 wrk -t1"
fi

start_nginx() { # a fresh nginx: NGINX_PID, WORKER
	nginx_start "$TMP" || exit 1
	i=0
	while WORKER=$(pgrep -P "$NGINX_PID" | head -n 1); [ -z "$WORKER" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$WORKER" ] || { echo "no nginx worker" >&2; exit 1; }
}
stop_nginx() {
	kill "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
}

cat > "$TMP/meter.conf" <<EOF
[meter]
pin_dir = $PIN
[http]
ports = $PORT
hooks = $HOOKS
tenant_header = X-Tenant-Id
route = /v1/items/*
EOF
sed "s|^pin_dir = .*|pin_dir = ${PIN}h|; s|^ports = .*|ports = 1|" \
	"$TMP/meter.conf" > "$TMP/hooks.conf"
cat > "$TMP/hdr.lua" <<'EOF'
wrk.headers["X-Tenant-Id"] = "bench"
wrk.path = "/v1/items/1"
EOF

run_wrk() { # -> requests/s and total requests in $TMP/wrk.out
	$WRK -c50 -d"${SECS}s" -s "$TMP/hdr.lua" "http://127.0.0.1:$PORT/" >"$TMP/wrk.out" 2>&1
	RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.out")
	REQS=$(awk '/requests in/ { print $1 }' "$TMP/wrk.out")
	[ -n "$RPS" ] && [ -n "$REQS" ] || { echo "wrk failed: $(cat "$TMP/wrk.out")" >&2; exit 1; }
}

cpu_ns() { # CPU time of $1 in ns (schedstat: finer than the tick counts)
	awk '{ print $1 }' "/proc/$1/schedstat"
}

start_calib() { # first|last: attaches a stats_calib (its input is fd 6 or 7)
	mkfifo "$TMP/calib.$1"
	"$B/tests/stats_calib" <"$TMP/calib.$1" >"$TMP/calib.$1.out" \
		2>"$TMP/calib.$1.out.err" 3>&- 6>&- &
	pid=$!
	CALIB_PIDS="$CALIB_PIDS $pid"
	if [ "$1" = first ]; then exec 6>"$TMP/calib.$1"; else exec 7>"$TMP/calib.$1"; fi
	i=0
	while ! grep -q '^ok$' "$TMP/calib.$1.out" && kill -0 "$pid" 2>/dev/null &&
		[ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	# A kernel without the sock_*_length tracepoints (before 6.3, where the
	# meter uses its syscall hook) has nowhere to attach them: the figure
	# then keeps the stats' share, and says so.
	grep -q '^ok$' "$TMP/calib.$1.out" ||
		{ CALIB_OFF="$(tr '\n' ' ' < "$TMP/calib.$1.out.err")"; }
}
calib() { # CALIB: "<run_cnt> <run_time_ns>" of the first, then the last one, now
	if [ -n "$CALIB_OFF" ]; then
		CALIB="0 0 0 0"
		return
	fi
	echo >&6
	echo >&7
	CALIB_READS=$((CALIB_READS + 1))
	CALIB=
	for k in first last; do
		i=0
		while [ "$(grep -c '^[0-9]' "$TMP/calib.$k.out")" -lt "$CALIB_READS" ] &&
			[ $i -lt 100 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		line=$(grep '^[0-9]' "$TMP/calib.$k.out" | sed -n "${CALIB_READS}p")
		[ -n "$line" ] || { echo "stats_calib: $(cat "$TMP/calib.$k.out.err")" >&2; exit 1; }
		CALIB="$CALIB $line"
	done
}

prog_breakdown() { # reqs stats_ns_per_run: "# name: runs per request, ns per run" each
	meter_prog_stats "$PIN/http" | awk -v reqs="$1" -v st="$2" '$3 > 0 {
		printf "# %s: %.2f runs per request, %d ns per run", $1, $3 / reqs, $2 / $3
		if (st > 0) printf " (%d without the stats)", $2 / $3 - st
		printf "\n" }'
}

toggle() { # meter|hooks on|off: waits for that hook_toggle's answer
	fd=4
	[ "$1" = hooks ] && fd=5
	echo "$2" >&"$fd"
	eval "ACKS_$1=\$((ACKS_$1 + 1)); acks=\$ACKS_$1"
	i=0
	while [ "$(grep -c '^\(ok\|error\)' "$TMP/toggle.$1.out")" -lt "$acks" ] &&
		[ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	tail -n 1 "$TMP/toggle.$1.out" | grep -q '^ok$' ||
		{ echo "hook_toggle $1 $2: $(tail -n 1 "$TMP/toggle.$1.out")" \
			"$(cat "$TMP/toggle.$1.out.err")" >&2; exit 1; }
}

median() { # of the numbers on stdin
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

wait_for() { # file pattern what: up to 30 s
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q "$2" "$1" || { echo "$3: $(cat "$1" "$1.err" 2>/dev/null)" >&2; exit 1; }
}

# ---- throughput: per session both copies loaded once, their programs toggled -
# The method's own check: the programs run only while toggled on.
prog_sum() { # run_cnt|run_time_ns meter|hooks: summed over that copy's
	# taken-over programs
	for id in $(awk '$1 == "prog" { print $2 }' "$TMP/toggle.$2.out"); do
		bpftool -j prog show id "$id" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
	done | awk '{ n += $1 } END { print n + 0 }'
}
runs() { # meter|hooks: total run_cnt of that copy's taken-over programs
	prog_sum run_cnt "$1"
}
start_copy() { # meter|hooks: loads and pins it, a hook_toggle takes it over
	"$DUMP" -c "$TMP/$1.conf" -u 2>/dev/null
	echo | "$DUMP" -c "$TMP/$1.conf" >"$TMP/load.out" 2>"$TMP/load.out.err"
	wait_for "$TMP/load.out" '^END$' "$1 copy of the meter did not load"
	# the last session's answers must not be taken for this one's: the new
	# hook_toggle truncates its output only once the fifo has a writer
	rm -f "$TMP/toggle.$1" "$TMP/toggle.$1.out"
	mkfifo "$TMP/toggle.$1"
	pin=$PIN
	[ "$1" = hooks ] && pin=${PIN}h
	"$B/tests/hook_toggle" "$pin/http" <"$TMP/toggle.$1" >"$TMP/toggle.$1.out" \
		2>"$TMP/toggle.$1.out.err" &
	eval "TOGGLE_PID_$1=\$!; ACKS_$1=1"
	if [ "$1" = hooks ]; then exec 5>"$TMP/toggle.$1"; else exec 4>"$TMP/toggle.$1"; fi
	wait_for "$TMP/toggle.$1.out" '^ok$' "hook_toggle $1"
	toggle "$1" off
}
stop_copy() { # meter|hooks: its hook_toggle exits (the links go), then the pins
	if [ "$1" = hooks ]; then exec 5>&-; else exec 4>&-; fi
	eval "wait \$TOGGLE_PID_$1; TOGGLE_PID_$1="
	"$DUMP" -c "$TMP/$1.conf" -u 2>/dev/null
}
check_toggles() { # runs move only for the copy toggled on
	sysctl -q -w kernel.bpf_stats_enabled=1
	m0=$(runs meter)
	h0=$(runs hooks)
	run_wrk     # warm-up, and the check: both off
	m1=$(runs meter)
	h1=$(runs hooks)
	toggle meter on
	curl -s -o /dev/null -H 'X-Tenant-Id: bench' "http://127.0.0.1:$PORT/v1/items/1"
	toggle meter off
	toggle hooks on
	curl -s -o /dev/null -H 'X-Tenant-Id: bench' "http://127.0.0.1:$PORT/v1/items/1"
	toggle hooks off
	m2=$(runs meter)
	h2=$(runs hooks)
	sysctl -q -w kernel.bpf_stats_enabled=0
	[ "$m1" = "$m0" ] && [ "$h1" = "$h0" ] && [ "$m2" -gt "$m1" ] && [ "$h2" -gt "$h1" ] ||
		{ echo "hook_toggle did not toggle: meter runs $m0 -> $m1 (off) -> $m2," \
			"hooks runs $h0 -> $h1 (off) -> $h2" >&2; exit 1; }
}
session_bpf() { # one more "with" run, statistics on: this session's BPF
	# time, to set beside its ratio (not counted in the ratios)
	sysctl -q -w kernel.bpf_stats_enabled=1
	t0=$(prog_sum run_time_ns meter)
	toggle meter on
	run_wrk
	toggle meter off
	t1=$(prog_sum run_time_ns meter)
	sysctl -q -w kernel.bpf_stats_enabled=0
	echo "# session $sess: BPF $(((t1 - t0) / REQS)) ns per request (raw, statistics on)"
}
sum_with=0
sum_without=0
one_run() { # with|without|hooks
	case $1 in
	with) toggle meter on ;;
	hooks) toggle hooks on ;;
	esac
	w0=$(cpu_ns "$WORKER")
	run_wrk
	w1=$(cpu_ns "$WORKER")
	case $1 in
	with) toggle meter off ;;
	hooks) toggle hooks off ;;
	esac
	ns=$(((w1 - w0) / REQS))
	echo "# session $sess round $r $1: $RPS req/s, nginx worker CPU $ns ns per request"
	case $1 in
	with) WITH_RPS=$RPS; WITH_NS=$ns; sum_with=$((sum_with + REQS)) ;;
	hooks) HOOKS_RPS=$RPS ;;
	*) WITHOUT_RPS=$RPS; WITHOUT_NS=$ns; sum_without=$((sum_without + REQS)) ;;
	esac
}
sysctl -q -w kernel.bpf_stats_enabled=0
r=0
for sess in $(seq "$SESSIONS"); do
	start_nginx
	start_copy meter
	start_copy hooks
	check_toggles
	: > "$TMP/session"
	for p in $(seq "$ROUNDS"); do
		r=$((r + 1))
		# "with" always runs next to "without"; "hooks" first or last
		case $((r % 4)) in
		1) order="without with hooks" ;;
		2) order="hooks with without" ;;
		3) order="with without hooks" ;;
		*) order="hooks without with" ;;
		esac
		for k in $order; do
			one_run "$k"
		done
		echo "$WITH_RPS $WITHOUT_RPS" | awk '{ printf "%.6f\n", $1 / $2 }' |
			tee -a "$TMP/session" >> "$TMP/ratios"
		echo "$HOOKS_RPS $WITHOUT_RPS" | awk '{ printf "%.6f\n", $1 / $2 }' >> "$TMP/hooks_ratios"
		echo "$((WITH_NS - WITHOUT_NS))" >> "$TMP/added"
		echo "$WITHOUT_NS" >> "$TMP/without_ns"
	done
	session_bpf
	awk '{ s += $1 } END { printf "%.6f\n", s / NR }' "$TMP/session" >> "$TMP/sessions"
	echo "# session $sess: mean pair ratio $(tail -n 1 "$TMP/sessions")"
	stop_copy hooks
	stop_copy meter
	stop_nginx
done

# ---- BPF time, agent CPU and RSS: the real agent -----------------------------
# truemeter-agent loads the meter afresh and sends a signed report every
# second to a collector on this host, as in production but more often.
start_agent() {
	mkdir -p "$TMP/agents" "$TMP/state"
	"$B/truemeter-agent" keygen "$TMP/agent.key" "$TMP/agents/a.pub" >/dev/null
	cat > "$TMP/collector.conf" <<CONF
[collector]
listen = tcp://127.0.0.1:$CPORT
database = $TMP/collector.db
enrolled_keys = $TMP/agents
[http]
port = 0
CONF
	{
		printf '[agent]\nkey = %s\nstate_dir = %s\ninterval = 1s\n' \
			"$TMP/agent.key" "$TMP/state"
		printf '[collector]\nurl = tcp://127.0.0.1:%s\n' "$CPORT"
		cat "$TMP/meter.conf"
	} > "$TMP/agent.conf"
	"$B/truemeter-collector" -q -c "$TMP/collector.conf" >/dev/null \
		2>"$TMP/collector.log" 6>&- 7>&- &
	COLLECTOR_PID=$!
	"$B/truemeter-agent" -c "$TMP/agent.conf" 2>"$TMP/agent.log" 6>&- 7>&- &
	AGENT_PID=$!
	wait_for "$TMP/agent.log" 'running: interval' "the agent did not start"
}
start_nginx
CALIB_READS=0
start_calib first
start_agent
start_calib last
sysctl -q -w kernel.bpf_stats_enabled=1
t0=$(cpu_ns "$AGENT_PID")
calib
set -- $(meter_prog_ns "$PIN/http") $CALIB
ns0=$1 n0=$2 f0=$3 fns0=$4 c0=$5 cns0=$6
start=$(date +%s.%N)
run_wrk
end=$(date +%s.%N)
calib
set -- $(meter_prog_ns "$PIN/http") $CALIB
ns1=$1 n1=$2 f1=$3 fns1=$4 c1=$5 cns1=$6
t1=$(cpu_ns "$AGENT_PID")
sysctl -q -w kernel.bpf_stats_enabled=0
exec 6>&- 7>&-
wait $CALIB_PIDS
CALIB_PIDS=
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status")
stored=$(sqlite3 "$TMP/collector.db" 'SELECT COUNT(*) FROM reports' 2>/dev/null || echo 0)
[ "${stored:-0}" -gt 0 ] || { echo "the agent's reports did not reach the collector" >&2; exit 1; }
echo "# the agent sent $stored reports to the collector during the run"
echo "# BPF time run: $RPS req/s, $((ns1 - ns0)) BPF ns in $((n1 - n0)) program runs for $REQS requests"
if [ -n "$CALIB_OFF" ]; then
	stats_ns=0
	echo "# no calibration (the empty programs did not attach: $CALIB_OFF):" \
		"bpf_ns_per_request includes the stats' own clock reads"
else
	[ "$c1" -gt "$c0" ] && [ "$f1" -gt "$f0" ] ||
		{ echo "the calibration programs did not run" >&2; exit 1; }
	stats_ns=$(((cns1 - cns0) / (c1 - c0)))
	echo "# the stats add $stats_ns ns to each run (an empty program on the same hooks" \
		"after the meter, $((c1 - c0)) runs; before it: $(((fns1 - fns0) / (f1 - f0))) ns)"
fi
prog_breakdown "$REQS" "$stats_ns"

# The VM's own noise moves single runs by +-10%: each "with" run is paired
# with the "without" run next to it and the median pair wins.  Sessions
# differ more than pairs within one, so the interval comes from the
# session means (Student's t, SESSIONS - 1 degrees of freedom).
echo "# pair ratios: $(sort -n "$TMP/ratios" | tr '\n' ' ')"
echo "# session means: $(tr '\n' ' ' < "$TMP/sessions")"
awk '{ s += $1; q += $1 * $1 } END {
	split("12.71 4.30 3.18 2.78 2.57 2.45 2.36 2.31 2.26", t, " ")
	m = s / NR; v = NR > 1 ? (q - NR * m * m) / (NR - 1) : 0
	h = (v > 0 && NR <= 10) ? t[NR - 1] * sqrt(v) / sqrt(NR) : 0
	if (NR > 10) h = 1.96 * sqrt(v) / sqrt(NR)
	printf "# mean of the session means %.4f, 95%% interval %.4f to %.4f (%d sessions)\n",
		m, m - h, m + h, NR }' "$TMP/sessions"
printf "BENCH nginx_rps_ratio$S %.4f ratio\n" "$(median < "$TMP/ratios")"
printf "BENCH nginx_rps_ratio_total$S %.4f ratio\n" "$(echo "$sum_with / $sum_without" | bc -l)"
printf "BENCH nginx_rps_ratio_hooks_only$S %.4f ratio\n" "$(median < "$TMP/hooks_ratios")"
printf "BENCH nginx_cpu_added_per_request$S %.0f ns\n" "$(median < "$TMP/added")"
printf "BENCH nginx_cpu_per_request$S %.0f ns\n" "$(median < "$TMP/without_ns")"
printf "BENCH bpf_ns_per_request$S %.0f ns\n" \
	"$(echo "($ns1 - $ns0 - ($n1 - $n0) * $stats_ns) / $REQS" | bc -l)"
printf "BENCH bpf_ns_per_request_raw$S %.0f ns\n" "$(echo "($ns1 - $ns0) / $REQS" | bc -l)"
printf "BENCH bpf_stats_ns_per_run$S %d ns\n" "$stats_ns"
printf "BENCH agent_cpu_percent$S %.2f %%\n" "$(echo "100 * ($t1 - $t0) / 1000000000 / ($end - $start)" | bc -l)"
printf "BENCH agent_rss_kib$S %d KiB\n" "$rss"
