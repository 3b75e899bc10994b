// SPDX-License-Identifier: GPL-2.0
/* HTTP/1.x request metering on configured local ports.
 *
 * Two ways to see a connection's bytes; the agent loads one:
 *  - socket hooks (kernels with the sock_{send,recv}_length tracepoints,
 *    6.3+): a TCP child socket of a configured port gets connection state
 *    in socket-local storage when it is created (inet_sock_set_state to
 *    SYN_RECV) and is finished when our side closes or the connection
 *    dies.  Only socket I/O runs the program; other syscalls are untouched.
 *  - syscall hooks (older kernels): one raw sys_exit hook sees accept, close
 *    and every read/write-family syscall; connection state is keyed by
 *    (tgid, fd).  Every syscall of every process then takes the kernel's
 *    syscall-tracing slow path.
 * Either way the buffer, iovec array or msghdr comes from the syscall's
 * registers (the task's saved pt_regs), and the byte count the kernel
 * returned feeds a streaming parser (bpf_loop over runs of bytes).  Body
 * bytes are skipped arithmetically, never copied.  Requests queue in a
 * per-connection FIFO; a request counts when both its body and its response
 * are complete, or when the connection ends (status class 0 if the response
 * was not complete). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "http.h"

char LICENSE[] SEC("license") = "GPL";

#define MSG_PEEK 2
#define WIN 256                 /* bytes copied from user memory at a time */
#define RUN 64                  /* longest fast run (verifier cost grows with it) */
#define MAX_STEPS (1 << 20)
#define FIFO_MASK (HTTP_FIFO - 1)

const volatile __u16 ports[HTTP_MAX_PORTS] = {};
const volatile __u32 n_ports = 0;
const volatile struct http_route routes[HTTP_MAX_ROUTES] = {};
const volatile __u32 n_routes = 0;
const volatile __u64 tenant_hdr_hash = 0;   /* FNV-1a of the lower-case name */
const volatile __u64 key_hdr_hash = 0;
const volatile __u8 use_tenant_hdr = 0;
const volatile __u8 use_key_hdr = 0;
const volatile __u64 cl_hdr_hash = 0;       /* "content-length" */
const volatile __u64 te_hdr_hash = 0;       /* "transfer-encoding" */
const volatile __u8 tenant_hdr_c0 = 0;      /* first byte, lower-case */
const volatile __u8 key_hdr_c0 = 0;
const volatile __s64 max_socks = 65536;     /* [meter] max_connections */

/* ---- per-connection state ---------------------------------------------- */

enum { DIR_REQ = 0, DIR_RESP = 1 };

/* parser states; both directions share the header and chunked states */
enum {
	ST_IDLE,
	ST_METHOD, ST_TARGET, ST_PATH, ST_QUERY, ST_VERSION,    /* request line */
	ST_RVERSION, ST_STATUS, ST_REASON,                      /* status line */
	ST_HDR_START, ST_HDR_CR, ST_HDR_NAME, ST_HDR_VALUE,
	ST_BODY,                /* rem bytes of Content-Length body */
	ST_CH_SIZE, ST_CH_EXT, ST_CH_DATA, ST_CH_DATA_END,
	ST_CH_TRAILER, ST_CH_TRAILER_LINE,
	ST_EOF,                 /* response body runs to connection close */
};

enum { H_OTHER, H_TENANT, H_KEY, H_CL, H_TE };

/* entry flags */
#define E_STARTED 0x01
#define E_REQ_DONE 0x02
#define E_RESP_DONE 0x04
#define E_TENANT 0x08
#define E_KEY 0x10
#define E_KEY_BAD 0x20

/* side flags */
#define S_CHUNKED 0x01
#define S_HAVE_CL 0x02
#define S_V_STARTED 0x04
#define S_V_WS 0x08
#define S_V_BAD 0x10
#define S_ORPHAN 0x20

struct req_ent {
	char tenant[HTTP_TENANT_LEN];
	__u64 req_bytes;
	__u64 resp_bytes;
	__u64 key_hash;
	__u16 status;
	__u8 route;
	__u8 method;
	__u8 flags;
	__u8 tlen;              /* tenant bytes written */
	__u8 tend;              /* tenant length without trailing blanks */
	__u8 pad;
};

struct side {
	__u64 h;                /* header-name hash, then API-key value hash */
	__u64 num;              /* Content-Length / chunk size / status digits */
	__u64 cl;
	__u64 rem;              /* body bytes left to skip */
	__u64 acc;              /* method bytes / last bytes of Transfer-Encoding */
	__u64 path_h;           /* hash of the current path segment */
	__u32 alive;            /* routes still matching the path */
	__u32 rest;             /* routes matched by a trailing "**" */
	__u16 status;
	__u8 st;
	__u8 hdr;
	__u8 flags;
	__u8 seg;               /* path segment index (saturates) */
	__u8 mlen;
	__u8 pad;
};

struct conn {
	struct side rq, rs;
	__u64 orphan_bytes;     /* a response with no request before it */
	__u32 head;             /* oldest request without a counted response */
	__u32 tail;             /* request the request parser is filling */
	__u64 file;             /* the accepted socket's struct file */
	__u8 broken;            /* gave up on this connection (counted as a drop) */
	__u8 pad[7];
	struct req_ent q[HTTP_FIFO];
};

enum { K_BUF, K_IOV, K_MSG, K_FILE };

struct inflight {
	__u64 ptr;              /* user buffer, iovec array or msghdr */
	__u64 cnt;              /* iovec count */
	__u8 kind;
	__u8 dir;
};

struct scratch {
	char buf[2 * WIN];
};

/* ---- maps ----------------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);             /* [meter] max_entries */
	__type(key, struct http_key);
	__type(value, struct http_val);
} http_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTP_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} http_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);             /* [meter] max_connections */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct conn);
} http_conns SEC(".maps");

/* Socket hooks: connection state lives with the socket itself. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct conn);
} http_socks SEC(".maps");

/* Sockets with state in http_socks, held under max_socks. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} http_nsocks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct http_tenant);
} http_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_meta);
} http_meta SEC(".maps");

/* Metered connections per (tgid & PROCS_MASK): syscalls of every other
 * process stop after this one inlined array lookup, and process exit only
 * walks the connection map for processes that may own some. */
#define PROCS_MASK 0xffff
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROCS_MASK + 1);
	__type(key, __u32);
	__type(value, __u64);
} http_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} http_scratch SEC(".maps");

/* all-zero template for new connections (too big for the stack) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conn);
} http_zero SEC(".maps");

/* ---- helpers ------------------------------------------------------------- */

static __always_inline void stat_inc(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&http_stats, &slot);

	if (v)
		(*v)++;
}

static __always_inline __u64 fnv(__u64 h, __u8 b)
{
	return (h ^ b) * HTTP_FNV_PRIME;
}

static __always_inline __u8 lower(__u8 b)
{
	return (b >= 'A' && b <= 'Z') ? b + 32 : b;
}

static __always_inline int is_ws(__u8 b)
{
	return b == ' ' || b == '\t' || b == '\r';
}

static __always_inline int hexval(__u8 b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b = lower(b);
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	return -1;
}

__noinline int count(struct req_ent *e, __u32 status)
{
	struct http_key k = {};
	struct http_val *v, init = {};
	long err;

	if (!e)
		return 0;
	__builtin_memcpy(k.tenant, e->tenant, HTTP_TENANT_LEN);
	k.route = e->route;
	k.method = e->method;
	k.status = status;
	v = bpf_map_lookup_elem(&http_counts, &k);
	if (!v) {
		init.requests = 1;
		init.req_bytes = e->req_bytes;
		init.resp_bytes = e->resp_bytes;
		err = bpf_map_update_elem(&http_counts, &k, &init, BPF_NOEXIST);
		if (!err)
			return 0;
		v = bpf_map_lookup_elem(&http_counts, &k);  /* lost a race? */
		if (!v) {
			stat_inc(HTTP_STAT_OVERFLOW);
			return 0;
		}
	}
	v->requests++;
	v->req_bytes += e->req_bytes;
	v->resp_bytes += e->resp_bytes;
	return 0;
}

