/*
 * churn - a TCP connection churn generator, the load of bench/live.
 *
 * One process holds both ends.  Server threads listen on ADDR:PORT (one
 * SO_REUSEPORT listener each, epoll, non-blocking) and, per connection,
 * read BYTES, echo them back and close, first or after the client.  Client
 * threads connect, send BYTES, read them back and close, at a target rate
 * paced by a token bucket, for SECONDS.  Every close is a normal one (a FIN
 * handshake): the point is the packets and state changes a monitor sees.
 *
 * Who closes first decides where TIME-WAIT lands: on the client (-c client,
 * the default) or on the server (-c server).  At thousands of connections a
 * second the client's ephemeral ports run out unless the namespace allows
 * more of them and reuses TIME-WAIT ports (net.ipv4.ip_local_port_range,
 * net.ipv4.tcp_tw_reuse): bench/live sets both inside its namespace.
 *
 * Parked connections (-P N), made before the churn starts, on PORT + 1, and
 * held until exit: N pairs left ESTABLISHED, and N pairs whose client has
 * sent its FIN (shutdown, so the socket is not orphaned and does not time
 * out) and whose server never closes: N sockets in FIN-WAIT-2 and N in
 * CLOSE-WAIT.
 *
 * Output on stdout: "ready" once the listeners are up and the parked
 * connections made (the churn starts right after); at the end one line
 *   conns=N seconds=S rate=R errors=E
 * where conns counts connections completed (closed by the client) before
 * the stop and rate is conns / seconds.  Errors are counted, the first one
 * named on stderr.  SIGINT or SIGTERM stops the churn early (with -d 0, the
 * only way), with the same report.  Exit: 0, 1 on a runtime error (no
 * listener, no parked connection, not one connection made), 2 on usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256
#define IOBUF 65536
#define BUCKET_NS 10000000LL /* token bucket depth: 10 ms of connections */
#define AHEAD_NS 50000LL     /* sleep only when this far ahead of the schedule */

enum close_first { CLIENT_FIRST, SERVER_FIRST };

/* A socket address of either family, read through the member that fits. */
union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct opts {
	double rate; /* connections per second over all client threads; 0 = flat out */
	int threads;
	int servers;
	size_t bytes;
	double seconds; /* 0 = until a signal */
	enum close_first first;
	long parked;
	union addr addr; /* port included */
	socklen_t addrlen;
	int port;
};

/* What the threads share: the options, and when to stop. */
struct run {
	const struct opts *o;
	int64_t start_ns;
	_Atomic int64_t stop_ns; /* clients stop at this time; moved earlier by a signal */
	atomic_int servers_stop;
	atomic_int servers_up;
};

struct client {
	struct run *run;
	pthread_t tid;
	int64_t interval_ns; /* between this thread's connections; 0 = flat out */
	long conns;
	long errors;
	char first_error[160];
};

struct server {
	struct run *run;
	pthread_t tid;
	char error[160];
};

/* A server's connection, from accept to close. */
enum phase { READING, WRITING, DRAINING };
struct conn {
	int fd;
	enum phase phase;
	int waits_out; /* the echo filled the socket: epoll waits for room */
	size_t done;   /* bytes read, then bytes written */
	struct conn *prev, *next;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: churn [-r RATE] [-t THREADS] [-s SERVERS] [-b BYTES] [-d SECONDS]\n"
		   "             [-a ADDR] [-p PORT] [-c client|server] [-P PARKED]\n"
		   "  -r RATE     connections per second, all client threads together "
		   "(default 0: flat out)\n"
		   "  -t THREADS  client threads (default 1; 0: only listen and park)\n"
		   "  -s SERVERS  server threads (default: as many as client threads, at least 1)\n"
		   "  -b BYTES    bytes the client sends and the server echoes, per connection "
		   "(default 0)\n"
		   "  -d SECONDS  how long to churn (default 10; 0: until SIGINT or SIGTERM)\n"
		   "  -a ADDR     server address, IPv4 or IPv6 (default 127.0.0.1)\n"
		   "  -p PORT     server port (default 5000; parked connections use PORT + 1)\n"
		   "  -c WHO      who closes first: client (TIME-WAIT on the client, default) or "
		   "server\n"
		   "  -P PARKED   hold PARKED pairs ESTABLISHED and PARKED pairs in "
		   "FIN-WAIT-2/CLOSE-WAIT\n");
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

