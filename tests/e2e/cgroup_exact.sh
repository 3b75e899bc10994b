#!/bin/sh
# cgroup tenants: cpu_ns within 2% of each cgroup's own accounting (cgroup v2
# cpu.stat usage_usec), net_rx/tx_bytes and tcp_connections exact.
#
# CPU: burners in tenant cgroups (one in a descendant cgroup, one moved from
# a cgroup of one tenant to another half-way).  Network: a client in tenant
# net_cli (netns A) and a server in tenant net_srv (netns B) talk over a veth
# pair that carries nothing else (no IPv6, static neighbours), so each side's
# IP bytes are the veth byte counters minus 14 bytes per Ethernet frame,
# less the resets the stack sends from its own control socket, which belong
# to no tenant's socket (see tcp_rsts).
# The meter is read by meter_dump processes that exit in between, so all
# the load is counted by the pinned programs with no agent running.
# san: yes
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"

B=${TM_BUILD:?TM_BUILD not set}
DUMP=$B/tests/meter_dump
LOAD=$B/tests/tenant_load
ID=tmcg$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
CONF=$TMP/meter.conf
NSA=${ID}a
NSB=${ID}b
PIDS=""

if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
	CGROOT=/sys/fs/cgroup
else
	CGROOT=/sys/fs/cgroup/unified
fi
CG=$CGROOT/$ID

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	# move anything left back to the root, then remove children first
	for d in $(find "$CG" -depth -type d 2>/dev/null); do
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
			echo "$p" > "$CGROOT/cgroup.procs" 2>/dev/null
		done
		rmdir "$d" 2>/dev/null
	done
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$PIN" "$PIN-small" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# runs "$@" inside cgroup $1 (the process moves itself, then execs)
incg() {
	cg=$1
	shift
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}

snap() { # file
	echo | "$DUMP" -c "$CONF" > "$1" 2> "$1.err"
}
val() { # file tenant metric
	awk -F'\t' -v t="$2" -v m="$3" '$1 == t && $2 == m { print $6 }' "$1"
}
usage_ns() { # cgroup dir
	awk '$1 == "usage_usec" { printf "%d\n", $2 * 1000 }' "$1/cpu.stat"
}
within2pct() { # description expected got
	if awk -v e="$2" -v g="$3" 'BEGIN { d = g - e; if (d < 0) d = -d; exit !(e > 0 && d * 50 <= e) }'; then
		ok "$1 within 2% (cgroup $2 ns, meter $3 ns)"
	else
		nok "$1: cgroup says $2 ns, meter $3 ns (more than 2% apart)"
	fi
}
vstat() { # netns dev counter
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"
}
tcp_rsts() { # netns -> resets sent (Tcp OutRsts of /proc/net/snmp)
	ip netns exec "$1" awk '$1 == "Tcp:" {
		if (!col) { for (i = 2; i <= NF; i++) if ($i == "OutRsts") col = i }
		else print $col }' /proc/net/snmp
}
wait_ready() { # file
	i=0
	while ! grep -q ready "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.05
	done
}

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || { nok "mount bpffs"; exit 1; }
for t in "$DUMP" "$LOAD"; do
	[ -x "$t" ] || { nok "missing $t (make tests)"; exit 1; }
done

mkdir -p "$CG/cpu1" "$CG/cpu2/sub" "$CG/cpu3" "$CG/cli" "$CG/srv" || {
	nok "create cgroups under $CG"; exit 1; }

# A path that is no cgroup v2 directory is an error naming tenant and path.
cat > "$CONF" <<EOF
[meter]
pin_dir = $PIN
[tenant broken]
cgroup = $TMP
EOF
if snap "$TMP/bad.txt"; then
	nok "config with a non-cgroup path accepted"
elif grep -q "tenant 'broken'" "$TMP/bad.txt.err" && grep -q "$TMP" "$TMP/bad.txt.err"; then
	ok "non-cgroup path rejected, naming tenant and path"
else
	nok "non-cgroup path error does not name tenant and path: $(cat "$TMP/bad.txt.err")"
fi