static __always_inline __u8 status_class(__u16 status)
{
	return (status >= 100 && status <= 599) ? status / 100 : 0;
}

static __always_inline void set_unknown(struct req_ent *e)
{
	__builtin_memcpy(e->tenant, "unknown", 8);
}

/* The head request is finished on both sides: count it and move on. */
static __always_inline void try_pop(struct conn *c)
{
	struct req_ent *e = &c->q[c->head & FIFO_MASK];

	if ((e->flags & (E_REQ_DONE | E_RESP_DONE)) != (E_REQ_DONE | E_RESP_DONE))
		return;
	count(e, status_class(e->status));
	e->flags = 0;
	c->head++;
}

/* ---- route matching --------------------------------------------------------- */

/* End of path segment number c->rq.seg with hash path_h. */
__noinline int route_seg_end(struct side *s)
{
	if (!s)
		return 0;
	__u32 seg = s->seg;

	if (seg >= HTTP_MAX_SEGS) {     /* only "**" patterns still match */
		s->alive = 0;
		return 0;
	}
	for (__u32 i = 0; i < HTTP_MAX_ROUTES; i++) {
		__u32 bit = 1U << i;

		if (i >= n_routes)
			break;
		if (!(s->alive & bit))
			continue;
		if (seg >= routes[i].nseg) {
			s->alive &= ~bit;
			continue;
		}
		__u8 kind = routes[i].kind[seg & (HTTP_MAX_SEGS - 1)];

		if (kind == HTTP_SEG_REST) {
			s->rest |= bit;
			s->alive &= ~bit;
		} else if (kind == HTTP_SEG_LIT &&
			   routes[i].hash[seg & (HTTP_MAX_SEGS - 1)] != s->path_h) {
			s->alive &= ~bit;
		}
	}
	s->seg = seg + 1;
	s->path_h = HTTP_FNV_OFFSET;
	return 0;
}

/* Path complete with s->seg segments: first matching pattern wins. */
__noinline int route_pick(struct side *s)
{
	if (!s)
		return HTTP_ROUTE_OTHER;
	__u32 nseg = s->seg;

	for (__u32 i = 0; i < HTTP_MAX_ROUTES; i++) {
		__u32 bit = 1U << i;

		if (i >= n_routes)
			break;
		if (s->rest & bit)
			return i;
		if (!(s->alive & bit))
			continue;
		if (routes[i].nseg == nseg)
			return i;
		if (nseg < HTTP_MAX_SEGS && routes[i].nseg == nseg + 1 &&
		    routes[i].kind[nseg & (HTTP_MAX_SEGS - 1)] == HTTP_SEG_REST)
			return i;
	}
	return HTTP_ROUTE_OTHER;
}

static __always_inline __u8 method_idx(__u64 m, __u8 len)
{
	switch (len) {
	case 3:
		if (m == 0x474554) return HTTP_M_GET;           /* GET */
		if (m == 0x505554) return HTTP_M_PUT;           /* PUT */
		break;
	case 4:
		if (m == 0x504f5354) return HTTP_M_POST;
		if (m == 0x48454144) return HTTP_M_HEAD;
		break;
	case 5:
		if (m == 0x5041544348ULL) return HTTP_M_PATCH;
		break;
	case 6:
		if (m == 0x44454c455445ULL) return HTTP_M_DELETE;
		break;
	case 7:
		if (m == 0x4f5054494f4e53ULL) return HTTP_M_OPTIONS;
		break;
	}
	return HTTP_M_OTHER;
}

/* ---- header handling (both directions) ---------------------------------- */

static __always_inline void value_start(struct side *s)
{
	s->flags &= ~(S_V_STARTED | S_V_WS | S_V_BAD);
	s->num = 0;
	s->acc = 0;
}

static __always_inline void value_byte(struct side *s, struct req_ent *e, __u8 b)
{
	int ws = is_ws(b);

	if (!(s->flags & S_V_STARTED)) {
		if (ws)
			return;
		s->flags |= S_V_STARTED;
		if (s->hdr == H_KEY)
			s->h = HTTP_FNV_OFFSET;
	}
	switch (s->hdr) {
	case H_TENANT:
		if (!e || (e->flags & E_TENANT) || e->tlen >= HTTP_TENANT_LEN - 1)
			return;
		if (b == '\t')
			b = ' ';
		else if (b < 0x20 || b == 0x7f)
			b = '_';
		e->tenant[e->tlen & (HTTP_TENANT_LEN - 1)] = b;
		e->tlen++;
		if (!ws)
			e->tend = e->tlen;
		return;
	case H_KEY:
		if (ws) {
			s->flags |= S_V_WS;
		} else {
			if (s->flags & S_V_WS)
				s->flags |= S_V_BAD;
			s->h = fnv(s->h, b);
		}
		return;
	case H_CL:
		if (b >= '0' && b <= '9' && !(s->flags & S_V_WS))
			s->num = s->num * 10 + (b - '0');
		else if (ws)
			s->flags |= S_V_WS;
		else
			s->flags |= S_V_BAD;
		return;
	case H_TE:
		if (ws || b == ',') {
			if ((s->acc & 0xff) != ',')
				s->acc = (s->acc << 8) | ',';
		} else {
			s->acc = (s->acc << 8) | lower(b);
		}
		return;
	}
}

__noinline int value_end(struct side *s, struct req_ent *e)
{
	__u64 acc;

	if (!s || !e)
		return 0;
	switch (s->hdr) {
	case H_TENANT:
		if (e->flags & E_TENANT)
			return 0;
		for (__u32 i = 0; i < HTTP_TENANT_LEN; i++) {
			if (i >= e->tlen)
				break;
			if (i >= e->tend)
				e->tenant[i] = 0;
		}
		e->tlen = e->tend;
		if (e->tend)
			e->flags |= E_TENANT;
		return 0;
	case H_KEY:
		if (!(s->flags & S_V_STARTED))
			return 0;
		if (e->flags & E_KEY) {         /* two keys: trust neither */
			e->flags |= E_KEY_BAD;
			return 0;
		}
		e->flags |= E_KEY;
		if (s->flags & S_V_BAD)
			e->flags |= E_KEY_BAD;
		e->key_hash = s->h;
		return 0;
	case H_CL:
		if ((s->flags & S_V_BAD) || !(s->flags & S_V_STARTED))
			return 0;
		s->flags |= S_HAVE_CL;
		s->cl = s->num;
		return 0;
	case H_TE:
		acc = s->acc;
		if ((acc & 0xff) == ',')
			acc >>= 8;
		if ((acc & 0x00ffffffffffffffULL) == 0x6368756e6b6564ULL &&  /* chunked */
		    ((acc >> 56) == 0 || (acc >> 56) == ','))
			s->flags |= S_CHUNKED;
		else
			s->flags &= ~S_CHUNKED;
		return 0;
	}
	return 0;
}

static __always_inline __u8 classify(__u64 h, int dir)
{
	if (h == cl_hdr_hash)
		return H_CL;
	if (h == te_hdr_hash)
		return H_TE;
	if (dir == DIR_REQ) {
		if (use_tenant_hdr && h == tenant_hdr_hash)
			return H_TENANT;
		if (use_key_hdr && h == key_hdr_hash)
			return H_KEY;
	}
	return H_OTHER;
}

/* ---- completion ------------------------------------------------------- */

static __always_inline void req_done(struct conn *c, struct side *s)
{
	struct req_ent *e = &c->q[c->tail & FIFO_MASK];

	e->flags |= E_REQ_DONE;
	c->tail++;
	s->st = ST_IDLE;
	try_pop(c);
}

static __always_inline void resp_done(struct conn *c, struct side *s)
{
	s->st = ST_IDLE;
	if (s->flags & S_ORPHAN) {
		struct req_ent tmp = {};

		/* a response nobody asked for: count it alone under
		 * unknown/other/OTHER */
		set_unknown(&tmp);
		tmp.route = HTTP_ROUTE_OTHER;
		tmp.method = HTTP_M_OTHER;
		tmp.resp_bytes = c->orphan_bytes;
		c->orphan_bytes = 0;
		count(&tmp, status_class(s->status));
		return;
	}
	struct req_ent *e = &c->q[c->head & FIFO_MASK];

	e->status = s->status;
	e->flags |= E_RESP_DONE;
	try_pop(c);
}

