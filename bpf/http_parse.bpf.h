// SPDX-License-Identifier: GPL-2.0
/* HTTP meter, part of bpf/http.bpf.c: counting a finished request, route
 * matching, header values, and the byte-at-a-time parser (parse_byte) that
 * every faster path falls back to. */
#ifndef TM_HTTP_PARSE_BPF_H
#define TM_HTTP_PARSE_BPF_H

#include "http_state.bpf.h"

/* ---- helpers ------------------------------------------------------------- */

static __always_inline void stat_inc(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&http_stats, &slot);

	if (v)
		(*v)++;
}

/* Gives up on connection c: counted in health as a drop of kind why. */
static __always_inline void conn_drop(struct conn *c, __u32 why)
{
	stat_inc(why);
	c->broken = 1;
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

/* *p += 1, returning the old *p.  The meter is built for the first BPF
 * instruction set (newer code generation takes the parser past the
 * verifier's budget), whose C has no fetching atomics and whose assembler
 * does not know them either; the instruction itself is in every kernel
 * since 5.12, so it is written out: r0 = atomic_fetch_add((u64 *)(r1 + 0),
 * r0) is BPF_STX | BPF_ATOMIC | BPF_DW (0xdb), dst r1, src r0, imm
 * BPF_ADD | BPF_FETCH (0x01). */
static __always_inline __u64 fetch_inc(__u64 *p)
{
	register __u64 val asm("r0") = 1;
	register __u64 *ptr asm("r1") = p;

	asm volatile(".8byte 0x00000001000001db" : "+r"(val) : "r"(ptr) : "memory");
	return val;
}

/* The slot of key k in http_vals, adding it if new; -1 when full. */
static __always_inline long counter_slot(struct http_key *k)
{
	__u32 zero = 0, *slot, n;
	__u64 *next;

	slot = bpf_map_lookup_elem(&http_slots, k);
	if (slot)
		return *slot;
	next = bpf_map_lookup_elem(&http_nslots, &zero);
	if (!next || *next >= max_counters)
		return -1;
	n = fetch_inc(next);
	if (n >= max_counters)
		return -1;
	if (!bpf_map_update_elem(&http_slots, k, &n, BPF_NOEXIST))
		return n;
	slot = bpf_map_lookup_elem(&http_slots, k);     /* another CPU was first */
	return slot ? *slot : -1;
}

/* Does e, finished with status class status, have c's last key? */
static __always_inline int is_last_key(struct conn *c, struct req_ent *e, __u32 status)
{
	const __u64 *a = (const __u64 *)c->last_key.tenant;
	const __u64 *b = (const __u64 *)e->tenant;

	if (!c->last_ok || c->last_key.route != e->route ||
	    c->last_key.method != e->method || c->last_key.status != status)
		return 0;
	for (int i = 0; i < HTTP_TENANT_LEN / 8; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

__noinline int count(struct conn *c, struct req_ent *e, __u32 status)
{
	struct http_val *v;
	__u32 slot;
	long found;

	if (!c || !e)
		return 0;
	if (is_last_key(c, e, status)) {
		slot = c->last_slot;
	} else {
		struct http_key k = {};

		__builtin_memcpy(k.tenant, e->tenant, HTTP_TENANT_LEN);
		k.route = e->route;
		k.method = e->method;
		k.status = status;
		found = counter_slot(&k);
		if (found < 0) {
			stat_inc(HTTP_STAT_OVERFLOW);
			return 0;
		}
		slot = found;
		c->last_key = k;
		c->last_slot = slot;
		c->last_ok = 1;
	}
	v = bpf_map_lookup_elem(&http_vals, &slot);
	if (!v) {
		stat_inc(HTTP_STAT_OVERFLOW);
		return 0;
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
	count(c, e, status_class(e->status));
	e->flags = 0;
	c->head++;
	/* Nothing pending, nothing started: back to entry 0, so a connection
	 * without pipelining reuses one entry whose lines are still cached
	 * instead of walking all of them. */
	if (c->head == c->tail && !c->q[c->tail & FIFO_MASK].flags)
		c->head = c->tail = 0;
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
		count(c, &tmp, status_class(s->status));
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
			conn_drop(c, HTTP_STAT_DROP_FIFO);
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

#endif
