# A scratch directory and one background process for an e2e script, both
# gone when it exits.  Sourced; `scratch NAME` sets TMP (a fresh directory
# /tmp/NAME.XXXXXX) and PID (empty: the script sets it to the process it
# starts, and back to empty once that has ended).
scratch_cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$TMP"
}
scratch() {
	TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	PID=
	trap scratch_cleanup EXIT INT TERM
}