/* Body state after the header block of either side. */
static __always_inline void headers_done(struct conn *c, struct side *s, int dir)
{
	struct req_ent *e;

	if (dir == DIR_REQ) {
		e = &c->q[c->tail & FIFO_MASK];
		if (!(e->flags & E_TENANT)) {
			struct http_tenant *t = NULL;

			if ((e->flags & (E_KEY | E_KEY_BAD)) == E_KEY)
				t = bpf_map_lookup_elem(&http_keys, &e->key_hash);
			if (t)
				__builtin_memcpy(e->tenant, t->name, HTTP_TENANT_LEN);
			else
				set_unknown(e);
		}
		if (s->flags & S_CHUNKED) {
			s->st = ST_CH_SIZE;
			s->num = 0;
		} else if ((s->flags & S_HAVE_CL) && s->cl) {
			s->st = ST_BODY;
			s->rem = s->cl;
		} else {
			req_done(c, s);
		}
		return;
	}
	/* response */
	__u16 st = s->status;
	int head = 0;

	if (!(s->flags & S_ORPHAN)) {
		e = &c->q[c->head & FIFO_MASK];
		head = e->method == HTTP_M_HEAD;
	}
	if (st >= 100 && st < 200 && st != 101) {
		s->st = ST_IDLE;        /* interim response; the final one follows */
		return;
	}
	if (st == 101) {                /* protocol switch: stop parsing */
		resp_done(c, s);
		c->broken = 1;
		return;
	}
	if (head || st == 204 || st == 304) {
		resp_done(c, s);
	} else if (s->flags & S_CHUNKED) {
		s->st = ST_CH_SIZE;
		s->num = 0;
	} else if (s->flags & S_HAVE_CL) {
		if (s->cl) {
			s->st = ST_BODY;
			s->rem = s->cl;
		} else {
			resp_done(c, s);
		}
	} else {
		s->st = ST_EOF;
	}
}

static __always_inline void body_done(struct conn *c, struct side *s, int dir)
{
	if (dir == DIR_REQ)
		req_done(c, s);
	else
		resp_done(c, s);
}

/* ---- the byte parser -------------------------------------------------------- */

/* Called with the first byte of a message.  Returns the entry bytes are
 * counted on, or NULL (orphan response / FIFO full). */
static __always_inline int msg_start(struct conn *c, struct side *s, int dir)
{
	struct req_ent *e;

	s->flags = 0;
	s->num = 0;
	s->cl = 0;
	if (dir == DIR_REQ) {
		if (c->tail - c->head >= HTTP_FIFO) {
			stat_inc(HTTP_STAT_DROP_FIFO);
			c->broken = 1;
			return -1;
		}
		e = &c->q[c->tail & FIFO_MASK];
		__builtin_memset(e, 0, sizeof(*e));
		e->flags = E_STARTED;
		e->route = HTTP_ROUTE_OTHER;
		s->acc = 0;
		s->mlen = 0;
		s->st = ST_METHOD;
		return 0;
	}
	if (c->head == c->tail && !(c->q[c->tail & FIFO_MASK].flags & E_STARTED))
		s->flags |= S_ORPHAN;
	s->status = 0;
	s->st = ST_RVERSION;
	return 0;
}

__noinline int parse_byte(struct conn *c, struct side *s, int dir, __u32 b)
{
	struct req_ent *e;

	if (!c || !s)
		return 0;
	if (s->st == ST_IDLE) {
		/* blank lines between requests are not part of any request
		 * (nginx does not count them either) */
		if (dir == DIR_REQ && (b == '\r' || b == '\n'))
			return 0;
		if (msg_start(c, s, dir))
			return 1;
	}
	/* the byte counts on the request being read / answered */
	if (dir == DIR_REQ) {
		e = &c->q[c->tail & FIFO_MASK];
		e->req_bytes++;
	} else if (s->flags & S_ORPHAN) {
		e = &c->q[c->head & FIFO_MASK];
		c->orphan_bytes++;
	} else {
		e = &c->q[c->head & FIFO_MASK];
		e->resp_bytes++;
	}
	switch (s->st) {
	case ST_METHOD:
		if (b == ' ') {
			e->method = method_idx(s->acc, s->mlen);
			s->st = ST_TARGET;
		} else {
			s->acc = (s->acc << 8) | b;
			if (s->mlen < 255)
				s->mlen++;
		}
		return 0;
	case ST_TARGET:
		if (b == '/') {
			s->seg = 0;
			s->path_h = HTTP_FNV_OFFSET;
			s->alive = n_routes >= 32 ? 0xffffffffU : (1U << n_routes) - 1;
			s->rest = 0;
			s->st = ST_PATH;
		} else if (b == '\n') {
			s->st = ST_HDR_START;
		} else if (b != ' ') {
			s->st = ST_QUERY;       /* "*" or absolute-form: route other */
		}
		return 0;
	case ST_PATH:
		if (b == '/') {
			route_seg_end(s);
		} else if (b == '?' || b == '#' || b == ' ' || b == '\r' || b == '\n') {
			route_seg_end(s);
			e->route = route_pick(s);
			s->st = b == ' ' ? ST_VERSION : b == '\n' ? ST_HDR_START :
				ST_QUERY;
		} else {
			s->path_h = fnv(s->path_h, b);
		}
		return 0;
	case ST_QUERY:
		if (b == ' ')
			s->st = ST_VERSION;
		else if (b == '\n')
			s->st = ST_HDR_START;
		return 0;
	case ST_VERSION:
	case ST_REASON:
		if (b == '\n')
			s->st = ST_HDR_START;
		return 0;
	case ST_RVERSION:
		if (b == ' ')
			s->st = ST_STATUS;
		return 0;
	case ST_STATUS:
		if (b >= '0' && b <= '9') {
			if (s->status < 1000)
				s->status = s->status * 10 + (b - '0');
		} else {
			s->st = b == '\n' ? ST_HDR_START : ST_REASON;
		}
		return 0;
	case ST_HDR_START:
		if (b == '\r') {
			s->st = ST_HDR_CR;
		} else if (b == '\n') {
			headers_done(c, s, dir);
		} else {
			s->h = fnv(HTTP_FNV_OFFSET, lower(b));
			s->st = ST_HDR_NAME;
		}
		return 0;
	case ST_HDR_CR:
		if (b == '\n')
			headers_done(c, s, dir);
		return 0;
	case ST_HDR_NAME:
		if (b == ':') {
			s->hdr = classify(s->h, dir);
			value_start(s);
			s->st = ST_HDR_VALUE;
		} else if (b == '\n') {
			s->st = ST_HDR_START;   /* not a header line: ignore it */
		} else {
			s->h = fnv(s->h, lower(b));
		}
		return 0;
	case ST_HDR_VALUE:
		if (b == '\n') {
			value_end(s, e);
			s->st = ST_HDR_START;
		} else if (s->hdr != H_OTHER) {
			value_byte(s, e, b);
		}
		return 0;
	case ST_CH_SIZE: {
		int d = hexval(b);

		if (d >= 0) {
			if (s->num < (1ULL << 56))
				s->num = s->num * 16 + d;
			return 0;
		}
		if (b != '\n') {
			if (b != '\r')
				s->st = ST_CH_EXT;
			return 0;
		}
	}
		/* fall through: '\n' ends the size line */
	case ST_CH_EXT:
		if (b != '\n')
			return 0;
		if (s->num) {
			s->rem = s->num;
			s->st = ST_CH_DATA;
		} else {
			s->st = ST_CH_TRAILER;
		}
		return 0;
	case ST_CH_DATA_END:
		if (b == '\n') {
			s->num = 0;
			s->st = ST_CH_SIZE;
		}
		return 0;
	case ST_CH_TRAILER:
		if (b == '\n')
			body_done(c, s, dir);
		else if (b != '\r')
			s->st = ST_CH_TRAILER_LINE;
		return 0;
	case ST_CH_TRAILER_LINE:
		if (b == '\n')
			s->st = ST_CH_TRAILER;
		return 0;
	}
	return 0;
}