/* A whole number in [lo, hi]. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
	double v;

	if (parse_num(s, (double)lo, (double)hi, &v) < 0 || v != (double)(long)v)
		return -1;
	*out = (long)v;
	return 0;
}

static int parse_addr(struct opts *o, const char *s)
{
	memset(&o->addr, 0, sizeof(o->addr));
	if (inet_pton(AF_INET, s, &o->addr.in.sin_addr) == 1) {
		o->addr.in.sin_family = AF_INET;
		o->addrlen = sizeof(o->addr.in);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &o->addr.in6.sin6_addr) == 1) {
		o->addr.in6.sin6_family = AF_INET6;
		o->addrlen = sizeof(o->addr.in6);
		return 0;
	}
	return -1;
}

/* The server address with another port (the parked connections' listener). */
static union addr with_port(const struct opts *o, int port)
{
	union addr a = o->addr;

	if (a.sa.sa_family == AF_INET)
		a.in.sin_port = htons((uint16_t)port);
	else
		a.in6.sin6_port = htons((uint16_t)port);
	return a;
}

/* Options into o; returns 0, or 2 (usage) after saying why. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	const char *addr = "127.0.0.1";
	long n;
	int c;

	*o = (struct opts){.threads = 1, .servers = 0, .seconds = 10, .port = 5000};
	while ((c = getopt(argc, argv, "r:t:s:b:d:a:p:c:P:h")) != -1) {
		switch (c) {
		case 'r':
			if (parse_num(optarg, 0, 1e9, &o->rate) < 0)
				goto bad;
			break;
		case 't':
		case 's':
			if (parse_int(optarg, c == 't' ? 0 : 1, MAX_THREADS, &n) < 0)
				goto bad;
			*(c == 't' ? &o->threads : &o->servers) = (int)n;
			break;
		case 'b':
			if (parse_int(optarg, 0, 1 << 30, &n) < 0)
				goto bad;
			o->bytes = (size_t)n;
			break;
		case 'd':
			if (parse_num(optarg, 0, 1e7, &o->seconds) < 0)
				goto bad;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'p':
			if (parse_int(optarg, 1, 65534, &n) < 0)
				goto bad;
			o->port = (int)n;
			break;
		case 'c':
			if (strcmp(optarg, "client") && strcmp(optarg, "server"))
				goto bad;
			o->first = strcmp(optarg, "server") ? CLIENT_FIRST : SERVER_FIRST;
			break;
		case 'P':
			if (parse_int(optarg, 0, 1000000, &o->parked) < 0)
				goto bad;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	/* One server thread per client thread: one server for two clients halves the rate. */
	if (!o->servers)
		o->servers = o->threads ? o->threads : 1;
	if (optind < argc) {
		fprintf(stderr, "churn: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (parse_addr(o, addr) < 0) {
		fprintf(stderr, "churn: -a: not an IPv4 or IPv6 address: '%s'\n", addr);
		return 2;
	}
	o->addr = with_port(o, o->port);
	return 0;
bad:
	fprintf(stderr, "churn: -%c: bad value '%s'\n", c, optarg);
	return 2;
}

/* As many descriptors as the hard limit allows: parked pairs take four each. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int listener(const union addr *a, socklen_t len, int reuseport, int flags)
{
	int one = 1;
	int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    bind(fd, &a->sa, len) < 0 || listen(fd, 65535) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- server ---- */

/* One server thread's state: its epoll set and every connection it holds. */
struct srv {
	const struct opts *o;
	int ep;
	char *buf;
	struct conn *head; /* so that the ones still open at the stop are freed */
};

static void conn_close(struct srv *s, struct conn *c)
{
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

static void conn_watch(struct srv *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* After the echo: the server closes now, or waits for the client's FIN. */
static void conn_echoed(struct srv *s, struct conn *c)
{
	if (s->o->first == SERVER_FIRST) {
		conn_close(s, c);
		return;
	}
	c->phase = DRAINING;
	if (c->waits_out)
		conn_watch(s, c, EPOLLIN);
}

/* Write what is left of the echo; returns once done or the socket is full. */
static void conn_write(struct srv *s, struct conn *c)
{
	size_t want = s->o->bytes;

	while (c->done < want) {
		ssize_t w = write(c->fd, s->buf, want - c->done < IOBUF ? want - c->done : IOBUF);

		if (w < 0 && errno == EAGAIN) {
			if (!c->waits_out)
				conn_watch(s, c, EPOLLOUT);
			c->waits_out = 1;
			return;
		}
		if (w < 0) {
			conn_close(s, c);
			return;
		}
		c->done += (size_t)w;
	}
	conn_echoed(s, c);
}

/* Readable: the request (counted), or the client's FIN, or a reset. */
static void conn_read(struct srv *s, struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, s->buf, IOBUF);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(s, c);
			return;
		}
		if (c->phase != READING)
			continue; /* nothing follows the request but the FIN */
		c->done += (size_t)n;
		if (c->done >= s->o->bytes) {
			c->done = 0;
			c->phase = WRITING;
			conn_write(s, c);
			return;
		}
	}
}

