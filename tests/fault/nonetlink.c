/*
 * nonetlink.c - an LD_PRELOAD shim for tests: socket(AF_NETLINK, ...)
 * fails with EAFNOSUPPORT, as on a kernel built without netlink sock_diag
 * or inside a seccomp sandbox that forbids it.  Other sockets are untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol)
{
	static int (*real)(int, int, int);

	if (domain == AF_NETLINK) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (!real)
		real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	return real(domain, type, protocol);
}
