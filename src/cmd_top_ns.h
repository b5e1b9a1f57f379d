/*
 * cmd_top_ns.h - `tcpstate top -A`: each refresh finds every network
 * namespace again (nsall.c: namespaces come and go) and dumps each into
 * the one model, telling the model whose sockets follow; and what acts on
 * a row (k) enters the row's namespace.
 */
#ifndef TCPSTATE_CMD_TOP_NS_H
#define TCPSTATE_CMD_TOP_NS_H

#include <stddef.h>

#include "nsall.h"
#include "sockdiag.h"
#include "topmodel.h"
#include "topns.h"

struct cmd_entry;

struct top_allns {
	int on;		    /* -A */
	const char *rootfs; /* --rootfs: where containers are named from (NULL: /) */
	const char **pats;  /* --ns PATTERN..., malloc'd (the strings are argv's) */
	size_t npats;
	struct nsall scan; /* the last refresh's namespaces: k enters their descriptors */
};

/* -A's options together: 0, or the exit status of a usage error (printed). */
int top_ns_check(const struct cmd_entry *cmd, const struct top_allns *a, const char *netns);
/*
 * One refresh's dump of every namespace --ns picks, with req (its filter,
 * want_info) and fn(arg) for each socket, between topmodel_begin and
 * topmodel_end.  A namespace that cannot be entered, or has gone, is
 * skipped quietly.  0, or -1 with a message in err: the
 * namespace list cannot be read, out of memory, or top's own namespace
 * failed to dump.
 */
int top_ns_dump(struct top_allns *a, struct topmodel *m, struct sockdiag_req *req, sockdiag_fn fn,
		void *arg, char *err, size_t errlen);
/* Close row r's socket in its namespace (sockdiag_destroy): 0, or < 0 with err. */
int top_ns_destroy(const struct top_allns *a, const struct topmodel *m, const struct top_row *r,
		   char *err, size_t errlen);
void top_ns_free(struct top_allns *a);

#endif
