/*
 * capture.c - libpcap behind a small interface.
 */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "decode.h"
#include "savefile.h"

struct capture {
	pcap_t *p;
	int live;
	capture_fn fn;
	void *arg;
	/*
	 * A classic pcap file on disk: its records come from savefile.c,
	 * and the filter (if any) is applied here as libpcap would.
	 */
	struct savefile *sf;
	struct bpf_program prog;
	int have_prog;
	volatile sig_atomic_t brk; /* capture_break(), for the savefile reader */
};

/* Microseconds since the epoch from libpcap's (signed) seconds and microseconds. */
static uint64_t stamp_us(int64_t sec, int64_t usec)
{
	return (uint64_t)sec * 1000000u + (uint64_t)usec;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;

	c->fn(c->arg, stamp_us(h->ts.tv_sec, h->ts.tv_usec), bytes, h->caplen, h->len);
}

static int set_filter(struct capture *c, const char *expr, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (pcap_compile(c->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "-f: %s", pcap_geterr(c->p));
		return -1;
	}
	int rc = pcap_setfilter(c->p, &prog);
	if (rc < 0) {
		pcap_freecode(&prog);
		snprintf(err, errlen, "-f: %s", pcap_geterr(c->p));
		return -1;
	}
	c->prog = prog; /* for the savefile reader */
	c->have_prog = 1;
	return 0;
}

/*
 * The link types decode.c knows (wire.c refuses the others before any
 * record is read).  For each of them libpcap's largest captured length is
 * SAVEFILE_MAX_CAPLEN, and it changes no packet byte, except in a
 * byte-swapped file of Linux cooked captures (SLL, SLL2), where it swaps
 * the ID of CAN frames to the host's order: those files stay with it.  A
 * link type added to decode.c must be checked against libpcap's
 * max_snaplen_for_dlt() and swap_pseudo_headers() first.
 */
static int plain_linktype(int dlt, int swapped)
{
	if (!decode_linktype_supported(dlt))
		return 0;
	return !(swapped && (dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2));
}

/*
 * Hand a regular file's records to savefile.c.  start is where the stream
 * stood before libpcap opened it: a classic file's header is the 24 bytes
 * libpcap then read, and a pcapng file (whose first blocks are longer)
 * can never look like one.  Not for standard input: reading with pread()
 * would leave its offset where the header ended, and a command after
 * tcpstate that reads on from the same descriptor would read it again.
 */
static void use_savefile(struct capture *c, FILE *f, off_t start)
{
	struct stat st;
	off_t at = ftello(f);

	if (f == stdin || start < 0 || at != start + 24 || fstat(fileno(f), &st) < 0 ||
	    !S_ISREG(st.st_mode) || !plain_linktype(pcap_datalink(c->p), pcap_is_swapped(c->p)) ||
	    pcap_snapshot(c->p) <= 0)
		return;
	c->sf = savefile_open(fileno(f), (uint64_t)start, (uint32_t)pcap_snapshot(c->p));
}

/* capture_dispatch() for the savefile reader: pcap_offline_read()'s loop. */
static int dispatch_savefile(struct capture *c, int max, char *err, size_t errlen)
{
	int n = 0;

	for (;;) {
		/* A break before any packet is reported; after some, at the next call. */
		if (c->brk) {
			if (n == 0) {
				c->brk = 0;
				return CAPTURE_BROKEN;
			}
			return n;
		}
		struct savefile_rec r;
		int rc = savefile_next(c->sf, &r, err, errlen);
		if (rc < 0)
			return -1; /* even after packets, as libpcap */
		if (rc == 0)
			return n; /* the end: 0 if nothing came first */
		if (c->have_prog) {
			struct pcap_pkthdr h = {.caplen = r.caplen, .len = r.len};
			if (!pcap_offline_filter(&c->prog, &h, r.data))
				continue;
		}
		c->fn(c->arg, stamp_us(r.sec, r.usec), r.data, r.caplen, r.len);
		if (++n >= max && max > 0)
			return n;
	}
}

struct capture *capture_open(const struct capture_opts *o, char *err, size_t errlen,
			     int *bad_filter)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = calloc(1, sizeof(*c));
	int snap = o->snaplen > 0 ? o->snaplen : 262144;
	off_t start = -1; /* a file's offset before libpcap read its header */

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
		start = ftello(f);
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
	if (!c->live)
		use_savefile(c, pcap_file(c->p), start);
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
	if (c->sf)
		return dispatch_savefile(c, max, err, errlen);
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

const char *capture_reader(const struct capture *c)
{
	return c->sf ? "savefile" : "libpcap";
}

void capture_break(struct capture *c)
{
	c->brk = 1;
	pcap_breakloop(c->p);
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	savefile_close(c->sf);
	if (c->have_prog)
		pcap_freecode(&c->prog);
	pcap_close(c->p);
	free(c);
}
