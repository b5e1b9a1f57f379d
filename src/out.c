/*
 * out.c - buffered output and format escaping.
 */
#include "out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void out_init(struct out *o, int fd)
{
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	o->stop = NULL;
}

static void drain(struct out *o)
{
	const char *p = o->buf;
	size_t n = o->len;

	o->len = 0;
	if (o->err)
		return;
	while (n > 0) {
		ssize_t w = write(o->fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
		/*
		 * A signal cuts a blocked write short (a partial count) or fails
		 * it (EINTR); once it asked for the end, the rest is not retried.
		 */
		if (n > 0 && (w >= 0 || errno == EINTR) && o->stop && *o->stop) {
			o->err = EINTR;
			return;
		}
		if (w < 0 && errno != EINTR) {
			o->err = errno;
			return;
		}
	}
}

void out_write(struct out *o, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		size_t room = sizeof(o->buf) - o->len;
		size_t k = n < room ? n : room;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == sizeof(o->buf))
			drain(o);
	}
}

void out_str(struct out *o, const char *s)
{
	out_write(o, s, strlen(s));
}

void out_char(struct out *o, char c)
{
	if (o->len == sizeof(o->buf))
		drain(o);
	o->buf[o->len++] = c;
}

size_t fmt_u64(char *buf, uint64_t v)
{
	/* Two digits per division: numbers are most of what the tables print. */
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	char tmp[20];
	size_t n = sizeof(tmp);

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		tmp[--n] = pairs[d + 1];
		tmp[--n] = pairs[d];
	}
	if (v >= 10) {
		tmp[--n] = pairs[v * 2 + 1];
		tmp[--n] = pairs[v * 2];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(buf, tmp + n, sizeof(tmp) - n);
	return sizeof(tmp) - n;
}

void out_u64(struct out *o, uint64_t v)
{
	char tmp[20];
	out_write(o, tmp, fmt_u64(tmp, v));
}

void out_i64(struct out *o, int64_t v)
{
	if (v < 0) {
		out_char(o, '-');
		out_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		out_u64(o, (uint64_t)v);
	}
}

void out_pad(struct out *o, size_t n)
{
	static const char spaces[] = "                                ";

	while (n > 0) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		out_write(o, spaces, k);
		n -= k;
	}
}

void out_printf(struct out *o, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	out_write(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

size_t text_width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

size_t utf8_seq_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range rules out overlong forms, surrogates and past U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* The letter of a C escape that has one (\n), or 0. */
static char named_escape(unsigned char c)
{
	switch (c) {
	case '\n':
		return 'n';
	case '\t':
		return 't';
	case '\r':
		return 'r';
	case '\\':
		return '\\';
	}
	return 0;
}

/*
 * One step of the terminal escaping at p: points *from at n bytes to write
 * (p itself, or esc) and returns how many bytes of p they stand for.
 */
static size_t text_step(const unsigned char *p, char esc[8], const unsigned char **from, size_t *n)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = utf8_seq_len(p);

	*from = p;
	/* A C1 control (U+0080..U+009F) is C2 80..C2 9F in UTF-8. */
	if (k == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\') {
		*n = 1;
		return 1;
	}
	if (k > 1 && !(p[0] == 0xc2 && p[1] < 0xa0)) {
		*n = k;
		return k;
	}
	esc[0] = '\\';
	if ((esc[1] = named_escape(*p)) != 0) {
		*n = 2;
	} else {
		esc[1] = 'x';
		esc[2] = hex[*p >> 4];
		esc[3] = hex[*p & 15];
		*n = 4;
	}
	*from = (const unsigned char *)esc;
	return 1; /* one byte escaped at a time (C1: its two bytes) */
}

size_t fmt_text(char *buf, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	while (*p) {
		char esc[8];
		const unsigned char *from;
		size_t n, k = text_step(p, esc, &from, &n);

		if (o + n >= len)
			break;
		memcpy(buf + o, from, n);
		o += n;
		p += k;
	}
	buf[o] = '\0';
	return o;
}

/*
 * JSON must be valid UTF-8 (RFC 8259 section 8.1): a byte that is not part
 * of a valid sequence becomes U+FFFD, one per byte, as browsers and Python's
 * "replace" decode it.  Controls (C0, DEL and the UTF-8 encoded C1) are
 * \u escapes so that printing the document cannot command a terminal.
 */
void out_json_str(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	out_char(o, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t k = utf8_seq_len(p);
		unsigned char c = k == 2 && p[0] == 0xc2 && p[1] < 0xa0 ? p[1] : p[0];

		if (k == 0) {
			out_str(o, "\\ufffd");
			k = 1;
		} else if (c == '"' || c == '\\') {
			out_char(o, '\\');
			out_char(o, (char)c);
		} else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			out_write(o, esc, sizeof(esc));
		} else {
			out_write(o, p, k);
		}
		p += k;
	}
	out_char(o, '"');
}

/*
 * The field's text escaped as fmt_text escapes it for the table, so that a
 * name cannot command the terminal that shows the CSV; since a newline is
 * then \n, only a comma or a quote makes a field need quotes.
 */
void out_csv_field(struct out *o, const char *s)
{
	int quote = strpbrk(s, ",\"") != NULL;

	if (quote)
		out_char(o, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		char esc[8];
		const unsigned char *from;
		size_t n, k = text_step(p, esc, &from, &n);

		if (*p == '"')
			out_char(o, '"');
		out_write(o, from, n);
		p += k;
	}
	if (quote)
		out_char(o, '"');
}

int out_flush(struct out *o)
{
	drain(o);
	return o->err ? -1 : 0;
}
