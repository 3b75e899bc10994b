/* http_drain: the previous build's HTTP programs finishing their own
 * connections after an upgrade, beside the new build's.
 *
 * A new build of bpf/http.bpf.c starts with fresh connection state (its
 * layout may differ), so it cannot go on parsing the connections the old
 * build was in the middle of.  Instead the old programs stay attached: their
 * links and connection maps move from DIR (<pin_dir>/http) to DIR/drain,
 * their http_ctl says HTTP_CTL_DRAINING (they leave sockets without their
 * state alone), and the new programs see the old sockets through
 * http_socks_prev / http_nsocks_prev, bound to the old maps.  Both count into
 * the same counter maps.  Every new connection is the new build's; once the
 * old programs hold no connection, DIR/drain is removed and they detach.
 * The syscall hook works the same way with its http_conns and http_procs
 * (http_conns_prev / http_procs_prev): a connection accepted during the
 * drain goes to the new build, keyed by the same fd.
 *
 * Everything here works on pins; nothing is allocated for the caller. */
#ifndef TM_HTTP_DRAIN_H
#define TM_HTTP_DRAIN_H

#include <stdbool.h>
#include <time.h>
#include <bpf/libbpf.h>

/* Do the pins in dir hold programs and the connection maps a drain needs?
 * (The caller checks that the new programs use the same kind of hook.) */
bool http_drain_possible(const char *dir);

/* Moves the links and connection maps pinned in dir into dir/drain and
 * marks them draining; an earlier drain still there is removed first (its
 * connections go unmetered, with a warning).  On an error nothing has
 * moved.  Call before the new programs attach. */
int http_drain_begin(const char *dir);

/* Removes the connection maps pinned in dir (those a drain would move),
 * so that the next load creates them afresh. */
void http_drain_conn_unpin(const char *dir);

/* Undoes http_drain_begin() after the new programs failed to load or
 * attach: the old programs count on as before. */
void http_drain_undo(const char *dir);

/* The new object's maps that see the draining programs' connections. */
struct http_drain_maps {
	struct bpf_map *socks, *nsocks;         /* socket hooks */
	struct bpf_map *conns, *procs;          /* syscall hook */
};

/* Points the maps in prev for the new programs' kind of hook (syscall_hook
 * or the socket hooks) at the draining programs' maps, when a drain is in
 * progress under dir; otherwise they stay the object's own, empty ones.  A
 * drain by the other kind of hook is removed (the two cannot tell each
 * other's connections apart).  Call between open and load. */
int http_drain_bind(const char *dir, bool syscall_hook, const struct http_drain_maps *prev);

/* The connections the draining programs still hold in *left; when none
 * are left the drain ends (as http_drain_end()).  -ENOENT when no drain is
 * in progress. */
int http_drain_poll(const char *dir, long long *left);

/* Ends a drain now, whatever is left (*left): the draining programs detach,
 * and the current ones (their http_ctl in dir gets HTTP_CTL_PREV_ENDED)
 * count each connection still open once as unmetered at its next I/O.
 * For a drain that would otherwise last too long ([http] drain_max, or
 * `truemeter-agent end-drain`).  -ENOENT when no drain is in progress. */
int http_drain_end(const char *dir, long long *left);

/* Connections the programs pinned in dir (dir itself: the current ones in
 * <pin_dir>/http, the draining ones in its drain/) hold state for: the
 * socket hooks count theirs (http_nsocks); the syscall hook's are the
 * entries of its http_conns. */
int http_drain_held(const char *dir, long long *held);

/* The connections the draining programs under dir (in dir/drain) still
 * hold, without ending the drain.  -ENOENT when none is in progress. */
int http_drain_left(const char *dir, long long *left);

/* When the drain under dir began.  -ENOENT when none is in progress. */
int http_drain_since(const char *dir, time_t *since);

/* Removes dir/drain, if any: the draining programs detach. */
int http_drain_remove(const char *dir);

#endif
