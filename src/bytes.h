/*
 * bytes.h - bounds-checked reads from untrusted buffers (packets, netlink
 * replies, dump files).  Every byte that came from outside is read through
 * a cursor {p, end}; a read past the end fails instead of reading, and the
 * check is written so that it cannot overflow.
 */
#ifndef TCPSTATE_BYTES_H
#define TCPSTATE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cursor {
	const uint8_t *p;
	const uint8_t *end;
};

static inline struct cursor cur_make(const uint8_t *p, size_t len)
{
	struct cursor c = {p, p + len};
	return c;
}

static inline size_t cur_left(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
}

/* 1 if n bytes can be read at offset off. */
static inline int cur_has(const struct cursor *c, size_t off, size_t n)
{
	size_t left = cur_left(c);
	return off <= left && n <= left - off;
}

static inline int cur_skip(struct cursor *c, size_t n)
{
	if (n > cur_left(c))
		return -1;
	c->p += n;
	return 0;
}

/* Readers at an offset; the caller has checked cur_has(c, off, size). */
static inline uint8_t get_u8(const struct cursor *c, size_t off)
{
	return c->p[off];
}

static inline uint16_t get_be16(const struct cursor *c, size_t off)
{
	return (uint16_t)((unsigned)c->p[off] << 8 | c->p[off + 1]);
}

static inline uint32_t get_be32(const struct cursor *c, size_t off)
{
	return (uint32_t)c->p[off] << 24 | (uint32_t)c->p[off + 1] << 16 |
	       (uint32_t)c->p[off + 2] << 8 | c->p[off + 3];
}

static inline uint16_t get_le16(const struct cursor *c, size_t off)
{
	return (uint16_t)((unsigned)c->p[off + 1] << 8 | c->p[off]);
}

static inline uint32_t get_le32(const struct cursor *c, size_t off)
{
	return (uint32_t)c->p[off + 3] << 24 | (uint32_t)c->p[off + 2] << 16 |
	       (uint32_t)c->p[off + 1] << 8 | c->p[off];
}

/* Host order, for netlink (which is host-endian by definition). */
static inline uint16_t get_h16(const struct cursor *c, size_t off)
{
	uint16_t v;
	memcpy(&v, c->p + off, sizeof(v));
	return v;
}

static inline uint32_t get_h32(const struct cursor *c, size_t off)
{
	uint32_t v;
	memcpy(&v, c->p + off, sizeof(v));
	return v;
}

static inline uint64_t get_h64(const struct cursor *c, size_t off)
{
	uint64_t v;
	memcpy(&v, c->p + off, sizeof(v));
	return v;
}

#endif
