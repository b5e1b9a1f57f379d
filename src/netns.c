/*
 * netns.c - setns() into a named network namespace.
 */
#define _GNU_SOURCE
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
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
