/*
 * Unit tests: finding every network namespace (nsall.c) on a fake run dir
 * and /proc, whose ns/net entries are symlinks to real nsfs files (this
 * process's, and a child's that unshared its network namespace when the
 * kernel lets an unprivileged user do so), which open() follows as it
 * follows the kernel's magic links.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsall.h"
#include "unit.h"

static char root[64];

static void mkpath(const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	CHECK(mkdir(p, 0755) == 0);
}

static void link_to(const char *rel, const char *target)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	CHECK(symlink(target, p) == 0);
}

static void write_file(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	unit_write_file(p, text);
}

/* A process of the fake /proc: its ns/net links to target, its comm is comm. */
static void fake_pid(const char *pid, const char *target, const char *comm)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "proc/%s", pid);
	mkpath(rel);
	snprintf(rel, sizeof(rel), "proc/%s/ns", pid);
	mkpath(rel);
	snprintf(rel, sizeof(rel), "proc/%s/ns/net", pid);
	link_to(rel, target);
	snprintf(rel, sizeof(rel), "proc/%s/comm", pid);
	write_file(rel, comm);
}

/* A child in a network namespace of its own, waiting on a pipe; 0 if none can be made. */
static pid_t other_netns(int *hold)
{
	int p[2], r[2];
	char c;

	if (pipe(p) < 0 || pipe(r) < 0)
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		close(r[0]);
		c = unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 || unshare(CLONE_NEWNET) == 0;
		if (write(r[1], &c, 1) != 1)
			_exit(1);
		if (read(p[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	close(r[1]);
	if (pid < 0 || read(r[0], &c, 1) != 1 || !c) {
		close(p[1]);
		close(r[0]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return 0;
	}
	close(r[0]);
	*hold = p[1];
	return pid;
}

static void finds_each_once(void)
{
	struct nsall a;
	char err[128], path[256], other[64];
	int hold = -1;
	pid_t child = other_netns(&hold);
	struct stat self;

	CHECK(stat("/proc/self/ns/net", &self) == 0);
	strcpy(root, "/tmp/tcpstate-nsall-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	mkpath("run");
	mkpath("proc");
	mkpath("proc/self");
	mkpath("proc/self/ns");
	link_to("proc/self/ns/net", "/proc/self/ns/net");
	fake_pid("10", "/proc/self/ns/net", "ten\n");
	fake_pid("5", "/proc/self/ns/net", "five\n");
	fake_pid("7", "/proc/self/ns/uts", "uts\n"); /* not a network namespace */
	mkpath("proc/8");			     /* no ns/: gone, or not readable */
	link_to("run/zz", "/proc/self/ns/net");
	link_to("run/aa", "/proc/self/ns/net"); /* two names: the first by sort order */
	write_file("run/stale", "");		/* what an unmounted name leaves */
	link_to("run/uts", "/proc/self/ns/uts");
	if (child) {
		snprintf(other, sizeof(other), "/proc/%d/ns/net", (int)child);
		fake_pid("30", other, "child\n");
		fake_pid("20", other, "lower\n");
	}

	snprintf(path, sizeof(path), "%s/run", root);
	char proc[256];
	snprintf(proc, sizeof(proc), "%s/proc", root);
	CHECK(nsall_scan(&a, path, proc, err, sizeof(err)) == 0);
	CHECK(a.n == (child ? 2u : 1u));
	if (a.n >= 1) {
		CHECK(a.v[0].own == 1);
		CHECK(a.v[0].ino == (uint64_t)self.st_ino && a.v[0].dev == (uint64_t)self.st_dev);
		CHECK(a.v[0].name && strcmp(a.v[0].name, "aa") == 0);
		CHECK(a.v[0].pid == 5);
		CHECK_STR(a.v[0].comm, "five");
		CHECK(a.v[0].fd >= 0);
	}
	if (child && a.n == 2) {
		CHECK(a.v[1].own == 0);
		CHECK(a.v[1].name == NULL);
		CHECK(a.v[1].pid == 20);
		CHECK_STR(a.v[1].comm, "lower");
		CHECK(a.v[1].ino != a.v[0].ino);
	}
	nsall_free(&a);
	CHECK(a.n == 0 && a.v == NULL);

	/* A missing run dir is no names; a missing proc root is an error. */
	CHECK(nsall_scan(&a, "/nonexistent-run", proc, err, sizeof(err)) == 0);
	CHECK(a.n >= 1 && a.v[0].own && a.v[0].name == NULL);
	nsall_free(&a);
	CHECK(nsall_scan(&a, path, "/nonexistent-proc", err, sizeof(err)) == -1);
	CHECK(strstr(err, "/nonexistent-proc") != NULL);

	if (child) {
		close(hold);
		waitpid(child, NULL, 0);
	} else {
		unit_skip("no second network namespace (unshare refused): one namespace only");
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
}

const struct unit_test nsall_tests[] = {
	{"nsall: every namespace once, named first, lowest pid", finds_each_once},
	{NULL, NULL},
};
