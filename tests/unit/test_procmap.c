/*
 * Unit tests: the inode-to-process map, on a fake /proc tree built from
 * real directories and symlinks (readlinkat sees them as the kernel's).
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procmap.h"
#include "unit.h"

static char root[64];

static void mk(const char *rel, int dir)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (dir)
		mkdir(p, 0755);
}

static void link_fd(const char *pid, int fd, const char *target)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s/fd/%d", root, pid, fd);
	CHECK(symlink(target, p) == 0);
}

static void write_comm(const char *pid, const char *comm)
{
	char p[256], line[64];
	snprintf(p, sizeof(p), "%s/%s/comm", root, pid);
	snprintf(line, sizeof(line), "%s\n", comm);
	unit_write_file(p, line);
}

static void fake_proc(void)
{
	strcpy(root, "/tmp/tcpstate-proc-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	mk("100", 1);
	mk("100/fd", 1);
	mk("200", 1);
	mk("200/fd", 1);
	mk("self", 1); /* not a pid: ignored, but its presence says /proc is mounted */
	mk("300", 1);  /* no fd directory: skipped */
	write_comm("100", "nginx");
	write_comm("200", "curl");
	link_fd("100", 3, "socket:[1001]");
	link_fd("100", 4, "socket:[1002]");
	link_fd("100", 5, "/dev/null");
	link_fd("100", 6, "socket:[99999]"); /* not wanted */
	link_fd("100", 7, "socket:[12x]");   /* malformed */
	link_fd("200", 3, "socket:[1002]");  /* shared with 100 */
	link_fd("200", 9, "pipe:[1001]");    /* same number, not a socket */
}

static void maps_inodes_to_owners(void)
{
	fake_proc();
	struct procmap *m = procmap_new(2);
	CHECK(m != NULL);
	/* Enough wanted inodes to force the table to grow. */
	for (uint32_t i = 5000; i < 5200; i++)
		CHECK(procmap_want(m, i) == 0);
	CHECK(procmap_want(m, 1001) == 0 && procmap_want(m, 1002) == 0);
	CHECK(procmap_want(m, 0) == 0);
	CHECK(procmap_scan(m, root) == 0);

	int i = procmap_first(m, 1001);
	CHECK(i >= 0);
	if (i >= 0) {
		const struct proc_owner *o = procmap_owner(m, i);
		CHECK(o->pid == 100 && o->fd == 3);
		CHECK_STR(o->comm, "nginx");
		CHECK(o->next == -1);
	}
	int owners = 0, pids = 0;
	for (i = procmap_first(m, 1002); i >= 0; i = procmap_owner(m, i)->next) {
		owners++;
		pids += procmap_owner(m, i)->pid;
	}
	CHECK(owners == 2 && pids == 300);
	CHECK(procmap_first(m, 99999) == -1);
	CHECK(procmap_first(m, 5000) == -1);
	CHECK(procmap_first(m, 0) == -1);
	procmap_free(m);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
}

static void missing_proc_fails(void)
{
	struct procmap *m = procmap_new(1);
	CHECK(procmap_scan(m, "/nonexistent-proc") == -1);
	/* An empty directory (procfs not mounted on it) fails too. */
	char empty[] = "/tmp/tcpstate-noproc-XXXXXX";
	CHECK(mkdtemp(empty) != NULL);
	CHECK(procmap_scan(m, empty) == -1);
	rmdir(empty);
	procmap_free(m);
}

const struct unit_test procmap_tests[] = {
	{"procmap: inodes to owners on a fake /proc", maps_inodes_to_owners},
	{"procmap: no /proc is an error", missing_proc_fails},
	{NULL, NULL},
};
