# TAP lines for the e2e scripts, sourced by them; tests/run.sh counts them.
#   ok DESCRIPTION, nok DESCRIPTION
#   check DESCRIPTION EXPECTED GOT   ok with the value, or not ok with both
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; }
check() {
	if [ "$2" = "$3" ]; then ok "$1 ($3)"; else nok "$1: expected '$2', got '$3'"; fi
}
