/*
 * cmd_export_http.h - `tcpstate export`'s HTTP side (cmd_export_http.c):
 * the --listen address, its socket, and the libmicrohttpd server that
 * answers /metrics with what the main thread collects.
 *
 * Threads: the server's threads never touch the collector.  A scrape asks
 * the main thread for a collection (export_http_begin sees the ask, via
 * wake_fd) and waits on a condition variable for the text the main thread
 * renders (export_http_finish).  Scrapes that arrive while a collection
 * runs share it.
 */
#ifndef TCPSTATE_CMD_EXPORT_HTTP_H
#define TCPSTATE_CMD_EXPORT_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "metrics.h"

#define EXPORT_LISTEN_DEFAULT "127.0.0.1:9814"

/* A --listen address: "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (every address). */
struct export_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int any; /* ":PORT": [::] taking IPv4 too, or 0.0.0.0 where IPv6 is off */
};

/* 0, or -1 with err (a usage error: it names what was wrong). */
int export_addr_parse(const char *spec, struct export_addr *a, char *err, size_t errlen);
/*
 * Bind and listen (before privileges are dropped): the descriptor, or -1
 * with err (the port in use, an address not on this host).
 */
int export_listen(const struct export_addr *a, const char *spec, char *err, size_t errlen);

struct export_http;

/*
 * Serve on the listening socket fd (taken over: closed by
 * export_http_stop).  A scrape's ask is written to wake_fd (an eventfd the
 * main thread polls).  NULL with err.
 */
struct export_http *export_http_start(int fd, int wake_fd, char *err, size_t errlen);
/*
 * The main thread: 1 when a scrape waits for a collection, which starts
 * now (its formats are read by export_http_formats once collected); 0 when
 * none is asked for.
 */
int export_http_begin(struct export_http *h);
/* The formats (1 << enum metrics_format) the waiting scrapes want. */
unsigned export_http_formats(struct export_http *h);
/*
 * The collection begun is done: text[f] (malloc'ed, taken over; NULL when
 * format f was not rendered or rendering failed) goes to the scrapes.
 */
void export_http_finish(struct export_http *h, char *text[2], const size_t len[2]);
/* Stop serving (scrapes still waiting get 503), close, free.  NULL: nothing. */
void export_http_stop(struct export_http *h);

#endif