# cpu_b owns two cgroups (one given relative to the cgroup root) and a
# descendant of one of them.
cat > "$CONF" <<EOF
[meter]
pin_dir = $PIN
max_entries = 1024
[tenant cpu_a]
cgroup = $CG/cpu1
[tenant cpu_b]
cgroup = $ID/cpu2
cgroup = $CG/cpu3
[tenant net_cli]
cgroup = $CG/cli
[tenant net_srv]
cgroup = $CG/srv
EOF

snap "$TMP/s0.txt" || { nok "meter_dump failed: $(cat "$TMP/s0.txt.err")"; exit 1; }
ok "meter loaded and attached"
for h in sched_stat_runtime cgroup_skb_ingress cgroup_skb_egress sockops; do
	if grep -q "^#hook attached tenant:$h\$" "$TMP/s0.txt"; then
		ok "hook tenant:$h attached"
	else
		nok "hook tenant:$h not attached"
	fi
done
check "fresh counters start at zero" 0 "$(awk -F'\t' '!/^#/ && NF == 6 { s += $6 } END { print s + 0 }' "$TMP/s0.txt")"

# ---- CPU -------------------------------------------------------------------
incg "$CG/cpu1" "$LOAD" burn 2.0 > /dev/null &
MOVER=$!
PIDS="$PIDS $MOVER"
incg "$CG/cpu2/sub" "$LOAD" burn 1.2 > /dev/null &
PIDS="$PIDS $!"
sleep 1
echo "$MOVER" > "$CG/cpu3/cgroup.procs" || nok "move burner to cpu3"
wait
PIDS=""
snap "$TMP/s1.txt" || nok "meter_dump after CPU load"
exp_a=$(usage_ns "$CG/cpu1")
exp_b=$(( $(usage_ns "$CG/cpu2") + $(usage_ns "$CG/cpu3") ))
# 2.0 s + 1.2 s of CPU were burnt; cpu_b got at least the 1.2 s
if [ "$exp_a" -gt 50000000 ] && [ "$exp_b" -gt 1200000000 ] &&
	[ $((exp_a + exp_b)) -gt 3200000000 ]; then
	ok "burners ran (cgroup cpu1 ${exp_a} ns, cpu2+cpu3 ${exp_b} ns)"
else
	nok "burners did not run long enough (cpu1 ${exp_a} ns, cpu2+cpu3 ${exp_b} ns)"
fi
within2pct "cpu_a cpu_ns" "$exp_a" "$(val "$TMP/s1.txt" cpu_a cpu_ns)"
within2pct "cpu_b cpu_ns (two cgroups + descendant)" "$exp_b" "$(val "$TMP/s1.txt" cpu_b cpu_ns)"

# ---- network: netns A (client) -- veth -- netns B (server) ----------------
ip netns add "$NSA" && ip netns add "$NSB" || { nok "create netns"; exit 1; }
# No tail loss probes: on a busy host a probe can arrive after its peer's
# socket is gone and draw a reset from the stack's control socket.
for ns in "$NSA" "$NSB"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 net.ipv4.tcp_early_retrans=0
done
ip -n "$NSA" link add va type veth peer name vb netns "$NSB" &&
	ip -n "$NSA" addr add 198.18.0.1/24 dev va &&
	ip -n "$NSB" addr add 198.18.0.2/24 dev vb &&
	ip -n "$NSA" link set va up && ip -n "$NSB" link set vb up ||
	{ nok "veth setup"; exit 1; }
MACA=$(ip netns exec "$NSA" cat /sys/class/net/va/address)
MACB=$(ip netns exec "$NSB" cat /sys/class/net/vb/address)
ip -n "$NSA" neigh replace 198.18.0.2 lladdr "$MACB" dev va nud permanent
ip -n "$NSB" neigh replace 198.18.0.1 lladdr "$MACA" dev vb nud permanent

# UDP: N datagrams of P bytes = N * (P + 28) IP bytes each way they go.
N=300
P=1000
incg "$CG/srv" ip netns exec "$NSB" "$LOAD" udp-server 198.18.0.2 9301 $N > "$TMP/udps.out" &
PIDS="$!"
wait_ready "$TMP/udps.out" || nok "UDP server ready"
incg "$CG/cli" ip netns exec "$NSA" "$LOAD" udp-client 198.18.0.2 9301 $N $P > "$TMP/udpc.out" ||
	nok "UDP client: $(cat "$TMP/udpc.out")"
