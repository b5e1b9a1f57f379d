/*
 * netns.c - setns() into a named network namespace, or into one for a call
 * and back; the interface names of a namespace.
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

int netns_call_in(int nsfd, int (*fn)(void *), void *arg, char *err, size_t errlen)
{
	/* thread-self: setns moves the thread, and it is the thread that must come back. */
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (home < 0)
		home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) {
		snprintf(err, errlen, "cannot open this thread's network namespace: %s",
			 strerror(errno));
		return -1;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot enter the network namespace: %s", strerror(e));
		close(home);
		errno = e;
		return -1;
	}
	int r = fn(arg);
	int e = errno;
	/*
	 * Coming back cannot fail for a thread that left from there (it held
	 * the privilege a moment ago); if it ever did, every later socket
	 * would be made in the wrong namespace and its rows given the wrong
	 * name: stopping is the only honest answer.
	 */
	if (setns(home, CLONE_NEWNET) < 0) {
		fprintf(stderr, "tcpstate: cannot return to the original network namespace: %s\n",
			strerror(errno));
		abort();
	}
	close(home);
	errno = e;
	return r;
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

static int ifnames_call(void *arg)
{
	*(struct ifnames **)arg = netns_ifnames();
	return 0;
}

struct ifnames *netns_ifnames_in(int nsfd)
{
	struct ifnames *n = NULL;
	char err[128];

	if (netns_call_in(nsfd, ifnames_call, &n, err, sizeof(err)) < 0)
		return NULL;
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
