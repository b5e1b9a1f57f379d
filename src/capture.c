/*
 * capture.c - libpcap behind a small interface.
 */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct capture {
	pcap_t *p;
	int live;
	capture_fn fn;
	void *arg;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;

	c->fn(c->arg, ts, bytes, h->caplen, h->len);
}

static int set_filter(struct capture *c, const char *expr, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (pcap_compile(c->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "-f: %s", pcap_geterr(c->p));
		return -1;
	}
	int rc = pcap_setfilter(c->p, &prog);
	pcap_freecode(&prog);
	if (rc < 0) {
		snprintf(err, errlen, "-f: %s", pcap_geterr(c->p));
		return -1;
	}
	return 0;
}

struct capture *capture_open(const struct capture_opts *o, char *err, size_t errlen,
			     int *bad_filter)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = calloc(1, sizeof(*c));
	int snap = o->snaplen > 0 ? o->snaplen : 262144;

	*bad_filter = 0;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (o->file) {
		FILE *f = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "rb");
		if (!f) {
			snprintf(err, errlen, "%s: %s", o->file, strerror(errno));
			goto fail;
		}
		/*
		 * libpcap reads a file with two freads per packet.  Taking the
		 * stream's lock for each was a fifth of a bare read loop's time
		 * (we are its only user), and a bigger buffer means fewer reads;
		 * not too big, or each read stalls the reader thread for long.
		 */
		setvbuf(f, NULL, _IOFBF, 1 << 17);
		__fsetlocking(f, FSETLOCKING_BYCALLER);
		/* Microsecond stamps whatever the file's resolution (pcapng may be ns). */
		c->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
		if (!c->p) {
			if (f != stdin)
				fclose(f);
			snprintf(err, errlen, "%s: %s", o->file, ebuf);
			goto fail;
		}
	} else {
		c->live = 1;
		c->p = pcap_create(o->iface, ebuf);
		if (!c->p) {
			snprintf(err, errlen, "-i %s: %s", o->iface, ebuf);
			goto fail;
		}
		pcap_set_snaplen(c->p, snap);
		pcap_set_timeout(c->p, 100);
		/* A bigger buffer than the 2 MiB default rides out bursts. */
		pcap_set_buffer_size(c->p, 16 << 20);
		if (o->immediate)
			pcap_set_immediate_mode(c->p, 1);
		int rc = pcap_activate(c->p);
		if (rc < 0) {
			const char *why = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
					  : rc == PCAP_ERROR_PERM_DENIED
						  ? "permission denied (capture needs root or CAP_NET_RAW)"
						  : pcap_geterr(c->p);
			snprintf(err, errlen, "-i %s: %s", o->iface, why);
			goto fail;
		}
		/*
		 * The caller polls the descriptor itself; in immediate mode a
		 * blocking read would wait for a packet however long it takes.
		 */
		if (pcap_setnonblock(c->p, 1, ebuf) < 0) {
			snprintf(err, errlen, "-i %s: %s", o->iface, ebuf);
			goto fail;
		}
	}
	*bad_filter = 0;
	if (o->filter && *o->filter && set_filter(c, o->filter, err, errlen) < 0) {
		*bad_filter = 1;
		goto fail;
	}
	return c;
fail:
	if (c->p)
		pcap_close(c->p);
	free(c);
	return NULL;
}

int capture_linktype(const struct capture *c)
{
	return pcap_datalink(c->p);
}

const char *capture_linktype_name(const struct capture *c)
{
	const char *n = pcap_datalink_val_to_name(pcap_datalink(c->p));
	return n ? n : "unknown";
}

int capture_is_live(const struct capture *c)
{
	return c->live;
}

int capture_fd(const struct capture *c)
{
	return c->live ? pcap_get_selectable_fd(c->p) : -1;
}

int capture_dispatch(struct capture *c, int max, capture_fn fn, void *arg, char *err,
		     size_t errlen)
{
	int n;

	c->fn = fn;
	c->arg = arg;
	n = pcap_dispatch(c->p, max <= 0 ? -1 : max, on_packet, (u_char *)c);
	if (n == PCAP_ERROR_BREAK)
		return CAPTURE_BROKEN;
	if (n < 0) {
		snprintf(err, errlen, "%s", pcap_geterr(c->p));
		return -1;
	}
	return n;
}

int capture_stats(struct capture *c, struct capture_stats *st)
{
	struct pcap_stat ps;

	memset(st, 0, sizeof(*st));
	if (!c->live || pcap_stats(c->p, &ps) < 0)
		return -1;
	st->received = ps.ps_recv;
	st->dropped = ps.ps_drop;
	st->ifdropped = ps.ps_ifdrop;
	st->valid = 1;
	return 0;
}

int capture_is_regular_file(const struct capture *c)
{
	struct stat st;
	FILE *f = c->live ? NULL : pcap_file(c->p);

	return f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
}

void capture_break(struct capture *c)
{
	pcap_breakloop(c->p);
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	pcap_close(c->p);
	free(c);
}
