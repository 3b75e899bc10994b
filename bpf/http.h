/* Types and constants shared by bpf/http.bpf.c and agent/meter_http.c:
 * the counter key/value layout, route patterns compiled to segment hashes,
 * and the stats slots.  Fixed-width types only. */
#ifndef TM_BPF_HTTP_H
#define TM_BPF_HTTP_H

#define HTTP_TENANT_LEN 64
#define HTTP_MAX_PORTS 16
#define HTTP_MAX_ROUTES 32
#define HTTP_MAX_SEGS 16
#define HTTP_ROUTE_OTHER 255
#define HTTP_FIFO 32            /* pending pipelined requests per connection */

#define HTTP_FNV_OFFSET 0xcbf29ce484222325ULL
#define HTTP_FNV_PRIME 0x100000001b3ULL

enum http_method {
	HTTP_M_GET, HTTP_M_POST, HTTP_M_PUT, HTTP_M_DELETE, HTTP_M_PATCH,
	HTTP_M_HEAD, HTTP_M_OPTIONS, HTTP_M_OTHER, HTTP_M_COUNT
};

/* One route pattern segment: a literal (FNV-1a of its bytes), "*" (exactly
 * one segment) or "**" (last only: zero or more segments). */
enum http_seg_kind { HTTP_SEG_LIT = 0, HTTP_SEG_ONE = 1, HTTP_SEG_REST = 2 };

/* A configured header name as the request head parser compares it, 8
 * bytes at a time: word i of the line matches when
 * ((word | fold[i]) & mask[i]) == want[i].  words 0: it hashes the name. */
#define HTTP_HDR_WORDS 4        /* names of up to 31 bytes, then ':' */

struct http_hdr_words {
	__u64 want[HTTP_HDR_WORDS];     /* the name lower-cased, then ':' */
	__u64 fold[HTTP_HDR_WORDS];     /* 0x20 in the bytes that are letters */
	__u64 mask[HTTP_HDR_WORDS];     /* 0xff in the bytes that count */
	__u32 words;
	__u32 len;                      /* of the name, without ':' */
};

struct http_route {
	__u64 hash[HTTP_MAX_SEGS];
	__u8 kind[HTTP_MAX_SEGS];
	__u8 nseg;
	__u8 pad[7];
};

/* Counter map key; every byte (padding too) is written so keys compare. */
struct http_key {
	char tenant[HTTP_TENANT_LEN];   /* NUL-padded */
	__u8 route;                     /* index into routes, or HTTP_ROUTE_OTHER */
	__u8 method;                    /* enum http_method */
	__u8 status;                    /* 0 = no complete response, 1..5 */
	__u8 pad[5];
};

struct http_val {
	__u64 requests;
	__u64 req_bytes;
	__u64 resp_bytes;
};

struct http_tenant {
	char name[HTTP_TENANT_LEN];
};

/* Per-CPU stats slots.  OVERFLOW feeds health.map_overflow, the DROP_*
 * slots sum into health.event_drops. */
enum http_stat {
	HTTP_STAT_OVERFLOW,     /* counter map full: a request went uncounted */
	HTTP_STAT_DROP_CONNS,   /* connection map full: connection not metered */
	HTTP_STAT_DROP_FIFO,    /* more pipelined requests than HTTP_FIFO */
	HTTP_STAT_DROP_READ,    /* user memory could not be read */
	HTTP_STAT_DROP_PARSE,   /* bytes that fit no HTTP/1.x framing */
	HTTP_STAT_DROP_STEPS,   /* one syscall needed more parse steps than allowed */
	HTTP_STAT_DROP_UNSEEN,  /* socket I/O whose bytes the meter cannot see */
	HTTP_STAT_DROP_UNMETERED, /* a connection with no state: opened before
				   * the meter's (first start, a new build) or
				   * while its programs were detached */
	HTTP_STAT_COUNT
};
#define HTTP_STAT_SLOTS 16      /* the map's size: room for new slots, so an
				 * upgrade that adds one keeps the counts */

/* "http_ctl" flags.  DRAINING: a newer build's programs run beside these
 * and take every new connection; these only finish their own.  PREV_ENDED:
 * the previous build's drain has ended (its programs are detached), so the
 * connections its state still names are nobody's: unmetered. */
#define HTTP_CTL_DRAINING 0x1
#define HTTP_CTL_PREV_ENDED 0x2

/* Pinned "http_meta" map value: what the pinned links were loaded from. */
struct http_meta {
	__u64 fingerprint;      /* object + settings; 0 while (re)attaching */
	__u64 obj_hash;         /* object only: connection state layout */
	__u32 n_routes;         /* the route patterns the counter keys index */
	__u32 pad;
	char routes[HTTP_MAX_ROUTES][64];
};

#endif