static void conn_new(struct srv *s, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct conn *c;

	if (s->o->bytes == 0 && s->o->first == SERVER_FIRST) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->phase = s->o->bytes ? READING : DRAINING;
	ev.data.ptr = c;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->head;
	if (s->head)
		s->head->prev = c;
	s->head = c;
	if (s->o->bytes)
		conn_read(s, c); /* the request may be there already */
}

static void *server_main(void *arg)
{
	struct server *sv = arg;
	struct srv s = {.o = sv->run->o, .buf = malloc(IOBUF), .ep = epoll_create1(EPOLL_CLOEXEC)};
	struct epoll_event ev[256], lev = {.events = EPOLLIN, .data.ptr = NULL};
	int lfd = listener(&s.o->addr, s.o->addrlen, 1, SOCK_NONBLOCK);

	if (!s.buf || lfd < 0 || s.ep < 0 || epoll_ctl(s.ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
		snprintf(sv->error, sizeof(sv->error), "listener: %s", strerror(errno));
		atomic_fetch_add(&sv->run->servers_up, 1);
		if (lfd >= 0)
			close(lfd);
		if (s.ep >= 0)
			close(s.ep);
		free(s.buf);
		return NULL;
	}
	memset(s.buf, 'x', IOBUF);
	atomic_fetch_add(&sv->run->servers_up, 1);
	while (!atomic_load(&sv->run->servers_stop)) {
		int n = epoll_wait(s.ep, ev, 256, 100);

		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			int fd;

			if (!c)
				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
					conn_new(&s, fd);
			else if (c->phase == WRITING)
				conn_write(&s, c);
			else
				conn_read(&s, c);
		}
	}
	while (s.head)
		conn_close(&s, s.head);
	close(lfd);
	close(s.ep);
	free(s.buf);
	return NULL;
}

/* ---- client ---- */

