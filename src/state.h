/*
 * state.h - TCP state names: the one place that knows how a state is
 * spelled for display (RFC 9293), how users may type it (ss, netstat,
 * RFC, any case, '-' or '_'), and which states form ss's groups.
 */
#ifndef TCPSTATE_STATE_H
#define TCPSTATE_STATE_H

#include <stdint.h>

/*
 * The kernel's numbering (include/net/tcp_states.h).  The engine reuses it so
 * that a kernel state and an inferred state compare with ==.
 */
enum tcp_state {
	TS_NONE = 0,
	TS_ESTABLISHED = 1,
	TS_SYN_SENT,
	TS_SYN_RECV,
	TS_FIN_WAIT1,
	TS_FIN_WAIT2,
	TS_TIME_WAIT,
	TS_CLOSE,
	TS_CLOSE_WAIT,
	TS_LAST_ACK,
	TS_LISTEN,
	TS_CLOSING,
	TS_NEW_SYN_RECV, /* kernel-internal request socket, shown as SYN-RECEIVED */
	TS_MAX
};

/* A set of states, bit (1 << state), as in inet_diag_req_v2.idiag_states. */
typedef uint32_t state_mask;

#define SM(s) ((state_mask)1 << (s))
/* Every state a TCP dump can report (bit 0 is unused). */
#define SM_ALL (SM(TS_MAX) - 2)

/* RFC 9293 display name ("SYN-RECEIVED"), or "UNKNOWN". */
const char *state_name(int state);
/* Short lower-case name for narrow columns and ss users ("syn-recv"). */
const char *state_short(int state);

/*
 * node_exporter's spelling, as metric labels carry it ("syn_recv", "close"):
 * request sockets count as syn_recv.  NULL for TS_NONE and out of range.
 */
const char *state_metric_name(int state);

/*
 * Parse a state or group name in any common spelling.  Returns 0 and sets
 * *mask, or -1 if the word is not a state.
 */
int state_parse(const char *word, state_mask *mask);

/* Every name state_parse() accepts, NULL-terminated, for completion. */
const char *const *state_words(void);

/* ss's default set: connected minus TIME-WAIT and SYN-RECEIVED. */
state_mask state_default_mask(void);

#endif
