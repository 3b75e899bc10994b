# A small nginx of a test's or benchmark's own, sourced by their scripts.
#
#   nginx_conf DIR SERVERS   writes DIR/nginx.conf: one worker, its pid, logs
#                            and temp files under DIR (made readable to the
#                            worker's user), keep-alive without a request
#                            limit, access log off; SERVERS (config text)
#                            go inside http {}
#   nginx_ok_server PORT...  prints a server block answering 200 "ok\n" on
#                            127.0.0.1:PORT for each PORT
#   nginx_start DIR          starts nginx on DIR/nginx.conf and sets
#                            NGINX_PID; returns 1, saying why on stderr, if
#                            it does not come up
# The caller kills $NGINX_PID when done.

nginx_conf() {
	chmod 755 "$1"
	mkdir -p "$1/logs"
	cat > "$1/nginx.conf" <<EOF_NGINX
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $1/body;
	proxy_temp_path $1/proxy;
	fastcgi_temp_path $1/fcgi;
	uwsgi_temp_path $1/uwsgi;
	scgi_temp_path $1/scgi;
	keepalive_requests 10000000;
$2
}
EOF_NGINX
}

nginx_ok_server() {
	echo "	server {"
	for p in "$@"; do
		echo "		listen 127.0.0.1:$p;"
	done
	echo '		location / { return 200 "ok\n"; }'
	echo "	}"
}

nginx_start() {
	rm -f "$1/nginx.pid"
	nginx -p "$1" -c "$1/nginx.conf" >"$1/logs/stdout" 2>&1 &
	NGINX_PID=$!
	i=0
	while ! [ -s "$1/nginx.pid" ] && kill -0 "$NGINX_PID" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$1/nginx.pid" ] && kill -0 "$NGINX_PID" 2>/dev/null && return 0
	echo "nginx did not start: $(cat "$1/logs/error.log" "$1/logs/stdout" 2>/dev/null)" >&2
	return 1
}
