/*
 * addr.h - IPv4/IPv6 addresses as the kernel stores them (16 bytes, IPv4 in
 * the first 4), formatted without DNS and parsed for filters.
 */
#ifndef TCPSTATE_ADDR_H
#define TCPSTATE_ADDR_H

#include <stddef.h>
#include <stdint.h>

/* Long enough for any IPv6 text form plus brackets, ':' and a port. */
#define ADDR_STRLEN 56

/* The address alone, NUL-terminated; returns its length. */
size_t addr_format(char *buf, int family, const uint8_t *a);
/* "addr:port", IPv6 in brackets; port 0 with star_port prints "*". */
size_t addr_format_port(char *buf, int family, const uint8_t *a, uint16_t port, int star_port);
/*
 * The same with "%dev" after the address when dev is not NULL, as ss shows
 * a socket bound to a device or an IPv6 link-local scope: "[fe80::1]%eth0:22",
 * "0.0.0.0%lo:80".  buf: ADDR_STRLEN + 1 + strlen(dev).
 */
size_t addr_format_port_dev(char *buf, int family, const uint8_t *a, uint16_t port, int star_port,
			    const char *dev);
/* strlen of addr_format_port(..., 0), without formatting an IPv4 address. */
size_t addr_port_len(int family, const uint8_t *a, uint16_t port);

/* Parse a numeric address; returns 0 and sets family (AF_INET/AF_INET6). */
int addr_parse(const char *s, int *family, uint8_t a[16]);

/* 1 if the first plen bits of a and b agree. */
int addr_prefix_match(const uint8_t *a, const uint8_t *b, unsigned plen);

/* 1 if a is an IPv4-mapped IPv6 address, ::ffff:a.b.c.d. */
int addr_v4mapped(int family, const uint8_t *a);
/*
 * The address as the wire carries it.  A dual-stack socket (AF_INET6,
 * IPV6_V6ONLY off) talking to an IPv4 peer shows both ends as
 * ::ffff:a.b.c.d, while its packets, and any AF_INET socket, say a.b.c.d:
 * wherever the kernel's view meets the wire's, or two views of one host
 * are compared, addresses are compared in this form.  Writes it to out
 * (16 bytes, IPv4 in the first 4 and zeros after; out may be a) and
 * returns its family.
 */
int addr_canonical(int family, const uint8_t *a, uint8_t out[16]);
/* 1 if a is the wildcard of its family (0.0.0.0 or ::). */
int addr_any(int family, const uint8_t *a);

#endif