static int full_io(int fd, char *buf, size_t len, int out)
{
	while (len > 0) {
		size_t n = len < IOBUF ? len : IOBUF;
		ssize_t r = out ? write(fd, buf, n) : read(fd, buf, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		len -= (size_t)r;
	}
	return 0;
}

/* One connection: connect, echo, close in the chosen order.  0 or -1 (errno). */
static int one_conn(const struct opts *o, char *buf, const char **what)
{
	int fd = socket(o->addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int e;

	*what = "socket";
	if (fd < 0)
		return -1;
	*what = "connect";
	if (connect(fd, &o->addr.sa, o->addrlen) < 0)
		goto fail;
	*what = "send";
	if (o->bytes && full_io(fd, buf, o->bytes, 1) < 0)
		goto fail;
	*what = "receive";
	if (o->bytes && full_io(fd, buf, o->bytes, 0) < 0)
		goto fail;
	if (o->first == SERVER_FIRST) {
		*what = "wait for the server's FIN";
		if (read(fd, buf, 1) != 0)
			goto fail;
	}
	close(fd);
	return 0;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	const struct opts *o = c->run->o;
	char *buf = malloc(IOBUF);
	int64_t next = c->run->start_ns;

	if (!buf) {
		snprintf(c->first_error, sizeof(c->first_error), "malloc: %s", strerror(errno));
		c->errors++;
		return NULL;
	}
	memset(buf, 'x', IOBUF);
	for (;;) {
		const char *what;
		int64_t now = mono_ns();

		if (now >= atomic_load(&c->run->stop_ns))
			break;
		if (c->interval_ns) {
			/* Behind by more than the bucket holds: the missed tokens are lost. */
			if (next < now - BUCKET_NS)
				next = now - BUCKET_NS;
			if (next > now + AHEAD_NS)
				sleep_until(next);
			next += c->interval_ns;
		}
		if (one_conn(o, buf, &what) < 0) {
			if (!c->errors++)
				snprintf(c->first_error, sizeof(c->first_error), "%s: %s", what,
					 strerror(errno));
			if (errno == EADDRNOTAVAIL) /* out of ports: let TIME-WAIT age */
				sleep_until(mono_ns() + 1000000);
			continue;
		}
		/* Only what completes before the stop counts, as the rate's time ends there. */
		if (mono_ns() < atomic_load(&c->run->stop_ns))
			c->conns++;
	}
	free(buf);
	return NULL;
}

/* ---- parked connections ---- */

/* Connect to lfd's address and accept the other end; 0 or -1 (errno). */
static int pair(const struct opts *o, const union addr *a, int lfd, int fds[2])
{
	fds[0] = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0)
		return -1;
	if (connect(fds[0], &a->sa, o->addrlen) < 0 ||
	    (fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		int e = errno;

		close(fds[0]);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * The parked pairs, held open until exit (the descriptors are not kept:
 * nothing is done with them but hold).  Half-closed pairs: the client's
 * shutdown sends its FIN; the server never reads nor closes.
 */
static int park(const struct opts *o)
{
	union addr a = with_port(o, o->port + 1);
	int lfd, fds[2];

	if (!o->parked)
		return 0;
	lfd = listener(&a, o->addrlen, 0, 0);
	if (lfd < 0) {
		fprintf(stderr, "churn: parked listener on port %d: %s\n", o->port + 1,
			strerror(errno));
		return -1;
	}
	for (long i = 0; i < 2 * o->parked; i++) {
		if (pair(o, &a, lfd, fds) < 0) {
			fprintf(stderr, "churn: parked connection %ld of %ld: %s\n", i + 1,
				2 * o->parked, strerror(errno));
			close(lfd);
			return -1;
		}
		if (i >= o->parked && shutdown(fds[0], SHUT_WR) < 0) {
			fprintf(stderr, "churn: shutdown: %s\n", strerror(errno));
			close(lfd);
			return -1;
		}
	}
	close(lfd);
	return 0;
}

/* ---- main ---- */

/* Wait for the end of the run or a signal; returns when the clients should stop. */
static void wait_for_stop(struct run *run, const sigset_t *sigs)
{
	for (;;) {
		int64_t left = atomic_load(&run->stop_ns) - mono_ns();
		struct timespec ts = {.tv_sec = 1};

		if (left <= 0)
			return;
		if (left < 1000000000LL)
			ts = (struct timespec){.tv_sec = 0, .tv_nsec = left};
		if (sigtimedwait(sigs, NULL, &ts) > 0) {
			atomic_store(&run->stop_ns, mono_ns());
			return;
		}
	}
}

static int start_servers(struct run *run, struct server *sv, int n)
{
	/* SO_REUSEPORT would let the listeners join another process's on the
	   same port: a plain bind first proves the port free. */
	int probe = listener(&run->o->addr, run->o->addrlen, 0, 0);

	if (probe < 0) {
		fprintf(stderr, "churn: port %d: %s\n", run->o->port, strerror(errno));
		return -1;
	}
	close(probe);
	for (int i = 0; i < n; i++) {
		sv[i].run = run;
		if (pthread_create(&sv[i].tid, NULL, server_main, &sv[i])) {
			fprintf(stderr, "churn: cannot start server thread\n");
			exit(1);
		}
	}
	while (atomic_load(&run->servers_up) < n)
		sleep_until(mono_ns() + 1000000);
	for (int i = 0; i < n; i++)
		if (sv[i].error[0]) {
			fprintf(stderr, "churn: server: %s\n", sv[i].error);
			return -1;
		}
	return 0;
}

static void report(const struct run *run, const struct client *cl, int n)
{
	long conns = 0, errors = 0;
	double secs = (double)(atomic_load(&run->stop_ns) - run->start_ns) / 1e9;

	for (int i = 0; i < n; i++) {
		conns += cl[i].conns;
		errors += cl[i].errors;
		if (cl[i].errors)
			fprintf(stderr, "churn: client %d: %ld errors, the first: %s\n", i,
				cl[i].errors, cl[i].first_error);
	}
	printf("conns=%ld seconds=%.3f rate=%.0f errors=%ld\n", conns, secs,
	       secs > 0 ? (double)conns / secs : 0.0, errors);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct client cl[MAX_THREADS];
	static struct server sv[MAX_THREADS];
	struct opts o;
	struct run run = {.o = &o};
	sigset_t sigs;
	long conns = 0;
	int rc = parse_opts(argc, argv, &o);

	if (rc)
		return rc;
	raise_nofile();
	/* Pacing sleeps are tens of microseconds: the default 50 us slack is too coarse. */
	prctl(PR_SET_TIMERSLACK, 1000UL);
	/* The main thread takes the signals (sigtimedwait); every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	atomic_store(&run.stop_ns, INT64_MAX);
	if (start_servers(&run, sv, o.servers) < 0 || park(&o) < 0)
		return 1;
	printf("ready\n");
	fflush(stdout);

	run.start_ns = mono_ns();
	atomic_store(&run.stop_ns,
		     o.seconds > 0 ? run.start_ns + (int64_t)(o.seconds * 1e9) : INT64_MAX);
	for (int i = 0; i < o.threads; i++) {
		cl[i].run = &run;
		cl[i].interval_ns = o.rate > 0 ? (int64_t)(1e9 * o.threads / o.rate) : 0;
		if (pthread_create(&cl[i].tid, NULL, client_main, &cl[i])) {
			fprintf(stderr, "churn: cannot start client thread\n");
			return 1;
		}
	}
	wait_for_stop(&run, &sigs);
	for (int i = 0; i < o.threads; i++) {
		pthread_join(cl[i].tid, NULL);
		conns += cl[i].conns;
	}
	atomic_store(&run.servers_stop, 1);
	for (int i = 0; i < o.servers; i++)
		pthread_join(sv[i].tid, NULL);
	report(&run, cl, o.threads);
	return o.threads && !conns ? 1 : 0;
}
