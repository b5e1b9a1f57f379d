/*
 * cgroupid.h - cgroup v2 paths to ids, for the filter's `cgroup PATH`: where
 * the cgroup2 file system is mounted, and the 64-bit id the kernel gives a
 * cgroup (what INET_DIAG_CGROUP_ID carries and INET_DIAG_BC_CGROUP_COND
 * compares).
 */
#ifndef TCPSTATE_CGROUPID_H
#define TCPSTATE_CGROUPID_H

#include <stddef.h>
#include <stdint.h>

/*
 * The mount point of the first cgroup2 file system listed in mountinfo (a
 * /proc/PID/mountinfo file) into buf.  0; -1 with errno set: ENOENT when
 * none is mounted, ENAMETOOLONG when the path does not fit.
 */
int cgroup2_mount(const char *mountinfo, char *buf, size_t len);

/*
 * The id of the cgroup at PATH under the cgroup2 mount mnt ("/" or "" is
 * the root; a leading '/' is optional, as in ss).  0; -1 with errno set:
 * ENOENT when PATH is not a cgroup directory of that mount, EMEDIUMTYPE
 * when mnt is not a cgroup2 file system.
 */
int cgroup2_id(const char *mnt, const char *path, uint64_t *id);

#endif
