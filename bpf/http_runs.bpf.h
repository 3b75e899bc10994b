// SPDX-License-Identifier: GPL-2.0
/* HTTP meter, part of bpf/http.bpf.c: runs of bytes inside the copied
 * window: byte accounting, lines skipped a word at a time, header runs,
 * and parse_bytes() (a run through parse_byte). */
#ifndef TM_HTTP_RUNS_BPF_H
#define TM_HTTP_RUNS_BPF_H

#include "http_parse.bpf.h"

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
	conn_drop(w->c, why);
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

/* 8 bytes at pos; pos + 8 <= end <= WIN (the mask only tells the verifier).
 * In one load: clang reads a __u64 it cannot prove aligned a byte at a
 * time (8 loads and 14 shifts and ors); the verifier allows unaligned map
 * value loads on x86-64, which does them in one instruction. */
static __always_inline __u64 word_at(struct scratch *sc, __u32 pos)
{
	const char *p = &sc->buf[pos & (WIN - 1)];
	__u64 w;

	asm volatile("%0 = *(u64 *)(%1 + 0)" : "=r"(w) : "r"(p) : "memory");
	return w;
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

#endif
