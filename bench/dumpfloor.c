/*
 * dumpfloor - the cost floor of listing TCP sockets: a bare sock_diag dump.
 *
 * Opens a NETLINK_SOCK_DIAG socket, sends an inet_diag_req_v2 dump request
 * for TCP in every state (as ss -a asks), for AF_INET then AF_INET6, reads
 * with a 64 KiB buffer until NLMSG_DONE, and counts the inet_diag_msg
 * replies.  It
 * decodes nothing and prints only the count: whatever a socket lister
 * costs beyond this is its own work (parsing, formatting, output).
 *
 * usage: dumpfloor [COUNT [SECONDS]]   (run inside the namespace to measure)
 *
 * With COUNT, it dumps COUNT times, each on a fresh socket, and sleeps until
 * SECONDS after the start of each dump, as a monitor's refresh loop does.
 * The cadence matters: on this machine a dump after a 50 ms sleep costs the
 * kernel up to 1.6 times what the same dump costs back to back (its socket
 * structures have left the caches meanwhile), so a monitor refreshing every
 * 50 ms must be compared with dumps every 50 ms, not with a tight loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[65536] __attribute__((aligned(8)));

static void die(const char *what)
{
	fprintf(stderr, "dumpfloor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long dump(int fd, int family, unsigned int seq)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	long count = 0;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = seq;
	msg.req.sdiag_family = (unsigned char)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	/*
	 * Every TCP state, 1 (ESTABLISHED) to 12 (NEW_SYN_RECV), as ss -a and
	 * tcpstate ask.  Not ~0: since Linux 6.6 bit 13 (TCP_BOUND_INACTIVE)
	 * makes the kernel also walk its bind table, a third more work at 100k
	 * sockets that no socket lister asks for.
	 */
	msg.req.idiag_states = 0x1ffe;

	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		die("sendto");

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		size_t len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recv");
		}
		if (n == 0)
			return count;
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return count;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				errno = -e->error;
				die("dump");
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
				count++;
		}
	}
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
	double every = argc > 2 ? strtod(argv[2], NULL) : 0;
	long total = 0;

	if (n < 1 || every < 0) {
		fprintf(stderr, "usage: dumpfloor [COUNT [SECONDS]]\n");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		double start = now_s();
		int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

		if (fd < 0)
			die("socket(NETLINK_SOCK_DIAG)");
		total = dump(fd, AF_INET, 1);
		total += dump(fd, AF_INET6, 2);
		close(fd);
		/* Like a monitor's refresh loop: sleep until start + every, if that is later. */
		double left = start + every - now_s();
		if (i + 1 < n && left > 0) {
			struct timespec ts = {(time_t)left,
					      (long)((left - (double)(time_t)left) * 1e9)};
			nanosleep(&ts, NULL);
		}
	}
	printf("%ld\n", total);
	return 0;
}
