/* tenant_load: known CPU and network load for the cgroup/CIDR meter tests.
 *
 *   tenant_load burn SECONDS          (of CPU time)
 *   tenant_load tcp-server ADDR PORT NCONN RESP_BYTES
 *   tenant_load tcp-client [-b BIND] ADDR PORT NCONN REQ_BYTES
 *   tenant_load udp-server ADDR PORT NDGRAM
 *   tenant_load udp-client [-b BIND] ADDR PORT NDGRAM SIZE
 *
 * ADDR/BIND are IPv4 or IPv6 literals.  Servers print "ready" once bound
 * and exit after NCONN connections / NDGRAM datagrams (or 20 s without
 * traffic).  Every program prints one summary line "conns N sent B recv B"
 * (payload bytes) and exits 0 only if it moved exactly what it was asked.
 *
 * TCP connections close cleanly and in a fixed order (client FIN, server
 * answers and closes, client reads EOF), so every packet of a connection
 * belongs to one of its two sockets: no RST, nothing sent from TIME_WAIT. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define IDLE_TIMEOUT_S 20

static unsigned long long sent_total, recv_total, conns_total;

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*a6);
		return 0;
	}
	fprintf(stderr, "tenant_load: '%s' is not an IP address\n", s);
	return -1;
}

static long num(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v < 0) {
		fprintf(stderr, "tenant_load: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static int sock_for(const struct sockaddr_storage *ss, int type)
{
	struct timeval tv = { .tv_sec = IDLE_TIMEOUT_S };
	int one = 1;
	int fd = socket(ss->ss_family, type, 0);

	if (fd < 0) {
		perror("tenant_load: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int bind_to(int fd, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!addr)
		return 0;
	if (parse_addr(addr, 0, &ss, &len))
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("tenant_load: bind");
		return -1;
	}
	return 0;
}

static int send_n(int fd, long n)
{
	char buf[16384];

	memset(buf, 'x', sizeof(buf));
	while (n > 0) {
		ssize_t w = send(fd, buf, n < (long)sizeof(buf) ? (size_t)n : sizeof(buf),
				 MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("tenant_load: send");
			return -1;
		}
		n -= w;
		sent_total += (unsigned long long)w;
	}
	return 0;
}

/* Reads until EOF; returns the byte count or -1. */
static long recv_all(int fd)
{
	char buf[16384];
	long total = 0;

	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r == 0)
			return total;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("tenant_load: recv");
			return -1;
		}
		total += r;
		recv_total += (unsigned long long)r;
	}
}

static int burn(double seconds)
{
	struct timespec t0, t;
	volatile unsigned long x = 0;

	/* CPU time, not wall time: the amount must not depend on load */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	return 0;
}

static int tcp_server(const char *addr, int port, long nconn, long resp)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd, rc = 1;

	if (parse_addr(addr, port, &ss, &len) || (lfd = sock_for(&ss, SOCK_STREAM)) < 0)
		return 1;
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 128) < 0) {
		perror("tenant_load: bind/listen");
		goto cleanup;
	}
	printf("ready\n");
	fflush(stdout);
	for (long i = 0; i < nconn; i++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			perror("tenant_load: accept");
			goto cleanup;
		}
		conns_total++;
		if (recv_all(fd) < 0 || send_n(fd, resp) < 0) {
			close(fd);
			goto cleanup;
		}
		close(fd);
	}
	rc = 0;
cleanup:
	close(lfd);
	return rc;
}

static int tcp_client(const char *bind_addr, const char *addr, int port, long nconn, long req)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (parse_addr(addr, port, &ss, &len))
		return 1;
	for (long i = 0; i < nconn; i++) {
		int fd = sock_for(&ss, SOCK_STREAM);

		if (fd < 0)
			return 1;
		if (bind_to(fd, bind_addr) || connect(fd, (struct sockaddr *)&ss, len) < 0) {
			perror("tenant_load: connect");
			close(fd);
			return 1;
		}
		conns_total++;
		if (send_n(fd, req) < 0 || shutdown(fd, SHUT_WR) < 0 || recv_all(fd) < 0) {
			close(fd);
			return 1;
		}
		close(fd);
	}
	return 0;
}

static int udp_server(const char *addr, int port, long n)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[65536];
	int fd, rc = 1;

	if (parse_addr(addr, port, &ss, &len) || (fd = sock_for(&ss, SOCK_DGRAM)) < 0)
		return 1;
	/* room for every datagram even when this side is slow (sanitizers):
	 * a full buffer drops after the meter has counted the packet */
	int rcvbuf = 16 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("tenant_load: bind");
		goto cleanup;
	}
	printf("ready\n");
	fflush(stdout);
	for (long i = 0; i < n; i++) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r < 0) {
			perror("tenant_load: recv");
			goto cleanup;
		}
		recv_total += (unsigned long long)r;
	}
	rc = 0;
cleanup:
	close(fd);
	return rc;
}

static int udp_client(const char *bind_addr, const char *addr, int port, long n, long size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[65536];
	int fd, rc = 1;

	if (size > (long)sizeof(buf)) {
		fprintf(stderr, "tenant_load: datagram size over %zu\n", sizeof(buf));
		return 1;
	}
	if (parse_addr(addr, port, &ss, &len) || (fd = sock_for(&ss, SOCK_DGRAM)) < 0)
		return 1;
	memset(buf, 'u', sizeof(buf));
	if (bind_to(fd, bind_addr))
		goto cleanup;
	for (long i = 0; i < n; i++) {
		if (sendto(fd, buf, (size_t)size, 0, (struct sockaddr *)&ss, len) != size) {
			perror("tenant_load: sendto");
			goto cleanup;
		}
		sent_total += (unsigned long long)size;
		/* pace so the receiver never drops on a full buffer */
		if (i % 64 == 63)
			usleep(1000);
	}
	rc = 0;
cleanup:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *bind_addr = NULL;
	int rc;

	if (argc < 2)
		goto usage;
	const char *cmd = argv[1];

	argv++;
	argc--;
	if (argc >= 3 && strcmp(argv[1], "-b") == 0) {
		bind_addr = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (strcmp(cmd, "burn") == 0 && argc == 2)
		rc = burn(strtod(argv[1], NULL));
	else if (strcmp(cmd, "tcp-server") == 0 && argc == 5)
		rc = tcp_server(argv[1], (int)num(argv[2], "port"), num(argv[3], "NCONN"),
				num(argv[4], "RESP_BYTES"));
	else if (strcmp(cmd, "tcp-client") == 0 && argc == 5)
		rc = tcp_client(bind_addr, argv[1], (int)num(argv[2], "port"),
				num(argv[3], "NCONN"), num(argv[4], "REQ_BYTES"));
	else if (strcmp(cmd, "udp-server") == 0 && argc == 4)
		rc = udp_server(argv[1], (int)num(argv[2], "port"), num(argv[3], "NDGRAM"));
	else if (strcmp(cmd, "udp-client") == 0 && argc == 5)
		rc = udp_client(bind_addr, argv[1], (int)num(argv[2], "port"),
				num(argv[3], "NDGRAM"), num(argv[4], "SIZE"));
	else
		goto usage;
	printf("conns %llu sent %llu recv %llu\n", conns_total, sent_total, recv_total);
	return rc;
usage:
	fprintf(stderr, "usage: tenant_load burn SECONDS | tcp-server ADDR PORT NCONN RESP |\n"
		"  tcp-client [-b BIND] ADDR PORT NCONN REQ | udp-server ADDR PORT NDGRAM |\n"
		"  udp-client [-b BIND] ADDR PORT NDGRAM SIZE\n");
	return 2;
}
