/*
 * mksubnet - K established TCP pairs in a /24 of their own, for the
 * prefix query of bench/list's filter section.
 *
 * bench/mksockets puts every client in 127.1.0.0/24 (127.1.0.1 .. .5 at
 * 500k sockets), so no /24 of its table is selective.  This helper adds,
 * beside it in the same namespace, K pairs whose clients are
 * 127.3.0.1:4000+i and whose server is one listener on 127.4.0.1:3000:
 * `dst 127.3.0.0/24` then matches exactly the K server-side rows, and
 * `src 127.3.0.0/24` exactly the K client-side rows.  Ports 3000 and
 * 4000..8999 are outside what mksockets uses (listeners from 2000, clients
 * from 10000), so port queries on its table do not match these.
 *
 * usage: mksubnet K         (K <= 5000)
 *
 * Prints "ready M" (M = sockets held: 2K + 1) on stdout, then holds them
 * until stdin reaches EOF.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 5000	  /* client ports 4000 .. 8999 */
#define CLIENT_PORT0 4000 /* below mksockets' 10000.. */
#define SERVER_PORT 3000  /* above mksockets' 2000 + 4 x workers */
#define ACCEPT_TIMEOUT_MS 20000

static void die(const char *what)
{
	fprintf(stderr, "mksubnet: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in v4(const char *addr, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die("inet_pton");
	return sa;
}

/* A non-blocking TCP socket bound to sa (SO_REUSEADDR: a rerun may find
 * TIME-WAIT leftovers on these addresses). */
static int bound(struct sockaddr_in sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)) < 0)
		die("SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	return fd;
}

/* The listener, with a backlog that holds a whole batch of connects. */
static int listener(void)
{
	int fd = bound(v4("127.4.0.1", SERVER_PORT));

	if (listen(fd, 65535) < 0)
		die("listen");
	return fd;
}

static void client(int i)
{
	struct sockaddr_in dst = v4("127.4.0.1", SERVER_PORT);
	int fd = bound(v4("127.3.0.1", CLIENT_PORT0 + i));

	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)
		die("connect");
}

/* Accept until n connections are in; the fds are simply kept open. */
static void accept_n(int lfd, int n)
{
	struct pollfd pfd = {.fd = lfd, .events = POLLIN};
	int got = 0;

	while (got < n) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0) {
			got++;
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			die("accept");
		if (poll(&pfd, 1, ACCEPT_TIMEOUT_MS) == 0) {
			fprintf(stderr, "mksubnet: accept timed out (%d of %d)\n", got, n);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	char *end, buf[256];
	long k;
	int lfd, i, done;

	if (argc != 2)
		goto usage;
	errno = 0;
	k = strtol(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || k < 0 || k > MAX_PAIRS)
		goto usage;
	/* 2K + 1 sockets: take the whole hard limit (the sandbox's is 20000). */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit");
	lfd = listener();
	/* Batches of 1024, each accepted before the next (backlog <= somaxconn). */
	for (done = 0; done < k; done += 1024) {
		int b = (int)(k - done < 1024 ? k - done : 1024);

		for (i = 0; i < b; i++)
			client(done + i);
		accept_n(lfd, b);
	}
	printf("ready %ld\n", 2 * k + 1);
	fflush(stdout);
	for (;;) {
		ssize_t r = read(0, buf, sizeof(buf));

		if (r == 0 || (r < 0 && errno != EINTR))
			return 0;
	}

usage:
	fprintf(stderr, "usage: mksubnet K    (0 <= K <= %d)\n", MAX_PAIRS);
	return 2;
}
