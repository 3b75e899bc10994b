#!/bin/sh
# Peer-CIDR tenants: bytes and TCP connections per client CIDR, exact.
#
# IPv4: clients in netns C bound to addresses in several CIDRs talk over a
# veth pair (nothing else on it: no IPv6, static neighbours) to a server in
# netns S.  A packet counts for the tenant of its remote address: on the
# server's sockets the client's CIDR, on the client's sockets the server's
# CIDR (tenant v4_srv).  Per client run, the veth counters minus 14 bytes
# per frame give the IP bytes up and down.
# IPv6: clients and server on the loopback of netns L (quiet: only our
# packets), where each packet is counted once by the lo counters (which,
# unlike veth, count bytes after the Ethernet header is taken off).
# san: yes
set -u
. "${TM_ROOT:?TM_ROOT not set}/tests/lib/tap.sh"

B=${TM_BUILD:?TM_BUILD not set}
DUMP=$B/tests/meter_dump
LOAD=$B/tests/tenant_load
ID=tmcidr$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
CONF=$TMP/meter.conf
NSC=${ID}c
NSS=${ID}s
NSL=${ID}l
PIDS=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ns in "$NSC" "$NSS" "$NSL"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

snap() { # file
	echo | "$DUMP" -c "$CONF" > "$1" 2> "$1.err"
}
val() { # file tenant metric
	awk -F'\t' -v t="$2" -v m="$3" '$1 == t && $2 == m { print $6 }' "$1"
}
nstat_() { # netns dev counter
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"
}
ipbytes() { # netns dev dir(tx|rx): IP bytes so far
	echo $(( $(nstat_ "$1" "$2" "$3_bytes") - 14 * $(nstat_ "$1" "$2" "$3_packets") ))
}
lobytes() { # netns: IP bytes so far (loopback counts after taking off its 14 bytes)
	nstat_ "$1" lo tx_bytes
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

# ---- network setup ---------------------------------------------------------
for ns in "$NSC" "$NSS" "$NSL"; do
	ip netns add "$ns" || { nok "create netns $ns"; exit 1; }
done
for ns in "$NSC" "$NSS"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$NSC" link add vc type veth peer name vs netns "$NSS" &&
	ip -n "$NSS" addr add 198.19.0.1/16 dev vs &&
	for a in 198.19.1.1 198.19.1.2 198.19.2.1 198.19.3.7 198.19.4.1; do
		ip -n "$NSC" addr add $a/16 dev vc || exit 1
	done &&
	ip -n "$NSC" link set vc up && ip -n "$NSS" link set vs up &&
	ip -n "$NSL" link set lo up &&
	for a in fd00:77::1 fd00:77:1::1 fd00:77:9::1; do
		ip -n "$NSL" addr add $a/128 dev lo || exit 1
	done || { nok "network setup"; exit 1; }
MACC=$(ip netns exec "$NSC" cat /sys/class/net/vc/address)
MACS=$(ip netns exec "$NSS" cat /sys/class/net/vs/address)
ip -n "$NSC" neigh replace 198.19.0.1 lladdr "$MACS" dev vc nud permanent
for a in 198.19.1.1 198.19.1.2 198.19.2.1 198.19.3.7 198.19.4.1; do
	ip -n "$NSS" neigh replace $a lladdr "$MACC" dev vs nud permanent
done

# v4_two has two CIDRs (summed); host bits in a CIDR are ignored; 198.19.4.x
# and fd00:77:9::/48 belong to nobody.
cat > "$CONF" <<EOF
[meter]
pin_dir = $PIN
[tenant v4_one]
cidr = 198.19.1.0/24
[tenant v4_two]
cidr = 198.19.2.0/24
cidr = 198.19.3.9/24
[tenant v4_srv]
cidr = 198.19.0.0/24
[tenant v6_one]
cidr = fd00:77:1::/48
[tenant v4_lo]
cidr = 127.0.1.0/24
EOF

snap "$TMP/s0.txt" || { nok "meter_dump failed: $(cat "$TMP/s0.txt.err")"; exit 1; }
ok "meter loaded with CIDR tenants"
check "no cpu_ns row for CIDR-only tenants" 0 "$(grep -c cpu_ns "$TMP/s0.txt")"

# ---- IPv4 UDP: N datagrams of P bytes per client = N * (P + 28) ------------
N=200
P=700
ip netns exec "$NSS" "$LOAD" udp-server 198.19.0.1 9401 $((3 * N)) > "$TMP/udps.out" &
PIDS="$!"
wait_ready "$TMP/udps.out" || nok "UDP server ready"
for a in 198.19.1.1 198.19.2.1 198.19.4.1; do
	ip netns exec "$NSC" "$LOAD" udp-client -b $a 198.19.0.1 9401 $N $P > /dev/null ||
		nok "UDP client $a"
done
wait
PIDS=""
check "UDP server received every datagram" "recv $((3 * N * P))" \
	"$(sed -n 's/.* \(recv [0-9]*\)$/\1/p' "$TMP/udps.out")"
snap "$TMP/s1.txt" || nok "meter_dump after UDP"
U=$((N * (P + 28)))
check "v4_one net_rx_bytes after UDP" $U "$(val "$TMP/s1.txt" v4_one net_rx_bytes)"
check "v4_two net_rx_bytes after UDP" $U "$(val "$TMP/s1.txt" v4_two net_rx_bytes)"
check "v4_srv net_tx_bytes after UDP (every client)" $((3 * U)) "$(val "$TMP/s1.txt" v4_srv net_tx_bytes)"
check "nothing flowed back after UDP" "0 0 0" \
	"$(val "$TMP/s1.txt" v4_one net_tx_bytes) $(val "$TMP/s1.txt" v4_two net_tx_bytes) $(val "$TMP/s1.txt" v4_srv net_rx_bytes)"

# ---- IPv4 TCP: one client run per source address ---------------------------
REQ=120000
RESP=45000
ip netns exec "$NSS" "$LOAD" tcp-server 198.19.0.1 9402 $((3 + 2 + 4)) $RESP > "$TMP/tcps.out" &
PIDS="$!"
wait_ready "$TMP/tcps.out" || nok "TCP server ready"
run_tcp() { # bind-address nconn -> "up down" IP bytes
	u0=$(ipbytes "$NSC" vc tx)
	d0=$(ipbytes "$NSC" vc rx)
	ip netns exec "$NSC" "$LOAD" tcp-client -b "$1" 198.19.0.1 9402 "$2" $REQ > "$TMP/tcpc.out" ||
		nok "TCP client $1: $(cat "$TMP/tcpc.out")"
	sleep 0.1       # the last ACK
	echo "$(($(ipbytes "$NSC" vc tx) - u0)) $(($(ipbytes "$NSC" vc rx) - d0))"
}
set -- $(run_tcp 198.19.1.2 3)
up1=$1 down1=$2
set -- $(run_tcp 198.19.3.7 2)
up2=$1 down2=$2
set -- $(run_tcp 198.19.4.1 4)
up3=$1 down3=$2
wait
PIDS=""
check "TCP server served every connection" "conns 9 sent $((9 * RESP)) recv $((9 * REQ))" \
	"$(tail -1 "$TMP/tcps.out")"
check "veth dropped nothing" "0 0" "$(nstat_ "$NSC" vc tx_dropped) $(nstat_ "$NSC" vc rx_dropped)"
snap "$TMP/s2.txt" || nok "meter_dump after TCP"
check "v4_one net_rx_bytes" $((U + up1)) "$(val "$TMP/s2.txt" v4_one net_rx_bytes)"
check "v4_one net_tx_bytes" $down1 "$(val "$TMP/s2.txt" v4_one net_tx_bytes)"
check "v4_one tcp_connections" 3 "$(val "$TMP/s2.txt" v4_one tcp_connections)"
check "v4_two net_rx_bytes (second CIDR)" $((U + up2)) "$(val "$TMP/s2.txt" v4_two net_rx_bytes)"
check "v4_two net_tx_bytes (second CIDR)" $down2 "$(val "$TMP/s2.txt" v4_two net_tx_bytes)"
check "v4_two tcp_connections" 2 "$(val "$TMP/s2.txt" v4_two tcp_connections)"
check "v4_srv net_tx_bytes (egress by destination)" $((3 * U + up1 + up2 + up3)) \
	"$(val "$TMP/s2.txt" v4_srv net_tx_bytes)"
check "v4_srv net_rx_bytes (ingress by source)" $((down1 + down2 + down3)) \
	"$(val "$TMP/s2.txt" v4_srv net_rx_bytes)"
check "v4_srv tcp_connections (active side)" 9 "$(val "$TMP/s2.txt" v4_srv tcp_connections)"

# ---- IPv6 on a private loopback --------------------------------------------
N6=150
P6=900
ip netns exec "$NSL" "$LOAD" udp-server fd00:77::1 9403 $((2 * N6)) > "$TMP/udp6.out" &
PIDS="$!"
wait_ready "$TMP/udp6.out" || nok "UDP6 server ready"
for a in fd00:77:1::1 fd00:77:9::1; do
	ip netns exec "$NSL" "$LOAD" udp-client -b $a fd00:77::1 9403 $N6 $P6 > /dev/null ||
		nok "UDP6 client $a"
done
wait
PIDS=""
check "UDP6 server received every datagram" "recv $((2 * N6 * P6))" \
	"$(sed -n 's/.* \(recv [0-9]*\)$/\1/p' "$TMP/udp6.out")"
snap "$TMP/s3.txt" || nok "meter_dump after UDP6"
U6=$((N6 * (P6 + 48)))
check "v6_one net_rx_bytes = N*(P+48) after UDP" $U6 "$(val "$TMP/s3.txt" v6_one net_rx_bytes)"

K6=3
l0=$(lobytes "$NSL")
ip netns exec "$NSL" "$LOAD" tcp-server fd00:77::1 9404 $((K6 + 2)) 30000 > "$TMP/tcp6s.out" &
PIDS="$!"
wait_ready "$TMP/tcp6s.out" || nok "TCP6 server ready"
ip netns exec "$NSL" "$LOAD" tcp-client -b fd00:77:1::1 fd00:77::1 9404 $K6 80000 > /dev/null ||
	nok "TCP6 client"
sleep 0.1
l1=$(lobytes "$NSL")
ip netns exec "$NSL" "$LOAD" tcp-client -b fd00:77:9::1 fd00:77::1 9404 2 80000 > /dev/null ||
	nok "TCP6 client (no tenant)"
wait
PIDS=""
check "TCP6 server served every connection" "conns $((K6 + 2)) sent $(((K6 + 2) * 30000)) recv $(((K6 + 2) * 80000))" \
	"$(tail -1 "$TMP/tcp6s.out")"
snap "$TMP/s4.txt" || nok "meter_dump after TCP6"
# each packet of v6_one's connections crosses lo once and is counted once:
# rx on the way in to the server, tx on the way out
r6=$(val "$TMP/s4.txt" v6_one net_rx_bytes)
t6=$(val "$TMP/s4.txt" v6_one net_tx_bytes)
check "v6_one net_rx_bytes + net_tx_bytes = loopback IP bytes" $((U6 + l1 - l0)) $((r6 + t6))
check "v6_one tcp_connections" $K6 "$(val "$TMP/s4.txt" v6_one tcp_connections)"

# An IPv6 socket talking IPv4 (v4-mapped addresses): the server's socket
# sees its peer as ::ffff:127.0.1.5, which counts by the IPv4 CIDRs.
l0=$(lobytes "$NSL")
ip netns exec "$NSL" "$LOAD" tcp-server ::ffff:127.0.2.1 9405 2 5000 > "$TMP/tcpms.out" &
PIDS="$!"
wait_ready "$TMP/tcpms.out" || nok "v4-mapped TCP server ready"
ip netns exec "$NSL" "$LOAD" tcp-client -b 127.0.1.5 127.0.2.1 9405 2 7000 > /dev/null ||
	nok "TCP client to a v4-mapped server"
wait
PIDS=""
sleep 0.1
l1=$(lobytes "$NSL")
snap "$TMP/s5.txt" || nok "meter_dump after v4-mapped TCP"
check "v4_lo tcp_connections (server socket with v4-mapped peers)" 2 \
	"$(val "$TMP/s5.txt" v4_lo tcp_connections)"
check "v4_lo net_rx_bytes + net_tx_bytes = loopback IP bytes" $((l1 - l0)) \
	$(( $(val "$TMP/s5.txt" v4_lo net_rx_bytes) + $(val "$TMP/s5.txt" v4_lo net_tx_bytes) ))
check "no map overflow" "#health overflow 0" "$(grep '^#health overflow' "$TMP/s5.txt")"

# A prefix given to two tenants is a config error naming both; the pinned
# meter is left as it was.
cp "$CONF" "$TMP/good.conf"
printf '[tenant thief]\ncidr = 198.19.1.7/24\n' >> "$CONF"
if snap "$TMP/bad.txt"; then
	nok "a CIDR given to two tenants was accepted"
elif grep -q "tenant 'thief': cidr 198.19.1.0/24 already belongs to tenant 'v4_one'" "$TMP/bad.txt.err"; then
	ok "a CIDR given to two tenants is an error naming both"
else
	nok "duplicate CIDR error unclear: $(cat "$TMP/bad.txt.err")"
fi
cp "$TMP/good.conf" "$CONF"
snap "$TMP/s6.txt"
if [ "$(grep -v '^#' "$TMP/s5.txt")" = "$(grep -v '^#' "$TMP/s6.txt")" ] &&
	[ "$(grep -c '^#hook attached' "$TMP/s6.txt")" = 4 ]; then
	ok "a rejected config leaves counters and hooks alone"
else
	nok "a rejected config changed the pinned meter"
fi
