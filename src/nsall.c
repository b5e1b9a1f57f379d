/*
 * nsall.c - finding every reachable network namespace (nsall.h): the run
 * dir's names, then each process's ns/net, deduplicated by nsfs identity.
 */
#define _GNU_SOURCE
#include "nsall.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/nsfs.h>

#include "nsname.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static struct nsall_ns *find(struct nsall *a, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].ino == ino && a->v[i].dev == dev)
			return &a->v[i];
	return NULL;
}

static struct nsall_ns *add(struct nsall *a, uint64_t dev, uint64_t ino, int fd)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct nsall_ns *v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	struct nsall_ns *e = &a->v[a->n++];
	memset(e, 0, sizeof(*e));
	e->dev = dev;
	e->ino = ino;
	e->fd = fd;
	return e;
}

/*
 * Open path as a network namespace: its descriptor and identity, or -1.
 * A stale name in the run dir (the empty file a bind mount left) is not
 * nsfs; a name of another kind of namespace is not CLONE_NEWNET.
 */
static int open_netns(const char *path, uint64_t *dev, uint64_t *ino)
{
	struct statfs sf;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != NSFS_MAGIC || fstat(fd, &st) < 0)
		goto no;
	/* NS_GET_NSTYPE is 4.11's; an older kernel's nsfs is trusted by its place. */
	int t = ioctl(fd, NS_GET_NSTYPE);
	if (t >= 0 && t != CLONE_NEWNET)
		goto no;
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	return fd;
no:
	close(fd);
	errno = EINVAL;
	return -1;
}

static void read_comm(const char *procroot, pid_t pid, char *comm)
{
	char path[512];
	FILE *f;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "%s/%d/comm", procroot, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, NSALL_COMM, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of dir, sorted, in *out (free each and the array); -1 when out of memory. */
static int list_names(const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return 0; /* no run dir: no names (ip netns makes it on first use) */
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[*n] = strdup(de->d_name)))
			goto oom;
		(*n)++;
	}
	closedir(d);
	if (*n) /* qsort(NULL, 0) is undefined: an empty run dir has no array */
		qsort(v, *n, sizeof(*v), by_name);
	*out = v;
	return 0;
oom:
	closedir(d);
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	*n = 0;
	return -1;
}

