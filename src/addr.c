/*
 * addr.c - address formatting and parsing, and the canonical form in which
 * addresses of the kernel's view and the wire's are compared.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "out.h"

size_t addr_format(char *buf, int family, const uint8_t *a)
{
	if (family == AF_INET) {
		/* inet_ntop is a visible cost at 500k rows; dotted quads are easy. */
		size_t n = 0;
		for (int i = 0; i < 4; i++) {
			if (i)
				buf[n++] = '.';
			n += fmt_u64(buf + n, a[i]);
		}
		buf[n] = '\0';
		return n;
	}
	if (!inet_ntop(AF_INET6, a, buf, ADDR_STRLEN)) {
		strcpy(buf, "?");
		return 1;
	}
	return strlen(buf);
}

/* Decimal digits of v. */
static size_t digits(unsigned v)
{
	return v >= 10000 ? 5 : v >= 1000 ? 4 : v >= 100 ? 3 : v >= 10 ? 2 : 1;
}

size_t addr_port_len(int family, const uint8_t *a, uint16_t port)
{
	if (family == AF_INET)
		return digits(a[0]) + digits(a[1]) + digits(a[2]) + digits(a[3]) + 4 + digits(port);
	char b[ADDR_STRLEN];
	return addr_format_port(b, family, a, port, 0);
}

size_t addr_format_port(char *buf, int family, const uint8_t *a, uint16_t port, int star_port)
{
	return addr_format_port_dev(buf, family, a, port, star_port, NULL);
}

size_t addr_format_port_dev(char *buf, int family, const uint8_t *a, uint16_t port, int star_port,
			    const char *dev)
{
	size_t n = 0;

	if (family == AF_INET6)
		buf[n++] = '[';
	n += addr_format(buf + n, family, a);
	if (family == AF_INET6)
		buf[n++] = ']';
	if (dev) {
		size_t k = strlen(dev);
		buf[n++] = '%';
		memcpy(buf + n, dev, k);
		n += k;
	}
	buf[n++] = ':';
	if (star_port && port == 0)
		buf[n++] = '*';
	else
		n += fmt_u64(buf + n, port);
	buf[n] = '\0';
	return n;
}

int addr_parse(const char *s, int *family, uint8_t a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

int addr_prefix_match(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned bytes = plen / 8, bits = plen % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));
		if ((a[bytes] & mask) != (b[bytes] & mask))
			return 0;
	}
	return 1;
}

int addr_v4mapped(int family, const uint8_t *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return family == AF_INET6 && memcmp(a, prefix, sizeof(prefix)) == 0;
}

int addr_canonical(int family, const uint8_t *a, uint8_t out[16])
{
	if (addr_v4mapped(family, a)) {
		uint8_t v4[4];
		memcpy(v4, a + 12, 4);
		memset(out, 0, 16);
		memcpy(out, v4, 4);
		return AF_INET;
	}
	if (family == AF_INET) {
		/* Only the first word is the address; the rest may hold anything. */
		memmove(out, a, 4);
		memset(out + 4, 0, 12);
	} else if (out != a) {
		memcpy(out, a, 16);
	}
	return family;
}

int addr_any(int family, const uint8_t *a)
{
	static const uint8_t zero[16];
	return memcmp(a, zero, family == AF_INET ? 4 : 16) == 0;
}
