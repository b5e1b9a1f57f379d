/*
 * procmap.h - which processes hold which socket inodes.
 *
 * ss walks /proc once per listing into a 256-bucket table, which makes
 * "ss -tanp" quadratic when one process holds many sockets.  Here the
 * caller first says which inodes it cares about (the ones in its dump),
 * then one pass over /proc/PID/fd records owners of those inodes only, in
 * an open-addressing table sized to them.
 */
#ifndef TCPSTATE_PROCMAP_H
#define TCPSTATE_PROCMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_owner {
	pid_t pid;
	int fd;
	const char *comm;
	int next; /* index of the next owner of the same inode, or -1 */
};

struct procmap;

struct procmap *procmap_new(size_t expected_inodes);
void procmap_free(struct procmap *m);
/* Register an inode to look for (0 is ignored: TIME-WAIT and requests). */
int procmap_want(struct procmap *m, uint32_t inode);
/* One pass over procroot ("/proc"); unreadable processes are skipped. */
int procmap_scan(struct procmap *m, const char *procroot);
/* First owner of inode (index), or -1; follow ->next. */
int procmap_first(const struct procmap *m, uint32_t inode);
const struct proc_owner *procmap_owner(const struct procmap *m, int idx);

#endif
