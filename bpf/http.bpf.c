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
 * was not complete).
 *
 * One compilation unit in parts: http_state.bpf.h (settings, connection
 * state, maps), http_parse.bpf.h (counting, routes, the byte parser),
 * http_runs.bpf.h (fast runs of bytes), http_head.bpf.h (whole heads);
 * this file walks a syscall's bytes and holds the hooks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "http_head.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- walking the syscall's bytes -------------------------------------------- */

/* One bpf_loop step: 0 for another, 1 to stop (also as soon as the
 * syscall's last byte is walked, which saves a call per walk). */
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
	n = skippable(s);
	if (w->seg_off >= w->seg_len && n < w->left) {
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
	/* Body run: skip arithmetically.  When the rest of the syscall's bytes
	 * are body, even the iovecs that hold them need not be read. */
	avail = w->seg_off < w->seg_len ? w->seg_len - w->seg_off : w->left;
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
		return !w->left;
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
			return !w->left;
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
	return !w->left;
}

#ifdef TM_HTTP_FLOOR
/* Benchmark builds only (tests/bench/http_floor.sh): the user-memory copies
 * a request's bytes need, and nothing after them (no parsing, no counting).
 * With the hooks, the port check, the connection's state and the stream
 * check before it, this is what any meter reading the bytes at these hooks
 * costs at the least. */
static __always_inline void floor_copies(struct walk *w)
{
	struct iovec v;
	__u64 n;

	if (w->iov) {
		if (bpf_probe_read_user(&v, sizeof(v), (void *)w->iov))
			return;
		w->base = (__u64)v.iov_base;
		w->seg_len = v.iov_len;
	}
	if (!w->base)
		return;
	n = w->seg_len < WIN ? w->seg_len : WIN;
	n &= 2 * WIN - 1;
	bpf_probe_read_user(w->sc->buf, n, (void *)w->base);
}
#endif

/* A global function: the verifier goes through it once per program, for
 * any direction and connection, instead of once per call site and state of
 * the caller (the write hook was within 10% of its instruction limit). */
__noinline int walk(struct conn *c, struct inflight *in, __u64 ret)
{
	__u32 zero = 0;
	struct walk w = {};
	long steps;

	if (!c || !in)
		return 0;
	w.sc = bpf_map_lookup_elem(&http_scratch, &zero);
	if (!w.sc)
		return 0;
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
			conn_drop(c, HTTP_STAT_DROP_READ);
			return 0;
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
#ifdef TM_HTTP_FLOOR
	floor_copies(&w);
	return 0;
#endif
	steps = bpf_loop(MAX_STEPS, walk_step, &w, 0);
	if (steps >= MAX_STEPS && w.left && !c->broken) {
		conn_drop(c, HTTP_STAT_DROP_STEPS);
	}
	return 0;
}

/* ---- stream positions --------------------------------------------------------- */

enum { NEXT, SEEN, GAP, FIN_GAP };

/* Are the ret bytes that just moved on c's dir side, ending at stream
 * position end, the next ones of the stream (NEXT), bytes already parsed
 * (SEEN: while a reload attaches the new programs beside the old ones,
 * each I/O is parsed by whichever runs first), or do bytes the meter never
 * saw lie before them (GAP: moved while no program was attached, or by a
 * path with no tracepoint)?  FIN_GAP: one sequence number more, which is
 * the peer's FIN if the read reached it (the caller settles it with
 * stream_fin()).  Records the new position for NEXT. */
static __always_inline void stream_set(struct conn *c, __u8 dir, __u32 end)
{
	c->seq[dir & 1] = end;
	c->seq_ok |= 1 << (dir & 1);
}

static __always_inline int stream_step(struct conn *c, __u8 dir, int ret, __u32 end)
{
	__u32 start = end - (__u32)ret;

	if (c->seq_ok & (1 << (dir & 1))) {
		if (end == c->seq[dir & 1])
			return SEEN;
		if (start != c->seq[dir & 1])
			return dir == DIR_REQ && start - 1 == c->seq[dir & 1] ? FIN_GAP : GAP;
	}
	stream_set(c, dir, end);
	return NEXT;
}

