/* Unit tests: the filter language, valid and invalid, and its state mask. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupid.h"
#include "filter.h"
#include "unit.h"

#define MAXW 32

/* Split a string on spaces into argv, as a shell would. */
static int split(char *s, char **argv)
{
	int n = 0;
	for (char *t = strtok(s, " "); t && n < MAXW; t = strtok(NULL, " "))
		argv[n++] = t;
	return n;
}

static struct filter *parse(const char *expr, char *err, size_t errlen)
{
	char buf[512], *argv[MAXW];
	snprintf(buf, sizeof(buf), "%s", expr);
	int n = split(buf, argv);
	err[0] = '\0';
	return filter_parse(n, argv, err, errlen);
}

static struct sock_rec sock4(int state, const char *l, int lp, const char *r, int rp)
{
	struct sock_rec s;
	memset(&s, 0, sizeof(s));
	s.family = AF_INET;
	s.state = (uint8_t)state;
	inet_pton(AF_INET, l, s.laddr);
	inet_pton(AF_INET, r, s.raddr);
	s.lport = (uint16_t)lp;
	s.rport = (uint16_t)rp;
	return s;
}

static struct sock_rec sock6(int state, const char *l, int lp, const char *r, int rp)
{
	struct sock_rec s = sock4(state, "0.0.0.0", lp, "0.0.0.0", rp);
	s.family = AF_INET6;
	inet_pton(AF_INET6, l, s.laddr);
	inet_pton(AF_INET6, r, s.raddr);
	return s;
}

static int matches(const char *expr, const struct sock_rec *s)
{
	char err[256];
	struct filter *f = parse(expr, err, sizeof(err));
	if (!f) {
		printf("  unexpected parse error for \"%s\": %s\n", expr, err);
		unit_failed = 1;
		return -1;
	}
	int m = filter_match(f, s);
	filter_free(f);
	return m;
}

