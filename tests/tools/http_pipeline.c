/* http_pipeline: a pipelining HTTP/1.x client that keeps its own exact
 * counts, the ground truth for tests/e2e/http_exact.sh.
 *
 *   http_pipeline -p PORT [-c CONNS] [-n REQS] [-d DEPTH] [-s SEED]
 *                 [-R PATTERN]... [-K KEY=TENANT]... -o OUT.tsv
 *
 * Each of CONNS connections sends REQS requests from a fixed mix (tenants
 * by header with varied name case and padding, by API key, or none; GET,
 * HEAD, POST with Content-Length and chunked bodies, PUT, DELETE, PATCH,
 * OPTIONS and an unknown method; routes with and without query strings;
 * 2xx/3xx/4xx/5xx, sendfile and chunked responses).  Requests go out in
 * batches of 1..DEPTH, each batch split into up to three writes at random
 * offsets; responses are read and framed (Content-Length, chunked, HEAD,
 * 204/304).  A few HTTP/1.0 connections are added.  OUT gets one line per
 * tenant x route x method x status class:
 *   tenant route method class requests request_bytes response_bytes
 * Routes follow the meter's rules: "*" one segment, "**" (last) the rest,
 * first match wins, "other" otherwise.  Deterministic for a given SEED. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATTERNS 32
#define MAX_KEYS 16
#define MAX_ROWS 4096
#define MAX_DEPTH 16

struct row {
	char tenant[64], route[64], method[12];
	int cls;
	uint64_t n, req_bytes, resp_bytes;
};

struct pending {
	char tenant[64], route[64], method[12];
	bool head;
	bool closes;            /* nginx closes after a 500: end of batch */
	size_t req_bytes;
};

