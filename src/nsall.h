/*
 * nsall.h - every network namespace this host can reach: the ones named
 * under a run directory (/run/netns, iproute2's nsfs bind mounts) and the
 * ones some process is in (PROC/PID/ns/net), each counted once by the
 * (st_dev, st_ino) of its nsfs file, with an open descriptor to enter it.
 *
 * A namespace that no process is in and no name pins (held only by an fd
 * of another process, a bind mount elsewhere, or the kernel) is not found:
 * doc/namespaces.md says what that leaves out.
 */
#ifndef TCPSTATE_NSALL_H
#define TCPSTATE_NSALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NSALL_COMM 17 /* TASK_COMM_LEN and its NUL */

struct nsall_ns {
	uint64_t dev, ino;     /* the namespace's identity */
	char *name;	       /* its name in the run dir (the first by sort order), or NULL */
	pid_t pid;	       /* the lowest pid in it, or 0 when none */
	char comm[NSALL_COMM]; /* that process's name ("" when it could not be read) */
	int own;	       /* the namespace of the thread that scanned */
	int fd;		       /* open (O_RDONLY | O_CLOEXEC): keeps it alive, enters it */
};

struct nsall {
	struct nsall_ns *v;
	size_t n, cap;
	/* Processes whose ns/net could not be read (other users' without privilege). */
	size_t unreadable;
};

/*
 * Find them: the names in rundir ("/run/netns"; a missing dir is no name),
 * then procroot ("/proc")'s processes.  Sorted: the own namespace first,
 * then the named ones by name, then the rest by inode.  0, or -1 with a
 * message in err (procroot unreadable, out of memory); a entry that cannot
 * be opened or is not a network namespace is skipped.
 */
int nsall_scan(struct nsall *a, const char *rundir, const char *procroot, char *err, size_t errlen);
/*
 * The Netns label of e, unescaped: its name, "(host)" for the own
 * namespace, the container (NULL or "": none), "comm[pid]", or "ino:N".
 */
void nsall_label(const struct nsall_ns *e, const char *container, char *buf, size_t len);
/* Where the commands look: the named namespaces, and the processes. */
#define NSALL_RUN_NETNS "/run/netns"
#define NSALL_PROC_ROOT "/proc"
/* Room for a container name (nsname.h's NSNAME_MAX: a pod at Kubernetes' limits fits). */
#define NSALL_CONTAINER_MAX 512
/*
 * The container of e's lowest process into buf (NSALL_CONTAINER_MAX), read
 * under rootfs (NULL or "": /) by nsname.c; "" when e has no process, none
 * applies, or it cannot be read.  Returns buf.
 */
const char *nsall_container(const struct nsall_ns *e, const char *rootfs, char *buf, size_t len);
/*
 * Whether --ns patterns pats[0..n) pick e: any glob (fnmatch, no flags)
 * matching any of its name, container, comm[pid], inode in decimal, or
 * "(host)" for the own namespace.  n 0 picks every namespace.
 */
int nsall_picked(const struct nsall_ns *e, const char *container, const char *const *pats,
		 size_t n);
/* Close every descriptor and free; a is then empty. */
void nsall_free(struct nsall *a);

#endif