wait
PIDS=""
check "UDP server received all datagrams" "recv $((N * P))" \
	"$(sed -n 's/.* \(recv [0-9]*\)$/\1/p' "$TMP/udps.out")"
snap "$TMP/s2.txt" || nok "meter_dump after UDP"
check "net_cli net_tx_bytes = N*(P+28) after UDP" $((N * (P + 28))) "$(val "$TMP/s2.txt" net_cli net_tx_bytes)"
check "net_srv net_rx_bytes = N*(P+28) after UDP" $((N * (P + 28))) "$(val "$TMP/s2.txt" net_srv net_rx_bytes)"
check "net_cli net_rx_bytes after UDP" 0 "$(val "$TMP/s2.txt" net_cli net_rx_bytes)"
check "net_srv net_tx_bytes after UDP" 0 "$(val "$TMP/s2.txt" net_srv net_tx_bytes)"

# TCP: K connections, REQ bytes up and RESP bytes down each.
K=6
REQ=300000
RESP=70000
tx0=$(vstat "$NSA" va tx_bytes); txp0=$(vstat "$NSA" va tx_packets)
rx0=$(vstat "$NSA" va rx_bytes); rxp0=$(vstat "$NSA" va rx_packets)
rsta0=$(tcp_rsts "$NSA"); rstb0=$(tcp_rsts "$NSB")
incg "$CG/srv" ip netns exec "$NSB" "$LOAD" tcp-server 198.18.0.2 9302 $K $RESP > "$TMP/tcps.out" &
PIDS="$!"
wait_ready "$TMP/tcps.out" || nok "TCP server ready"
incg "$CG/cli" ip netns exec "$NSA" "$LOAD" tcp-client 198.18.0.2 9302 $K $REQ > "$TMP/tcpc.out" ||
	nok "TCP client: $(cat "$TMP/tcpc.out")"
wait
PIDS=""
check "TCP client moved its bytes" "conns $K sent $((K * REQ)) recv $((K * RESP))" "$(cat "$TMP/tcpc.out")"
sleep 0.2       # let the last ACKs land
snap "$TMP/s3.txt" || nok "meter_dump after TCP"
# Resets here come only from a control socket (no socket had unread data):
# 40 IP bytes each (no TCP options), seen by the veth but by no cgroup.
rsta=$(( $(tcp_rsts "$NSA") - rsta0 )); rstb=$(( $(tcp_rsts "$NSB") - rstb0 ))
up=$(( $(vstat "$NSA" va tx_bytes) - tx0 - 14 * ($(vstat "$NSA" va tx_packets) - txp0) - 40 * rsta ))
down=$(( $(vstat "$NSA" va rx_bytes) - rx0 - 14 * ($(vstat "$NSA" va rx_packets) - rxp0) - 40 * rstb ))
[ $((rsta + rstb)) -eq 0 ] || echo "# stack resets during the TCP run: client $rsta, server $rstb"
check "veth dropped nothing" "0 0" "$(vstat "$NSA" va tx_dropped) $(vstat "$NSA" va rx_dropped)"
u0=$((N * (P + 28)))
check "net_cli net_tx_bytes = UDP + veth IP bytes up" $((u0 + up)) "$(val "$TMP/s3.txt" net_cli net_tx_bytes)"
check "net_cli net_rx_bytes = veth IP bytes down" "$down" "$(val "$TMP/s3.txt" net_cli net_rx_bytes)"
check "net_srv net_rx_bytes = UDP + veth IP bytes up" $((u0 + up)) "$(val "$TMP/s3.txt" net_srv net_rx_bytes)"
check "net_srv net_tx_bytes = veth IP bytes down" "$down" "$(val "$TMP/s3.txt" net_srv net_tx_bytes)"
check "net_cli tcp_connections (active)" $K "$(val "$TMP/s3.txt" net_cli tcp_connections)"
check "net_srv tcp_connections (passive)" $K "$(val "$TMP/s3.txt" net_srv tcp_connections)"
check "cpu tenants saw no connections" "0 0" \
	"$(val "$TMP/s3.txt" cpu_a tcp_connections) $(val "$TMP/s3.txt" cpu_b tcp_connections)"
