/* http_drain on real bpffs pins: which pins make a drain possible, moving
 * them into drain/ and back (the path a failed load takes), the draining
 * flag, counting what the old programs still hold and ending the drain
 * (when they hold nothing, or early),
 * a second upgrade during a drain, and a drain of the other kind of hook.
 * Maps stand in for the links: the drain only renames pins.  Needs root
 * and bpffs at /sys/fs/bpf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "http_drain.h"
#include "bpf/http.h"

struct fixture {
	char root[128];         /* /sys/fs/bpf/tmtest_drain_<pid> */
	char dir[160];          /* root/http */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct statfs st;

	assert_non_null(f);
	/* a fresh machine may have no bpffs mounted yet */
	if ((statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		fail_msg("no bpffs at /sys/fs/bpf and mounting one failed: %s "
			 "(this test needs root)", strerror(errno));
	snprintf(f->root, sizeof(f->root), "/sys/fs/bpf/tmtest_drain_%d", (int)getpid());
	snprintf(f->dir, sizeof(f->dir), "%s/http", f->root);
	assert_int_equal(mkdir(f->root, 0700), 0);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Pins a new map of type under dir/name; returns its fd (the caller closes). */
static int pin_map(const char *dir, const char *name, enum bpf_map_type type,
		   uint32_t key_size, uint32_t value_size, uint32_t entries)
{
	char path[256];
	int fd = bpf_map_create(type, NULL, key_size, value_size, entries, NULL);

	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	return fd;
}

static void pin_closed(const char *dir, const char *name, enum bpf_map_type type,
		       uint32_t key_size, uint32_t value_size)
{
	close(pin_map(dir, name, type, key_size, value_size, 1));
}

static void unpin(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

static bool exists(const char *dir, const char *sub)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	return access(path, F_OK) == 0;
}

static uint64_t read_u64(int fd)
{
	uint32_t zero = 0;
	uint64_t v = 0;

	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &v), 0);
	return v;
}

static void write_u64(int fd, uint64_t v)
{
	uint32_t zero = 0;

	assert_int_equal(bpf_map_update_elem(fd, &zero, &v, BPF_ANY), 0);
}