static int scan_named(struct nsall *a, const char *rundir)
{
	char **names, path[4096];
	size_t n;
	int rc = 0;

	if (list_names(rundir, &names, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t dev, ino;
		struct nsall_ns *e;
		snprintf(path, sizeof(path), "%s/%s", rundir, names[i]);
		int fd = open_netns(path, &dev, &ino);
		if (fd < 0)
			continue;
		e = find(a, dev, ino);
		if (e) { /* a second name (sorted: the first stays), or the own namespace */
			close(fd);
			if (e->name)
				continue;
		} else if (!(e = add(a, dev, ino, fd))) {
			close(fd);
			rc = -1;
			break;
		}
		e->name = names[i];
		names[i] = NULL;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* The process pid is in (dev, ino): remember it if it is the lowest. */
static void saw_pid(struct nsall_ns *e, const char *procroot, pid_t pid)
{
	if (e->pid && e->pid < pid)
		return;
	e->pid = pid;
	read_comm(procroot, pid, e->comm);
}

/* *last: the index of the namespace the previous process was in, or a->n (none). */
static int scan_pid(struct nsall *a, const char *procroot, pid_t pid, size_t *last)
{
	char path[512];
	struct stat st;
	struct nsall_ns *e;

	snprintf(path, sizeof(path), "%s/%d/ns/net", procroot, (int)pid);
	if (stat(path, &st) < 0) {
		/* Gone (ENOENT) is nothing; refused is a namespace we may not see. */
		if (errno == EACCES || errno == EPERM)
			a->unreadable++;
		return 0;
	}
	/* Most processes share the last one's namespace: no search. */
	e = *last < a->n && a->v[*last].ino == (uint64_t)st.st_ino &&
			    a->v[*last].dev == (uint64_t)st.st_dev
		    ? &a->v[*last]
		    : find(a, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	if (!e) {
		uint64_t dev, ino;
		/* The descriptor's own identity: the pid may have exited and been reused. */
		int fd = open_netns(path, &dev, &ino);
		if (fd < 0) {
			if (errno == EACCES || errno == EPERM)
				a->unreadable++;
			return 0;
		}
		e = find(a, dev, ino);
		if (e)
			close(fd);
		else if (!(e = add(a, dev, ino, fd))) {
			close(fd);
			return -1;
		}
	}
	saw_pid(e, procroot, pid);
	*last = (size_t)(e - a->v);
	return 0;
}

static int scan_procs(struct nsall *a, const char *procroot, char *err, size_t errlen)
{
	DIR *d = opendir(procroot);
	struct dirent *de;
	size_t last = (size_t)-1;

	if (!d) {
		snprintf(err, errlen, "%s: %s", procroot, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		char *end;
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (scan_pid(a, procroot, (pid_t)pid, &last) < 0) {
			closedir(d);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int ns_order(const void *pa, const void *pb)
{
	const struct nsall_ns *a = pa, *b = pb;

	if (a->own != b->own)
		return a->own ? -1 : 1;
	if (!a->name != !b->name)
		return a->name ? -1 : 1;
	if (a->name) {
		int c = strcmp(a->name, b->name);
		if (c)
			return c;
	}
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

/* The scanning thread's namespace, first: it is entered by no setns. */
static int add_own(struct nsall *a, const char *procroot)
{
	static const char *const self[] = {"thread-self", "self"};
	char path[512];

	for (size_t i = 0; i < sizeof(self) / sizeof(self[0]); i++) {
		uint64_t dev, ino;
		snprintf(path, sizeof(path), "%s/%s/ns/net", procroot, self[i]);
		int fd = open_netns(path, &dev, &ino);
		if (fd < 0)
			continue;
		struct nsall_ns *e = add(a, dev, ino, fd);
		if (!e) {
			close(fd);
			return -1;
		}
		e->own = 1;
		return 0;
	}
	return 0; /* not known: every namespace is then entered */
}

int nsall_scan(struct nsall *a, const char *rundir, const char *procroot, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (add_own(a, procroot) < 0 || scan_named(a, rundir) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (scan_procs(a, procroot, err, errlen) < 0)
		goto fail;
	/* A process that sits in a name's namespace is not a second one: stable. */
	qsort(a->v, a->n, sizeof(a->v[0]), ns_order);
	return 0;
fail:
	nsall_free(a);
	return -1;
}

void nsall_free(struct nsall *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].name);
		if (a->v[i].fd >= 0)
			close(a->v[i].fd);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* "comm[pid]" of the namespace's lowest process, or "" when none. */
static void proc_text(const struct nsall_ns *e, char *buf, size_t len)
{
	buf[0] = '\0';
	if (e->pid)
		snprintf(buf, len, "%s[%d]", e->comm, (int)e->pid);
}

_Static_assert(NSALL_CONTAINER_MAX == NSNAME_MAX, "a container name fits");

const char *nsall_container(const struct nsall_ns *e, const char *rootfs, char *buf, size_t len)
{
	if (!e->pid || nsname_container(rootfs ? rootfs : "", e->pid, buf, len) != 1)
		buf[0] = '\0';
	return buf;
}

void nsall_label(const struct nsall_ns *e, const char *container, char *buf, size_t len)
{
	if (e->name)
		snprintf(buf, len, "%s", e->name);
	else if (e->own)
		snprintf(buf, len, "(host)");
	else if (container && container[0])
		snprintf(buf, len, "%s", container);
	else if (e->pid)
		proc_text(e, buf, len);
	else
		snprintf(buf, len, "ino:%llu", (unsigned long long)e->ino);
}

int nsall_picked(const struct nsall_ns *e, const char *container, const char *const *pats, size_t n)
{
	char what[5][NSALL_COMM + 32];
	const char *whole[2] = {e->name ? e->name : "", container ? container : ""};

	if (!n)
		return 1;
	proc_text(e, what[2], sizeof(what[2]));
	snprintf(what[3], sizeof(what[3]), "%llu", (unsigned long long)e->ino);
	/* "(host)" is a name too, for the own namespace. */
	snprintf(what[4], sizeof(what[4]), "%s", e->own ? "(host)" : "");
	for (size_t p = 0; p < n; p++)
		for (int k = 0; k < 5; k++) {
			const char *s = k < 2 ? whole[k] : what[k];
			if (s[0] && fnmatch(pats[p], s, 0) == 0)
				return 1;
		}
	return 0;
}