check "no map overflow" "#health overflow 0" "$(grep '^#health overflow' "$TMP/s3.txt")"

# Counters are cumulative across readers: a new reader reuses the pins.
snap "$TMP/s4.txt"
if [ "$(grep -v '^#' "$TMP/s3.txt" | grep -v cpu_ns)" = "$(grep -v '^#' "$TMP/s4.txt" | grep -v cpu_ns)" ]; then
	ok "a new reader continues the same counters"
else
	nok "a new reader sees other counters than the last one"
fi

# ---- pins: config changes, a lost link, a changed tenant list ------------------
# Moving cpu_a to another cgroup keeps the loaded programs and the counts.
a0=$(val "$TMP/s4.txt" cpu_a cpu_ns)
mkdir -p "$CG/cpu4"
sed -i "s|^cgroup = $CG/cpu1\$|cgroup = $CG/cpu4|" "$CONF"
# the next reader applies the change
echo | "$DUMP" -v -c "$CONF" > "$TMP/s5.txt" 2> "$TMP/s5.txt.err"
if grep -q "reusing the cgroup/CIDR meter" "$TMP/s5.txt.err"; then
	ok "a changed cgroup path reuses the pinned programs"
else
	nok "a changed cgroup path reloaded the programs"
fi
incg "$CG/cpu4" "$LOAD" burn 0.3 > /dev/null
incg "$CG/cpu1" "$LOAD" burn 0.2 > /dev/null
snap "$TMP/s5.txt"
within2pct "cpu_a cpu_ns after moving it to cpu4" $((a0 + $(usage_ns "$CG/cpu4"))) \
	"$(val "$TMP/s5.txt" cpu_a cpu_ns)"

# A lost link pin: reload, counters kept (same tenants), counting goes on.
rm -f "$PIN/tenant/link_cpu"
n0=$(val "$TMP/s5.txt" net_cli net_tx_bytes)
echo | "$DUMP" -v -c "$CONF" > "$TMP/s6.txt" 2> "$TMP/s6.txt.err"
if grep -q "link_cpu is gone; reloading" "$TMP/s6.txt.err" &&
	grep -q "^#hook attached tenant:sched_stat_runtime" "$TMP/s6.txt"; then
	ok "a lost link pin makes the next reader reload and reattach"
else
	nok "a lost link pin was not reattached"
fi
check "counters survive the reload" "$n0" "$(val "$TMP/s6.txt" net_cli net_tx_bytes)"
u4=$(usage_ns "$CG/cpu4")
incg "$CG/cpu4" "$LOAD" burn 0.3 > /dev/null
snap "$TMP/s7.txt"
within2pct "cpu_a counts after the reload" \
	$(( $(val "$TMP/s6.txt" cpu_a cpu_ns) + $(usage_ns "$CG/cpu4") - u4 )) "$(val "$TMP/s7.txt" cpu_a cpu_ns)"

# Tenants keep their counters when others come and go: a new tenant gets a
# new slot, a removed one keeps its counts for when it comes back.
printf '[tenant newcomer]\ncgroup = %s\n' "$CG/cpu1" >> "$CONF"
echo | "$DUMP" -v -c "$CONF" > "$TMP/s8.txt" 2> "$TMP/s8.txt.err"
if grep -q "reusing the cgroup/CIDR meter" "$TMP/s8.txt.err" &&
	grep -q "tenant 'newcomer' metered from now on" "$TMP/s8.txt.err"; then
	ok "a new tenant is added without reloading"
else
	nok "a new tenant made the meter reload"
fi
rows() { grep -v '^#' "$1" | grep -v '^newcomer' | grep -v cpu_ns; }
if [ "$(rows "$TMP/s7.txt")" = "$(rows "$TMP/s8.txt")" ]; then
	ok "adding a tenant keeps every counter"
