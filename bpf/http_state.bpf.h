// SPDX-License-Identifier: GPL-2.0
/* HTTP meter, part of bpf/http.bpf.c (included there, one compilation
 * unit): the settings the agent writes into rodata between open and load,
 * the per-connection parser state, and the maps. */
#ifndef TM_HTTP_STATE_BPF_H
#define TM_HTTP_STATE_BPF_H

#include "http.h"

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
const volatile struct http_hdr_words tenant_hdr_words = {};
const volatile struct http_hdr_words key_hdr_words = {};
const volatile __s64 max_socks = 65536;     /* [meter] max_connections */
const volatile __u32 max_counters = 16384;  /* [meter] max_entries */

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
	__u64 sk;               /* syscall hook: its struct sock */
	__u64 prot;             /* the socket's sk_prot when seq[] was first set */
	__u8 broken;            /* gave up on this connection (counted as a drop) */
	__u8 last_ok;           /* last_key/last_slot are set */
	__u8 seq_ok;            /* bit DIR_REQ / DIR_RESP: seq[] holds that position */
	__u8 pad;
	__u32 seq[2];           /* socket hooks: TCP sequence after the bytes parsed
				 * so far, read side (copied_seq) and write side
				 * (write_seq) */
	__u32 last_slot;        /* http_vals slot of last_key */
	struct http_key last_key;       /* of the last request counted here */
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

/* Counters: each key gets a slot in http_vals once (http_slots, never
 * changed after); the counters themselves sit in a per-CPU array, which a
 * lookup reaches without hashing.  A connection remembers the slot of the
 * last key it counted, so a run of requests with one key (the usual case)
 * hashes nothing.  Slots are handed out by http_nslots; one lost to a race
 * between two CPUs adding the same key stays zero and unnamed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);             /* [meter] max_entries */
	__type(key, struct http_key);
	__type(value, __u32);
} http_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 16384);             /* [meter] max_entries */
	__type(key, __u32);
	__type(value, struct http_val);
} http_vals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} http_nslots SEC(".maps");

_Static_assert(HTTP_STAT_COUNT <= HTTP_STAT_SLOTS, "http_stats has no room");
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTP_STAT_SLOTS);
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

/* Syscall hook: fds of metered processes, without connection state, that
 * were counted as a drop (fd_unmetered(), or an accept the full table
 * refused), until they are closed.  Kept across builds, like
 * http_unmetered: a connection counted is not counted again by the next
 * build. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} http_fds SEC(".maps");

/* How many http_fds entries each (tgid & FDCOUNT_MASK) has put in, so that
 * a close() in a process with none skips the hash delete (≈90 ns per close
 * of a file served).  An entry the LRU evicts is never taken off: the
 * count can only be too high, which costs a delete, never a missed one.
 * Kept, and started afresh, together with http_fds. */
#define FDCOUNT_MASK 0xfff
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FDCOUNT_MASK + 1);
	__type(key, __u32);
	__type(value, __u32);
} http_fdcount SEC(".maps");

/* Syscall hook: every fd of a metered process without connection state
 * that fd_unmetered() has looked at, by key, in a direct-mapped cache: the
 * next I/O on it (a proxy's upstream socket, a file) stops here.  A slot
 * another key took over only means looking again (the counted ones are in
 * http_fds).  Not pinned: a copy of the programs starts with an empty one. */
#define FDCACHE_BITS 12
#define FDCACHE_SLOTS (1 << FDCACHE_BITS)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FDCACHE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} http_fdcache SEC(".maps");

/* Socket hooks: connections counted as unmetered (sock_unmetered()). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} http_unmetered SEC(".maps");

/* Sockets with state in http_socks, held under max_socks. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} http_nsocks SEC(".maps");

/* After an upgrade to a new build, the previous build's programs stay
 * attached until their own connections end (the agent drains them): these
 * are then bound to that build's connection maps, and stay empty
 * otherwise.  Only whether a socket has state there matters here. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} http_socks_prev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} http_nsocks_prev SEC(".maps");

/* The same for the syscall hook: its http_conns and http_procs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u64);
} http_conns_prev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} http_procs_prev SEC(".maps");

/* HTTP_CTL_* flags the agent sets for this copy of the programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} http_ctl SEC(".maps");

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

#endif
