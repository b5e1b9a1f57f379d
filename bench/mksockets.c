/*
 * mksockets - create many TCP sockets for benchmarks of socket listers.
 *
 * Meant to run inside a throw-away network namespace (see bench/list).
 * Creates listeners on 127.0.0.1 and (N - listeners) / 2 established
 * client/server pairs over loopback, all kept open.  Clients bind
 * explicitly to distinct (127.1.x.y, port) source addresses, so no
 * ephemeral-port search is needed and any N up to millions fits.
 * Connections are made in batches of non-blocking connects followed by an
 * accept loop, so the accept queue never overflows (batch <= default
 * somaxconn).
 *
 * Ownership: all sockets are held by ONE process when RLIMIT_NOFILE can be
 * raised far enough (it first tries to raise it to what N needs, up to
 * fs.nr_open).  Where the hard limit cannot be raised (no
 * CAP_SYS_RESOURCE, e.g. in some sandboxes), the pairs are spread over
 * as few worker processes as the hard limit allows: each worker has its
 * own listener(s) and holds both ends of its own pairs.  The split is
 * reported on stderr.  -1 refuses to split (fails instead).
 *
 * Options:
 *   -l L   listeners per process (default 4); connections spread over them
 *   -b B   connections per batch (default 1024)
 *   -w K   also leave K client sockets in TIME-WAIT (owned by no process;
 *          they last 60 s, capped by net.ipv4.tcp_max_tw_buckets)
 *   -6 M   make M of the pairs over [::1] (at most 55000)
 *   -P M   at most M pairs per process (default: what RLIMIT_NOFILE allows)
 *   -1     all sockets in one process or fail
 *
 * When done it prints "ready N" (N = sockets held open) on stdout, then
 * blocks until stdin reaches EOF, then exits (workers with it).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_PORT 2000 /* listeners: 2000 + w * L + k */
#define PORT_LO 10000	 /* client source ports */
#define PORT_HI 65000	 /* exclusive */
#define PORTS_PER_ADDR (PORT_HI - PORT_LO)
#define MAX_LISTENERS 64
#define ACCEPT_TIMEOUT_MS 20000
#define FD_SLACK 32 /* stdio, pipes, ... */

static int nlisten = 4;
static long batch = 1024;
static long v6pairs;