else
	nok "adding a tenant changed counters"
fi
check "the new tenant starts at zero" 0 "$(val "$TMP/s8.txt" newcomer net_tx_bytes)"
cp "$CONF" "$TMP/full.conf"
awk '/^\[tenant net_srv\]/ { skip = 1; next } /^\[/ { skip = 0 } !skip' "$TMP/full.conf" > "$CONF"
snap "$TMP/s9.txt"
check "a removed tenant is not reported" 0 "$(grep -c '^net_srv' "$TMP/s9.txt")"
cp "$TMP/full.conf" "$CONF"
snap "$TMP/s10.txt"
check "a tenant that comes back has its counts" "$(val "$TMP/s8.txt" net_srv net_rx_bytes)" \
	"$(val "$TMP/s10.txt" net_srv net_rx_bytes)"

# ---- a cgroup that appears later, or is created again, is followed -----------
# One long-lived reader (like the agent): it looks the paths up on each read.
printf '[tenant later]\ncgroup = %s\n' "$CG/later" >> "$CONF"
mkfifo "$TMP/in"
"$DUMP" -c "$CONF" < "$TMP/in" > "$TMP/l.txt" 2> "$TMP/l.err" &
READER=$!
PIDS="$READER"
exec 3> "$TMP/in"
ask() { # n: request the n-th dump and wait for it
	echo >&3
	i=0
	while [ "$(grep -c '^END$' "$TMP/l.txt")" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -gt 200 ] && { nok "reader answer $1"; return 1; }
		sleep 0.05
	done
	awk -v n="$1" '/^END$/ { k++; next } k == n - 1' "$TMP/l.txt" > "$TMP/l$1.txt"
}
ask 1
if grep -q "tenant 'later': cgroup '$CG/later' does not exist (yet)" "$TMP/l.err"; then
	ok "a missing cgroup is a warning naming tenant and path, not an error"
else
	nok "a missing cgroup: $(cat "$TMP/l.err")"
fi
mkdir "$CG/later"
ask 2
incg "$CG/later" "$LOAD" burn 0.2 > /dev/null
ask 3
first=$(usage_ns "$CG/later")
within2pct "a cgroup created after the start is counted" "$first" "$(val "$TMP/l3.txt" later cpu_ns)"
rmdir "$CG/later" && mkdir "$CG/later"
ask 4
incg "$CG/later" "$LOAD" burn 0.2 > /dev/null
ask 5
within2pct "a cgroup created again is counted" $((first + $(usage_ns "$CG/later"))) \
	"$(val "$TMP/l5.txt" later cpu_ns)"
exec 3>&-
wait "$READER"
PIDS=""

# ---- a full counter map is counted, never silent -----------------------------
PIN2=$PIN-small
CONF2=$TMP/small.conf
printf '[meter]\npin_dir = %s\nmax_entries = 64\n' "$PIN2" > "$CONF2"
for i in $(seq 1 17); do
	mkdir -p "$CG/many/t$i"
	printf '[tenant t%s]\ncgroup = %s\n' "$i" "$CG/many/t$i" >> "$CONF2"
done
echo | "$DUMP" -c "$CONF2" > "$TMP/m0.txt" 2> "$TMP/m0.txt.err"
if grep -q "counter map full" "$TMP/m0.txt.err"; then
	ok "too small max_entries is warned about"
else
	nok "too small max_entries not warned about"
fi
incg "$CG/many/t17" "$LOAD" burn 0.1 > /dev/null
incg "$CG/many/t1" "$LOAD" burn 0.1 > /dev/null
echo | "$DUMP" -c "$CONF2" > "$TMP/m1.txt" 2>/dev/null
ovf=$(sed -n 's/^#health overflow //p' "$TMP/m1.txt")
if [ "${ovf:-0}" -gt 0 ]; then
	ok "events of a tenant with no room are counted as overflow ($ovf)"
else
	nok "no overflow counted for a tenant with no room"
fi
within2pct "t1 still counts exactly" "$(usage_ns "$CG/many/t1")" "$(val "$TMP/m1.txt" t1 cpu_ns)"
rm -rf "$PIN2"
