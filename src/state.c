/*
 * state.c - names and groups of TCP states.
 */
#include "state.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

static const char *const display[TS_MAX] = {
	[TS_NONE] = "NONE",
	[TS_ESTABLISHED] = "ESTABLISHED",
	[TS_SYN_SENT] = "SYN-SENT",
	[TS_SYN_RECV] = "SYN-RECEIVED",
	[TS_FIN_WAIT1] = "FIN-WAIT-1",
	[TS_FIN_WAIT2] = "FIN-WAIT-2",
	[TS_TIME_WAIT] = "TIME-WAIT",
	[TS_CLOSE] = "CLOSED",
	[TS_CLOSE_WAIT] = "CLOSE-WAIT",
	[TS_LAST_ACK] = "LAST-ACK",
	[TS_LISTEN] = "LISTEN",
	[TS_CLOSING] = "CLOSING",
	[TS_NEW_SYN_RECV] = "SYN-RECEIVED",
};

static const char *const shortname[TS_MAX] = {
	[TS_NONE] = "none",
	[TS_ESTABLISHED] = "estab",
	[TS_SYN_SENT] = "syn-sent",
	[TS_SYN_RECV] = "syn-recv",
	[TS_FIN_WAIT1] = "fin-wait-1",
	[TS_FIN_WAIT2] = "fin-wait-2",
	[TS_TIME_WAIT] = "time-wait",
	[TS_CLOSE] = "closed",
	[TS_CLOSE_WAIT] = "close-wait",
	[TS_LAST_ACK] = "last-ack",
	[TS_LISTEN] = "listen",
	[TS_CLOSING] = "closing",
	[TS_NEW_SYN_RECV] = "syn-recv",
};

/* node_exporter's tcpstat collector's spellings: dashboards and rules use them. */
static const char *const metricname[TS_MAX] = {
	[TS_ESTABLISHED] = "established",
	[TS_SYN_SENT] = "syn_sent",
	[TS_SYN_RECV] = "syn_recv",
	[TS_FIN_WAIT1] = "fin_wait1",
	[TS_FIN_WAIT2] = "fin_wait2",
	[TS_TIME_WAIT] = "time_wait",
	[TS_CLOSE] = "close",
	[TS_CLOSE_WAIT] = "close_wait",
	[TS_LAST_ACK] = "last_ack",
	[TS_LISTEN] = "listen",
	[TS_CLOSING] = "closing",
	[TS_NEW_SYN_RECV] = "syn_recv",
};

const char *state_metric_name(int state)
{
	if (state <= TS_NONE || state >= TS_MAX)
		return NULL;
	return metricname[state];
}

const char *state_name(int state)
{
	if (state <= TS_NONE || state >= TS_MAX)
		return "UNKNOWN";
	return display[state];
}

const char *state_short(int state)
{
	if (state <= TS_NONE || state >= TS_MAX)
		return "unknown";
	return shortname[state];
}

/* SYN-RECEIVED is two kernel states: full sockets and request sockets. */
#define SM_SYNRECV (SM(TS_SYN_RECV) | SM(TS_NEW_SYN_RECV))
#define SM_CONNECTED (SM_ALL & ~(SM(TS_LISTEN) | SM(TS_CLOSE)))
#define SM_SYNCHRONIZED (SM_CONNECTED & ~SM(TS_SYN_SENT))
#define SM_BUCKET (SM_SYNRECV | SM(TS_TIME_WAIT))
#define SM_BIG (SM_ALL & ~SM_BUCKET)

/*
 * Words are compared after folding case and '_' to '-', so each spelling is
 * listed once.  The forms come from RFC 9293, ss(8) and netstat(8).
 */
static const struct {
	const char *word;
	state_mask mask;
} names[] = {
	{"established", SM(TS_ESTABLISHED)},
	{"estab", SM(TS_ESTABLISHED)},
	{"est", SM(TS_ESTABLISHED)},
	{"syn-sent", SM(TS_SYN_SENT)},
	{"synsent", SM(TS_SYN_SENT)},
	{"syn-received", SM_SYNRECV},
	{"syn-recv", SM_SYNRECV},
	{"synrecv", SM_SYNRECV},
	{"syn-rcvd", SM_SYNRECV},
	{"fin-wait-1", SM(TS_FIN_WAIT1)},
	{"fin-wait1", SM(TS_FIN_WAIT1)},
	{"finwait1", SM(TS_FIN_WAIT1)},
	{"fin-wait-2", SM(TS_FIN_WAIT2)},
	{"fin-wait2", SM(TS_FIN_WAIT2)},
	{"finwait2", SM(TS_FIN_WAIT2)},
	{"time-wait", SM(TS_TIME_WAIT)},
	{"timewait", SM(TS_TIME_WAIT)},
	{"tw", SM(TS_TIME_WAIT)},
	{"closed", SM(TS_CLOSE)},
	{"close", SM(TS_CLOSE)},
	{"unconn", SM(TS_CLOSE)},
	{"close-wait", SM(TS_CLOSE_WAIT)},
	{"closewait", SM(TS_CLOSE_WAIT)},
	{"cw", SM(TS_CLOSE_WAIT)},
	{"last-ack", SM(TS_LAST_ACK)},
	{"lastack", SM(TS_LAST_ACK)},
	{"listen", SM(TS_LISTEN)},
	{"listening", SM(TS_LISTEN)},
	{"closing", SM(TS_CLOSING)},
	{"all", SM_ALL},
	{"connected", SM_CONNECTED},
	{"synchronized", SM_SYNCHRONIZED},
	{"bucket", SM_BUCKET},
	{"big", SM_BIG},
};

int state_parse(const char *word, state_mask *mask)
{
	char folded[32];
	size_t n = strlen(word);

	if (n == 0 || n >= sizeof(folded))
		return -1;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)word[i];
		folded[i] = c == '_' ? '-' : (char)tolower(c);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(folded, names[i].word) == 0) {
			*mask = names[i].mask;
			return 0;
		}
	}
	return -1;
}

const char *const *state_words(void)
{
	static const char *const words[] = {
		"established", "syn-sent",     "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
		"closed",      "close-wait",   "last-ack", "listening",	 "closing",    "all",
		"connected",   "synchronized", "bucket",   "big",	 NULL};
	return words;
}

state_mask state_default_mask(void)
{
	return SM_CONNECTED & ~SM_BUCKET;
}
