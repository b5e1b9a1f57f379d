/*
 * netns.h - entering a named network namespace (/run/netns/NAME), as
 * "ip netns exec" and "ss -N" do.
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

#endif
