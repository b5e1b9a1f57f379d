/*
 * filter.h - the ss filter language, the subset people type every day:
 *
 *   filter  := { ("state" | "exclude") STATE } [["and"] expr]   (ss's leading words)
 *   expr    := factor { [("and" | "&" | "&&") | ("or" | "|" | "||")] factor }
 *              (one precedence, left to right, as in ss; side by side = and)
 *   factor  := ("not" | "!") factor | "(" expr ")" | pred
 *   pred    := "state" STATE | "exclude" STATE
 *            | ("sport" | "dport") [OP] PORT
 *            | ("src" | "dst") ADDR[/PREFIX][:PORT]
 *            | "dev" [EQOP] (NAME | INDEX | "if"INDEX)     (INDEX 0: bound to none)
 *            | "cgroup" [EQOP] PATH              (under the cgroup2 mount; "/" optional)
 *            | "fwmark" [EQOP] MARK["/"MASK]     ((mark & MASK) == MARK; MASK 0xffffffff;
 *                                               numbers decimal or 0x hex, 32 bits)
 *   OP      := = | == | != | < | <= | > | >= | eq | neq | ne | lt | le | leq | gt | ge | geq
 *   EQOP    := = | == | eq | != | ne | neq       (the last three: "not" over the test)
 *
 * A filter is parsed once and then matched against each socket.  It also
 * says which states could possibly match, so the kernel can be asked for
 * those alone (the dump request's state mask).  Device names and cgroup
 * paths are resolved while parsing, in the network namespace the process
 * is in then: parse after entering the one to be listed.
 */
#ifndef TCPSTATE_FILTER_H
#define TCPSTATE_FILTER_H

#include <stddef.h>

#include "sockrec.h"
#include "state.h"

struct filter;

/*
 * Parse the words of a filter (they are joined with spaces, so "dport = :80"
 * may come as one word or three).  Returns NULL with a one-line message in
 * err naming the token it could not read.
 */
struct filter *filter_parse(int argc, char *const argv[], char *err, size_t errlen);
void filter_free(struct filter *f);

int filter_match(const struct filter *f, const struct sock_rec *rec);

/* The states for which the filter can be true. */
state_mask filter_states(const struct filter *f);
/* 1 if the filter names a state ("state" or "exclude"). */
int filter_has_state(const struct filter *f);

/*
 * 1 if the filter tests socket marks ("fwmark").  The kernel reports a
 * socket's mark, and runs a program that tests it, only for a requester
 * with CAP_NET_ADMIN: without it such a filter cannot be evaluated.
 */
int filter_has_mark(const struct filter *f);
/*
 * 1 if a "dev" condition names its device: the name was looked up in the
 * namespace the filter was parsed in, which a dump taken elsewhere
 * (--load-dump) does not share.
 */
int filter_names_device(const struct filter *f);

/* Keywords, for completion. */
const char *const *filter_keywords(void);

#endif
