# Polling for the test and benchmark scripts, sourced by them.
#   wait_until SECONDS CMD...   runs CMD every 0.1 s until it succeeds (0)
#                               or SECONDS pass (1)
wait_until() {
	wait_left=$(( $1 * 10 ))
	shift
	while [ "$wait_left" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		wait_left=$((wait_left - 1))
	done
	return 1
}