/* ---- walking the syscall's bytes -------------------------------------------- */

struct walk {
	struct conn *c;
	struct scratch *sc;
	__u64 iov;              /* user iovec array, 0 for one buffer */
	__u64 iov_cnt;
	__u64 iov_idx;
	__u64 base;             /* current segment */
	__u64 seg_len;
	__u64 seg_off;
	__u64 left;             /* bytes the syscall moved, not yet walked */
	__u64 win_start;
	__u64 win_len;
	int dir;
	int nodata;             /* sendfile: no user buffer to look at */
};

static __always_inline void drop(struct walk *w, __u32 why)
{
	stat_inc(why);
	w->c->broken = 1;
}

/* Bytes the parser may skip without looking (body runs), 0 if it needs
 * to see them. */
static __always_inline __u64 skippable(struct side *s)
{
	if (s->st == ST_BODY || s->st == ST_CH_DATA || s->st == ST_EOF)
		return s->st == ST_EOF ? ~0ULL : s->rem;
	return 0;
}

static __always_inline void account(struct walk *w, struct side *s, __u64 n)
{
	struct conn *c = w->c;

	if (w->dir == DIR_REQ) {
		c->q[c->tail & FIFO_MASK].req_bytes += n;
	} else if (s->flags & S_ORPHAN) {
		c->orphan_bytes += n;
	} else {
		c->q[c->head & FIFO_MASK].resp_bytes += n;
	}
}

/* Could a header name starting with c0 (lower-cased) be one that matters?
 * Lines of all other names are skipped to their end without hashing. */
static __always_inline int name_candidate(__u8 c0, int dir)
{
	if (c0 == 'c' || c0 == 't')             /* content-length, transfer-encoding */
		return 1;
	if (dir != DIR_REQ)
		return 0;
	return (use_tenant_hdr && c0 == tenant_hdr_c0) ||
	       (use_key_hdr && c0 == key_hdr_c0);
}

#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL
#define SWAR_NLS 0x0a0a0a0a0a0a0a0aULL

/* The bytes of w that are '\n', each marked by its high bit. */
static __always_inline __u64 nl_bytes(__u64 w)
{
	w ^= SWAR_NLS;
	return (w - SWAR_ONES) & ~w & SWAR_HIGHS;
}

/* 8 bytes at pos; pos + 8 <= end <= WIN (the mask only tells the verifier) */
static __always_inline __u64 word_at(struct scratch *sc, __u32 pos)
{
	return *(__u64 *)&sc->buf[pos & (WIN - 1)];
}

/* Bytes from pos (before end) in whole 8-byte words holding no '\n': the
 * part of a line nobody reads that can be skipped a word at a time. */
__noinline int swar_skip(struct scratch *sc, __u64 pos, __u64 end)
{
	__u32 i;

	if (!sc)
		return 0;
	for (i = 0; i < WIN / 8; i++) {
		__u64 at = pos + i * 8;

		if (at + 8 > end || end > WIN || nl_bytes(word_at(sc, at)))
			break;
	}
	return i * 8;
}

/* Header lines nobody reads: names that may matter are hashed and
 * classified, the rest of other lines skipped to their end.  Returns after
 * entering the value of a line nobody reads (the caller skips it a word at
 * a time), before the ':' of a header that matters and before the blank
 * line that ends the block, leaving those to parse_byte(). */
__noinline int hdr_run(struct scratch *sc, struct side *s, __u64 pos, __u64 end,
		       int dir)
{
	__u64 h;
	__u8 st, c;
	__u32 i;

	if (!sc || !s)
		return 0;
	h = s->h;
	st = s->st;
	for (i = 0; i < RUN; i++) {
		if (pos + i >= end)
			break;
		c = sc->buf[(pos + i) & (2 * WIN - 1)];
		if (st == ST_HDR_START) {
			if (c == '\r' || c == '\n')
				break;
			c = lower(c);
			if (name_candidate(c, dir)) {
				h = fnv(HTTP_FNV_OFFSET, c);
				st = ST_HDR_NAME;
			} else {
				st = ST_HDR_VALUE;      /* a line nobody reads */
				i++;
				break;
			}
		} else if (st == ST_HDR_NAME) {
			if (c == '\n')
				break;
			if (c == ':') {
				if (classify(h, dir) != H_OTHER)
					break;
				st = ST_HDR_VALUE;
				i++;
				break;
			} else {
				h = fnv(h, lower(c));
			}
		} else if (c == '\n') {
			st = ST_HDR_START;
		}
	}
	s->h = h;
	s->st = st;
	if (st == ST_HDR_VALUE)
		s->hdr = H_OTHER;
	return i;
}

/* Several header lines nobody reads: word-skips of their values between
 * byte runs.  pos only reaches global functions (the verifier need not
 * track it). */
static __always_inline __u64 hdr_lines(struct scratch *sc, struct side *s,
				       __u64 pos, __u64 end, int dir)
{
	__u64 total = 0, n;

	for (int r = 0; r < 16; r++) {
		if (s->st == ST_HDR_VALUE)
			total += swar_skip(sc, pos + total, end);
		n = hdr_run(sc, s, pos + total, end, dir);
		total += n;
		if (!n || pos + total >= end)
			break;
	}
	return total;
}

/* Length of the run of window bytes from pos (before end) that the current
 * state passes over without a transition parse_byte() must see: the rest of
 * a line nobody reads, header lines nobody reads, the method, a path
 * segment (hashed here).  0 when the byte at pos needs parse_byte(). */
__noinline int fast_run(struct scratch *sc, struct conn *cn, __u64 pos, __u64 end,
			int dir)
{
	struct side *s;
	struct req_ent *e;
	__u32 i;
	__u8 c;
	__u64 h;

	if (!sc || !cn)
		return 0;
	s = dir == DIR_REQ ? &cn->rq : &cn->rs;
	switch (s->st) {
	case ST_STATUS:
		h = s->status;
		for (i = 0; i < 8; i++) {
			if (pos + i >= end)
				break;
			c = sc->buf[(pos + i) & (2 * WIN - 1)];
			if (c < '0' || c > '9')
				break;
			if (h < 1000)
				h = h * 10 + (c - '0');
		}
		s->status = h;
		return i;
	case ST_HDR_VALUE:
		if (s->hdr == H_CL && (s->flags & (S_V_WS | S_V_BAD)) == 0) {
			h = s->num;
			for (i = 0; i < 24; i++) {
				if (pos + i >= end)
					break;
				c = sc->buf[(pos + i) & (2 * WIN - 1)];
				if (c == ' ' && !(s->flags & S_V_STARTED))
					continue;       /* leading blanks */
				if (c < '0' || c > '9')
					break;
				h = h * 10 + (c - '0');
				s->flags |= S_V_STARTED;
			}
			s->num = h;
			return i;
		}
		if (s->hdr == H_TENANT && dir == DIR_REQ) {
			e = &cn->q[cn->tail & FIFO_MASK];
			if ((e->flags & E_TENANT) || e->tlen >= HTTP_TENANT_LEN - 1)
				break;          /* a second tenant header, or the
						 * cut-off rest of a long one */
			for (i = 0; i < HTTP_TENANT_LEN; i++) {
				__u32 t = e->tlen;

				if (pos + i >= end || t >= HTTP_TENANT_LEN - 1)
					break;
				c = sc->buf[(pos + i) & (2 * WIN - 1)];
				if (c < 0x20 || c == 0x7f)
					break;          /* \r, \n, \t, controls */
				if (!(s->flags & S_V_STARTED)) {
					if (c == ' ')
						continue;       /* leading blanks */
					s->flags |= S_V_STARTED;
				}
				/* keep the mask: the verifier needs it, the
				 * compiler thinks it redundant */
				asm volatile("" : "+r"(t));
				e->tenant[t & (HTTP_TENANT_LEN - 1)] = c;
				e->tlen = t + 1;
				if (c != ' ')
					e->tend = t + 1;
			}
			return i;
		}
		if (s->hdr != H_OTHER)
			return 0;
		return hdr_lines(sc, s, pos, end, dir);
	case ST_VERSION:
	case ST_REASON:
	case ST_CH_DATA_END:
	case ST_CH_TRAILER_LINE:
		break;
	case ST_HDR_START:
	case ST_HDR_NAME:
		return hdr_lines(sc, s, pos, end, dir);
	case ST_METHOD:
		h = s->acc;
		for (i = 0; i < 16; i++) {
			if (pos + i >= end)
				break;
			c = sc->buf[(pos + i) & (2 * WIN - 1)];
			if (c == ' ' || c == '\n')
				break;
			h = (h << 8) | c;
		}
		s->acc = h;
		s->mlen = s->mlen + i > 255 ? 255 : s->mlen + i;
		return i;
	case ST_RVERSION:
		for (i = 0; i < 16; i++) {
			if (pos + i >= end)
				return i;
			if (sc->buf[(pos + i) & (2 * WIN - 1)] == ' ') {
				s->st = ST_STATUS;      /* the space is taken too */
				return i + 1;
			}
		}
		return i;
	case ST_PATH:
		h = s->path_h;
		for (i = 0; i < RUN; i++) {
			if (pos + i >= end)
				break;
			c = sc->buf[(pos + i) & (2 * WIN - 1)];
			if (c == '/') {         /* segment boundary: stay in the run */
				s->path_h = h;
				route_seg_end(s);
				h = s->path_h;
				continue;
			}
			if (c == '?' || c == '#' || c == ' ' || c == '\r' || c == '\n')
				break;
			h = fnv(h, c);
		}
		s->path_h = h;
		return i;
	case ST_QUERY:
		for (i = 0; i < RUN; i++) {
			if (pos + i >= end)
				break;
			c = sc->buf[(pos + i) & (2 * WIN - 1)];
			if (c == ' ' || c == '\n')
				break;
		}
		return i;
	default:
		return 0;
	}
	/* the line's end is all that matters */
	for (i = 0; i < RUN; i++) {
		if (pos + i >= end)
			break;
		if (sc->buf[(pos + i) & (2 * WIN - 1)] == '\n') {
			if (s->st == ST_VERSION || s->st == ST_REASON) {
				s->st = ST_HDR_START;   /* the '\n' is taken too */
				return i + 1;
			}
			break;
		}
	}
	return i;
}