/* FIN_GAP settled: the read took the peer's FIN (fin_read: it has been
 * received) and goes on from end, or bytes are missing. */
static __always_inline int stream_fin(struct conn *c, __u8 dir, __u32 end, int fin_read)
{
	if (!fin_read)
		return GAP;
	stream_set(c, dir, end);
	return NEXT;
}

/* Has sk's peer's FIN been received? */
static __always_inline int sk_read_shut(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_shutdown) & 1;     /* RCV_SHUTDOWN */
}

static __always_inline __u64 sk_prot_of(struct sock *sk)
{
	return (__u64)BPF_CORE_READ(sk, __sk_common.skc_prot);
}

/* The syscall hook's view of the same: the socket is read through
 * bpf_probe_read_kernel() (no BTF pointer at sys_exit).  pos[] as at the
 * socket's current state; 0 if it is not a plain TCP socket. */
static __always_inline int sk_positions(__u64 skp, __u64 prot, __u32 pos[2])
{
	struct tcp_sock *tp = (struct tcp_sock *)skp;

	if (!skp || (prot && sk_prot_of((struct sock *)skp) != prot))
		return 0;
	pos[DIR_REQ] = BPF_CORE_READ(tp, copied_seq);
	pos[DIR_RESP] = BPF_CORE_READ(tp, write_seq);
	return 1;
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

#define S_IFMT 0170000
#define S_IFSOCK 0140000

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

/* Deletes key from a connection table and takes it off its process's
 * count in the procs map that goes with it: this copy's, or the draining
 * build's. */
static __always_inline void conns_delete(void *conns, void *procs, __u64 key)
{
	__u32 idx = (key >> 32) & PROCS_MASK;
	__u64 *n;

	if (bpf_map_delete_elem(conns, &key))
		return;
	n = bpf_map_lookup_elem(procs, &idx);
	if (n && *n)
		__sync_fetch_and_add(n, -1);
}

static __always_inline void conn_delete(__u64 key)
{
	conns_delete(&http_conns, &http_procs, key);
}

/* HTTP_CTL_* flags, set by the agent (http_drain.h) */
static __always_inline __u32 ctl_flags(void)
{
	__u32 zero = 0, *ctl = bpf_map_lookup_elem(&http_ctl, &zero);

	return ctl ? *ctl : 0;
}

/* Is this copy of the programs finishing its own connections beside a
 * newer build's? */
static __always_inline int draining(void)
{
	return ctl_flags() & HTTP_CTL_DRAINING;
}

/* Does a previous build, draining beside this one, have state for the
 * syscall hook's connection key?  Once its drain has ended, what its map
 * still holds are connections nobody meters. */
static __always_inline int prev_has_conn(__u64 key)
{
	return !(ctl_flags() & HTTP_CTL_PREV_ENDED) &&
	       bpf_map_lookup_elem(&http_conns_prev, &key);
}

/* The syscall hook's sock_take_from_prev(): the draining build's programs
 * ran first on this accept and gave the connection an entry under the same
 * key; once this copy has one, that entry goes. */
static __always_inline void conn_take_from_prev(__u64 key)
{
	conns_delete(&http_conns_prev, &http_procs_prev, key);
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

/* Is sk an open TCP connection of a configured port, before our side's
 * FIN?  Read through BPF_CORE_READ: the socket hooks' sk is a BTF pointer,
 * the syscall hook's one read from the fd's file. */
static __always_inline int tcp_open_metered(struct sock *sk)
{
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);

	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
	       (state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT) &&
	       port_wanted(BPF_CORE_READ(sk, __sk_common.skc_num));
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
		count(c, e, (e->flags & E_RESP_DONE) ? status_class(e->status) : 0);
	e->flags = 0;
	if (c->head == c->tail)
		return 1;
	c->head++;
	return 0;
}

/* http_fdcache's slot for a connection key (Fibonacci hashing: fds of one
 * process, consecutive numbers, spread over the slots). */
static __always_inline __u32 fdcache_slot(__u64 key)
{
	return (key * 0x9e3779b97f4a7c15ULL) >> (64 - FDCACHE_BITS);
}

static __always_inline __u32 *fdcount_slot(__u64 key)
{
	__u32 idx = (key >> 32) & FDCOUNT_MASK;

	return bpf_map_lookup_elem(&http_fdcount, &idx);
}

/* The fd without state was counted as a drop: not again until it closes. */
static __always_inline void fd_counted(__u64 key)
{
	__u8 seen = 1;
	__u32 *n;

	if (bpf_map_update_elem(&http_fds, &key, &seen, BPF_NOEXIST))
		return;
	n = fdcount_slot(key);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The fd is closed: whatever it was is looked at again. */
static __always_inline void fd_forget(__u64 key)
{
	__u32 slot = fdcache_slot(key), *n = fdcount_slot(key);
	__u64 *cached = bpf_map_lookup_elem(&http_fdcache, &slot);

	if (cached && *cached == key)
		*cached = 0;
	if (n && *n && !bpf_map_delete_elem(&http_fds, &key))
		__sync_fetch_and_add(n, -1);
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
	if (old && old->file == (__u64)f)
		return 0;       /* another copy of the programs, during a reload */
	if (old) {              /* fd reused without a close we saw */
		conn_finish(old);
		conn_delete(key);
	}
	if (bpf_map_update_elem(&http_conns, &key, tmpl, BPF_NOEXIST)) {
		/* else the draining build's; or, if this copy drains, the
		 * newer build's */
		if (!prev_has_conn(key) && !draining()) {
			stat_inc(HTTP_STAT_DROP_CONNS);
			fd_counted(key);        /* not again by fd_unmetered() */
		}
		return 0;
	}
	c = bpf_map_lookup_elem(&http_conns, &key);
	if (c) {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		__u32 pos[2];

		c->file = (__u64)f;
		c->sk = (__u64)BPF_CORE_READ(sock, sk);
		if (sk_positions(c->sk, 0, pos)) {
			c->prot = sk_prot_of((struct sock *)c->sk);
			stream_set(c, DIR_REQ, pos[DIR_REQ]);
			stream_set(c, DIR_RESP, pos[DIR_RESP]);
		}
	}
	n = procs_slot(key >> 32);
	if (n)
		__sync_fetch_and_add(n, 1);
	conn_take_from_prev(key);
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
	fd_forget(key);
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

/* The syscall hook's sock_unmetered(): data moved on fd, which has no
 * connection state, in a process that owns metered connections.  If fd is
 * an open TCP connection of a configured port (accepted before the meter's
 * state existed, or while no program was attached) it is counted once as a
 * drop; either way fd is remembered until it is closed, so each fd is
 * looked up once.  (A process that owns no metered connection is not
 * looked at: its syscalls stop at proc_metered().) */
static __always_inline void fd_unmetered(__u64 key, int fd)
{
	struct socket *sock;
	struct file *f;
	__u32 slot = fdcache_slot(key);
	__u64 *cached = bpf_map_lookup_elem(&http_fdcache, &slot);

	/* looked at already, or counted already */
	if (cached && *cached == key)
		return;
	if (bpf_map_lookup_elem(&http_fds, &key)) {
		if (cached)
			*cached = key;
		return;
	}
	/* while two builds overlap, an fd of the other one's (see
	 * sock_unmetered()): the draining build's is looked at again once its
	 * drain has ended */
	if (draining() || prev_has_conn(key))
		return;
	if (cached)
		*cached = key;
	f = fd_file(fd);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(f, private_data);
	if (!tcp_open_metered(BPF_CORE_READ(sock, sk)))
		return;
	fd_counted(key);
	stat_inc(HTTP_STAT_DROP_UNMETERED);
}

/* The syscall's arguments are still in the task's saved user registers at
 * exit (only ax is overwritten by the return value). */
static __always_inline int on_data(struct pt_regs *regs, long ret,
				   struct inflight *in)
{
	struct conn *c;
	__u32 pos[2];
	__u64 key;

	if (ret <= 0 || !proc_metered())
		return 0;
	/* recv with MSG_PEEK leaves the bytes in the socket: not a read */
	if ((regs->orig_ax == NR_recvfrom && (regs->r10 & MSG_PEEK)) ||
	    (regs->orig_ax == NR_recvmsg && (regs->dx & MSG_PEEK)))
		return 0;
	key = conn_key(regs->di);
	c = bpf_map_lookup_elem(&http_conns, &key);
	if (!c) {
		fd_unmetered(key, regs->di);
		return 0;
	}
	if (c->broken)
		return 0;
	if (c->seq_ok && sk_positions(c->sk, c->prot, pos)) {
		__u32 end = pos[in->dir & 1];
		int r = stream_step(c, in->dir, ret, end);

		if (r == FIN_GAP)
			r = stream_fin(c, in->dir, end, sk_read_shut((struct sock *)c->sk));
		if (r == GAP)
			conn_drop(c, HTTP_STAT_DROP_UNSEEN);
		if (r != NEXT)
			return 0;
	}
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

/* conns_delete() for the socket hooks: sk's state out of a socket storage
 * map, and off the count that goes with it. */
static __always_inline void socks_delete(void *socks, void *count, struct sock *sk)
{
	__u32 zero = 0;
	__s64 *n;

	if (bpf_sk_storage_delete(socks, sk))
		return;
	n = bpf_map_lookup_elem(count, &zero);
	if (n)
		__sync_fetch_and_add(n, -1);
}

/* The socket hooks' prev_has_conn(): state for sk in the draining build */
static __always_inline int prev_has(struct sock *sk)
{
	return !(ctl_flags() & HTTP_CTL_PREV_ENDED) &&
	       bpf_sk_storage_get(&http_socks_prev, sk, NULL, 0) != NULL;
}

/* While the previous build drains, its programs run first and give every
 * new socket state too (builds before HTTP_CTL_DRAINING know no better,
 * and later ones must, lest a socket created as the new programs attach go
 * to neither).  Once this copy has state for it, the socket is ours: its
 * state there goes. */
static __always_inline void sock_take_from_prev(struct sock *sk)
{
	if (prev_has(sk))
		socks_delete(&http_socks_prev, &http_nsocks_prev, sk);
}

/* A child socket of a configured port: state from its first byte on.
 * While a reload runs the new programs beside the old ones, both see the
 * socket created: the second finds the state there.  One this copy has no
 * room for is left to a draining previous build that has it, or, when this
 * copy drains, to the newer build (which counts it as refused if it has
 * no room either). */
static __always_inline void sock_start(struct sock *sk)
{
	__s64 *n = nsocks();

	if (!n || bpf_sk_storage_get(&http_socks, sk, NULL, 0))
		return;
	if (*n < max_socks &&
	    bpf_sk_storage_get(&http_socks, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE)) {
		__sync_fetch_and_add(n, 1);
		sock_take_from_prev(sk);
	} else if (!prev_has(sk) && !draining()) {     /* else the other build's */
		stat_inc(HTTP_STAT_DROP_CONNS);
		/* counted: not again by sock_unmetered() */
		bpf_sk_storage_get(&http_unmetered, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	}
}

/* I/O on an open TCP connection of a configured port that has no state:
 * it was created before the meter's state existed (the agent's first
 * start, or a new build, which starts with fresh state) or while no
 * program was attached.  Its bytes cannot be parsed from the middle of a
 * stream; it is counted once as a drop, and marked in http_unmetered (a
 * byte per socket, outside the connection table, whose room it would
 * take from new connections).  Only before our side's FIN: after it the
 * state is gone on purpose (sock_state()), and reads in a lingering close
 * are not metered.  Not while builds overlap in a drain: each has state
 * for its own sockets only. */
static __always_inline void sock_unmetered(struct sock *sk)
{
	if (!tcp_open_metered(sk))
		return;
	/* counted already; or, while two builds overlap, a socket of the
	 * other one's: the newer build's (this copy is draining), or the
	 * draining build's */
	if (bpf_sk_storage_get(&http_unmetered, sk, NULL, 0) || draining() ||
	    prev_has(sk))
		return;
	if (bpf_sk_storage_get(&http_unmetered, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE))
		stat_inc(HTTP_STAT_DROP_UNMETERED);
}

static __always_inline void sock_end(struct sock *sk)
{
	struct conn *c = bpf_sk_storage_get(&http_socks, sk, NULL, 0);

	if (!c)
		return;
	conn_finish(c);
	socks_delete(&http_socks, &http_nsocks, sk);
}

/* Where side dir of sk's byte stream stands: the sequence number the
 * application has read up to (DIR_REQ) or written up to (DIR_RESP).  0 if
 * sk is not a plain TCP socket now: an upper-layer protocol (kernel TLS)
 * moves other bytes than the application's, and replaces sk_prot, which
 * is cheaper to compare than its own pointer is to read. */
static __always_inline int stream_pos(struct sock *sk, struct conn *c, __u8 dir, __u32 *pos)
{
	struct tcp_sock *tp;

	if (c->seq_ok && c->prot != (__u64)sk->__sk_common.skc_prot)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	if (!c->seq_ok) {
		if (tp->inet_conn.icsk_ulp_ops)
			return 0;
		c->prot = (__u64)sk->__sk_common.skc_prot;
	}
	*pos = dir == DIR_REQ ? tp->copied_seq : tp->write_seq;
	return 1;
}

/* The stream positions of a new connection, once they are set (in
 * SYN_RECV the child still has its listener's).  A side that Fast Open
 * data already moved keeps the position its I/O recorded. */
static __always_inline void sock_positions(struct sock *sk)
{
	struct conn *c = bpf_sk_storage_get(&http_socks, sk, NULL, 0);
	__u32 pos;

	if (!c)
		return;
	for (__u8 dir = DIR_REQ; dir <= DIR_RESP; dir++)
		if (!(c->seq_ok & (1 << dir)) && stream_pos(sk, c, dir, &pos))
			stream_set(c, dir, pos);
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
	} else if (newstate == TCP_ESTABLISHED) {
		sock_positions(sk);
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

/* stream_step() for the socket hooks, whose sk is a BTF pointer. */
static __always_inline int stream_check(struct sock *sk, struct conn *c, int ret, __u8 dir)
{
	__u32 end;
	int r;

	if (!stream_pos(sk, c, dir, &end))
		return NEXT;
	r = stream_step(c, dir, ret, end);
	if (r == FIN_GAP)
		r = stream_fin(c, dir, end, sk->sk_shutdown & 1 /* RCV_SHUTDOWN */);
	return r;
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
	if (!c) {
		if (port)
			sock_unmetered(sk);
		return 0;
	}
	if (c->broken)
		return 0;
	switch (stream_check(sk, c, ret, dir)) {
	case SEEN:
		return 0;
	case GAP:
		conn_drop(c, HTTP_STAT_DROP_UNSEEN);
		return 0;
	}
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (regs->orig_ax == NR_splice) {
		in.kind = K_FILE;
		in.dir = DIR_RESP;
	} else if (data_syscall(regs, &in)) {
		in.dir = ~dir;          /* matches no direction */
	}
	if (in.dir != dir) {
		conn_drop(c, HTTP_STAT_DROP_UNSEEN);
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