/* What a socket-hook build pins: its links, conn maps and others that stay. */
static void pin_socket_build(const char *dir, int *nsocks_fd, int *ctl_fd)
{
	pin_closed(dir, "link_sock_recv", BPF_MAP_TYPE_ARRAY, 4, 8);
	pin_closed(dir, "link_sock_send", BPF_MAP_TYPE_ARRAY, 4, 8);
	pin_closed(dir, "http_socks", BPF_MAP_TYPE_ARRAY, 4, 8);
	if (!exists(dir, "http_vals"))                  /* a new build reuses it */
		pin_closed(dir, "http_vals", BPF_MAP_TYPE_ARRAY, 4, 8);
	*nsocks_fd = pin_map(dir, "http_nsocks", BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	*ctl_fd = pin_map(dir, "http_ctl", BPF_MAP_TYPE_ARRAY, 4, 4, 1);
}

static void test_possible(void **state)
{
	struct fixture *f = *state;

	assert_false(http_drain_possible(f->dir));      /* nothing pinned */
	pin_closed(f->dir, "link_sys_exit", BPF_MAP_TYPE_ARRAY, 4, 8);
	pin_closed(f->dir, "http_conns", BPF_MAP_TYPE_HASH, 8, 64);
	assert_false(http_drain_possible(f->dir));      /* no http_procs */
	pin_closed(f->dir, "http_procs", BPF_MAP_TYPE_ARRAY, 4, 4);
	assert_false(http_drain_possible(f->dir));      /* not its layout */
	unpin(f->dir, "http_procs");
	pin_closed(f->dir, "http_procs", BPF_MAP_TYPE_ARRAY, 4, 8);
	assert_true(http_drain_possible(f->dir));
}

static void test_begin_undo(void **state)
{
	struct fixture *f = *state;
	char drain[200];
	int nsocks, ctl;

	snprintf(drain, sizeof(drain), "%s/drain", f->dir);
	pin_socket_build(f->dir, &nsocks, &ctl);
	assert_int_equal(http_drain_begin(f->dir), 0);
	assert_true(exists(drain, "link_sock_recv"));
	assert_true(exists(drain, "link_sock_send"));
	assert_true(exists(drain, "http_socks"));
	assert_true(exists(drain, "http_nsocks"));
	assert_false(exists(f->dir, "link_sock_recv"));
	assert_true(exists(f->dir, "http_vals"));       /* counters stay shared */
	assert_false(exists(drain, "http_vals"));
	assert_int_equal(read_u64(ctl) & 0xffffffff, HTTP_CTL_DRAINING);
	/* the new programs failed: everything goes back, counting on */
	http_drain_undo(f->dir);
	assert_false(exists(f->dir, "drain"));
	assert_true(exists(f->dir, "link_sock_recv"));
	assert_true(exists(f->dir, "http_nsocks"));
	assert_int_equal(read_u64(ctl) & 0xffffffff, 0);
	close(nsocks);
	close(ctl);
}

static void test_poll_socket(void **state)
{
	struct fixture *f = *state;
	long long left = -1;
	int nsocks, ctl, new_nsocks, new_ctl;

	assert_int_equal(http_drain_poll(f->dir, &left), -ENOENT);
	pin_socket_build(f->dir, &nsocks, &ctl);
	write_u64(nsocks, 2);
	assert_int_equal(http_drain_begin(f->dir), 0);
	pin_socket_build(f->dir, &new_nsocks, &new_ctl);
	assert_int_equal(http_drain_poll(f->dir, &left), 0);
	assert_int_equal(left, 2);
	assert_true(exists(f->dir, "drain"));
	assert_int_equal(read_u64(new_ctl) & 0xffffffff, 0);
	write_u64(nsocks, 0);                           /* their last one closed */
	assert_int_equal(http_drain_poll(f->dir, &left), 0);
	assert_int_equal(left, 0);
	assert_false(exists(f->dir, "drain"));
	/* the new programs need not look at the old state any more */
	assert_int_equal(read_u64(new_ctl) & 0xffffffff, HTTP_CTL_PREV_ENDED);
	assert_int_equal(http_drain_poll(f->dir, &left), -ENOENT);
	close(nsocks);
	close(ctl);
	close(new_nsocks);
	close(new_ctl);
}

/* A drain ended before its connections closed ([http] drain_max, or the
 * end-drain command): the old programs' pins go, and the new programs are
 * told that what the old state still names is unmetered. */
static void test_end_early(void **state)
{
	struct fixture *f = *state;
	long long left = -1;
	time_t before = time(NULL), since = 0;
	int nsocks, ctl, new_nsocks, new_ctl;

	assert_int_equal(http_drain_end(f->dir, &left), -ENOENT);
	assert_int_equal(http_drain_since(f->dir, &since), -ENOENT);
	pin_socket_build(f->dir, &nsocks, &ctl);
	write_u64(nsocks, 3);
	assert_int_equal(http_drain_begin(f->dir), 0);
	pin_socket_build(f->dir, &new_nsocks, &new_ctl);
	write_u64(new_ctl, 0x100);                      /* a flag of its own */
	assert_int_equal(http_drain_since(f->dir, &since), 0);
	assert_true(since >= before && since <= time(NULL));
	assert_int_equal(http_drain_end(f->dir, &left), 0);
	assert_int_equal(left, 3);
	assert_false(exists(f->dir, "drain"));
	assert_true(exists(f->dir, "link_sock_recv"));  /* the new programs stay */
	assert_int_equal(read_u64(new_ctl) & 0xffffffff, 0x100 | HTTP_CTL_PREV_ENDED);
	assert_int_equal(http_drain_poll(f->dir, &left), -ENOENT);
	close(nsocks);
	close(ctl);
	close(new_nsocks);
	close(new_ctl);
}

static void test_poll_syscall(void **state)
{
	struct fixture *f = *state;
	long long left = -1;
	uint64_t key, val[8] = { 0 };
	int conns;

	pin_closed(f->dir, "link_sys_exit", BPF_MAP_TYPE_ARRAY, 4, 8);
	pin_closed(f->dir, "http_procs", BPF_MAP_TYPE_ARRAY, 4, 8);
	conns = pin_map(f->dir, "http_conns", BPF_MAP_TYPE_HASH, 8, sizeof(val), 16);
	for (key = 1; key <= 3; key++)
		assert_int_equal(bpf_map_update_elem(conns, &key, val, BPF_ANY), 0);
	assert_true(http_drain_possible(f->dir));
	assert_int_equal(http_drain_begin(f->dir), 0); /* no http_ctl: an older build */
	assert_int_equal(http_drain_poll(f->dir, &left), 0);
	assert_int_equal(left, 3);
	for (key = 1; key <= 3; key++)
		assert_int_equal(bpf_map_delete_elem(conns, &key), 0);
	assert_int_equal(http_drain_poll(f->dir, &left), 0);
	assert_int_equal(left, 0);
	assert_false(exists(f->dir, "drain"));
	close(conns);
}

/* A second upgrade while the first drain runs: the oldest programs stop. */
static void test_second_upgrade(void **state)
{
	struct fixture *f = *state;
	char drain[200];
	long long left;
	int nsocks1, ctl1, nsocks2, ctl2;

	snprintf(drain, sizeof(drain), "%s/drain", f->dir);
	pin_socket_build(f->dir, &nsocks1, &ctl1);
	write_u64(nsocks1, 5);
	assert_int_equal(http_drain_begin(f->dir), 0);
	pin_socket_build(f->dir, &nsocks2, &ctl2);     /* the second build */
	write_u64(nsocks2, 1);
	assert_int_equal(http_drain_begin(f->dir), 0);
	assert_int_equal(http_drain_poll(f->dir, &left), 0);
	assert_int_equal(left, 1);                      /* the second build's */
	assert_int_equal(read_u64(ctl2) & 0xffffffff, HTTP_CTL_DRAINING);
	assert_false(exists(f->dir, "link_sock_recv"));
	close(nsocks1);
	close(ctl1);
	close(nsocks2);
	close(ctl2);
}

/* New programs with the other kind of hook cannot share connections. */
static void test_bind_other_kind(void **state)
{
	struct fixture *f = *state;
	struct http_drain_maps prev = { 0 };
	int nsocks, ctl;

	assert_int_equal(http_drain_bind(f->dir, false, &prev), 0);    /* no drain */
	pin_socket_build(f->dir, &nsocks, &ctl);
	write_u64(nsocks, 4);
	assert_int_equal(http_drain_begin(f->dir), 0);
	assert_int_equal(http_drain_bind(f->dir, true, &prev), 0);
	assert_false(exists(f->dir, "drain"));
	close(nsocks);
	close(ctl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_possible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_early, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_syscall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_other_kind, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
