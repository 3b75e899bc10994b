#!/bin/sh
# tls+tcp:// between agent and collector, with a throwaway CA and server
# certificate made by openssl here: reports arrive exactly, the agent
# verifies the collector against the CA and server name, and a client
# trusting another CA gets no answer.
NAME=tls
URL_SCHEME=tls+tcp
. "$TM_ROOT/tests/e2e/lib/pipe.sh"

P=$TMP/pki
mkdir -p "$P"
mkcert() { # name subject
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
		-keyout "$P/$1.key" -out "$P/$1.pem" 2>/dev/null
}
if mkcert ca "truemeter test CA" && mkcert otherca "another CA" &&
   openssl req -newkey rsa:2048 -nodes -subj "/CN=collector.test" \
	-keyout "$P/server.key" -out "$P/server.csr" 2>/dev/null &&
   printf 'subjectAltName=DNS:collector.test,IP:127.0.0.1\n' > "$P/ext.cnf" &&
   openssl x509 -req -in "$P/server.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
	-CAcreateserial -days 2 -extfile "$P/ext.cnf" -out "$P/server.pem" 2>/dev/null; then
	ok "throwaway CA and server certificate"
else
	nok "openssl could not make the certificates"
	exit 1
fi
COLLECTOR_EXTRA="tls_cert = $P/server.pem
tls_key = $P/server.key"
AGENT_EXTRA="tls_ca = $P/ca.pem
tls_server_name = collector.test"
INTERVAL=100ms
write_confs
"$B/truemeter-collector" -n -c "$TMP/collector.conf" > /dev/null &&
	ok "collector config with TLS checks" || nok "collector TLS config refused"

start_listener
start_collector
wait_until 10 grep -q 'listening on tls+tcp' "$TMP/collector.log"
start_agent
sleep 0.5
tenant_conns 20 1500 > /dev/null 2>&1
sleep 0.5
check_drained "reports delivered over TLS"
kill_agent TERM
set -- $(chain_summary | tr '|' ' ')
if [ "$1" -ge 10 ]; then ok "reports stored ($1)"; else nok "only $1 reports stored"; fi
check "seqs 1..N once each" "$1 1 $1 $1" "$1 $2 $3 $4"
check "tcp_connections exact over TLS" 20 "$(stored_metric tcp_connections)"

# a client that trusts another CA never gets through (handshake fails)
got=$(BADINPUT_CA="$P/otherca.pem" "$B/tests/badinput" "tls+tcp://127.0.0.1:$PORT" random 10 1)
case "$got" in
noanswer*) ok "client trusting another CA refused ($got)" ;;
*) nok "client trusting another CA got an answer: $got" ;;
esac
# plain tcp to the TLS port gets nothing either
got=$("$B/tests/badinput" "tcp://127.0.0.1:$PORT" random 10 1)
case "$got" in
noanswer*) ok "plain tcp to the TLS listener gets no answer" ;;
*) nok "plain tcp to the TLS listener answered: $got" ;;
esac
# a trusting client is answered (REJECTED: random bytes) - TLS itself works
got=$(BADINPUT_CA="$P/ca.pem" "$B/tests/badinput" "tls+tcp://127.0.0.1:$PORT" random 10 1)
case "$got" in
"ack REJECTED"*) ok "trusting client answered over TLS" ;;
*) nok "trusting client: $got" ;;
esac
kill_collector TERM
