/*
 * cmd_export_http.c - `tcpstate export`'s HTTP side: the --listen address
 * and socket, the libmicrohttpd server (its threads, limits and answers),
 * and the hand-over of collections between the server's threads and the
 * main thread (cmd_export_http.h says how).
 *
 * libmicrohttpd rather than an HTTP server of our own: it already keeps
 * connections and their memory bounded, drops idle and slow clients, and
 * speaks HTTP/1.1 with keep-alive as Prometheus expects (doc/architecture.md).
 */
#define _GNU_SOURCE
#include "cmd_export_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

/*
 * The server's bounds.  Connections: far more than scrapers will ever
 * open, so that a few hundred idle or hostile ones cannot lock a scrape
 * out (lowered when the descriptor limit cannot be raised so far).
 * Memory: a connection's pool holds its request's headers (a scraper
 * sends a few hundred bytes) and the reply's; the body is our shared text,
 * outside it, so 8 KiB bounds a slow client's growing request.  Idle: a
 * connection quiet this long is closed (Prometheus scrapes every 15 s to
 * 1 min and reconnects when it must).  Threads: a scrape waiting for the
 * collection holds its thread, so a second scraper is served by another.
 */
#define EXPORT_CONN_LIMIT 2048
#define EXPORT_CONN_MIN 1000
#define EXPORT_CONN_MEMORY 8192
#define EXPORT_IDLE_S 30
#define EXPORT_THREADS 4
/* A scrape waits this long for its collection before it gives up (503). */
#define EXPORT_WAIT_S 60

/* One collection's text in one format, shared by the replies that send it. */
struct text {
	struct export_http *h;
	unsigned refs; /* under h->mu: h->out's reference and each reply's */
	uint64_t gen;  /* the collection it came from */
	size_t len;
	char *data;
};

struct export_http {
	struct MHD_Daemon *d;
	int wake_fd;
	pthread_mutex_t mu;
	pthread_cond_t done; /* a collection finished, or the server stops */
	/* Collections by number: asked by a scrape, begun by the main thread, finished. */
	uint64_t asked, started, finished;
	unsigned want_next;  /* formats the scrapes waiting for the next collection want */
	unsigned want_now;   /* ...and those waiting for the one running */
	int rendering;	     /* want_now was read: the running one's formats are fixed */
	struct text *out[2]; /* the newest text of each format */
	int stopping;
};

/* ---- the address ------------------------------------------------------- */

static int parse_port(const char *s, in_port_t *port)
{
	long v;

	if (parse_long(s, 1, 65535, &v) < 0)
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

int export_addr_parse(const char *spec, struct export_addr *a, char *err, size_t errlen)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port;

	memset(a, 0, sizeof(*a));
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		port = end + 2;
		v6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
			goto bad_addr;
		a->len = sizeof(*v6);
		if (parse_port(port, &v6->sin6_port) < 0)
			goto bad_port;
		return 0;
	}
	colon = strrchr(spec, ':');
	if (!colon)
		goto bad;
	port = colon + 1;
	if (colon == spec) { /* ":PORT": every address, both families where there are two */
		a->any = 1;
		v6->sin6_family = AF_INET6;
		v6->sin6_addr = in6addr_any;
		a->len = sizeof(*v6);
		if (parse_port(port, &v6->sin6_port) < 0)
			goto bad_port;
		return 0;
	}
	if (memchr(spec, ':', (size_t)(colon - spec))) {
		snprintf(err, errlen,
			 "--listen: \"%s\": an IPv6 address goes in brackets, as [::1]:9814", spec);
		return -1;
	}
	if ((size_t)(colon - spec) >= sizeof(host))
		goto bad_addr;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	v4->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
		goto bad_addr;
	a->len = sizeof(*v4);
	if (parse_port(port, &v4->sin_port) < 0)
		goto bad_port;
	return 0;
bad:
	snprintf(err, errlen, "--listen: invalid address \"%s\" (ADDR:PORT, [ADDR]:PORT or :PORT)",
		 spec);
	return -1;
bad_addr:
	snprintf(err, errlen, "--listen: \"%s\": not a numeric IP address", spec);
	return -1;
bad_port:
	snprintf(err, errlen, "--listen: \"%s\": invalid port \"%s\" (1 to 65535)", spec, port);
	return -1;
}

