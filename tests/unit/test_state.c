/* Unit tests: state names, spellings and groups. */
#include "state.h"
#include "unit.h"

static void parses_every_spelling(void)
{
	static const struct {
		const char *word;
		int state;
	} cases[] = {
		{"established", TS_ESTABLISHED},
		{"ESTABLISHED", TS_ESTABLISHED},
		{"estab", TS_ESTABLISHED},
		{"syn-sent", TS_SYN_SENT},
		{"SYN_SENT", TS_SYN_SENT},
		{"syn-recv", TS_SYN_RECV},
		{"SYN_RECV", TS_SYN_RECV},
		{"syn-received", TS_SYN_RECV},
		{"fin-wait-1", TS_FIN_WAIT1},
		{"FIN_WAIT1", TS_FIN_WAIT1},
		{"fin-wait-2", TS_FIN_WAIT2},
		{"FIN_WAIT_2", TS_FIN_WAIT2},
		{"time-wait", TS_TIME_WAIT},
		{"TIME_WAIT", TS_TIME_WAIT},
		{"tw", TS_TIME_WAIT},
		{"Time-Wait", TS_TIME_WAIT},
		{"close-wait", TS_CLOSE_WAIT},
		{"CLOSE_WAIT", TS_CLOSE_WAIT},
		{"last-ack", TS_LAST_ACK},
		{"LAST_ACK", TS_LAST_ACK},
		{"listen", TS_LISTEN},
		{"listening", TS_LISTEN},
		{"closing", TS_CLOSING},
		{"closed", TS_CLOSE},
		{"CLOSE", TS_CLOSE},
		{"unconn", TS_CLOSE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		state_mask m = 0;
		int rc = state_parse(cases[i].word, &m);
		if (rc != 0 || !(m & SM(cases[i].state)))
			printf("  %s did not parse to state %d\n", cases[i].word, cases[i].state);
		CHECK(rc == 0 && (m & SM(cases[i].state)));
	}
}

static void rejects_non_states(void)
{
	state_mask m = 0;
	CHECK(state_parse("", &m) == -1);
	CHECK(state_parse("establish", &m) == -1);
	CHECK(state_parse("time wait", &m) == -1);
	CHECK(state_parse("fin-wait-3", &m) == -1);
	CHECK(state_parse("a-very-long-word-that-is-longer-than-any-state-name", &m) == -1);
}

static void groups_follow_ss(void)
{
	state_mask m;
	/* ss(8): connected = all but listen and closed. */
	CHECK(state_parse("connected", &m) == 0);
	CHECK(!(m & SM(TS_LISTEN)) && !(m & SM(TS_CLOSE)));
	CHECK((m & SM(TS_SYN_SENT)) && (m & SM(TS_TIME_WAIT)) && (m & SM(TS_CLOSE_WAIT)));
	/* synchronized = connected minus syn-sent. */
	CHECK(state_parse("synchronized", &m) == 0);
	CHECK(!(m & SM(TS_SYN_SENT)) && (m & SM(TS_ESTABLISHED)) && !(m & SM(TS_LISTEN)));
	/* bucket = syn-recv and time-wait; big = all but bucket. */
	CHECK(state_parse("bucket", &m) == 0);
	CHECK(m == (SM(TS_SYN_RECV) | SM(TS_NEW_SYN_RECV) | SM(TS_TIME_WAIT)));
	state_mask big;
	CHECK(state_parse("big", &big) == 0);
	CHECK((big & m) == 0 && (big | m) == SM_ALL);
	/* The default: connected minus time-wait and syn-recv. */
	state_mask d = state_default_mask();
	CHECK((d & SM(TS_ESTABLISHED)) && !(d & SM(TS_TIME_WAIT)) && !(d & SM(TS_SYN_RECV)) &&
	      !(d & SM(TS_LISTEN)) && (d & SM(TS_CLOSE_WAIT)) && (d & SM(TS_SYN_SENT)));
}

static void display_names_are_rfc(void)
{
	CHECK_STR(state_name(TS_SYN_RECV), "SYN-RECEIVED");
	CHECK_STR(state_name(TS_NEW_SYN_RECV), "SYN-RECEIVED");
	CHECK_STR(state_name(TS_FIN_WAIT1), "FIN-WAIT-1");
	CHECK_STR(state_name(TS_CLOSE), "CLOSED");
	CHECK_STR(state_name(0), "UNKNOWN");
	CHECK_STR(state_name(99), "UNKNOWN");
	/* Every display name parses back to its state. */
	for (int s = 1; s < TS_MAX; s++) {
		state_mask m;
		CHECK(state_parse(state_name(s), &m) == 0 && (m & SM(s)));
	}
	for (const char *const *w = state_words(); *w; w++) {
		state_mask m;
		CHECK(state_parse(*w, &m) == 0);
	}
}

const struct unit_test state_tests[] = {
	{"state: every spelling parses", parses_every_spelling},
	{"state: non-states rejected", rejects_non_states},
	{"state: groups as in ss(8)", groups_follow_ss},
	{"state: RFC 9293 display names", display_names_are_rfc},
	{NULL, NULL},
};
