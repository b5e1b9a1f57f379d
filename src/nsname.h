/*
 * nsname.h - the container (or Kubernetes pod) a process runs in, found
 * without any daemon's API: from the process's cgroup path and the state
 * files the container runtimes leave on disk (doc/namespaces.md,
 * "Container names").  Used to name the network namespace the process is in.
 */
#ifndef TCPSTATE_NSNAME_H
#define TCPSTATE_NSNAME_H

#include <stddef.h>
#include <sys/types.h>

/* Room for any name nsname_container() gives: "namespace/pod" is at most 253 + 1 + 253. */
#define NSNAME_MAX 512

/* Which runtime a cgroup path names (research18.md 1.6). */
enum nsname_rt {
	NSNAME_RT_NONE,
	NSNAME_RT_DOCKER,     /* docker-ID.scope, /docker/ID */
	NSNAME_RT_PODMAN,     /* libpod-ID[.scope] */
	NSNAME_RT_CONTAINERD, /* cri-containerd-ID.scope (CRI) */
	NSNAME_RT_NERDCTL,    /* nerdctl-ID.scope (containerd without CRI) */
	NSNAME_RT_CRIO,	      /* crio-ID[.scope] */
	NSNAME_RT_KUBE,	      /* a bare ID under pod<uid>: containerd or CRI-O, by their state */
	NSNAME_RT_BARE, /* a bare ID under any other parent: any runtime's state may know it */
};

/* What a cgroup path says: the innermost container and the pod it is in. */
struct nsname_ref {
	enum nsname_rt rt;
	char id[65];  /* 64 hex digits, or "" */
	char pod[37]; /* the pod uid with dashes (36) or a static pod's 32 hex digits, or "" */
};

/*
 * Parse a cgroup path ("/kubepods.slice/.../cri-containerd-ID.scope"):
 * the innermost container segment wins, with the pod uid of the pod slice
 * above it.  A pod with no container segment below it gives rt NONE and the
 * pod uid.  1 when anything was found, 0 when nothing was (ref zeroed).
 */
int nsname_cgroup_parse(const char *path, struct nsname_ref *ref);

/*
 * The name of the container process pid runs in, into out: "namespace/pod"
 * for a Kubernetes pod (the network namespace belongs to the pod), the
 * container's name otherwise, "RUNTIME:ID12" when the runtime and id are
 * known but no name is, "pod:UID" for a pod with no container.
 * rootfs "" or "/" is the real root; otherwise every file is read under it,
 * symbolic links resolved inside it (a containerised tcpstate with the
 * host's root at /host).
 * 1 with the name in out; 0 when none applies (no container, or the process
 * has gone); -1 with errno set when the root or /proc/PID/cgroup cannot be
 * read, or the name does not fit len (ENAMETOOLONG).  out is empty unless 1.
 */
int nsname_container(const char *rootfs, pid_t pid, char *out, size_t len);

#endif
