/*
 * sysctl.c - /proc/sys access (the one reader of it: list, top, tune and
 * explain read their numbers here) and safe file replacement.
 */
#define _GNU_SOURCE
#include "sysctl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int sysctl_read(const struct knob *k, char *buf, size_t len)
{
	char path[256], raw[SYSCTL_VALUE_MAX + 2];
	int fd;
	ssize_t n;

	if (len == 0)
		return -E2BIG;
	knob_path(k, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, raw, sizeof(raw) - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	if ((size_t)n >= sizeof(raw) - 1)
		return -E2BIG;
	raw[n] = '\0';
	/* "32768\t60999\n" -> "32768 60999" */
	size_t o = 0;
	int space = 0;
	for (ssize_t i = 0; i < n; i++) {
		char c = raw[i];
		if (c == ' ' || c == '\t' || c == '\n') {
			space = o > 0;
			continue;
		}
		/* The pending separator, this character and the NUL must all fit. */
		if (o + (size_t)space + 1 >= len) {
			buf[o] = '\0';
			return -E2BIG;
		}
		if (space) {
			buf[o++] = ' ';
			space = 0;
		}
		buf[o++] = c;
	}
	buf[o] = '\0';
	return 0;
}

static int parse_longs(const char *s, long *v, int n)
{
	for (int i = 0; i < n; i++) {
		char *end;
		if (!isdigit((unsigned char)*s) && *s != '-')
			return -EINVAL; /* strtol would skip a space or take a '+' */
		errno = 0;
		v[i] = strtol(s, &end, 10);
		if (errno || end == s || *end != (i + 1 < n ? ' ' : '\0'))
			return -EINVAL;
		s = end + (i + 1 < n);
	}
	return 0;
}

int sysctl_read_longs(const char *name, long *v, int n)
{
	const struct knob k = {.name = name};
	char buf[128]; /* a few numbers: a longer value is -E2BIG */
	int r = sysctl_read(&k, buf, sizeof(buf));

	if (!r)
		r = parse_longs(buf, v, n);
	if (r)
		for (int i = 0; i < n; i++)
			v[i] = -1;
	return r;
}

int sysctl_write(const struct knob *k, const char *value)
{
	char path[256], line[SYSCTL_VALUE_MAX + 2];
	int fd, n;

	knob_path(k, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%s\n", value);
	ssize_t w = write(fd, line, (size_t)n);
	int e = errno;
	if (close(fd) < 0 && w == n)
		return -errno;
	if (w < 0)
		return -e;
	return w == n ? 0 : -EIO;
}

int sysctl_exists(const struct knob *k)
{
	char path[256];

	knob_path(k, path, sizeof(path));
	return access(path, F_OK) == 0;
}

static int ensure_dir(const char *dir, int private_dir)
{
	struct stat st;

	if (lstat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		/*
		 * Others who can write here could plant or swap files, unless the
		 * sticky bit stops them (as in /tmp); the file itself is created
		 * O_EXCL|O_NOFOLLOW and renamed into place, which never follows a
		 * planted symlink.
		 */
		if (private_dir && (st.st_mode & 022) && !(st.st_mode & S_ISVTX))
			return -EPERM;
		if (private_dir && st.st_uid != geteuid() && st.st_uid != 0)
			return -EPERM;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	char parent[512];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *p = dirname(parent);
	if (strcmp(p, dir) != 0 && strcmp(p, "/") != 0 && strcmp(p, ".") != 0) {
		int r = ensure_dir(p, 0);
		if (r < 0)
			return r;
	}
	if (mkdir(dir, private_dir ? 0700 : 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int file_replace(const char *path, const char *content, size_t len, int mode, int private_dir)
{
	char dirbuf[512], tmp[600];
	struct stat st;
	int fd, r;

	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	r = ensure_dir(dirname(dirbuf), private_dir);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			return -ELOOP; /* never write through a symlink */
		/* Nor replace a device, a directory or a FIFO with a file. */
		if (!S_ISREG(st.st_mode))
			return -EINVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	const char *p = content;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int file_read(const char *path, char **out, size_t *len)
{
	/* O_NONBLOCK: opening a FIFO planted in its place must not hang. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	char *buf;
	size_t cap = 4096, n = 0;
	struct stat st;

	*out = NULL;
	if (fd < 0)
		return -errno;
	int e = fstat(fd, &st) < 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
	if (e) {
		close(fd);
		return -e;
	}
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= (1u << 20)) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			free(buf);
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

const char *file_strerror(int e)
{
	return e == EINVAL ? "not a regular file" : strerror(e);
}

int file_lock(const char *path, int how, int held)
{
	char dirbuf[512];
	struct stat st, hst;
	int fd, r;

	if (how & FILE_LOCK_MKDIR) {
		snprintf(dirbuf, sizeof(dirbuf), "%s", path);
		r = ensure_dir(dirname(dirbuf), how & FILE_LOCK_PRIVATE);
		if (r < 0)
			return r;
	}
	/* O_NONBLOCK: a FIFO planted in its place must not hang the open. */
	fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (r < 0) {
		close(fd);
		return r;
	}
	/* A second flock of a file this process holds would wait for itself. */
	if (held >= 0 && fstat(held, &hst) == 0 && hst.st_dev == st.st_dev &&
	    hst.st_ino == st.st_ino) {
		close(fd);
		return -EDEADLK;
	}
	while (flock(fd, LOCK_EX | (how & FILE_LOCK_WAIT ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}
