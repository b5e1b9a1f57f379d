/*
 * netns.h - entering a named network namespace (/run/netns/NAME), as
 * "ip netns exec" and "ss -N" do; the names of its interfaces.
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
 * The interface names of the network namespace this process is in, by
 * index (sockets bound to a device carry only its index), read once with
 * if_nameindex().  NULL when they cannot be read.
 */
struct ifnames;
struct ifnames *netns_ifnames(void);
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
