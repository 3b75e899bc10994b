/* stats_calib: attaches bpf/calib.bpf.c's empty programs beside the HTTP
 * meter, so the overhead benchmark can measure what kernel.bpf_stats_enabled
 * itself adds to each program run (see bpf/calib.bpf.c).
 *
 *   stats_calib          prints "ok" once attached; then, for every line on
 *                        stdin, "<run_cnt> <run_time_ns>" summed over its
 *                        programs; detaches on end of input. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/calib.skel.h"
#include "log.h"

static int prog_stats(struct bpf_program *prog, __u64 *cnt, __u64 *ns)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return -errno;
	*cnt += info.run_cnt;
	*ns += info.run_time_ns;
	return 0;
}

int main(void)
{
	struct calib_bpf *skel;
	char line[64];
	int err;

	log_init("stats_calib", LOG_LVL_WARN);
	libbpf_set_print(log_libbpf_print);
	skel = calib_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		log_warn("cannot load bpf/calib.bpf.o: %s", strerror(-err));
		goto cleanup;
	}
	err = calib_bpf__attach(skel);
	if (err) {
		log_warn("cannot attach the calibration programs: %s", strerror(-err));
		goto cleanup;
	}
	printf("ok\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		__u64 cnt = 0, ns = 0;

		err = prog_stats(skel->progs.calib_recv, &cnt, &ns);
		if (!err)
			err = prog_stats(skel->progs.calib_send, &cnt, &ns);
		if (err) {
			log_warn("cannot read program stats: %s", strerror(-err));
			goto cleanup;
		}
		printf("%llu %llu\n", (unsigned long long)cnt, (unsigned long long)ns);
		fflush(stdout);
	}
cleanup:
	calib_bpf__destroy(skel);
	return err ? 1 : 0;
}
