/*
 * sysctl.h - reading and writing the knobs' files under /proc/sys, and the
 * files tune keeps: the rollback record and the sysctl.d fragment, written
 * atomically (temporary file, fsync, rename) and never through a symlink.
 */
#ifndef TCPSTATE_SYSCTL_H
#define TCPSTATE_SYSCTL_H

#include <stddef.h>

#include "knobs.h"

/*
 * The value, whitespace folded to single spaces.  0, or a negative errno
 * (-E2BIG when it does not fit in len: never a silently cut value).
 */
int sysctl_read(const struct knob *k, char *buf, size_t len);
/*
 * A value of n numbers by the knob's name ("net.ipv4.ip_local_port_range"),
 * into v[0..n-1]: the one reader of /proc/sys for those who want numbers.
 * 0, or a negative errno (-EINVAL when the value is not exactly n decimal
 * numbers), and then every v[i] is -1.
 */
int sysctl_read_longs(const char *name, long *v, int n);
/* Write a (validated) value.  0, or a negative errno. */
int sysctl_write(const struct knob *k, const char *value);
/* Whether this knob exists here (kernel, namespace, modules). */
int sysctl_exists(const struct knob *k);

/* Longest value handled: a long ip_local_reserved_ports list. */
#define SYSCTL_VALUE_MAX 4096

struct setting {
	const struct knob *knob;
	char value[SYSCTL_VALUE_MAX];
};

/*
 * Replace path with content, atomically, mode `mode`, refusing a symlink.
 * The directory is created (0700 when `private`) if missing.  0 or -errno:
 * -EINVAL when path is there and not a regular file.
 */
int file_replace(const char *path, const char *content, size_t len, int mode, int private_dir);

/*
 * Read a whole small file (at most 1 MiB) into a malloc'd, NUL-terminated
 * buffer.  0, or -errno: -EINVAL when it is not a regular file (a FIFO is
 * refused without waiting for a writer).
 */
int file_read(const char *path, char **out, size_t *len);

/* What file_read() or file_replace() returning -e means, for a message. */
const char *file_strerror(int e);

enum {
	FILE_LOCK_WAIT = 1,    /* wait for the lock, rather than fail with -EWOULDBLOCK */
	FILE_LOCK_MKDIR = 2,   /* create the directory if missing, as file_replace does */
	FILE_LOCK_PRIVATE = 4, /* ...with mode 0700 */
};
/*
 * Take an exclusive flock(2) on the lock file path, created (mode 0600,
 * never through a symlink) if missing.  Returns its descriptor: closing it
 * releases the lock.  Without FILE_LOCK_WAIT, -EWOULDBLOCK when another
 * holds it; -EDEADLK when it is the file `held` (a descriptor, or -1)
 * already locks; or another -errno.
 */
int file_lock(const char *path, int how, int held);

#endif
