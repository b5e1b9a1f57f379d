/*
 * knobs.h - the kernel settings that bear on TIME-WAIT and ephemeral ports:
 * what each means, what values it takes, and since when it exists; and the
 * knobs people are told to set that are gone or never did what is claimed.
 * Pure data and validation: reading and writing /proc/sys is sysctl.c's.
 */
#ifndef TCPSTATE_KNOBS_H
#define TCPSTATE_KNOBS_H

#include <stddef.h>
#include <stdint.h>

enum knob_type {
	KNOB_INT,	 /* one integer in [min, max] */
	KNOB_PORT_RANGE, /* "LOW HIGH" */
	KNOB_PORT_LIST,	 /* "80,8000-8100" or empty */
	KNOB_MYTH,	 /* gone or misattributed: explain, never write */
};

struct knob {
	const char *name;  /* sysctl name, e.g. net.ipv4.tcp_tw_reuse */
	const char *alias; /* short name, e.g. tw-reuse */
	enum knob_type type;
	long min, max;
	const char *unit;
	const char *def; /* the kernel's default, as text */
	int per_netns;
	const char *since; /* kernel version it appeared (or became per-netns) */
	const char *meaning;
};

/* Every entry, NULL-terminated by name. */
extern const struct knob knob_table[];

/* By full name, name without "net.ipv4.", path form, or alias. */
const struct knob *knob_find(const char *name);
/* The closest known name, for "did you mean" (NULL if nothing is close). */
const char *knob_suggest(const char *name);
/* /proc/sys path of a knob, into buf. */
void knob_path(const struct knob *k, char *buf, size_t len);

/*
 * Check a value.  unpriv_start is ip_unprivileged_port_start (or -1 when
 * unknown).  Returns 0; or -1 with the reason in err.  *warn gets a
 * warning that does not stop the change (or "").
 */
int knob_validate(const struct knob *k, const char *value, long unpriv_start, char *norm,
		  size_t normlen, char *err, size_t errlen, char *warn, size_t warnlen);

/*
 * Whether a value has the form the kernel shows for the knob (a whole
 * number, "LOW HIGH", a list of ports and ranges), whatever its range:
 * revert restores values read from the kernel, which accepts more than
 * tcpstate advises (tcp_fin_timeout=100000, tcp_max_tw_buckets=-1).
 * Returns 0, or -1 with the reason in err.
 */
int knob_check_form(const struct knob *k, const char *value, char *err, size_t errlen);

/*
 * What connect() to a peer that never answers does, by the kernel's rule
 * (net/ipv4/tcp_timer.c, tcp_write_timeout() and tcp_retransmit_timer(),
 * Linux 6.5 and later; earlier kernels are the case linear = 0).  The SYN's
 * timer starts at 1 s (TCP_TIMEOUT_INIT) and keeps that length for the first
 * `linear` retransmissions (net.ipv4.tcp_syn_linear_timeouts), then doubles
 * with each one, up to rto_max_ms (net.ipv4.tcp_rto_max_ms, 120 s before
 * 6.15).  connect() fails at the first expiry where either syn_retries +
 * linear retransmissions have been sent, or the time since the first SYN
 * has reached what syn_retries retransmissions take when every interval
 * doubles (tcp_model_timeout()).  Times are the rule's; the timer wheel
 * fires long timers a little late (up to about 1/8 of their length).
 */
struct syn_schedule {
	unsigned retransmits; /* retransmissions before connect() fails */
	unsigned linear_sent; /* of them, sent 1 s apart */
	uint64_t fail_ms;     /* from the first SYN to the failure */
	uint64_t model_ms;    /* the time limit from syn_retries alone */
	int by_time;	      /* 1 if the time limit, not the count, ended it */
};

/* at (may be NULL) gets the time of each retransmission, the first nat of them. */
void knob_syn_schedule(unsigned syn_retries, unsigned linear, uint64_t rto_max_ms,
		       struct syn_schedule *out, uint64_t *at, size_t nat);

#endif
