/*
 * cmd_list_prom.c - `tcpstate list --prom`: one collection of the metrics
 * `tcpstate export` serves (cmd_prom.c makes both), printed to stdout in
 * the Prometheus text format, to see what a scrape would get.  Every
 * socket is counted: list's filter and view options do not apply.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_list_int.h"
#include "cmd_prom.h"
#include "out.h"

#define TOP_K_MAX 1000000

/* The options that choose rows or a view: --prom has neither. */
static int check_opts(const struct cmd_entry *cmd, const struct list_opts *o, int nargs)
{
	if (!o->prom)
		return cmd_usage_error(cmd, "--top-k needs --prom");
	if (nargs > 0)
		return cmd_usage_error(cmd,
				       "--prom takes no filter: the metrics count every socket");
	if (o->wire.file || o->wire_only)
		return cmd_usage_error(cmd, "--prom reads the kernel: -r and the capture options "
					    "cannot be used with it");
	if (o->all || o->listen || o->proc || o->timers || o->info || o->ext || o->family ||
	    !o->header || o->summary || o->fmt != FMT_TABLE || o->save || o->load ||
	    o->no_kfilter || o->debug_filter)
		return cmd_usage_error(cmd,
				       "--prom prints every socket's metrics in one format: "
				       "-a, -l, -p, -o, -i, -e, -4, -6, -H, -s, --json, --csv, "
				       "the dump and the kernel filter options do not apply");
	return cmd_ns_check(cmd, o->all_ns, o->rootfs, o->nns, o->netns);
}

/* One collection as text on stdout. */
static int print_once(const struct cmd_entry *cmd, struct prom_collector *pc)
{
	char err[256], *text = NULL;
	size_t len;
	double secs;
	struct out *out;
	int rc = prom_collect(pc, cmd_wall_us(), &secs, err, sizeof(err));

	if (metrics_render(prom_metrics(pc), METRICS_TEXT, secs, &text, &len) < 0 ||
	    !(out = malloc(sizeof(*out)))) {
		free(text);
		cmd_error(cmd, "out of memory");
		return EXIT_RUNTIME;
	}
	out_init(out, STDOUT_FILENO);
	out_write(out, text, len);
	int status = out_flush(out) < 0 ? cmd_output_failed(cmd, out->err) : EXIT_OK;
	free(out);
	free(text);
	/* What was collected is printed; what was not is said, and the status says so too. */
	if (rc < 0) {
		cmd_error(cmd, "warning: the collection is incomplete: %s", err);
		if (status == EXIT_OK)
			status = EXIT_RUNTIME;
	}
	return status;
}

int list_prom_run(const struct cmd_entry *cmd, const struct list_opts *o, int nargs)
{
	struct prom_source src;
	long k = 0;
	char err[256];
	int rc = check_opts(cmd, o, nargs);

	if (rc)
		return rc;
	if (o->top_k && parse_long(o->top_k, 1, TOP_K_MAX, &k) < 0)
		return cmd_usage_error(cmd, "--top-k: '%s' is not a whole number from 1 to %d",
				       o->top_k, TOP_K_MAX);
	if (o->netns && (rc = cmd_enter_netns(cmd, o->netns)) != 0)
		return rc;
	list_rootfs_check(cmd, o->all_ns ? o->rootfs : NULL);
	/* cmd_prom.h wants the --ns patterns NULL-terminated. */
	const char **pats = calloc(o->nns + 1, sizeof(*pats));
	if (!pats) {
		cmd_error(cmd, "out of memory");
		return EXIT_RUNTIME;
	}
	for (size_t i = 0; i < o->nns; i++)
		pats[i] = o->ns_pats[i];
	memset(&src, 0, sizeof(src));
	src.all_ns = o->all_ns;
	src.pats = pats;
	src.rootfs = o->rootfs;
	src.top_k = (unsigned)k;
	struct prom_collector *pc = prom_collector_new(&src, err, sizeof(err));
	if (!pc) {
		cmd_error(cmd, "%s", err);
		free(pats);
		return EXIT_RUNTIME;
	}
	rc = print_once(cmd, pc);
	prom_collector_free(pc);
	free(pats);
	return rc;
}