static int listen_on(const struct sockaddr *sa, socklen_t len, int v6only)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	/* A restart must not wait for the last run's connections' TIME-WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0) ||
	    bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int export_listen(const struct export_addr *a, const char *spec, char *err, size_t errlen)
{
	int fd = listen_on((const struct sockaddr *)&a->ss, a->len, !a->any);

	if (fd < 0 && a->any && errno == EAFNOSUPPORT) { /* IPv6 is off: IPv4's every address */
		struct sockaddr_in v4 = {.sin_family = AF_INET,
					 .sin_port =
						 ((const struct sockaddr_in6 *)&a->ss)->sin6_port,
					 .sin_addr.s_addr = htonl(INADDR_ANY)};
		fd = listen_on((const struct sockaddr *)&v4, sizeof(v4), 0);
	}
	if (fd < 0)
		snprintf(err, errlen, "--listen %s: %s", spec, strerror(errno));
	return fd;
}

/* ---- texts ------------------------------------------------------------- */

/* Drop a reference, under h->mu; the text to free (outside the lock) when it was the last. */
static struct text *text_unref(struct text *t)
{
	return t && --t->refs == 0 ? t : NULL;
}

static void text_free(struct text *t)
{
	if (t) {
		free(t->data);
		free(t);
	}
}

/* A reply that sent a text is destroyed (on a server thread). */
static void text_release(void *cls)
{
	struct text *t = cls;
	struct export_http *h = t->h;

	pthread_mutex_lock(&h->mu);
	struct text *gone = text_unref(t);
	pthread_mutex_unlock(&h->mu);
	text_free(gone);
}

/* ---- the server threads' side ------------------------------------------ */

static void wake_main(struct export_http *h)
{
	uint64_t one = 1;
	ssize_t w = write(h->wake_fd, &one, sizeof(one));
	(void)w; /* a full eventfd already wakes it */
}

/*
 * Wait for a collection that began no earlier than this call (or the one
 * running, shared), rendered in format f.  The text with a reference
 * taken, or NULL: *status says why (503: stopping or too slow, 500: not
 * rendered).
 */
static struct text *wait_for_text(struct export_http *h, enum metrics_format f, unsigned *status)
{
	struct timespec deadline;
	struct text *t = NULL;
	uint64_t target;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += EXPORT_WAIT_S;
	*status = MHD_HTTP_SERVICE_UNAVAILABLE;
	pthread_mutex_lock(&h->mu);
	if (h->started > h->finished && (!h->rendering || h->want_now & 1u << f)) {
		/* One runs, and will render this format: share it. */
		target = h->started;
		h->want_now |= 1u << f;
	} else {
		if (h->asked == h->started) {
			h->asked++;
			wake_main(h);
		}
		target = h->asked;
		h->want_next |= 1u << f;
	}
	while (!h->stopping) {
		if (h->out[f] && h->out[f]->gen >= target) {
			t = h->out[f];
			t->refs++;
			break;
		}
		if (h->finished >= target) { /* done, and not rendered */
			*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			break;
		}
		if (pthread_cond_timedwait(&h->done, &h->mu, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&h->mu);
	return t;
}

/* A fixed reply; extra_name/extra_value: one more header, or NULL. */
static enum MHD_Result reply_fixed(struct MHD_Connection *c, unsigned status, const char *type,
				   const char *body, const char *extra_name,
				   const char *extra_value)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (extra_name)
		MHD_add_response_header(r, extra_name, extra_value);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_metrics(struct export_http *h, struct MHD_Connection *c)
{
	const char *accept =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	enum metrics_format f = metrics_format_accept(accept);
	unsigned status;
	struct text *t = wait_for_text(h, f, &status);

	if (!t)
		return reply_fixed(
			c, status, "text/plain; charset=utf-8",
			status == MHD_HTTP_INTERNAL_SERVER_ERROR
				? "the collection could not be rendered (out of memory)\n"
				: "no collection: the exporter is stopping or too slow\n",
			NULL, NULL);
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
		t->len, t->data, text_release, t);
	if (!r) {
		text_release(t);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, metrics_content_type(f));
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

#define INDEX_PAGE                                                                                 \
	"<!DOCTYPE html>\n<html><head><title>tcpstate export</title></head>\n"                     \
	"<body><h1>tcpstate export</h1>\n<p><a href=\"/metrics\">/metrics</a>: TCP sockets "       \
	"per state, CLOSE-WAIT owners and ages, ephemeral ports per destination, accept "          \
	"queues.</p>\n</body></html>\n"

/*
 * Every request, on a server thread.  libmicrohttpd calls this first with
 * the headers alone, and a response queued then closes the connection
 * (Connection: close): every scrape would open a new one and leave a
 * TIME-WAIT socket in the namespace being counted.  So the first call
 * only marks the request, and the answer is queued on the second (any
 * request body is read and ignored).
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static int seen; /* a marker's address; never written */

	(void)version;
	(void)upload;
	if (!*con_cls) {
		*con_cls = &seen;
		return MHD_YES;
	}
	*upload_size = 0;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_fixed(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
				   "method not allowed: GET or HEAD\n", MHD_HTTP_HEADER_ALLOW,
				   "GET, HEAD");
	if (strcmp(url, "/metrics") == 0)
		return reply_metrics(cls, c);
	if (strcmp(url, "/") == 0)
		return reply_fixed(c, MHD_HTTP_OK, "text/html; charset=utf-8", INDEX_PAGE, NULL,
				   NULL);
	return reply_fixed(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
			   "not found: the metrics are at /metrics\n", NULL, NULL);
}

/* ---- start, the main thread's side, stop -------------------------------- */

/*
 * The connection limit the descriptor limit allows: the soft limit raised
 * to the hard one first (1024 by default, too few for the limit we want).
 */
static unsigned connection_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return EXPORT_CONN_MIN;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Room for the process's own descriptors: namespaces, /proc, the capture. */
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= EXPORT_CONN_LIMIT + 256)
		return EXPORT_CONN_LIMIT;
	return rl.rlim_cur > 256 + 64 ? (unsigned)(rl.rlim_cur - 256) : 64;
}