static void die(const char *what)
{
	fprintf(stderr, "mksockets[%d]: %s: %s\n", (int)getpid(), what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Raise RLIMIT_NOFILE towards need; return the soft limit obtained. */
static unsigned long raise_nofile(unsigned long need)
{
	struct rlimit rl;
	unsigned long max = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");

	if (f) {
		if (fscanf(f, "%lu", &max) != 1)
			max = 1048576;
		fclose(f);
	}
	if (need > max)
		need = max;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	if (rl.rlim_cur >= need)
		return rl.rlim_cur;
	rl.rlim_cur = need;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return need;
	/* Not allowed to raise the hard limit: take all of it. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit(RLIMIT_NOFILE)");
	return rl.rlim_cur;
}

static int mklistener(int family, int port)
{
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket(listener)");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("SO_REUSEADDR");
	if (family == AF_INET) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("bind(listener)");
	} else {
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
					  .sin6_port = htons(port),
					  .sin6_addr = IN6ADDR_LOOPBACK_INIT};

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			die("IPV6_V6ONLY");
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("bind(listener6)");
	}
	/* The kernel caps this at net.core.somaxconn. */
	if (listen(fd, 65535) < 0)
		die("listen");
	return fd;
}

/*
 * Start a non-blocking connect for global pair number i.
 * i < v6pairs: source [::1]:PORT_LO+i, destination [::1]:lport.
 * otherwise, with j = i - v6pairs: source 127.<net>.<a>.<b> where a.b
 * encodes j / PORTS_PER_ADDR + 1, source port PORT_LO + j % PORTS_PER_ADDR,
 * destination 127.0.0.1:lport.
 */
static int start_connect(int net, long i, int lport)
{
	int v6 = i < v6pairs;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		die("socket(client)");
	/* Lets a rerun in the same namespace bind over TIME-WAIT leftovers. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)) < 0)
		die("SO_REUSEADDR");
	if (!v6) {
		long j = i - v6pairs;
		long a = j / PORTS_PER_ADDR + 1;
		struct sockaddr_in src = {.sin_family = AF_INET};
		struct sockaddr_in dst = {.sin_family = AF_INET};

		if (a > 65000) {
			fprintf(stderr, "mksockets: too many pairs\n");
			exit(1);
		}
		src.sin_addr.s_addr = htonl((127u << 24) | ((unsigned)net << 16) |
					    ((unsigned)(a >> 8) << 8) | (unsigned)(a & 0xff));
		src.sin_port = htons(PORT_LO + j % PORTS_PER_ADDR);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			die("bind(client)");
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		dst.sin_port = htons(lport);
		rc = connect(fd, (struct sockaddr *)&dst, sizeof(dst));
	} else {
		int one = 1;
		struct sockaddr_in6 src = {.sin6_family = AF_INET6,
					   .sin6_addr = IN6ADDR_LOOPBACK_INIT};
		struct sockaddr_in6 dst = {.sin6_family = AF_INET6,
					   .sin6_addr = IN6ADDR_LOOPBACK_INIT};

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			die("IPV6_V6ONLY");
		src.sin6_port = htons(PORT_LO + i);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			die("bind(client6)");
		dst.sin6_port = htons(lport);
		rc = connect(fd, (struct sockaddr *)&dst, sizeof(dst));
	}
	if (rc < 0 && errno != EINPROGRESS)
		die("connect");
	return fd;
}

/* Accept exactly n connections from the given listeners. */
static void accept_n(const int *lfds, int nlfd, long n, int *out)
{
	struct pollfd pfd[MAX_LISTENERS + 1];
	long got = 0;
	int k;

	for (k = 0; k < nlfd; k++) {
		pfd[k].fd = lfds[k];
		pfd[k].events = POLLIN;
	}
	while (got < n) {
		int progress = 0;

		for (k = 0; k < nlfd && got < n; k++) {
			for (;;) {
				int fd = accept4(lfds[k], NULL, NULL, SOCK_CLOEXEC);

				if (fd < 0) {
					if (errno == EAGAIN || errno == EWOULDBLOCK)
						break;
					if (errno == EINTR || errno == ECONNABORTED)
						continue;
					die("accept");
				}
				out[got++] = fd;
				progress = 1;
				if (got == n)
					break;
			}
		}
		if (got < n && !progress) {
			int r = poll(pfd, (nfds_t)nlfd, ACCEPT_TIMEOUT_MS);

			if (r < 0 && errno != EINTR)
				die("poll");
			if (r == 0) {
				fprintf(stderr, "mksockets: accept timed out (%ld of %ld)\n", got,
					n);
				exit(1);
			}
		}
	}
}

/*
 * Make pairs with global numbers [first, first + n) towards this process's
 * listeners (v4 ports lport0.., v6 port lport0).  If keep, they stay open;
 * otherwise they are closed client first so the client ends in TIME-WAIT.
 */
static void make_pairs(int net, long first, long n, const int *lfds, int nlfd, int lport0, int keep)
{
	int *cl = malloc(sizeof(int) * (size_t)batch);
	int *sv = malloc(sizeof(int) * (size_t)batch);
	long done = 0;

	if (!cl || !sv)
		die("malloc");
	while (done < n) {
		long b = n - done < batch ? n - done : batch;
		long j;

		for (j = 0; j < b; j++) {
			long i = first + done + j;
			int lport = i < v6pairs ? lport0 : lport0 + (int)(i % nlisten);

			cl[j] = start_connect(net, i, lport);
		}
		accept_n(lfds, nlfd, b, sv);
		if (!keep) {
			/* Active close on the client: it ends in TIME-WAIT. */
			for (j = 0; j < b; j++)
				close(cl[j]);
			for (j = 0; j < b; j++)
				close(sv[j]);
		}
		done += b;
	}
	free(cl);
	free(sv);
}

/* Create this process's listeners and pairs; return sockets held. */
static long work(int w, long first, long n, long tw)
{
	int lfds[MAX_LISTENERS + 1];
	int nlfd = 0, k;
	int lport0 = LISTEN_PORT + w * nlisten;

	for (k = 0; k < nlisten; k++)
		lfds[nlfd++] = mklistener(AF_INET, lport0 + k);
	if (first < v6pairs)
		lfds[nlfd++] = mklistener(AF_INET6, lport0);
	make_pairs(1, first, n, lfds, nlfd, lport0, 1);
	if (tw) {
		long save = v6pairs;

		v6pairs = 0; /* TIME-WAIT ones over IPv4, from 127.2.x.x */
		make_pairs(2, 0, tw, lfds, nlisten, lport0, 0);
		v6pairs = save;
	}
	return nlfd + 2 * n;
}

static long num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || end == s) {
		fprintf(stderr, "mksockets: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static void wait_stdin_eof(void)
{
	char buf[256];

	for (;;) {
		ssize_t r = read(0, buf, sizeof(buf));

		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
}

int main(int argc, char **argv)
{
	long n, pairs, tw = 0, perproc = 0, held = 0, first;
	unsigned long lim;
	int one_proc = 0, opt, nproc, w;
	int ready[2], hold[2];
	pid_t *pids;
	double t0;

	while ((opt = getopt(argc, argv, "l:b:w:6:P:1")) != -1) {
		switch (opt) {
		case 'l':
			nlisten = (int)num(optarg);
			break;
		case 'b':
			batch = num(optarg);
			break;
		case 'w':
			tw = num(optarg);
			break;
		case '6':
			v6pairs = num(optarg);
			break;
		case 'P':
			perproc = num(optarg);
			break;
		case '1':
			one_proc = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc)
		goto usage;
	n = num(argv[optind]);
	if (nlisten < 1 || nlisten > MAX_LISTENERS || batch < 1 || batch > 65536)
		goto usage;
	pairs = n > nlisten ? (n - nlisten) / 2 : 0;
	if (v6pairs > pairs)
		v6pairs = pairs;
	if (v6pairs > PORTS_PER_ADDR) {
		fprintf(stderr, "mksockets: at most %d IPv6 pairs\n", PORTS_PER_ADDR);
		return 2;
	}

	lim = raise_nofile((unsigned long)(2 * pairs + nlisten + 1 + 2 * batch + FD_SLACK));
	{
		/* Pairs one process can hold; the TIME-WAIT batch needs room. */
		long cap = ((long)lim - nlisten - 1 - FD_SLACK) / 2;

		if (tw)
			cap -= batch;
		if (cap < 1) {
			fprintf(stderr, "mksockets: RLIMIT_NOFILE %lu too low\n", lim);
			return 1;
		}
		if (perproc < 1 || perproc > cap)
			perproc = cap;
	}
	nproc = pairs ? (int)((pairs + perproc - 1) / perproc) : 1;
	if (nproc > 1 && one_proc) {
		fprintf(stderr,
			"mksockets: RLIMIT_NOFILE is %lu: %ld pairs do not fit "
			"in one process\n",
			lim, pairs);
		return 1;
	}
	if ((long)nproc * nlisten + LISTEN_PORT >= PORT_LO) {
		fprintf(stderr, "mksockets: too many processes (%d)\n", nproc);
		return 1;
	}
	perproc = (pairs + nproc - 1) / nproc; /* even split */
	t0 = now();

	if (nproc == 1) {
		held = work(0, 0, pairs, tw);
		fprintf(stderr,
			"mksockets: %ld sockets (%ld pairs, %ld over IPv6) in "
			"1 process, + %ld TIME-WAIT, in %.2f s\n",
			held, pairs, v6pairs, tw, now() - t0);
		printf("ready %ld\n", held);
		fflush(stdout);
		wait_stdin_eof();
		return 0;
	}

	/* Several workers: each reports its count on ready, then holds. */
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0)
		die("pipe");
	pids = calloc((size_t)nproc, sizeof(*pids));
	if (!pids)
		die("calloc");
	for (w = 0, first = 0; w < nproc; w++, first += perproc) {
		long cnt = pairs - first < perproc ? pairs - first : perproc;
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			long h;
			char c;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(1);
			close(ready[0]);
			close(hold[1]);
			h = work(w, first, cnt, w == 0 ? tw : 0);
			if (write(ready[1], &h, sizeof(h)) != sizeof(h))
				_exit(1);
			while (read(hold[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		pids[w] = pid;
	}
	close(ready[1]);
	close(hold[0]);
	for (w = 0; w < nproc; w++) {
		long h;
		ssize_t r;

		do
			r = read(ready[0], &h, sizeof(h));
		while (r < 0 && errno == EINTR);
		if (r != sizeof(h)) {
			fprintf(stderr, "mksockets: a worker failed\n");
			for (w = 0; w < nproc; w++)
				kill(pids[w], SIGKILL);
			while (wait(NULL) > 0)
				;
			return 1;
		}
		held += h;
	}
	fprintf(stderr,
		"mksockets: %ld sockets (%ld pairs, %ld over IPv6) in %d "
		"processes (RLIMIT_NOFILE %lu), + %ld TIME-WAIT, in %.2f s\n",
		held, pairs, v6pairs, nproc, lim, tw, now() - t0);
	printf("ready %ld\n", held);
	fflush(stdout);
	wait_stdin_eof();
	close(hold[1]); /* workers see EOF and exit */
	while (wait(NULL) > 0)
		;
	return 0;

usage:
	fprintf(stderr, "usage: mksockets [-l L] [-b BATCH] [-w TIMEWAIT] "
			"[-6 V6PAIRS] [-P PAIRS_PER_PROC] [-1] N\n");
	return 2;
}