/* The byte at pos (before end) through parse_byte(), and right after it
 * the bytes fast_run() would hand straight to parse_byte() too (line ends,
 * the '/' after the method): fewer loop steps per message.  Returns the
 * bytes taken, or -1 when the walk must stop. */
__noinline long parse_bytes(struct scratch *sc, struct conn *c, __u64 pos,
			    __u64 end, int dir)
{
	struct side *s;
	__u32 j;
	__u8 b;

	if (!sc || !c)
		return -1;
	s = dir == DIR_REQ ? &c->rq : &c->rs;
	for (j = 0; j < 4; j++) {
		if (pos + j >= end)
			break;
		b = sc->buf[(pos + j) & (2 * WIN - 1)];
		if (j && (skippable(s) || (b != '\r' && b != '\n' &&
					   s->st != ST_HDR_CR && s->st != ST_TARGET)))
			break;
		if (parse_byte(c, s, dir, b) || c->broken)
			return -1;
	}
	return j;
}

/* ---- whole message heads in one go ------------------------------------------ */

/* The common case, a request or response head that starts a message and
 * ends inside the current window with nothing unusual in it, is parsed
 * here in one call instead of one walk step per run of bytes.  Whatever
 * this does not handle (a head cut by the window or by the syscall,
 * repeated key headers, control bytes, long names, odd framing...)
 * returns 0 before anything but the fresh request entry and the side's
 * scratch fields has changed, and parse_byte() starts the message over
 * from ST_IDLE with the same result it always had. */

struct head_out {
	__u64 cl;
	__u32 sflags;           /* S_HAVE_CL, S_CHUNKED */
	__u32 end;              /* inputs: window end, direction */
	__u32 dir;
	__u32 pad;
};

/* The helpers below are global functions: each is verified once, not once
 * per state of the bpf_loop callback that calls them. */

static __always_inline __u8 hbyte(struct scratch *sc, __u64 pos)
{
	return sc->buf[pos & (2 * WIN - 1)];
}

/* Offset just past the '\n' ending the line at pos, or 0 if the window
 * holds no '\n' after pos.  Whole words first, then single bytes. */
__noinline int line_end(struct scratch *sc, __u32 pos, __u32 end)
{
	__u32 i;

	if (!sc || end > WIN)
		return 0;
	for (i = 0; i < WIN / 8; i++) {
		if (pos + 8 > end || nl_bytes(word_at(sc, pos)))
			break;
		pos += 8;
	}
	for (i = 0; i < 8; i++) {
		if (pos + i >= end)
			return 0;
		if (hbyte(sc, pos + i) == '\n')
			return pos + i + 1;
	}
	return 0;
}

/* '\n' or "\r\n" at pos: the offset after it, else 0. */
static __always_inline __u32 eol_at(struct scratch *sc, __u32 pos, __u32 end)
{
	if (pos < end && hbyte(sc, pos) == '\n')
		return pos + 1;
	if (pos + 1 < end && hbyte(sc, pos) == '\r' && hbyte(sc, pos + 1) == '\n')
		return pos + 2;
	return 0;
}

static __always_inline __u32 skip_blanks(struct scratch *sc, __u32 pos, __u32 end)
{
	for (int i = 0; i < 16; i++) {
		if (pos >= end)
			break;
		__u8 b = hbyte(sc, pos);

		if (b != ' ' && b != '\t')
			break;
		pos++;
	}
	return pos;
}

/* Header names compared a word at a time: OR-ing 0x20 into the bytes that
 * are letters in the (lower-case) pattern folds exactly their case, and
 * leaves '-' and ':' compared as they are. */
#define W_CONTENT 0x2d746e65746e6f63ULL         /* "content-" */
#define W_CONTENT_OR 0x0020202020202020ULL
#define W_LENGTH 0x003a6874676e656cULL          /* "length:" */
#define W_LENGTH_OR 0x0000202020202020ULL
#define W_TRANSFER 0x726566736e617274ULL        /* "transfer" */
#define W_TRANSFER_OR 0x2020202020202020ULL
#define W_ENCODIN 0x6e69646f636e652dULL         /* "-encodin" */
#define W_ENCODIN_OR 0x2020202020202000ULL
#define W_G 0x3a67ULL                           /* "g:" */
#define W_G_OR 0x20ULL

/* Header name at pos: (length << 8) | kind when a ':' ends it, H_OTHER
 * when the name cannot matter (its line is skipped), -1 to give up.
 * Content-Length and Transfer-Encoding by words; the configured tenant and
 * key headers by their hash. */
__noinline int head_name(struct scratch *sc, __u32 pos, __u32 end, int dir)
{
	__u64 hash, w;
	__u32 j;
	__u8 b;

	if (!sc || pos >= end || end > WIN)
		return -1;
	b = lower(hbyte(sc, pos));
	if (pos + 24 <= end && (b == 'c' || b == 't')) {
		w = word_at(sc, pos);
		if ((w | W_CONTENT_OR) == W_CONTENT) {
			w = word_at(sc, pos + 8);
			if (((w | W_LENGTH_OR) & 0x00ffffffffffffffULL) == W_LENGTH)
				return (14 << 8) | H_CL;
		} else if ((w | W_TRANSFER_OR) == W_TRANSFER &&
			   (word_at(sc, pos + 8) | W_ENCODIN_OR) == W_ENCODIN &&
			   ((word_at(sc, pos + 16) | W_G_OR) & 0xffff) == W_G) {
			return (17 << 8) | H_TE;
		}
		/* any other name only matters if it is a configured one */
		if (dir != DIR_REQ ||
		    !((use_tenant_hdr && b == tenant_hdr_c0) || (use_key_hdr && b == key_hdr_c0)))
			return H_OTHER;
	} else if (!name_candidate(b, dir)) {
		return H_OTHER;
	}
	hash = fnv(HTTP_FNV_OFFSET, b);
	for (j = 1; j < 32; j++) {
		if (pos + j >= end)
			return -1;
		b = hbyte(sc, pos + j);
		if (b == ':')
			return (j << 8) | classify(hash, dir);
		if (b == '\n')
			return -1;
		hash = fnv(hash, lower(b));
	}
	return -1;
}