static void matching(void)
{
	struct sock_rec est = sock4(TS_ESTABLISHED, "198.18.0.1", 40000, "198.18.1.7", 443);
	struct sock_rec tw = sock4(TS_TIME_WAIT, "198.18.0.1", 40001, "198.18.1.7", 80);
	struct sock_rec lst = sock4(TS_LISTEN, "0.0.0.0", 22, "0.0.0.0", 0);
	struct sock_rec v6 = sock6(TS_ESTABLISHED, "fd00::1", 5000, "fd00::2", 41000);
	struct sock_rec mapped =
		sock6(TS_ESTABLISHED, "::ffff:198.18.0.1", 8080, "::ffff:198.18.0.9", 1);
	static const struct {
		const char *expr;
		int est, tw, lst, v6;
	} cases[] = {
		{"state established", 1, 0, 0, 1},
		{"state ESTAB", 1, 0, 0, 1},
		{"exclude time-wait", 1, 0, 1, 1},
		{"state connected", 1, 1, 0, 1},
		{"state synchronized", 1, 1, 0, 1},
		{"state bucket", 0, 1, 0, 0},
		{"state big", 1, 0, 1, 1},
		{"state all", 1, 1, 1, 1},
		/* Leading state words combine as in ss. */
		{"state established state time-wait", 1, 1, 0, 1},
		{"exclude listening state established", 1, 1, 0, 1},
		{"exclude listening exclude time-wait", 1, 0, 0, 1},
		{"state listening state established dport = :443", 1, 0, 0, 0},
		{"state listening state established and dport = :443", 1, 0, 0, 0},
		/* Inside an expression, side by side means and. */
		{"dport = :443 state established", 1, 0, 0, 0},
		{"( state established state time-wait )", 0, 0, 0, 0},
		{"state established or state time-wait", 1, 1, 0, 1},
		{"dport = :443", 1, 0, 0, 0},
		{"dport == 443", 1, 0, 0, 0},
		{"dport eq :https", 1, 0, 0, 0},
		{"dport != :443", 0, 1, 1, 1},
		{"dport < :100", 0, 1, 1, 0},
		{"dport <= :80", 0, 1, 1, 0},
		{"dport > :443", 0, 0, 0, 1},
		{"dport >= :443", 1, 0, 0, 1},
		{"dport gt :443", 0, 0, 0, 1},
		{"sport le :22", 0, 0, 1, 0},
		{"sport ge :40001", 0, 1, 0, 0},
		{"sport :22", 0, 0, 1, 0},
		{"src 198.18.0.1", 1, 1, 0, 0},
		{"src 198.18.0.0/24", 1, 1, 0, 0},
		{"src 198.18.0.0/24:40000", 1, 0, 0, 0},
		{"dst 198.18.1.0/24", 1, 1, 0, 0},
		{"dst 198.18.1.7:80", 0, 1, 0, 0},
		{"dst *:443", 1, 0, 0, 0},
		{"dst :443", 1, 0, 0, 0},
		{"src fd00::1", 0, 0, 0, 1},
		{"src fd00::/8", 0, 0, 0, 1},
		{"src [fd00::1]:5000", 0, 0, 0, 1},
		{"src [fd00::1]:5001", 0, 0, 0, 0},
		{"src [fd00::]/16:5000", 0, 0, 0, 1},
		{"not state listening", 1, 1, 0, 1},
		{"! dport = :443", 0, 1, 1, 1},
		{"( sport = :22 or dport = :80 )", 0, 1, 1, 0},
		{"(sport = :22 || dport = :80)", 0, 1, 1, 0},
		{"state established and dport = :443", 1, 0, 0, 0},
		{"state established && dport = :443", 1, 0, 0, 0},
		{"dport=:443", 1, 0, 0, 0},
		{"not ( state established or state listen )", 0, 1, 0, 0},
		{"dport = :80 or dport = :443 and state time-wait", 0, 1, 0, 0},
		/* and/or: one precedence, left to right, as in ss */
		{"sport = :22 or dport = :80 and state time-wait", 0, 1, 0, 0},
		/* Leading state words filter the whole expression, as in ss. */
		{"state time-wait and dport = :80 or sport = :22", 0, 1, 0, 0},
		{"dport = :80 or sport = :22 and state time-wait", 0, 1, 0, 0},
		{"dport = :80 or sport = :22 or state time-wait", 0, 1, 1, 0},
		{"sport = :22 or ( dport = :80 and state time-wait )", 0, 1, 1, 0},
		{"dport leq :80", 0, 1, 1, 0},
		{"dport geq :443", 1, 0, 0, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got[4] = {matches(cases[i].expr, &est), matches(cases[i].expr, &tw),
			      matches(cases[i].expr, &lst), matches(cases[i].expr, &v6)};
		int want[4] = {cases[i].est, cases[i].tw, cases[i].lst, cases[i].v6};
		if (memcmp(got, want, sizeof(got)) != 0) {
			printf("  \"%s\": got %d%d%d%d want %d%d%d%d\n", cases[i].expr, got[0],
			       got[1], got[2], got[3], want[0], want[1], want[2], want[3]);
			unit_failed = 1;
		}
	}
	/* An IPv4 condition matches an IPv4-mapped IPv6 socket. */
	CHECK(matches("src 198.18.0.1", &mapped) == 1);
	CHECK(matches("dst 198.18.0.0/24", &mapped) == 1);
	CHECK(matches("src 198.18.0.2", &mapped) == 0);
	/* No filter matches everything. */
	CHECK(filter_match(NULL, &est) == 1);
}

static void errors_name_the_token(void)
{
	static const struct {
		const char *expr;
		const char *want; /* substring of the message */
	} cases[] = {
		{"state bogus", "token 2 \"bogus\": unknown state name"},
		{"state", "at end: expected a state name"},
		{"dport = :http-nonsense", "token 3 \":http-nonsense\": unknown port or service"},
		{"dport = :70000", "token 3 \":70000\": port must be a number from 0 to 65535"},
		{"dport =", "at end: expected a port"},
		{"src example.com", "token 2 \"example.com\": \"example.com\" is not a numeric"},
		{"src 198.18.0.0/33", "bad prefix length"},
		{"src [fd00::1:80", "missing ]"},
		/* Text after ] is :port or /prefix; %dev (as list prints it) is not matched. */
		{"src [fe80::1]%d0:7000", "\"%d0:7000\" after ] is not :port or /prefix"},
		{"src [::]xyz:6000", "\"xyz:6000\" after ] is not :port or /prefix"},
		{"src [::1]:80:90", "port must be a number"},
		{"( state listen", "at end: expected )"},
		{"state listen )", "token 3 \")\": unexpected token"},
		{"bogus 1",
		 "token 1 \"bogus\": expected state, exclude, sport, dport, src, dst, dev, cgroup, "
		 "fwmark, not or ("},
		{"dev tcpst-nodev0", "token 2 \"tcpst-nodev0\": no such device"},
		{"dev = tcpst-nodev0", "token 3 \"tcpst-nodev0\": no such device"},
		{"dev != tcpst-nodev0 or dev lo", "token 3 \"tcpst-nodev0\": no such device"},
		{"dev", "at end: expected a device name or index"},
		{"dev =", "at end: expected a device name or index"},
		{"dev 2147483648", "token 2 \"2147483648\": device index must be a number"},
		{"dev 99999999999999999999", "device index must be a number from 0 to 2147483647"},
		{"dev 3x", "token 2 \"3x\": device index must be a number"},
		{"dev < 3", "token 2 \"<\": no such device"},
		{"dev if0", "token 2 \"if0\": no such device"},
		{"cgroup", "at end: expected a cgroup path"},
		{"cgroup ne", "at end: expected a cgroup path"},
		{"fwmark", "at end: expected a mark (MARK or MARK/MASK)"},
		{"fwmark !=", "at end: expected a mark"},
		{"fwmark 0x", "token 2 \"0x\": the mark must be a number from 0 to 0xffffffff"},
		{"fwmark 0x1/", "token 2 \"0x1/\": the mask must be a number from 0 to 0xffffffff"},
		{"fwmark /0xff", "token 2 \"/0xff\": the mark must be a number"},
		{"fwmark 1/2/3", "token 2 \"1/2/3\": the mask must be a number"},
		{"fwmark = 0x100000000", "token 3 \"0x100000000\": the mark must be a number"},
		{"fwmark 4294967296", "the mark must be a number from 0 to 0xffffffff"},
		{"fwmark 99999999999999999999999", "the mark must be a number"},
		{"fwmark -1", "token 2 \"-1\": the mark must be a number"},
		{"fwmark +1", "token 2 \"+1\": the mark must be a number"},
		{"fwmark 0x-1", "token 2 \"0x-1\": the mark must be a number"},
		{"fwmark 12z", "token 2 \"12z\": the mark must be a number"},
		{"fwmark 0xfg", "token 2 \"0xfg\": the mark must be a number"},
		/* %i in ss reads these as octal: refused rather than read another way. */
		{"fwmark 010", "token 2 \"010\": the mark has a leading 0 (octal to ss)"},
		{"fwmark 1/0377", "token 2 \"1/0377\": the mask has a leading 0 (octal to ss)"},
		{"fwmark < 3", "token 2 \"<\": the mark must be a number"},
		{"fwmark 1 or fwmark", "at end: expected a mark"},
		{"and", "token 1 \"and\""},
		{"state listen or", "at end: expected a condition"},
		{"not", "at end: expected a condition"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256];
		struct filter *f = parse(cases[i].expr, err, sizeof(err));
		if (f || !strstr(err, cases[i].want)) {
			printf("  \"%s\": got %s \"%s\", want error containing \"%s\"\n",
			       cases[i].expr, f ? "success" : "error", err, cases[i].want);
			unit_failed = 1;
		}
		filter_free(f);
	}
	/* Deep nesting is refused, not a stack overflow. */
	char deep[4096] = "";
	for (int i = 0; i < 500; i++)
		strcat(deep, "( ");
	char err[256], *argv[1] = {deep};
	struct filter *f = filter_parse(1, argv, err, sizeof(err));
	CHECK(f == NULL && strstr(err, "nested too deeply"));
	filter_free(f);
	/* An empty expression is an error, not "match all". */
	f = filter_parse(0, argv, err, sizeof(err));
	CHECK(f == NULL && strstr(err, "empty"));
}

/* A filter against three records: the truths it should have on each. */
struct three_case {
	const char *expr;
	int want[3];
};

static void check_three(const struct three_case *cases, size_t n, const struct sock_rec *r)
{
	for (size_t i = 0; i < n; i++) {
		int got[3] = {matches(cases[i].expr, &r[0]), matches(cases[i].expr, &r[1]),
			      matches(cases[i].expr, &r[2])};
		if (memcmp(got, cases[i].want, sizeof(got)) != 0) {
			printf("  \"%s\": got %d%d%d want %d%d%d\n", cases[i].expr, got[0], got[1],
			       got[2], cases[i].want[0], cases[i].want[1], cases[i].want[2]);
			unit_failed = 1;
		}
	}
}

/*
 * "dev": the record's ifindex against a name (looked up now: lo, which is 1
 * in every namespace), an index, or "ifN"; != ne neq are "not dev".
 */
static void dev_condition(void)
{
	struct sock_rec r[3]; /* bound to none, to lo, to 7 */
	r[0] = r[1] = r[2] = unit_sockrow(TS_LISTEN, "0.0.0.0", 22, "*", 0);
	r[1].ifindex = if_nametoindex("lo");
	r[2].ifindex = 7;
	static const struct three_case cases[] = {
		{"dev 0", {1, 0, 0}},
		{"dev = 0", {1, 0, 0}},
		{"dev lo", {0, 1, 0}},
		{"dev == lo", {0, 1, 0}},
		{"dev eq lo", {0, 1, 0}},
		{"dev=lo", {0, 1, 0}},
		{"dev 7", {0, 0, 1}},
		{"dev if7", {0, 0, 1}},
		{"dev != 7", {1, 1, 0}},
		{"dev ne 0", {0, 1, 1}},
		{"dev neq lo", {1, 0, 1}},
		{"dev!=lo", {1, 0, 1}},
		{"not dev 0", {0, 1, 1}},
		{"dev lo or dev 7", {0, 1, 1}},
		{"dev 7 and sport = :22", {0, 0, 1}},
		{"( dev != 0 ) and not dev 7", {0, 1, 0}},
	};
	CHECK(r[1].ifindex != 0 && r[1].ifindex != 7);
	check_three(cases, sizeof(cases) / sizeof(cases[0]), r);
	/* No state named: every state stays possible. */
	char err[256];
	struct filter *f = parse("dev lo", err, sizeof(err));
	CHECK(f && filter_states(f) == SM_ALL && !filter_has_state(f));
	filter_free(f);
}

/*
 * "fwmark MARK[/MASK]": (the socket's mark & MASK) == MARK, as the kernel's
 * INET_DIAG_BC_MARK_COND; MASK all ones by default; != ne neq are "not".
 */
static void mark_condition(void)
{
	struct sock_rec r[3]; /* marked 0, 0x24, 0xffff0013 */
	r[0] = r[1] = r[2] = unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 40000, "198.18.0.2", 80);
	r[1].mark = 0x24;
	r[2].mark = 0xffff0013;
	static const struct three_case cases[] = {
		{"fwmark 0", {1, 0, 0}},
		{"fwmark 36", {0, 1, 0}},
		{"fwmark = 0x24", {0, 1, 0}},
		{"fwmark == 0X24", {0, 1, 0}},
		{"fwmark eq 0x24/0xffffffff", {0, 1, 0}},
		{"fwmark=36", {0, 1, 0}},
		{"fwmark 0x20/0xf0", {0, 1, 0}},
		{"fwmark 0x10/0xf0", {0, 0, 1}},
		{"fwmark 0x4/0x4", {0, 1, 0}},
		{"fwmark 0/0", {1, 1, 1}},
		{"fwmark 0/0xff", {1, 0, 0}},
		{"fwmark 0xffff0000/0xffff0000", {0, 0, 1}},
		{"fwmark 4294901779", {0, 0, 1}},
		{"fwmark 0xffff0013/0xffffffff", {0, 0, 1}},
		/* Bits of the mark outside the mask: never true, as in the kernel. */
		{"fwmark 0x24/0xf", {0, 0, 0}},
		{"fwmark != 0x24", {1, 0, 1}},
		{"fwmark ne 0", {0, 1, 1}},
		{"fwmark neq 0x13/0xff", {1, 1, 0}},
		{"fwmark!=0", {0, 1, 1}},
		{"not fwmark 0", {0, 1, 1}},
		{"fwmark 0x24 or fwmark 0x13/0xff", {0, 1, 1}},
		{"fwmark != 0 and dport = :80", {0, 1, 1}},
		{"fwmark 0 and dport = :81", {0, 0, 0}},
	};
	check_three(cases, sizeof(cases) / sizeof(cases[0]), r);
	/* Whether the commands must check CAP_NET_ADMIN; no state named. */
	static const struct {
		const char *expr;
		int has_mark;
	} marks[] = {
		{"fwmark 1", 1},
		{"not ( dport = :80 or fwmark != 0x1/0x1 )", 1},
		{"state listening fwmark 2", 1},
		{"dev lo or dport = :80", 0},
		{"state established", 0},
	};
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		char err[256];
		struct filter *f = parse(marks[i].expr, err, sizeof(err));
		CHECK(f && filter_has_mark(f) == marks[i].has_mark);
		if (f && i == 0)
			CHECK(filter_states(f) == SM_ALL && !filter_has_state(f));
		filter_free(f);
	}
	CHECK(filter_has_mark(NULL) == 0);
	int kw = 0;
	for (const char *const *k = filter_keywords(); *k; k++)
		kw += strcmp(*k, "fwmark") == 0;
	CHECK(kw == 1);
}

