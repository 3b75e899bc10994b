/* hook_toggle: detaches and re-attaches the HTTP meter's programs without
 * reloading them, so the overhead benchmark can alternate "with" and
 * "without" every few seconds.  Reloading between rounds (BPF verification,
 * map allocation, and the freeing of the old ones afterwards) disturbed
 * the round next to it more than the meter costs.
 *
 *   hook_toggle DIR      DIR: the meter's pin directory for HTTP
 *                        (<pin_dir>/http), its programs attached and pinned
 *
 * Takes over the programs behind DIR/link_*: prints "prog <id> <name>" for
 * each, removes the link pins (the programs stay loaded through our file
 * descriptors) and attaches them itself.  Links of classic tracepoints (the
 * syscall hook's process-exit program) stay pinned and attached.  Then reads commands on stdin:
 * "off" detaches, "on" attaches, and answers "ok" or "error ..." on stdout.
 * On end of input the programs are left detached. */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define MAX_HOOKS 16

struct hook {
	int prog_fd;
	int link_fd;            /* -1 while detached */
};

static struct hook hooks[MAX_HOOKS];
static size_t n_hooks;

static int take_over(const char *pin)
{
	struct bpf_link_info link = {};
	struct bpf_prog_info prog = {};
	__u32 len = sizeof(link);
	int fd, err = 0;

	if (n_hooks == MAX_HOOKS)
		return -E2BIG;
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &link, &len)) {
		err = -errno;
		goto cleanup;
	}
	if (link.type == BPF_LINK_TYPE_PERF_EVENT)
		goto cleanup;   /* a classic tracepoint's: it stays as it is */
	hooks[n_hooks].prog_fd = bpf_prog_get_fd_by_id(link.prog_id);
	if (hooks[n_hooks].prog_fd < 0) {
		err = -errno;
		goto cleanup;
	}
	len = sizeof(prog);
	if (bpf_obj_get_info_by_fd(hooks[n_hooks].prog_fd, &prog, &len)) {
		err = -errno;
		close(hooks[n_hooks].prog_fd);
		goto cleanup;
	}
	hooks[n_hooks].link_fd = -1;
	printf("prog %u %s\n", prog.id, prog.name);
	n_hooks++;
	if (unlink(pin))
		err = -errno;
cleanup:
	close(fd);
	return err;
}

static void detach_all(void)
{
	for (size_t i = 0; i < n_hooks; i++) {
		if (hooks[i].link_fd >= 0)
			close(hooks[i].link_fd);
		hooks[i].link_fd = -1;
	}
}

/* tp_btf programs name their tracepoint themselves (attach_btf_id). */
static int attach_all(void)
{
	for (size_t i = 0; i < n_hooks; i++) {
		if (hooks[i].link_fd >= 0)
			continue;
		hooks[i].link_fd = bpf_raw_tracepoint_open(NULL, hooks[i].prog_fd);
		if (hooks[i].link_fd < 0) {
			int err = -errno;

			detach_all();
			return err;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	char pattern[4096], line[64];
	glob_t g;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: hook_toggle PIN_DIR/http\n");
		return 2;
	}
	snprintf(pattern, sizeof(pattern), "%s/link_*", argv[1]);
	if (glob(pattern, 0, NULL, &g)) {
		fprintf(stderr, "hook_toggle: no pinned links in %s\n", argv[1]);
		return 1;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		err = take_over(g.gl_pathv[i]);
		if (err) {
			fprintf(stderr, "hook_toggle: %s: %s\n", g.gl_pathv[i], strerror(-err));
			return 1;
		}
	}
	globfree(&g);
	err = attach_all();
	if (err) {
		fprintf(stderr, "hook_toggle: attach: %s\n", strerror(-err));
		return 1;
	}
	printf("ok\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		err = 0;
		if (!strcmp(line, "on\n"))
			err = attach_all();
		else if (!strcmp(line, "off\n"))
			detach_all();
		else
			err = -EINVAL;
		if (err)
			printf("error %s\n", strerror(-err));
		else
			printf("ok\n");
		fflush(stdout);
	}
	detach_all();
	return 0;
}
