/* hook_floor: what any program on the HTTP meter's socket tracepoints costs
 * every socket call on the host, whatever it does: bpf/calib.bpf.c's empty
 * programs on sock_recv_length and sock_send_length, attached and detached
 * in turn around a loop of recv() calls that find nothing to read (the
 * tracepoint fires for those too).  Rounds alternate which comes first;
 * the medians are printed as
 *   BENCH recv_syscall_ns <ns> ns            one recv() with nothing attached
 *   BENCH socket_hook_dispatch_ns <ns> ns    what an empty program adds to it
 * The meter's programs pay this on every socket read and write on the
 * host, before their port check (tests/bench/http_overhead.sh's
 * nginx_rps_ratio_hooks_only is the same cost seen in throughput). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf/calib.skel.h"
#include "log.h"

#define CALLS 400000
#define ROUNDS 9

/* A loopback TCP connection; *rd is its accepted end, non-blocking. */
static int tcp_pair(int *lfd, int *cfd, int *rd)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*lfd = socket(AF_INET, SOCK_STREAM, 0);
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	*rd = -1;
	if (*lfd < 0 || *cfd < 0 || bind(*lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(*lfd, 1) || getsockname(*lfd, (struct sockaddr *)&a, &len) ||
	    connect(*cfd, (struct sockaddr *)&a, sizeof(a)))
		return -errno;
	*rd = accept(*lfd, NULL, NULL);
	if (*rd < 0 || fcntl(*rd, F_SETFL, O_NONBLOCK))
		return -errno;
	return 0;
}

/* ns per recv() on fd, which has nothing to read */
static double recv_ns(int fd)
{
	struct timespec t0, t1;
	char b[64];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < CALLS; i++)
		if (recv(fd, b, sizeof(b), 0) >= 0)
			return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / CALLS;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int stats_enabled(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	int on = 0;

	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = 0;
		fclose(f);
	}
	return on;
}

/* One round: *without and *with, ns per recv(), in the order given. */
static int round_ns(struct calib_bpf *skel, int fd, int with_first,
		    double *without, double *with)
{
	for (int k = 0; k < 2; k++) {
		int attached = (k == 0) == with_first;
		double ns;
		int err;

		if (attached) {
			err = calib_bpf__attach(skel);
			if (err) {
				log_warn("cannot attach the empty programs: %s", strerror(-err));
				return err;
			}
		}
		ns = recv_ns(fd);
		if (attached)
			calib_bpf__detach(skel);
		if (ns < 0) {
			log_warn("recv() on an idle socket returned data");
			return -EIO;
		}
		*(attached ? with : without) = ns;
	}
	return 0;
}

int main(void)
{
	double without[ROUNDS], added[ROUNDS];
	struct calib_bpf *skel;
	int lfd = -1, cfd = -1, rd = -1, err;

	log_init("hook_floor", LOG_LVL_WARN);
	libbpf_set_print(log_libbpf_print);
	skel = calib_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		log_warn("cannot load bpf/calib.bpf.o: %s", strerror(-err));
		goto cleanup;
	}
	err = tcp_pair(&lfd, &cfd, &rd);
	if (err) {
		log_warn("loopback TCP connection: %s", strerror(-err));
		goto cleanup;
	}
	recv_ns(rd);            /* warm-up */
	for (int r = 0; r < ROUNDS; r++) {
		double with;

		err = round_ns(skel, rd, r % 2, &without[r], &with);
		if (err)
			goto cleanup;
		added[r] = with - without[r];
	}
	if (stats_enabled())
		printf("# kernel.bpf_stats_enabled is on: the dispatch figure includes "
		       "its two clock reads\n");
	printf("BENCH recv_syscall_ns %.0f ns\n", median(without, ROUNDS));
	printf("BENCH socket_hook_dispatch_ns %.0f ns\n", median(added, ROUNDS));
cleanup:
	if (rd >= 0)
		close(rd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	calib_bpf__destroy(skel);
	return err ? 1 : 0;
}