struct export_http *export_http_start(int fd, int wake_fd, char *err, size_t errlen)
{
	struct export_http *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	if (!h) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->wake_fd = wake_fd;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->done, &ca);
	pthread_condattr_destroy(&ca);
	unsigned limit = connection_limit();
	if (limit < EXPORT_CONN_MIN)
		fprintf(stderr,
			PROGNAME " export: only %u connections at once (raise the limit on open "
				 "files, ulimit -n)\n",
			limit);
	h->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, h,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)EXPORT_THREADS,
		MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)EXPORT_CONN_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)EXPORT_IDLE_S,
		MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot start the HTTP server: %s", strerror(errno));
		close(fd);
		pthread_cond_destroy(&h->done);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return NULL;
	}
	return h;
}

int export_http_begin(struct export_http *h)
{
	int begin;

	pthread_mutex_lock(&h->mu);
	begin = h->asked > h->started;
	if (begin) {
		h->started = h->asked; /* every ask so far is answered by this one */
		h->want_now = h->want_next;
		h->want_next = 0;
		h->rendering = 0;
	}
	pthread_mutex_unlock(&h->mu);
	return begin;
}

unsigned export_http_formats(struct export_http *h)
{
	pthread_mutex_lock(&h->mu);
	unsigned f = h->want_now;
	h->rendering = 1; /* later scrapes wanting another format wait for the next */
	pthread_mutex_unlock(&h->mu);
	return f;
}

void export_http_finish(struct export_http *h, char *text[2], const size_t len[2])
{
	struct text *fresh[2] = {NULL, NULL}, *gone[2] = {NULL, NULL};

	for (int f = 0; f < 2; f++) {
		if (!text[f])
			continue;
		fresh[f] = malloc(sizeof(*fresh[f]));
		if (!fresh[f]) {
			free(text[f]); /* the scrapes that wanted it get a 500 */
			continue;
		}
		*fresh[f] = (struct text){h, 1, 0, len[f], text[f]};
	}
	pthread_mutex_lock(&h->mu);
	for (int f = 0; f < 2; f++) {
		if (!fresh[f])
			continue;
		fresh[f]->gen = h->started;
		gone[f] = text_unref(h->out[f]);
		h->out[f] = fresh[f];
	}
	h->finished = h->started;
	h->want_now = 0;
	pthread_cond_broadcast(&h->done);
	pthread_mutex_unlock(&h->mu);
	text_free(gone[0]);
	text_free(gone[1]);
}

void export_http_stop(struct export_http *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	pthread_cond_broadcast(&h->done);
	pthread_mutex_unlock(&h->mu);
	/* Joins the threads, destroys replies in flight (text_release), closes the socket. */
	MHD_stop_daemon(h->d);
	for (int f = 0; f < 2; f++)
		text_free(text_unref(h->out[f]));
	pthread_cond_destroy(&h->done);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
