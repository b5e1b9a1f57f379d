/*
 * jsonpick.c - a small JSON reader (RFC 8259) over a cursor that never
 * reads past its end: a validator, strings decoded into bounded buffers,
 * and the two lookups nsname.c needs (see jsonpick.h for why not a library).
 */
#include "jsonpick.h"

#include <stdint.h>
#include <string.h>

struct jcur {
	const char *p, *end;
};

static int at(const struct jcur *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

static void ws(struct jcur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* Consume ch (after white space): 0, or -1 when something else is there. */
static int expect(struct jcur *c, char ch)
{
	ws(c);
	if (!at(c, ch))
		return -1;
	c->p++;
	return 0;
}

static int literal(struct jcur *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
		return -1;
	c->p += n;
	return 0;
}

static int digits(struct jcur *c)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct jcur *c)
{
	if (at(c, '-'))
		c->p++;
	if (at(c, '0'))
		c->p++;
	else if (digits(c) < 0)
		return -1;
	if (at(c, '.')) {
		c->p++;
		if (digits(c) < 0)
			return -1;
	}
	if (at(c, 'e') || at(c, 'E')) {
		c->p++;
		if (at(c, '+') || at(c, '-'))
			c->p++;
		if (digits(c) < 0)
			return -1;
	}
	return 0;
}

static int hex4(struct jcur *c, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++, c->p++) {
		if (c->p >= c->end)
			return -1;
		char h = *c->p;
		unsigned d = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
			     : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
			     : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
						    : 16u;
		if (d > 15)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* Bounded output of a decoded string; full is set once a byte did not fit. */
struct sink {
	char *o;
	size_t len, n;
	int full;
};

static void put(struct sink *s, unsigned char b)
{
	if (!s->o)
		return;
	if (s->n + 1 >= s->len || b == 0)
		s->full = 1; /* a NUL would cut the C string: unusable as well */
	else
		s->o[s->n++] = (char)b;
}

/* A code point as UTF-8 (lone surrogates stay as their 3 bytes: never a name anyway). */
static void put_utf8(struct sink *s, unsigned cp)
{
	if (cp < 0x80) {
		put(s, (unsigned char)cp);
	} else if (cp < 0x800) {
		put(s, (unsigned char)(0xc0 | cp >> 6));
		put(s, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put(s, (unsigned char)(0xe0 | cp >> 12));
		put(s, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		put(s, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		put(s, (unsigned char)(0xf0 | cp >> 18));
		put(s, (unsigned char)(0x80 | (cp >> 12 & 0x3f)));
		put(s, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		put(s, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

/* After a backslash: one escape into s.  0, or -1 when malformed. */
static int escape(struct jcur *c, struct sink *s)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned cp, lo;

	if (c->p >= c->end)
		return -1;
	if (*c->p != 'u') {
		e = *c->p ? strchr(from, *c->p) : NULL;
		if (!e)
			return -1;
		put(s, (unsigned char)to[e - from]);
		c->p++;
		return 0;
	}
	c->p++;
	if (hex4(c, &cp) < 0)
		return -1;
	/* A high surrogate followed by \uDC00-\uDFFF is one code point. */
	if (cp >= 0xd800 && cp < 0xdc00 && c->end - c->p >= 6 && c->p[0] == '\\' &&
	    c->p[1] == 'u') {
		struct jcur look = {c->p + 2, c->end};
		if (hex4(&look, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			c->p = look.p;
		}
	}
	put_utf8(s, cp);
	return 0;
}

/*
 * The string at c (its opening quote) into out, NUL-terminated, when out is
 * not NULL.  1 read whole; 0 read, but it did not fit len or held a NUL (out
 * is then empty); -1 malformed.
 */
static int string(struct jcur *c, char *out, size_t len)
{
	struct sink s = {out, len, 0, out == NULL || len == 0};

	if (!at(c, '"'))
		return -1;
	for (c->p++; c->p < c->end; c->p++) {
		unsigned char b = (unsigned char)*c->p;
		if (b == '"') {
			c->p++;
			if (out && len)
				out[s.full ? 0 : s.n] = '\0';
			return s.full ? 0 : 1;
		}
		if (b < 0x20)
			return -1; /* control characters must be escaped */
		if (b == '\\') {
			c->p++;
			if (escape(c, &s) < 0)
				return -1;
			c->p--;
		} else {
			put(&s, b);
		}
	}
	return -1;
}

static int value(struct jcur *c, int depth);

/*
 * The members of the object (close '}': key, ':', value) or the elements of
 * the array (close ']') at c; -1 when malformed.
 */
static int elements(struct jcur *c, int depth, char close)
{
	c->p++;
	ws(c);
	if (at(c, close)) {
		c->p++;
		return 0;
	}
	for (;;) {
		ws(c);
		if (close == '}' && (string(c, NULL, 0) < 0 || expect(c, ':') < 0))
			return -1;
		if (value(c, depth) < 0)
			return -1;
		ws(c);
		if (at(c, close)) {
			c->p++;
			return 0;
		}
		if (expect(c, ',') < 0)
			return -1;
	}
}

/* Skip one value (after white space): 0, or -1 when malformed or nested too deep. */
static int value(struct jcur *c, int depth)
{
	ws(c);
	if (c->p >= c->end)
		return -1;
	switch (*c->p) {
	case '{':
		return depth >= JSONPICK_DEPTH_MAX ? -1 : elements(c, depth + 1, '}');
	case '[':
		return depth >= JSONPICK_DEPTH_MAX ? -1 : elements(c, depth + 1, ']');
	case '"':
		return string(c, NULL, 0) < 0 ? -1 : 0;
	case 't':
		return literal(c, "true");
	case 'f':
		return literal(c, "false");
	case 'n':
		return literal(c, "null");
	default:
		return number(c);
	}
}

int jsonpick_valid(const char *buf, size_t n)
{
	struct jcur c = {buf, buf + n};

	if (value(&c, 0) < 0)
		return 0;
	ws(&c);
	return c.p == c.end;
}

/*
 * In the object at c, the value of key: c is left at it (1).  0 when c is
 * not at an object or the key is absent.  Only runs on a validated
 * document, yet every step still checks its bounds.
 */
static int member(struct jcur *c, const char *key)
{
	char k[256];

	ws(c);
	if (!at(c, '{'))
		return 0;
	c->p++;
	ws(c);
	if (at(c, '}'))
		return 0;
	for (;;) {
		ws(c);
		int r = string(c, k, sizeof(k));
		if (r < 0 || expect(c, ':') < 0)
			return 0;
		ws(c);
		if (r == 1 && strcmp(k, key) == 0)
			return 1;
		if (value(c, 0) < 0)
			return 0;
		ws(c);
		if (!at(c, ','))
			return 0;
		c->p++;
	}
}

int jsonpick_str(const char *buf, size_t n, const char *const *keys, size_t nkeys, char *out,
		 size_t len)
{
	struct jcur c = {buf, buf + n};

	if (len)
		out[0] = '\0';
	if (!jsonpick_valid(buf, n))
		return -1;
	for (size_t i = 0; i < nkeys; i++)
		if (!member(&c, keys[i]))
			return 0;
	if (!at(&c, '"') || string(&c, out, len) != 1) {
		if (len)
			out[0] = '\0';
		return 0;
	}
	return 1;
}

/* The first element of the array at c, if a string, into out: as string(). */
static int first_string(struct jcur c, char *out, size_t len)
{
	ws(&c);
	if (!at(&c, '['))
		return 0;
	c.p++;
	ws(&c);
	return at(&c, '"') ? string(&c, out, len) : 0;
}

/* One entry of the array at c: 1 when its "id" is id (names at *names, or NULL); c moves past it.
 */
static int entry(struct jcur *c, const char *id, const char **names)
{
	char got[128];
	int match = 0;

	*names = NULL;
	ws(c);
	if (!at(c, '{'))
		return value(c, 0) < 0 ? -1 : 0;
	c->p++;
	ws(c);
	if (at(c, '}')) {
		c->p++;
		return 0;
	}
	for (;;) {
		char k[16];
		ws(c);
		int r = string(c, k, sizeof(k));
		if (r < 0 || expect(c, ':') < 0)
			return -1;
		ws(c);
		int is_id = r == 1 && strcmp(k, "id") == 0 && at(c, '"');
		if (r == 1 && strcmp(k, "names") == 0 && !*names)
			*names = c->p;
		if (is_id) {
			int s = string(c, got, sizeof(got));
			if (s < 0)
				return -1;
			match |= s == 1 && strcmp(got, id) == 0;
		} else if (value(c, 0) < 0) {
			return -1;
		}
		ws(c);
		if (at(c, '}')) {
			c->p++;
			return match;
		}
		if (expect(c, ',') < 0)
			return -1;
	}
}

int jsonpick_names(const char *buf, size_t n, const char *id, char *out, size_t len)
{
	struct jcur c = {buf, buf + n};
	const char *names;

	if (len)
		out[0] = '\0';
	if (!jsonpick_valid(buf, n))
		return -1;
	ws(&c);
	if (!at(&c, '['))
		return 0;
	c.p++;
	ws(&c);
	if (at(&c, ']'))
		return 0;
	for (;;) {
		int r = entry(&c, id, &names);
		if (r < 0)
			return 0;
		if (r == 1) {
			struct jcur nc = {names, c.end};
			if (names && first_string(nc, out, len) == 1)
				return 1;
			if (len)
				out[0] = '\0';
			return 0;
		}
		ws(&c);
		if (!at(&c, ','))
			return 0;
		c.p++;
	}
}
