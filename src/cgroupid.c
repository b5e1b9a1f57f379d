/*
 * cgroupid.c - find the cgroup2 mount in mountinfo, and a cgroup's id from
 * its path under that mount.
 */
#define _GNU_SOURCE
#include "cgroupid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

/*
 * mountinfo escapes space, tab, newline and backslash in paths as \ooo
 * (the kernel's mangle()); undo it in place.
 */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * The mount point of one mountinfo line if its file system is cgroup2:
 * "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ...".
 * NULL otherwise.  Cuts the line in place.
 */
static char *cgroup2_point(char *line)
{
	char *save = NULL, *point = NULL, *t;
	int field = 0, after_dash = 0;

	for (t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save), field++) {
		if (field == 4)
			point = t;
		else if (field > 5 && !after_dash && strcmp(t, "-") == 0)
			after_dash = 1;
		else if (after_dash)
			return strcmp(t, "cgroup2") == 0 ? point : NULL;
	}
	return NULL;
}

int cgroup2_mount(const char *mountinfo, char *buf, size_t len)
{
	FILE *f = fopen(mountinfo, "re");
	char *line = NULL, *point = NULL;
	size_t cap = 0;

	if (!f)
		return -1;
	while (!point && getline(&line, &cap, f) > 0)
		point = cgroup2_point(line);
	fclose(f);
	int rc = -1;
	if (!point) {
		errno = ENOENT;
	} else {
		unescape(point);
		if (strlen(point) >= len) {
			errno = ENAMETOOLONG;
		} else {
			strcpy(buf, point);
			rc = 0;
		}
	}
	free(line);
	return rc;
}

/*
 * The id is read as a file handle (name_to_handle_at), as ss does, rather
 * than as the directory's inode number: on cgroup2 both are the kernfs node
 * id, but st_ino holds only its low 32 bits where ino_t is 32 bits wide,
 * while the handle is the whole u64 the kernel compares everywhere.
 */
static int handle_id(int dirfd, const char *rel, uint64_t *id)
{
	struct file_handle *fh = malloc(sizeof(*fh) + sizeof(*id));
	int mount_id, rc = -1;

	if (!fh)
		return -1;
	fh->handle_bytes = sizeof(*id);
	if (name_to_handle_at(dirfd, rel, fh, &mount_id, 0) == 0) {
		if (fh->handle_bytes == sizeof(*id)) {
			memcpy(id, fh->f_handle, sizeof(*id));
			rc = 0;
		} else {
			errno = ENOENT; /* not a kernfs node: not a cgroup */
		}
	} else if (errno == EOVERFLOW) {
		errno = ENOENT; /* a longer handle: another file system */
	}
	free(fh);
	return rc;
}

int cgroup2_id(const char *mnt, const char *path, uint64_t *id)
{
	struct statfs fs;
	struct stat top, st;
	int rc = -1;

	while (*path == '/')
		path++;
	int dirfd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	const char *rel = *path ? path : ".";
	if (fstatfs(dirfd, &fs) < 0 || fstat(dirfd, &top) < 0 || fstatat(dirfd, rel, &st, 0) < 0)
		goto out;
	/* Other file systems hand out 8-byte handles too (ext4's inode and generation). */
	if (fs.f_type != CGROUP2_SUPER_MAGIC) {
		errno = EMEDIUMTYPE;
		goto out;
	}
	/* A cgroup is a directory of the same file system (no "..": escape). */
	if (!S_ISDIR(st.st_mode) || st.st_dev != top.st_dev) {
		errno = ENOENT;
		goto out;
	}
	rc = handle_id(dirfd, rel, id);
out:
	close(dirfd);
	return rc;
}
