/*
 * Unit tests: capture_dispatch() and capture_break() on a classic pcap
 * file read by savefile.c (a regular file: capture.c hands those to it)
 * and by libpcap (the same bytes through a FIFO, which is not one).  The
 * paced replay of `top -r` holds a packet and breaks the loop; both
 * readers must stop, report and resume alike.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "unit.h"

static void put32(FILE *f, uint32_t v)
{
	fwrite(&v, 4, 1, f); /* host order: the magic says which */
}

/* Five records of 60 bytes, stamped 1.000001 to 5.000005 s. */
static int write_file(const char *path)
{
	FILE *f = fopen(path, "wb");
	uint8_t frame[60] = {0};

	if (!f)
		return -1;
	put32(f, 0xa1b2c3d4);
	put32(f, 2 | 4u << 16);
	put32(f, 0);
	put32(f, 0);
	put32(f, 65535);
	put32(f, 1);
	for (uint32_t i = 1; i <= 5; i++) {
		put32(f, i);
		put32(f, i);
		put32(f, sizeof(frame));
		put32(f, sizeof(frame));
		fwrite(frame, sizeof(frame), 1, f);
	}
	return fclose(f);
}

struct seen {
	struct capture *c;
	int n, break_at;
	uint64_t last_ts;
};

static void on_pkt(void *arg, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
		   size_t wirelen)
{
	struct seen *s = arg;

	(void)data;
	(void)dlt;
	s->n++;
	s->last_ts = ts;
	if (caplen != 60 || wirelen != 60)
		s->n += 1000;
	if (s->n == s->break_at)
		capture_break(s->c);
}

/*
 * What the dispatch calls return, in order, as text, after whether the
 * source is a regular file (which reader capture.c chose follows from it).
 */
static void script(const char *path, char *out, size_t len)
{
	struct capture_opts o = {NULL, path, NULL, 0, 0};
	char err[256];
	int bad;
	struct capture *c = capture_open(&o, err, sizeof(err), &bad);

	if (!c) {
		snprintf(out, len, "open: %.200s", err);
		return;
	}
	size_t k = (size_t)snprintf(out, len, "%s: ", capture_is_regular_file(c) ? "file" : "pipe");
	struct seen s = {c, 0, 2, 0};
	int rcs[5];
	rcs[0] = capture_dispatch(c, 0, on_pkt, &s, err, sizeof(err)); /* breaks after 2 */
	rcs[1] = capture_dispatch(c, 0, on_pkt, &s, err, sizeof(err)); /* the break: none */
	rcs[2] = capture_dispatch(c, 1, on_pkt, &s, err, sizeof(err)); /* one */
	rcs[3] = capture_dispatch(c, 0, on_pkt, &s, err, sizeof(err)); /* the rest (two) */
	rcs[4] = capture_dispatch(c, 0, on_pkt, &s, err, sizeof(err)); /* the end */
	for (int i = 0; i < 5; i++)
		k += (size_t)snprintf(out + k, len - k, "%d,", rcs[i]);
	snprintf(out + k, len - k, "seen %d, last %llu", s.n, (unsigned long long)s.last_ts);
	capture_close(c);
}

static void break_and_resume(void)
{
	char dir[] = "/tmp/tcpstate-unit-capture.XXXXXX", file[64], fifo[64];
	char disk[256] = "", piped[256] = "";

	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/t.pcap", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(write_file(file) == 0);
	script(file, disk, sizeof(disk));
	CHECK_STR(disk, "file: 2,-2,1,2,0,seen 5, last 5000005");

	/* The same bytes through a FIFO: libpcap reads them. */
	CHECK(mkfifo(fifo, 0600) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		FILE *in = fopen(file, "rb"), *out = fopen(fifo, "wb");
		char buf[4096];
		size_t n;
		while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		if (out)
			fclose(out); /* (_exit() would not flush it) */
		_exit(0);
	}
	script(fifo, piped, sizeof(piped));
	waitpid(pid, NULL, 0);
	CHECK(strncmp(piped, "pipe: ", 6) == 0);
	CHECK_STR(piped + (strncmp(piped, "pipe: ", 6) == 0 ? 6 : 0), disk + 6);
	unlink(file);
	unlink(fifo);
	rmdir(dir);
}

const struct unit_test capture_tests[] = {
	{"capture: a break stops both readers alike, and reading resumes", break_and_resume},
	{NULL, NULL},
};
