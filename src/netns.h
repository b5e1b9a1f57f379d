/*
 * netns.h - entering a named network namespace (/run/netns/NAME), as
 * "ip netns exec" and "ss -N" do; doing one thing inside a namespace given
 * by a descriptor and coming back; the names of its interfaces.
 */
#ifndef TCPSTATE_NETNS_H
#define TCPSTATE_NETNS_H

#include <stddef.h>

/*
 * Switch this process into namespace NAME.  Returns 0; -2 if NAME is not a
 * valid name (a usage error); -1 if it cannot be entered (runtime error).
 * err gets one line either way.
 */
int netns_enter(const char *name, char *err, size_t errlen);

/*
 * Call fn(arg) with this thread in the network namespace nsfd, then move
 * the thread back where it was.  What fn makes there stays there (a socket
 * keeps the namespace it was made in).  Returns fn's value, or -1 with a
 * message in err when the namespace cannot be entered (gone, EPERM: errno
 * says which); fn is then not called.  Only the calling thread moves.
 */
int netns_call_in(int nsfd, int (*fn)(void *), void *arg, char *err, size_t errlen);

/*
 * The interface names of the network namespace this process is in, by
 * index (sockets bound to a device carry only its index), read once with
 * if_nameindex().  NULL when they cannot be read.
 */
struct ifnames;
struct ifnames *netns_ifnames(void);
/* The same for the network namespace nsfd; NULL also when it cannot be entered. */
struct ifnames *netns_ifnames_in(int nsfd);
void netns_ifnames_free(struct ifnames *n);

/* Room for an interface name, or for "if" and an index. */
#define IFNAME_STRLEN 24

/*
 * The name of interface ifindex into buf (IFNAME_STRLEN), or "ifN" when n
 * is NULL or has no such index (a device gone, or a dump from elsewhere),
 * as ss prints it.  Returns buf.
 */
const char *netns_ifname(const struct ifnames *n, unsigned ifindex, char *buf);

#endif
