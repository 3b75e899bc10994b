// SPDX-License-Identifier: GPL-2.0
/* HTTP meter, part of bpf/http.bpf.c: a whole request or response head
 * parsed in one call when it lies inside the window (the common case). */
#ifndef TM_HTTP_HEAD_BPF_H
#define TM_HTTP_HEAD_BPF_H

#include "http_runs.bpf.h"

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

/* Index of the lowest flagged byte of a SWAR match mask (branch-free:
 * isolate the lowest bit, then a multiply moves its byte index to the top). */
static __always_inline __u32 first_byte(__u64 m)
{
	return (((m & -m) >> 7) * 0x0001020304050607ULL) >> 56;
}

/* The '\n' bytes among the last 1-7 of the window, from pos (end - 8 <
 * pos < end), flagged as nl_bytes() does from bit 0 on for pos: the
 * window's last word, the bytes before pos set to 0xff first, which are no
 * '\n' and lend no borrow to the bytes after them (a match flagged there
 * could be false). */
static __always_inline __u64 nl_tail(struct scratch *sc, __u32 pos, __u32 end)
{
	__u32 skip = 8 * (pos + 8 - end);

	return nl_bytes(word_at(sc, end - 8) | ((1ULL << skip) - 1)) >> skip;
}

/* Offset just past the '\n' ending the line at pos, or 0 if the window
 * holds no '\n' after pos.  A word at a time; single bytes only in a
 * window shorter than a word. */
__noinline int line_end(struct scratch *sc, __u32 pos, __u32 end)
{
	__u64 m;
	__u32 i;

	if (!sc || end > WIN)
		return 0;
	for (i = 0; i < WIN / 8; i++) {
		if (pos + 8 > end)
			break;
		m = nl_bytes(word_at(sc, pos));
		if (m)
			return pos + first_byte(m) + 1;
		pos += 8;
	}
	if (pos >= end || pos + 8 <= end)
		return 0;
	if (end >= 8) {
		m = nl_tail(sc, pos, end);
		return m ? pos + first_byte(m) + 1 : 0;
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
#define W_HTTP11 0x312e312f50545448ULL          /* "HTTP/1.1" */
#define W_HTTP10 0x302e312f50545448ULL          /* "HTTP/1.0" */

/* Is the header name at pos, ':' included, the configured name n?  A word
 * at a time, case-folded: no hashing byte by byte for the tenant or key
 * header of every request.  0 also when n is left to the hash. */
static __always_inline int name_is(struct scratch *sc, __u32 pos, __u32 end,
				   const volatile struct http_hdr_words *n)
{
	if (!n->words)
		return 0;
	for (__u32 i = 0; i < HTTP_HDR_WORDS; i++) {
		if (i >= n->words)
			break;
		if (pos + 8 * (i + 1) > end)
			return 0;
		if (((word_at(sc, pos + 8 * i) | n->fold[i]) & n->mask[i]) != n->want[i])
			return 0;
	}
	return 1;
}

#define NAME_UNDECIDED (-2)

/* A name starting with b ('c' or 't', lower-cased) at pos, 24 bytes of the
 * window after it: Content-Length and Transfer-Encoding by words, as
 * head_name() returns them; H_OTHER for any other that cannot matter in
 * direction dir, NAME_UNDECIDED for one that may be a configured request
 * header. */
static __always_inline int framing_name(struct scratch *sc, __u32 pos, __u8 b, int dir)
{
	__u64 w = word_at(sc, pos);

	if ((w | W_CONTENT_OR) == W_CONTENT) {
		w = word_at(sc, pos + 8);
		if (((w | W_LENGTH_OR) & 0x00ffffffffffffffULL) == W_LENGTH)
			return (14 << 8) | H_CL;
	} else if ((w | W_TRANSFER_OR) == W_TRANSFER &&
		   (word_at(sc, pos + 8) | W_ENCODIN_OR) == W_ENCODIN &&
		   ((word_at(sc, pos + 16) | W_G_OR) & 0xffff) == W_G) {
		return (17 << 8) | H_TE;
	}
	if (dir != DIR_REQ ||
	    !((use_tenant_hdr && b == tenant_hdr_c0) || (use_key_hdr && b == key_hdr_c0)))
		return H_OTHER;
	return NAME_UNDECIDED;
}

/* Header name at pos: (length << 8) | kind when a ':' ends it, H_OTHER
 * when the name cannot matter (its line is skipped), -1 to give up.
 * Content-Length and Transfer-Encoding by words; the configured tenant and
 * key headers by their hash. */
__noinline int head_name(struct scratch *sc, __u32 pos, __u32 end, int dir)
{
	__u64 hash;
	__u32 j;
	__u8 b;

	if (!sc || pos >= end || end > WIN)
		return -1;
	b = lower(hbyte(sc, pos));
	if (pos + 24 <= end && (b == 'c' || b == 't')) {
		int k = framing_name(sc, pos, b, dir);

		if (k != NAME_UNDECIDED)
			return k;
	} else if (!name_candidate(b, dir)) {
		return H_OTHER;
	}
	if (dir == DIR_REQ) {
		if (use_tenant_hdr && b == tenant_hdr_c0 && name_is(sc, pos, end, &tenant_hdr_words))
			return (tenant_hdr_words.len << 8) | H_TENANT;
		if (use_key_hdr && b == key_hdr_c0 && name_is(sc, pos, end, &key_hdr_words))
			return (key_hdr_words.len << 8) | H_KEY;
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
				/* a response's candidates, and the request's
				 * tenant header, are told by words here, without
				 * the call (a call is dear: README) */
				if (o->dir == DIR_RESP && pos + 24 <= end)
					name = framing_name(sc, pos, lower(b), DIR_RESP);
				else if (o->dir == DIR_REQ && use_tenant_hdr &&
					 lower(b) == tenant_hdr_c0 &&
					 name_is(sc, pos, end, &tenant_hdr_words))
					name = (tenant_hdr_words.len << 8) | H_TENANT;
				else
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
			if (end < 8)
				return 0;
			m = nl_tail(sc, pos, end);
			if (!m)
				return 0;
			pos += first_byte(m) + 1;
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
	i = 0;
	if (pos + 9 <= end && end <= WIN) {     /* the usual version, in one word */
		__u64 w = word_at(sc, pos);

		if (w == W_HTTP11 || w == W_HTTP10)
			i = 8;
	}
	for (; i < 16; i++) {
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
static __always_inline int head(struct scratch *sc, struct conn *c, __u64 pos, __u64 end, int dir)
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

#endif
