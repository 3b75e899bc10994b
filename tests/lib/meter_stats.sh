# The HTTP meter's program statistics (kernel.bpf_stats_enabled), sourced
# by the scripts that measure its cost.
#
#   meter_prog_stats DIR   "<name> <run_time_ns> <run_cnt>" for each program
#                          behind the links pinned in DIR (<pin_dir>/http)
#   meter_prog_ns DIR      "<run_time_ns> <run_cnt>" summed over them

meter_prog_stats() {
	for l in "$1"/link_*; do
		id=$(bpftool -j link show pinned "$l" | sed 's/.*"prog_id":\([0-9]*\).*/\1/')
		bpftool -j prog show id "$id" | sed -n 's/.*"name":"\([^"]*\)".*"run_time_ns":\([0-9]*\),"run_cnt":\([0-9]*\).*/\1 \2 \3/p'
	done
}

meter_prog_ns() {
	meter_prog_stats "$1" | awk '{ ns += $2; n += $3 } END { print ns + 0, n + 0 }'
}