static const char *patterns[MAX_PATTERNS];
static size_t n_patterns;
static struct { const char *key, *tenant; } keys[MAX_KEYS];
static size_t n_keys;
static struct row rows[MAX_ROWS];
static size_t n_rows;
static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void die(const char *what)
{
	fprintf(stderr, "http_pipeline: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- route matching (independent of the meter's code) ---------------- */

static bool seg_match(const char *pat, const char *path)
{
	/* both start just after a '/' */
	for (;;) {
		const char *pe = strchr(pat, '/'), *se = strchr(path, '/');
		size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
		size_t sl = se ? (size_t)(se - path) : strlen(path);

		if (pl == 2 && !strncmp(pat, "**", 2))
			return true;
		if (!(pl == 1 && *pat == '*') && (pl != sl || strncmp(pat, path, pl)))
			return false;
		if (!pe && !se)
			return true;
		if (!pe)
			return false;
		if (!se)        /* path ends; only a final "**" may follow */
			return !strcmp(pe + 1, "**");
		pat = pe + 1;
		path = se + 1;
	}
}

static const char *route_of(const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s", target);
	path[strcspn(path, "?#")] = '\0';
	if (path[0] != '/')
		return "other";
	for (size_t i = 0; i < n_patterns; i++)
		if (seg_match(patterns[i] + 1, path + 1))
			return patterns[i];
	return "other";
}

static void add_row(const struct pending *p, int cls, size_t resp_bytes)
{
	struct row *r = NULL;

	for (size_t i = 0; i < n_rows; i++) {
		if (!strcmp(rows[i].tenant, p->tenant) && !strcmp(rows[i].route, p->route) &&
		    !strcmp(rows[i].method, p->method) && rows[i].cls == cls) {
			r = &rows[i];
			break;
		}
	}
	if (!r) {
		if (n_rows == MAX_ROWS) {
			fprintf(stderr, "http_pipeline: too many distinct rows\n");
			exit(1);
		}
		r = &rows[n_rows++];
		snprintf(r->tenant, sizeof(r->tenant), "%.63s", p->tenant);
		snprintf(r->route, sizeof(r->route), "%.63s", p->route);
		snprintf(r->method, sizeof(r->method), "%.11s", p->method);
		r->cls = cls;
	}
	r->n++;
	r->req_bytes += p->req_bytes;
	r->resp_bytes += resp_bytes;
}

/* ---- building requests ---------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("realloc");
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n);
}

static const char *const tenant_hdr_names[] = {
	"X-Tenant-Id", "x-tenant-id", "X-TENANT-ID", "x-Tenant-ID",
};

/* Appends one request to b and describes it in p. */
static void make_request(struct buf *b, struct pending *p, bool http10)
{
	static const char *const tenants[] = { "p-acme", "p-beta", "p-gamma" };
	char target[256], body[20000];
	const char *method = "GET";
	int body_kind = 0;      /* 0 none, 1 Content-Length, 2 chunked */
	size_t start = b->len, body_len = 0;
	unsigned who = pick(10), what = pick(20);

	memset(p, 0, sizeof(*p));
	/* HTTP/1.0 cannot carry chunked responses (nginx closes instead) */
	if (http10 && (what == 12 || what == 13 || what == 14))
		what = 0;
	switch (what) {
	case 0: case 1: case 2:
		snprintf(target, sizeof(target), "/v1/items/%u", pick(1000));
		break;
	case 3:
		snprintf(target, sizeof(target), "/v1/items/%u?q=%u&x=/a/b", pick(1000), pick(9));
		break;
	case 4:
		snprintf(target, sizeof(target), "/v1/users/u%u/profile/%u", pick(50), pick(5));
		break;
	case 5:
		snprintf(target, sizeof(target), "/v1/orders/%u/lines", pick(100));
		break;
	case 6: snprintf(target, sizeof(target), "/empty"); break;
	case 7: snprintf(target, sizeof(target), pick(2) ? "/moved" : "/found"); break;
	case 8:
		snprintf(target, sizeof(target), "/boom");
		p->closes = true;
		break;
	case 9: snprintf(target, sizeof(target), "/nothing/%u", pick(10)); break;
	case 10: snprintf(target, sizeof(target), "/static/small.txt"); break;
	case 11: snprintf(target, sizeof(target), "/static/big.txt"); break;
	case 12: snprintf(target, sizeof(target), "/chunked"); break;
	case 13: case 14:
		snprintf(target, sizeof(target), pick(2) ? "/upload" : "/readbody");
		method = "POST";
		body_kind = http10 ? 1 : 1 + pick(2);
		body_len = pick(4) ? pick(300) : pick(sizeof(body));
		break;
	case 15:
		snprintf(target, sizeof(target), "/v1/items/%u", pick(1000));
		method = "HEAD";
		break;
	case 16:
		snprintf(target, sizeof(target), "/static/big.txt");
		method = "HEAD";
		break;
	default: {
		static const char *const m[] = { "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE" };

		snprintf(target, sizeof(target), "/v1/items/%u", pick(1000));
		method = m[pick(5)];
		break;
	}
	}
	snprintf(p->method, sizeof(p->method), "%s",
		 strcmp(method, "PURGE") ? method : "OTHER");
	p->head = !strcmp(method, "HEAD");
	snprintf(p->route, sizeof(p->route), "%s", route_of(target));

	putf(b, "%s %s HTTP/1.%d\r\nHost: 127.0.0.1\r\nUser-Agent: http_pipeline\r\n",
	     method, target, http10 ? 0 : 1);
	if (http10)
		putf(b, "Connection: keep-alive\r\n");
	/* names that start as the tenant and key headers do: only theirs count */
	if (!pick(3))
		putf(b, "X-Tenant-Ids: decoy\r\nx-tenant-i: decoy\r\nX-Api-Keys: decoy\r\n");
	if (who < 6) {
		const char *t = tenants[who % 3];

		putf(b, "%s:%s%s%s\r\n", tenant_hdr_names[pick(4)], pick(2) ? " " : "",
		     t, pick(3) ? "" : "  ");
		snprintf(p->tenant, sizeof(p->tenant), "%s", t);
	} else if (who < 9 && n_keys) {
		size_t k = pick((unsigned)n_keys + 1);

		if (k < n_keys) {
			putf(b, "%s: %s%s\r\n", pick(2) ? "X-Api-Key" : "x-api-KEY", keys[k].key,
			     pick(2) ? "" : " ");
			snprintf(p->tenant, sizeof(p->tenant), "%s", keys[k].tenant);
		} else {
			putf(b, "X-Api-Key: not-a-known-key\r\n");
			snprintf(p->tenant, sizeof(p->tenant), "unknown");
		}
	} else {
		snprintf(p->tenant, sizeof(p->tenant), "unknown");
	}
	for (size_t i = 0; i < body_len; i++)
		body[i] = 'a' + (char)pick(26);
	if (body_kind == 1) {
		putf(b, "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", body_len);
		put(b, body, body_len);
	} else if (body_kind == 2) {
		size_t off = 0;

		putf(b, "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
		while (off < body_len) {
			size_t n = 1 + pick(4000);

			if (n > body_len - off)
				n = body_len - off;
			putf(b, pick(2) ? "%zx\r\n" : "%zX;ext=1\r\n", n);
			put(b, body + off, n);
			put(b, "\r\n", 2);
			off += n;
		}
		putf(b, "0\r\n\r\n");
	} else {
		put(b, "\r\n", 2);
	}
	p->req_bytes = b->len - start;
}

/* ---- reading responses ------------------------------------------------------ */

struct reader {
	int fd;
	char buf[1 << 16];
	size_t len, off;
};

static int fill(struct reader *r)
{
	ssize_t n;

	if (r->off == r->len)
		r->off = r->len = 0;
	if (r->len == sizeof(r->buf)) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
	if (n < 0)
		die("read");
	if (n == 0) {
		fprintf(stderr, "http_pipeline: server closed the connection early\n");
		exit(1);
	}
	r->len += (size_t)n;
	return 0;
}

/* One line including "\n"; returns its length (counted) and copies up to cap. */
static size_t read_line(struct reader *r, char *out, size_t cap)
{
	size_t total = 0, o = 0;

	for (;;) {
		while (r->off < r->len) {
			char c = r->buf[r->off++];

			total++;
			if (o + 1 < cap)
				out[o++] = c;
			if (c == '\n') {
				out[o] = '\0';
				return total;
			}
		}
		fill(r);
	}
}

static size_t skip(struct reader *r, size_t n)
{
	size_t left = n;

	while (left) {
		if (r->off == r->len)
			fill(r);
		size_t k = r->len - r->off < left ? r->len - r->off : left;

		r->off += k;
		left -= k;
	}
	return n;
}

/* Reads one complete response; returns its byte count and status. */
static size_t read_response(struct reader *r, bool head, int *status)
{
	char line[1024];
	size_t bytes;
	long long cl = -1;
	bool chunked = false;

	do {
		bytes = 0;      /* interim 1xx responses are not expected here */
		bytes += read_line(r, line, sizeof(line));
		if (sscanf(line, "HTTP/%*d.%*d %d", status) != 1) {
			fprintf(stderr, "http_pipeline: bad status line '%s'\n", line);
			exit(1);
		}
		for (;;) {
			bytes += read_line(r, line, sizeof(line));
			if (!strcmp(line, "\r\n") || !strcmp(line, "\n"))
				break;
			if (!strncasecmp(line, "content-length:", 15))
				cl = atoll(line + 15);
			if (!strncasecmp(line, "transfer-encoding:", 18) && strstr(line, "chunked"))
				chunked = true;
		}
	} while (*status >= 100 && *status < 200);
	if (head || *status == 204 || *status == 304)
		return bytes;
	if (chunked) {
		for (;;) {
			unsigned long long n;

			bytes += read_line(r, line, sizeof(line));
			n = strtoull(line, NULL, 16);
			if (!n)
				break;
			bytes += skip(r, n);
			bytes += read_line(r, line, sizeof(line));
		}
		for (;;) {      /* trailers */
			bytes += read_line(r, line, sizeof(line));
			if (!strcmp(line, "\r\n") || !strcmp(line, "\n"))
				break;
		}
		return bytes;
	}
	if (cl < 0) {
		fprintf(stderr, "http_pipeline: response without length\n");
		exit(1);
	}
	return bytes + skip(r, (size_t)cl);
}

/* ---- connections ---------------------------------------------------------- */

static int connect_to(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0)
			die("write");
		p += k;
		n -= (size_t)k;
	}
}

static void run_conn(int port, unsigned reqs, unsigned depth, bool http10)
{
	static struct reader r;
	struct pending p[MAX_DEPTH];
	struct buf b = { 0 };
	unsigned done = 0;

	r.fd = connect_to(port);
	r.len = r.off = 0;
	while (done < reqs) {
		unsigned k = 1 + pick(depth);

		if (k > reqs - done)
			k = reqs - done;
		b.len = 0;
		for (unsigned i = 0; i < k; i++) {
			make_request(&b, &p[i], http10);
			if (p[i].closes) {
				k = i + 1;
				break;
			}
		}
		/* up to three writes split at arbitrary offsets, so the server
		 * sees requests split across reads */
		size_t a = pick(3) ? b.len : pick((unsigned)b.len + 1);
		size_t c = a + (b.len > a ? pick((unsigned)(b.len - a) + 1) : 0);
		struct timespec ms = { 0, 1000000 };

		write_all(r.fd, b.p, a);
		if (c > a) {
			nanosleep(&ms, NULL);
			write_all(r.fd, b.p + a, c - a);
		}
		if (b.len > c) {
			nanosleep(&ms, NULL);
			write_all(r.fd, b.p + c, b.len - c);
		}
		for (unsigned i = 0; i < k; i++) {
			int status = 0;
			size_t n = read_response(&r, p[i].head, &status);

			add_row(&p[i], status / 100, n);
		}
		done += k;
		if (p[k - 1].closes) {
			close(r.fd);
			r.fd = connect_to(port);
			r.len = r.off = 0;
		}
	}
	close(r.fd);
	free(b.p);
}

int main(int argc, char **argv)
{
	unsigned conns = 4, reqs = 100, depth = 8;
	const char *out = NULL;
	int opt, port = 0;
	FILE *f;

	while ((opt = getopt(argc, argv, "p:c:n:d:s:R:K:o:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'c': conns = (unsigned)atoi(optarg); break;
		case 'n': reqs = (unsigned)atoi(optarg); break;
		case 'd': depth = (unsigned)atoi(optarg); break;
		case 's': rng ^= strtoull(optarg, NULL, 10) * 0x9e3779b97f4a7c15ULL; break;
		case 'R':
			if (n_patterns == MAX_PATTERNS || optarg[0] != '/')
				goto usage;
			patterns[n_patterns++] = optarg;
			break;
		case 'K': {
			char *eq = strchr(optarg, '=');

			if (!eq || n_keys == MAX_KEYS)
				goto usage;
			*eq = '\0';
			keys[n_keys].key = optarg;
			keys[n_keys++].tenant = eq + 1;
			break;
		}
		case 'o': out = optarg; break;
		default: goto usage;
		}
	}
	if (port <= 0 || port > 65535 || !out || depth < 1 || depth > MAX_DEPTH || optind != argc)
		goto usage;
	if (!rng)
		rng = 1;
	for (unsigned i = 0; i < conns; i++)
		run_conn(port, reqs, depth, false);
	for (unsigned i = 0; i < 3; i++)        /* HTTP/1.0 keep-alive, no pipelining */
		run_conn(port, 5, 1, true);
	f = fopen(out, "w");
	if (!f)
		die(out);
	for (size_t i = 0; i < n_rows; i++)
		fprintf(f, "%s\t%s\t%s\t%d\t%llu\t%llu\t%llu\n", rows[i].tenant, rows[i].route,
			rows[i].method, rows[i].cls, (unsigned long long)rows[i].n,
			(unsigned long long)rows[i].req_bytes,
			(unsigned long long)rows[i].resp_bytes);
	if (fclose(f))
		die(out);
	return 0;
usage:
	fprintf(stderr, "usage: http_pipeline -p PORT [-c CONNS] [-n REQS] [-d DEPTH] "
		"[-s SEED] [-R PATTERN]... [-K KEY=TENANT]... -o OUT.tsv\n");
	return 2;
}