/* Value of a header that matters, from after the ':'.  Returns the offset
 * after its line, or 0 to give the head to parse_byte(). */
__noinline int head_value(struct scratch *sc, struct req_ent *e, struct head_out *o,
			  __u32 kind, __u32 pos)
{
	__u64 num = 0, acc = 0;
	__u32 i, n = 0, end;
	__u8 b;

	if (!sc || !o)
		return 0;
	end = o->end;
	pos = skip_blanks(sc, pos, end);
	switch (kind) {
	case H_CL:
		for (i = 0; i < 19; i++) {
			if (pos >= end)
				return 0;
			b = hbyte(sc, pos);
			if (b < '0' || b > '9')
				break;
			num = num * 10 + (b - '0');
			pos++;
			n++;
		}
		if (!n)
			return 0;
		o->cl = num;
		o->sflags |= S_HAVE_CL;
		break;
	case H_TE:
		for (i = 0; i < 8; i++) {
			if (pos >= end)
				return 0;
			b = lower(hbyte(sc, pos));
			if (b < 'a' || b > 'z')
				break;
			acc = (acc << 8) | b;
			pos++;
		}
		if (acc != 0x6368756e6b6564ULL)         /* "chunked" only */
			return 0;
		o->sflags |= S_CHUNKED;
		break;
	case H_TENANT:
		if (!e)
			return 0;
		if (e->flags & E_TENANT)                /* later ones are ignored */
			return line_end(sc, pos, end);
		for (i = 0; i < HTTP_TENANT_LEN - 1; i++) {
			if (pos >= end)
				return 0;
			b = hbyte(sc, pos);
			if (b < 0x20 || b >= 0x7f)
				break;
			e->tenant[i & (HTTP_TENANT_LEN - 1)] = b;
			pos++;
		}
		if (i && e->tenant[(i - 1) & (HTTP_TENANT_LEN - 1)] == ' ')
			return 0;       /* trailing blanks: parse_byte() trims */
		e->tlen = i;
		e->tend = i;
		if (i)
			e->flags |= E_TENANT;
		break;
	case H_KEY:
		if (!e || (e->flags & E_KEY))
			return 0;
		acc = HTTP_FNV_OFFSET;
		for (i = 0; i < 128; i++) {
			if (pos >= end)
				return 0;
			b = hbyte(sc, pos);
			if (b <= 0x20 || b >= 0x7f)
				break;
			acc = fnv(acc, b);
			pos++;
			n++;
		}
		if (n) {
			e->key_hash = acc;
			e->flags |= E_KEY;
		}
		break;
	default:
		return 0;
	}
	return eol_at(sc, skip_blanks(sc, pos, end), end);
}

/* Index of the lowest flagged byte of a SWAR match mask (branch-free:
 * isolate the lowest bit, then a multiply moves its byte index to the top). */
static __always_inline __u32 first_byte(__u64 m)
{
	return (((m & -m) >> 7) * 0x0001020304050607ULL) >> 56;
}

/* Header lines from pos, a line start, through the blank line, a word at a
 * time: a name that may matter is looked at where its line starts, every
 * other line is skipped to its '\n'.  Returns the offset after the blank
 * line, or 0 to give the head to parse_byte(). */
__noinline int head_scan(struct scratch *sc, struct req_ent *e, struct head_out *o,
			 __u32 pos)
{
	__u32 end, k, at_start = 1;
	__u64 m;
	int name, next;
	__u8 b;

	if (!sc || !o)
		return 0;
	end = o->end;
	if (end > WIN)
		return 0;
	for (k = 0; k < 128; k++) {
		if (pos >= end)
			return 0;
		if (at_start) {
			b = hbyte(sc, pos);
			if (b == '\r' || b == '\n')
				return eol_at(sc, pos, end);
			at_start = 0;
			if (name_candidate(lower(b), o->dir)) {
				name = head_name(sc, pos, end, o->dir);
				if (name < 0)
					return 0;
				if ((name & 0xff) != H_OTHER) {
					next = head_value(sc, e, o, name & 0xff,
							  pos + (name >> 8) + 1);
					if (!next)
						return 0;
					pos = next;
					at_start = 1;
					continue;
				}
			}
		}
		if (pos + 8 > end) {            /* the last few bytes */
			next = line_end(sc, pos, end);
			if (!next)
				return 0;
			pos = next;
			at_start = 1;
			continue;
		}
		m = nl_bytes(word_at(sc, pos));
		if (!m) {
			pos += 8;
			continue;
		}
		pos += first_byte(m) + 1;
		at_start = 1;
	}
	return 0;
}

/* Request line and head from pos, a message start.  Bytes taken, or 0. */
__noinline int head_req(struct scratch *sc, struct conn *c, __u64 pos, __u64 end)
{
	struct head_out o = {};
	struct req_ent *e;
	struct side *s;
	__u64 acc = 0, start = pos, ph;
	__u32 i, mlen;
	__u8 b;

	if (!sc || !c || c->tail - c->head >= HTTP_FIFO)
		return 0;
	s = &c->rq;
	e = &c->q[c->tail & FIFO_MASK];
	__builtin_memset(e, 0, sizeof(*e));
	e->flags = E_STARTED;
	e->route = HTTP_ROUTE_OTHER;
	for (mlen = 0; mlen < 16; mlen++) {
		if (pos + mlen >= end)
			return 0;
		b = hbyte(sc, pos + mlen);
		if (b == ' ')
			break;
		if (b <= 0x20 || b >= 0x7f)
			return 0;
		acc = (acc << 8) | b;
	}
	if (!mlen || mlen == 16)
		return 0;
	e->method = method_idx(acc, mlen);
	pos += mlen + 1;
	if (pos >= end || hbyte(sc, pos) != '/')
		return 0;
	pos++;
	s->seg = 0;
	s->rest = 0;
	s->alive = n_routes >= 32 ? 0xffffffffU : (1U << n_routes) - 1;
	ph = HTTP_FNV_OFFSET;
	for (i = 0; i < WIN; i++) {
		if (pos >= end)
			return 0;
		b = hbyte(sc, pos);
		if (b == ' ' || b == '?' || b == '#')
			break;
		if (b < 0x20 || b == 0x7f)
			return 0;
		if (b == '/') {
			s->path_h = ph;
			route_seg_end(s);
			ph = HTTP_FNV_OFFSET;
		} else {
			ph = fnv(ph, b);
		}
		pos++;
	}
	s->path_h = ph;
	route_seg_end(s);
	e->route = route_pick(s);
	/* query, version: only the line's end matters (a bare '\n' too) */
	pos = line_end(sc, pos, end);
	if (!pos)
		return 0;
	o.end = end;
	o.dir = DIR_REQ;
	pos = head_scan(sc, e, &o, pos);
	if (!pos)
		return 0;
	s->flags = o.sflags;
	s->cl = o.cl;
	e->req_bytes = pos - start;
	headers_done(c, s, DIR_REQ);
	return pos - start;
}

/* Status line and head from pos, a message start.  Bytes taken, or 0. */
__noinline int head_resp(struct scratch *sc, struct conn *c, __u64 pos, __u64 end)
{
	struct head_out o = {};
	struct req_ent *e;
	struct side *s;
	__u64 start = pos;
	__u32 i, status = 0, n = 0;
	__u8 b;

	if (!sc || !c)
		return 0;
	e = &c->q[c->head & FIFO_MASK];
	if (c->head == c->tail && !(e->flags & E_STARTED))
		return 0;               /* orphan: parse_byte() knows */
	for (i = 0; i < 16; i++) {
		if (pos + i >= end)
			return 0;
		b = hbyte(sc, pos + i);
		if (b == ' ')
			break;
		if (b == '\n')
			return 0;
	}
	if (i == 16)
		return 0;
	pos += i + 1;
	for (i = 0; i < 3; i++) {
		if (pos >= end)
			return 0;
		b = hbyte(sc, pos);
		if (b < '0' || b > '9')
			break;
		status = status * 10 + (b - '0');
		pos++;
		n++;
	}
	if (!n || pos >= end)
		return 0;
	b = hbyte(sc, pos);
	if (b >= '0' && b <= '9')
		return 0;
	pos = line_end(sc, pos, end);
	if (!pos)
		return 0;
	o.end = end;
	o.dir = DIR_RESP;
	pos = head_scan(sc, NULL, &o, pos);
	if (!pos)
		return 0;
	s = &c->rs;
	s->flags = o.sflags;
	s->cl = o.cl;
	s->num = 0;
	s->status = status;
	e->resp_bytes += pos - start;
	headers_done(c, s, DIR_RESP);
	return pos - start;
}

