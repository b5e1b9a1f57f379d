/*
 * census.h - ephemeral ports in use, per source address and destination:
 * the one count behind `list -s`, top's header and `tune show`'s advice.
 *
 * A socket holds an ephemeral port when connect() chose its local port
 * from ip_local_port_range.  The kernel never chooses a port that a
 * listener holds, so a socket whose local port lies in the range but is a
 * listening port (on the socket's address, or on the wildcard: [::] with
 * IPV6_V6ONLY off also holds the IPv4 port) is a server's accepted socket,
 * not an ephemeral port, and its peer is a client, not a destination.
 *
 * connect() needs the 4-tuple to be unique, not the local port: one local
 * port serves any number of destinations, and each local address has the
 * whole range to itself.  So the range runs out per (source address,
 * destination address, destination port), and that is what is counted:
 * a host with two source addresses has two budgets towards one
 * destination, not one of twice the size.
 *
 * Listeners may arrive after the sockets on their port (the kernel dumps
 * IPv4 before IPv6), so sockets are kept, compactly, until census_end()
 * has seen every listener.  Pairs are counted in a hash table that grows
 * as needed: there is no cap.  Addresses are compared in their canonical
 * form (addr_canonical): ::ffff:a.b.c.d is a.b.c.d.
 *
 * No I/O: the caller reads the range and passes it in.
 */
#ifndef TCPSTATE_CENSUS_H
#define TCPSTATE_CENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "sockrec.h"

/* One destination (addr, port) from one source address: one budget of the range. */
struct census_dest {
	uint8_t family;	    /* of addr, canonical */
	uint8_t src_family; /* of src, canonical */
	uint16_t port;
	uint8_t addr[16];
	uint8_t src[16];    /* the local address the sockets connect from */
	uint32_t in_use;    /* sockets on ephemeral ports from src to it */
	uint32_t time_wait; /* of which in TIME-WAIT */
	uint32_t fresh;	    /* of which the caller called fresh (new since its last look) */
};

struct census_totals {
	uint64_t in_use, time_wait;
	uint64_t pairs;	    /* distinct (source, destination): the census_dests */
	uint64_t dests;	    /* distinct destinations (addr, port), whatever the source */
	uint64_t sources;   /* distinct source addresses */
	uint64_t on_listen; /* in the range, but on a listening port: not counted */
};

struct census;

struct census *census_new(void);
void census_free(struct census *c);
/* Start a count; lo..hi is ip_local_port_range (lo <= 0: unknown, nothing counts). */
void census_begin(struct census *c, long lo, long hi);
/*
 * One socket of the dump, listener or not, in any order.  fresh is counted
 * in census_dest.fresh.  Returns -1 when out of memory (the count is then
 * incomplete; census_end says so too).
 */
int census_add(struct census *c, const struct sock_rec *r, int fresh);
/* Every socket is in: count.  -1 when out of memory, now or in census_add. */
int census_end(struct census *c);

const struct census_totals *census_totals(const struct census *c);
/*
 * The busiest pairs of source and destination, at most max, busiest first
 * (more in use, then more in TIME-WAIT, then destination and source in
 * address order, so the order is stable).
 */
size_t census_busiest(const struct census *c, struct census_dest *out, size_t max);

#endif