/* A mountinfo file with the given text; its path into path (a mkstemp template). */
static int mountinfo_file(char *path, const char *text)
{
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The first cgroup2 mount, past cgroup v1 ones and optional fields; \040 unescaped. */
static void cgroup2_mount_point(void)
{
	static const struct {
		const char *text, *want; /* want NULL: none */
	} cases[] = {
		{"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		 "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		 "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
		 "/sys/fs/cgroup/unified"},
		{"30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw\n"
		 "50 23 0:40 / /mnt/other rw - cgroup2 cgroup2 rw\n",
		 "/sys/fs/cgroup"},
		{"30 23 0:26 / /mnt/my\\040cg\\134x rw - cgroup2 none rw\n", "/mnt/my cg\\x"},
		/* "cgroup2" as a mount point or source is not the file system type */
		{"30 23 0:26 / /cgroup2 rw - tmpfs cgroup2 rw\n", NULL},
		{"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n", NULL},
		{"", NULL},
		{"garbage\n1 2 3\n", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[] = "/tmp/tcpstate-mountinfo-XXXXXX", got[64] = "";
		CHECK(mountinfo_file(path, cases[i].text) == 0);
		int rc = cgroup2_mount(path, got, sizeof(got));
		int want_rc = cases[i].want ? 0 : -1;
		if (rc != want_rc || (cases[i].want && strcmp(got, cases[i].want) != 0) ||
		    (!cases[i].want && errno != ENOENT)) {
			printf("  case %zu: got %d \"%s\", want %s\n", i, rc, got,
			       cases[i].want ? cases[i].want : "ENOENT");
			unit_failed = 1;
		}
		unlink(path);
	}
	char small[8];
	CHECK(cgroup2_mount("/nonexistent/mountinfo", small, sizeof(small)) < 0 && errno == ENOENT);
	char path[] = "/tmp/tcpstate-mountinfo-XXXXXX";
	CHECK(mountinfo_file(path, cases[0].text) == 0);
	CHECK(cgroup2_mount(path, small, sizeof(small)) < 0 && errno == ENAMETOOLONG);
	unlink(path);
}

/*
 * "cgroup PATH" on this machine's cgroup2 mount, if it has one: the root's
 * id is the mount's inode number (kernfs gives a cgroup its id as inode
 * number where ino_t is 64 bits, as here), with or without the '/'; files,
 * paths that leave the mount and missing ones are no cgroup; a directory
 * on another file system is refused even though its handle is 8 bytes.
 */
static void cgroup_condition(void)
{
	char mnt[4096], err[256];
	struct stat st;
	uint64_t id = 0, id2 = 0;

	char tmp[] = "/tmp/tcpstate-cg-XXXXXX";
	CHECK(mkdtemp(tmp) != NULL);
	CHECK(cgroup2_id(tmp, "/", &id) < 0 && errno == EMEDIUMTYPE);
	rmdir(tmp);
	if (cgroup2_mount("/proc/self/mountinfo", mnt, sizeof(mnt)) < 0) {
		printf("  (no cgroup2 mount here: its lookups not tried)\n");
		struct filter *f = parse("cgroup /", err, sizeof(err));
		CHECK(!f && strstr(err, "token 2 \"/\": no cgroup2 file system is mounted"));
		filter_free(f);
		return;
	}
	CHECK(stat(mnt, &st) == 0);
	CHECK(cgroup2_id(mnt, "/", &id) == 0 && id == (uint64_t)st.st_ino);
	CHECK(cgroup2_id(mnt, "", &id2) == 0 && id2 == id);
	CHECK(cgroup2_id(mnt, "//", &id2) == 0 && id2 == id);
	CHECK(cgroup2_id(mnt, "cgroup.procs", &id2) < 0 && errno == ENOENT);
	CHECK(cgroup2_id(mnt, "../..", &id2) < 0 && errno == ENOENT);
	CHECK(cgroup2_id(mnt, "/tcpstate-no-such-cgroup", &id2) < 0 && errno == ENOENT);

	struct sock_rec in_root = unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 1, "198.18.0.2", 2);
	struct sock_rec tw = unit_sockrow(TS_TIME_WAIT, "198.18.0.1", 3, "198.18.0.2", 4);
	in_root.cgroup_id = id;
	CHECK(matches("cgroup /", &in_root) == 1 && matches("cgroup /", &tw) == 0);
	CHECK(matches("cgroup = /", &in_root) == 1 && matches("cgroup == /", &in_root) == 1);
	CHECK(matches("cgroup eq /", &in_root) == 1 && matches("cgroup=/", &in_root) == 1);
	CHECK(matches("cgroup != /", &in_root) == 0 && matches("cgroup != /", &tw) == 1);
	CHECK(matches("cgroup ne /", &tw) == 1 && matches("cgroup neq /", &in_root) == 0);
	CHECK(matches("not cgroup / and state time-wait", &tw) == 1);
	struct filter *f = parse("cgroup /tcpstate-no-such-cgroup", err, sizeof(err));
	CHECK(!f && strstr(err, "token 2 \"/tcpstate-no-such-cgroup\": no such cgroup under "));
	filter_free(f);
	f = parse("cgroup = cgroup.procs", err, sizeof(err));
	CHECK(!f && strstr(err, "token 3 \"cgroup.procs\": no such cgroup under "));
	filter_free(f);
}

static void state_mask_for_kernel(void)
{
	char err[256];
	struct {
		const char *expr;
		state_mask want;
		int has_state;
	} cases[] = {
		{"state established", SM(TS_ESTABLISHED), 1},
		{"exclude listening", SM_ALL & ~SM(TS_LISTEN), 1},
		{"dport = :80", SM_ALL, 0},
		{"state established or state time-wait", SM(TS_ESTABLISHED) | SM(TS_TIME_WAIT), 1},
		{"state established state time-wait", SM(TS_ESTABLISHED) | SM(TS_TIME_WAIT), 1},
		{"exclude listening state established", SM_ALL & ~SM(TS_LISTEN), 1},
		{"state established and dport = :80", SM(TS_ESTABLISHED), 1},
		{"state established or dport = :80", SM_ALL, 1},
		/* not over a mixed test can be true anywhere */
		{"not ( state listen and dport = :80 )", SM_ALL, 1},
		{"not ( state listen or state established )",
		 SM_ALL & ~(SM(TS_LISTEN) | SM(TS_ESTABLISHED)), 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct filter *f = parse(cases[i].expr, err, sizeof(err));
		CHECK(f != NULL);
		if (!f)
			continue;
		if (filter_states(f) != cases[i].want ||
		    filter_has_state(f) != cases[i].has_state) {
			printf("  \"%s\": mask %#x has_state %d, want %#x %d\n", cases[i].expr,
			       filter_states(f), filter_has_state(f), cases[i].want,
			       cases[i].has_state);
			unit_failed = 1;
		}
		filter_free(f);
	}
	CHECK(filter_states(NULL) == SM_ALL);
}

const struct unit_test filter_tests[] = {
	{"filter: matching", matching},
	{"filter: errors name the token", errors_name_the_token},
	{"filter: kernel state mask", state_mask_for_kernel},
	{"filter: dev", dev_condition},
	{"filter: fwmark", mark_condition},
	{"filter: cgroup2 mount from mountinfo", cgroup2_mount_point},
	{"filter: cgroup", cgroup_condition},
	{NULL, NULL},
};