/* A message head from pos, where a message starts: bytes taken, or 0. */
__noinline int head(struct scratch *sc, struct conn *c, __u64 pos, __u64 end, int dir)
{
	__u8 b;

	if (!sc || pos >= end)
		return 0;
	if (dir == DIR_RESP)
		return head_resp(sc, c, pos, end);
	b = hbyte(sc, pos);
	if (b == '\r' || b == '\n')   /* blank lines between requests */
		return 0;
	return head_req(sc, c, pos, end);
}

static int walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct conn *c = w->c;
	struct side *s;
	__u64 avail, n;
	long taken;

	if (!w->left || c->broken)
		return 1;
	s = w->dir == DIR_REQ ? &c->rq : &c->rs;
	if (w->seg_off >= w->seg_len) {
		struct iovec v;

		if (!w->iov || w->iov_idx >= w->iov_cnt) {
			drop(w, HTTP_STAT_DROP_PARSE);
			return 1;
		}
		if (bpf_probe_read_user(&v, sizeof(v),
					(void *)(w->iov + w->iov_idx * sizeof(v)))) {
			drop(w, HTTP_STAT_DROP_READ);
			return 1;
		}
		w->iov_idx++;
		w->base = (__u64)v.iov_base;
		w->seg_len = v.iov_len < w->left ? v.iov_len : w->left;
		w->seg_off = 0;
		w->win_start = 0;
		w->win_len = 0;
		return 0;
	}
	avail = w->seg_len - w->seg_off;

	/* body run: skip arithmetically */
	n = skippable(s);
	if (n) {
		if (n > avail)
			n = avail;
		account(w, s, n);
		w->seg_off += n;
		w->left -= n;
		if (s->st != ST_EOF) {
			s->rem -= n;
			if (!s->rem) {
				if (s->st == ST_CH_DATA)
					s->st = ST_CH_DATA_END;
				else
					body_done(c, s, w->dir);
			}
		}
		return 0;
	}
	if (w->nodata) {
		drop(w, HTTP_STAT_DROP_PARSE);
		return 1;
	}
	if (w->seg_off < w->win_start || w->seg_off >= w->win_start + w->win_len) {
		n = avail < WIN ? avail : WIN;
		n &= 2 * WIN - 1;
		if (bpf_probe_read_user(w->sc->buf, n, (void *)(w->base + w->seg_off))) {
			drop(w, HTTP_STAT_DROP_READ);
			return 1;
		}
		w->win_start = w->seg_off;
		w->win_len = n;
	}
	if (s->st == ST_IDLE) {
		n = head(w->sc, c, w->seg_off - w->win_start, w->win_len, w->dir);
		if (n) {
			w->seg_off += n;
			w->left -= n;
			return 0;
		}
	}
	/* Within the window: a run of bytes that only matter where they end,
	 * then the byte that ends it; a few rounds per step. */
	for (int k = 0; k < 1; k++) {       /* more rounds cost too much verifier budget */
		if (w->seg_off >= w->win_start + w->win_len || skippable(s))
			break;
		n = fast_run(w->sc, c, w->seg_off - w->win_start, w->win_len, w->dir);
		if (n) {
			account(w, s, n);
			w->seg_off += n;
			w->left -= n;
			if (w->seg_off >= w->win_start + w->win_len)
				break;
		}
		taken = parse_bytes(w->sc, c, w->seg_off - w->win_start,
				    w->win_len, w->dir);
		if (taken < 0)
			return 1;
		w->seg_off += taken;
		w->left -= taken;
	}
	return 0;
}

static __always_inline void walk(struct conn *c, struct inflight *in, __u64 ret)
{
	__u32 zero = 0;
	struct walk w = {};
	long steps;

	w.sc = bpf_map_lookup_elem(&http_scratch, &zero);
	if (!w.sc)
		return;
	w.c = c;
	w.dir = in->dir;
	w.left = ret;
	switch (in->kind) {
	case K_BUF:
		w.base = in->ptr;
		w.seg_len = ret;
		break;
	case K_IOV:
		w.iov = in->ptr;
		w.iov_cnt = in->cnt;
		break;
	case K_MSG: {
		struct user_msghdr mh;

		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)in->ptr)) {
			stat_inc(HTTP_STAT_DROP_READ);
			c->broken = 1;
			return;
		}
		w.iov = (__u64)mh.msg_iov;
		w.iov_cnt = mh.msg_iovlen;
		break;
	}
	case K_FILE:
		w.nodata = 1;
		w.seg_len = ret;
		break;
	}
	steps = bpf_loop(MAX_STEPS, walk_step, &w, 0);
	if (steps >= MAX_STEPS && w.left && !c->broken) {
		stat_inc(HTTP_STAT_DROP_STEPS);
		c->broken = 1;
	}
}

/* ---- connection lifecycle -------------------------------------------------- */

/* x86-64 syscall numbers */
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_splice 275
#define NR_accept4 288

/* A data syscall's bytes: where its saved registers say they are and
 * which way they went.  -1 for any other syscall.  (splice is not here:
 * its registers name the pipe first; only the socket hooks, which know the
 * socket, take it.) */
static __always_inline int data_syscall(struct pt_regs *regs, struct inflight *in)
{
	switch (regs->orig_ax) {
	case NR_read:
	case NR_recvfrom:
		in->kind = K_BUF;
		in->dir = DIR_REQ;
		break;
	case NR_write:
	case NR_sendto:
		in->kind = K_BUF;
		in->dir = DIR_RESP;
		break;
	case NR_readv:
		in->kind = K_IOV;
		in->dir = DIR_REQ;
		break;
	case NR_writev:
		in->kind = K_IOV;
		in->dir = DIR_RESP;
		break;
	case NR_recvmsg:
		in->kind = K_MSG;
		in->dir = DIR_REQ;
		break;
	case NR_sendmsg:
		in->kind = K_MSG;
		in->dir = DIR_RESP;
		break;
	case NR_sendfile:
		in->kind = K_FILE;
		in->dir = DIR_RESP;
		break;
	default:
		return -1;
	}
	in->ptr = regs->si;
	in->cnt = in->kind == K_IOV ? regs->dx : 0;
	return 0;
}

static __always_inline __u64 conn_key(__u32 fd)
{
	return (bpf_get_current_pid_tgid() & 0xffffffff00000000ULL) | fd;
}

static __always_inline __u64 *procs_slot(__u32 tgid)
{
	__u32 idx = tgid & PROCS_MASK;

	return bpf_map_lookup_elem(&http_procs, &idx);
}

/* Does the current process (maybe) own metered connections? */
static __always_inline int proc_metered(void)
{
	__u64 *n = procs_slot(bpf_get_current_pid_tgid() >> 32);

	return n && *n;
}

static __always_inline void conn_delete(__u64 key)
{
	__u64 *n;

	if (bpf_map_delete_elem(&http_conns, &key))
		return;
	n = procs_slot(key >> 32);
	if (n && *n)
		__sync_fetch_and_add(n, -1);
}

static __always_inline int port_wanted(__u16 port)
{
	for (__u32 i = 0; i < HTTP_MAX_PORTS; i++) {
		if (i >= n_ports)
			break;
		if (ports[i] == port)
			return 1;
	}
	return 0;
}

/* The struct file behind fd in the current process, 0 if none. */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

static __always_inline __u16 file_local_port(struct file *f)
{
	struct socket *sock;

	if (!f)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return 0;
	return BPF_CORE_READ(sock, sk, __sk_common.skc_num);
}

