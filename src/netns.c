/*
 * netns.c - setns() into a named network namespace; its interface names.
 */
#define _GNU_SOURCE
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NETNS_DIR "/run/netns"

int netns_enter(const char *name, char *err, size_t errlen)
{
	char path[256];
	int fd;

	/* iproute2 names are plain file names in NETNS_DIR. */
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strlen(name) > 200) {
		snprintf(err, errlen, "-N: invalid namespace name \"%s\"", name);
		return -2;
	}
	snprintf(path, sizeof(path), "%s/%s", NETNS_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "-N: network namespace \"%s\" not found in %s", name,
				 NETNS_DIR);
		else
			snprintf(err, errlen, "-N: %s: %s", path, strerror(errno));
		return -1;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "-N: cannot enter network namespace \"%s\": %s", name,
			 strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

struct ifnames {
	struct if_nameindex *v; /* as if_nameindex() gave it, sorted by index */
	size_t n;
};

static int by_index(const void *a, const void *b)
{
	unsigned x = ((const struct if_nameindex *)a)->if_index;
	unsigned y = ((const struct if_nameindex *)b)->if_index;

	return x < y ? -1 : x > y;
}

struct ifnames *netns_ifnames(void)
{
	struct ifnames *n = malloc(sizeof(*n));

	if (!n)
		return NULL;
	/* One netlink dump of the links, in the namespace the socket is made in: ours. */
	n->v = if_nameindex();
	if (!n->v) {
		free(n);
		return NULL;
	}
	for (n->n = 0; n->v[n->n].if_index; n->n++)
		;
	qsort(n->v, n->n, sizeof(n->v[0]), by_index);
	return n;
}

void netns_ifnames_free(struct ifnames *n)
{
	if (!n)
		return;
	if_freenameindex(n->v);
	free(n);
}

const char *netns_ifname(const struct ifnames *n, unsigned ifindex, char *buf)
{
	struct if_nameindex key = {ifindex, NULL};
	const struct if_nameindex *f = n ? bsearch(&key, n->v, n->n, sizeof(key), by_index) : NULL;

	if (f && strlen(f->if_name) < IFNAME_STRLEN)
		strcpy(buf, f->if_name);
	else
		snprintf(buf, IFNAME_STRLEN, "if%u", ifindex);
	return buf;
}
