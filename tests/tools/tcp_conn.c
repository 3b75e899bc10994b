/* tcp_conn: exactly K TCP connections, for exact-count delivery tests.
 *
 *   tcp_conn listen PORT              accept and close on 127.0.0.1:PORT
 *                                     forever; prints "ready" once bound
 *   tcp_conn connect PORT K SPREAD_MS K connections to 127.0.0.1:PORT spread
 *                                     evenly over SPREAD_MS; prints "done K"
 *
 * connect exits 0 only if all K connections were established. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int do_listen(int port)
{
	struct sockaddr_in a = loopback(port);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 512)) {
		perror("tcp_conn listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED)
			return 1;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int do_connect(int port, long k, long spread_ms)
{
	struct sockaddr_in a = loopback(port);
	long ok = 0;

	for (long i = 0; i < k; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), tries = 0;

		while (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 &&
		       tries++ < 50) {
			/* a failed connect never established: it is not counted */
			close(fd);
			sleep_ms(20);
			fd = socket(AF_INET, SOCK_STREAM, 0);
		}
		if (fd >= 0 && tries <= 50)
			ok++;
		if (fd >= 0)
			close(fd);
		if (k > 1)
			sleep_ms(spread_ms / k);
	}
	printf("done %ld\n", ok);
	return ok == k ? 0 : 1;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return do_listen(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "connect"))
		return do_connect(atoi(argv[2]), atol(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: tcp_conn listen PORT | tcp_conn connect PORT K SPREAD_MS\n");
	return 2;
}