static int finish_step(__u32 i, void *ctx)
{
	struct conn *c = *(struct conn **)ctx;
	struct req_ent *e = &c->q[c->head & FIFO_MASK];

	/* entries head..tail-1 are whole requests; tail may be one in
	 * progress */
	if ((e->flags & E_STARTED) && e->req_bytes)
		count(e, (e->flags & E_RESP_DONE) ? status_class(e->status) : 0);
	e->flags = 0;
	if (c->head == c->tail)
		return 1;
	c->head++;
	return 0;
}

/* Counts whatever is still pending on a connection that goes away. */
static __always_inline void conn_finish(struct conn *c)
{
	struct side *rs = &c->rs;

	if (!c->broken && rs->st == ST_EOF)
		resp_done(c, rs);       /* body delimited by the close itself */
	bpf_loop(HTTP_FIFO + 1, finish_step, &c, 0);
}

static __always_inline int on_accept(long ret)
{
	__u32 zero = 0;
	__u64 *n;
	struct conn *tmpl, *old, *c;
	struct file *f;
	__u64 key;

	if (ret < 0)
		return 0;
	f = fd_file(ret);
	if (!port_wanted(file_local_port(f)))
		return 0;
	key = conn_key(ret);
	tmpl = bpf_map_lookup_elem(&http_zero, &zero);
	if (!tmpl)
		return 0;
	old = bpf_map_lookup_elem(&http_conns, &key);
	if (old) {              /* fd reused without a close we saw */
		conn_finish(old);
		conn_delete(key);
	}
	if (bpf_map_update_elem(&http_conns, &key, tmpl, BPF_NOEXIST)) {
		stat_inc(HTTP_STAT_DROP_CONNS);
		return 0;
	}
	c = bpf_map_lookup_elem(&http_conns, &key);
	if (c)
		c->file = (__u64)f;
	n = procs_slot(key >> 32);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

/* ---- syscall hooks ---------------------------------------------------------- */

/* close(2) at exit: the fd is gone by now, but the key is ours.  Another
 * thread may have accepted a new metered connection on the same fd number
 * in between (on_accept() finished the old one then): the entry is only
 * finished when it does not describe the file now at that fd.  close()
 * releases the fd whatever it returns, except on EBADF. */
static __always_inline int on_close(int fd, long ret)
{
	struct conn *c;
	__u64 key;

	if (ret == -9 /* EBADF */ || !proc_metered())
		return 0;
	key = conn_key(fd);
	c = bpf_map_lookup_elem(&http_conns, &key);
	if (!c || (c->file && c->file == (__u64)fd_file(fd)))
		return 0;
	conn_finish(c);
	conn_delete(key);
	return 0;
}

/* Process exit closes its sockets without close(2): finish this process's
 * connections (only when the whole process goes). */
static long exit_one(struct bpf_map *map, __u64 *key, struct conn *c, __u64 *tgid)
{
	if ((*key >> 32) != *tgid)
		return 0;
	conn_finish(c);
	conn_delete(*key);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tp_process_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 tgid = id >> 32;

	if ((__u32)id != tgid || !proc_metered())
		return 0;
	bpf_for_each_map_elem(&http_conns, exit_one, &tgid, 0);
	return 0;
}

/* The syscall's arguments are still in the task's saved user registers at
 * exit (only ax is overwritten by the return value). */
static __always_inline int on_data(struct pt_regs *regs, long ret,
				   struct inflight *in)
{
	struct conn *c;
	__u64 key;

	if (ret <= 0 || !proc_metered())
		return 0;
	/* recv with MSG_PEEK leaves the bytes in the socket: not a read */
	if ((regs->orig_ax == NR_recvfrom && (regs->r10 & MSG_PEEK)) ||
	    (regs->orig_ax == NR_recvmsg && (regs->dx & MSG_PEEK)))
		return 0;
	key = conn_key(regs->di);
	c = bpf_map_lookup_elem(&http_conns, &key);
	if (!c || c->broken)
		return 0;
	walk(c, in, ret);
	return 0;
}

/* One raw hook on every syscall exit instead of one syscall tracepoint per
 * syscall: the raw tracepoint calls the program directly, where syscall
 * tracepoints first build a trace record for each event (about twice the
 * cost, paid by every process that makes those syscalls). */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct inflight in = {};

	switch (regs->orig_ax) {
	case NR_accept:
	case NR_accept4:
		return on_accept(ret);
	case NR_close:
		return on_close(regs->di, ret);
	}
	if (data_syscall(regs, &in))
		return 0;
	return on_data(regs, ret, &in);
}

/* ---- socket hooks ------------------------------------------------------------ */

static __always_inline __s64 *nsocks(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&http_nsocks, &zero);
}

static __always_inline void nsocks_add(__s64 d)
{
	__s64 *n = nsocks();

	if (n)
		__sync_fetch_and_add(n, d);
}

/* A child socket of a configured port: state from its first byte on. */
static __always_inline void sock_start(struct sock *sk)
{
	__s64 *n = nsocks();

	if (!n)
		return;
	if (*n >= max_socks) {
		stat_inc(HTTP_STAT_DROP_CONNS);
		return;
	}
	if (bpf_sk_storage_get(&http_socks, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE))
		__sync_fetch_and_add(n, 1);
	else
		stat_inc(HTTP_STAT_DROP_CONNS);
}

static __always_inline void sock_end(struct sock *sk)
{
	struct conn *c = bpf_sk_storage_get(&http_socks, sk, NULL, 0);

	if (!c)
		return;
	conn_finish(c);
	if (!bpf_sk_storage_delete(&http_socks, sk))
		nsocks_add(-1);
}

/* Child sockets are created in SYN_RECV (also with TCP Fast Open, whose
 * data may be read before ESTABLISHED).  The connection ends for metering
 * when the server sends FIN (FIN_WAIT1, LAST_ACK: set by its own close or
 * shutdown, after its last write; bytes read after that, in a lingering
 * close, were never answered).  A reset is not the end: it arrives
 * asynchronously, possibly while the server's last write is still
 * returning, so reset connections end when the socket is destroyed, which
 * is after the server closed it. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state, struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_RECV) {
		if (port_wanted(sk->__sk_common.skc_num))
			sock_start(sk);
	} else if (newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK) {
		sock_end(sk);
	}
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(sock_destroy, struct sock *sk)
{
	sock_end(sk);
	return 0;
}

/* Socket I/O of a metered socket: which syscall moved the bytes tells
 * where they are.  Any other path (io_uring, recvmmsg, kernel users) would
 * leave a gap in the stream: the connection stops being parsed. */
static __always_inline int on_sock_io(struct sock *sk, int ret, __u8 dir)
{
	struct inflight in = {};
	struct pt_regs *regs;
	struct conn *c;
	__u16 port;

	/* The local port first: most sockets on a host are not metered.  A
	 * reset releases the port (skc_num becomes 0) possibly inside the very
	 * send whose bytes are being reported: 0 goes on to the lookup. */
	port = sk->__sk_common.skc_num;
	if (port && !port_wanted(port))
		return 0;
	c = bpf_sk_storage_get(&http_socks, sk, NULL, 0);
	if (!c || c->broken)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (regs->orig_ax == NR_splice) {
		in.kind = K_FILE;
		in.dir = DIR_RESP;
	} else if (data_syscall(regs, &in)) {
		in.dir = ~dir;          /* matches no direction */
	}
	if (in.dir != dir) {
		stat_inc(HTTP_STAT_DROP_UNSEEN);
		c->broken = 1;
		return 0;
	}
	walk(c, &in, ret);
	return 0;
}

/* recv with MSG_PEEK leaves the bytes in the socket; MSG_ERRQUEUE and
 * MSG_OOB bytes are not part of the stream. */
#define MSG_NOT_STREAM (0x1 /* MSG_OOB */ | MSG_PEEK | 0x2000 /* MSG_ERRQUEUE */)

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	if (ret <= 0 || (flags & MSG_NOT_STREAM))
		return 0;
	return on_sock_io(sk, ret, DIR_REQ);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	if (ret <= 0)
		return 0;
	return on_sock_io(sk, ret, DIR_RESP);
}
