/*
 * procmap.c - one pass over /proc mapping socket inodes to processes.
 */
#define _GNU_SOURCE
#include "procmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct slot {
	uint32_t inode; /* 0 = empty */
	int head;	/* first owner, or -1 */
};

struct procmap {
	struct slot *slots;
	size_t mask; /* capacity - 1, a power of two */
	size_t used;
	struct proc_owner *owners;
	size_t nowners, capowners;
	char **comms;
	size_t ncomms, capcomms;
};

static size_t hash32(uint32_t x)
{
	/* Inodes are sequential; a multiplicative hash spreads them. */
	return (size_t)((x * 2654435761u) ^ (x >> 16));
}

struct procmap *procmap_new(size_t expected)
{
	struct procmap *m = calloc(1, sizeof(*m));
	size_t cap = 64;

	if (!m)
		return NULL;
	while (cap < expected * 2)
		cap <<= 1;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	m->mask = cap - 1;
	return m;
}

void procmap_free(struct procmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ncomms; i++)
		free(m->comms[i]);
	free(m->comms);
	free(m->owners);
	free(m->slots);
	free(m);
}

static struct slot *find(const struct procmap *m, uint32_t inode)
{
	for (size_t i = hash32(inode) & m->mask;; i = (i + 1) & m->mask) {
		struct slot *s = &m->slots[i];
		if (s->inode == inode || s->inode == 0)
			return s;
	}
}

static int grow(struct procmap *m)
{
	size_t cap = (m->mask + 1) * 2;
	struct slot *old = m->slots, *ns = calloc(cap, sizeof(*ns));
	size_t oldcap = m->mask + 1;

	if (!ns)
		return -1;
	m->slots = ns;
	m->mask = cap - 1;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].inode)
			*find(m, old[i].inode) = old[i];
	free(old);
	return 0;
}

int procmap_want(struct procmap *m, uint32_t inode)
{
	if (inode == 0)
		return 0;
	if ((m->used + 1) * 2 > m->mask + 1 && grow(m) < 0)
		return -1;
	struct slot *s = find(m, inode);
	if (s->inode == 0) {
		s->inode = inode;
		s->head = -1;
		m->used++;
	}
	return 0;
}

static int add_owner(struct procmap *m, struct slot *s, pid_t pid, int fd, const char *comm)
{
	if (m->nowners == m->capowners) {
		size_t cap = m->capowners ? m->capowners * 2 : 256;
		struct proc_owner *no = realloc(m->owners, cap * sizeof(*no));
		if (!no)
			return -1;
		m->owners = no;
		m->capowners = cap;
	}
	/* Append at the tail so owners stay in fd order for a process. */
	struct proc_owner *o = &m->owners[m->nowners];
	o->pid = pid;
	o->fd = fd;
	o->comm = comm;
	o->next = -1;
	if (s->head < 0) {
		s->head = (int)m->nowners;
	} else {
		int i = s->head;
		while (m->owners[i].next >= 0)
			i = m->owners[i].next;
		m->owners[i].next = (int)m->nowners;
	}
	m->nowners++;
	return 0;
}

static const char *intern_comm(struct procmap *m, int procfd, const char *pidname)
{
	char path[sizeof(((struct dirent *)0)->d_name) + 8], buf[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/comm", pidname);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0) {
		strcpy(buf, "?");
		n = 1;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (m->ncomms == m->capcomms) {
		size_t cap = m->capcomms ? m->capcomms * 2 : 64;
		char **nc = realloc(m->comms, cap * sizeof(*nc));
		if (!nc)
			return NULL;
		m->comms = nc;
		m->capcomms = cap;
	}
	char *s = strdup(buf);
	if (!s)
		return NULL;
	m->comms[m->ncomms++] = s;
	return s;
}

/* Parse "socket:[12345]"; returns the inode or 0. */
static uint32_t socket_inode(const char *link, ssize_t n)
{
	uint64_t v = 0;

	if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
		return 0;
	for (ssize_t i = 8; i < n - 1; i++) {
		if (link[i] < '0' || link[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(link[i] - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	return (uint32_t)v;
}

static int scan_pid(struct procmap *m, int procfd, const char *pidname, pid_t pid)
{
	char path[sizeof(((struct dirent *)0)->d_name) + 8];
	const char *comm = NULL;
	int fdd;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/fd", pidname);
	fdd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdd < 0)
		return 0; /* gone, or not ours to read */
	d = fdopendir(fdd);
	if (!d) {
		close(fdd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char link[64];
		ssize_t n;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		n = readlinkat(fdd, de->d_name, link, sizeof(link));
		if (n <= 0 || n >= (ssize_t)sizeof(link))
			continue;
		uint32_t ino = socket_inode(link, n);
		if (!ino)
			continue;
		struct slot *s = find(m, ino);
		if (s->inode != ino)
			continue;
		if (!comm && !(comm = intern_comm(m, procfd, pidname)))
			goto oom;
		if (add_owner(m, s, pid, atoi(de->d_name), comm) < 0)
			goto oom;
	}
	closedir(d);
	return 0;
oom:
	closedir(d);
	return -1;
}

int procmap_scan(struct procmap *m, const char *procroot)
{
	int procfd = open(procroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (procfd < 0)
		return -1;
	/* An empty directory where /proc should be is not "no processes". */
	if (faccessat(procfd, "self", F_OK, 0) < 0) {
		close(procfd);
		errno = ENOENT;
		return -1;
	}
	d = fdopendir(dup(procfd));
	if (!d) {
		close(procfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		if (scan_pid(m, procfd, de->d_name, (pid_t)pid) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	close(procfd);
	return rc;
}

int procmap_first(const struct procmap *m, uint32_t inode)
{
	if (inode == 0)
		return -1;
	const struct slot *s = find(m, inode);
	return s->inode == inode ? s->head : -1;
}

const struct proc_owner *procmap_owner(const struct procmap *m, int idx)
{
	return &m->owners[idx];
}
