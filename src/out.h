/*
 * out.h - buffered output with write errors remembered, and the escaping
 * rules of the formats tcpstate writes (JSON strings, CSV fields).
 * Writing through one buffer instead of stdio's per-call locking keeps a
 * 500k-row listing cheap; checking the error once at the end is how git
 * and coreutils notice a full disk or a closed pipe.
 */
#ifndef TCPSTATE_OUT_H
#define TCPSTATE_OUT_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>

struct out {
	int fd;
	int err; /* errno of the first failed write, or 0 */
	/* Set by a signal: a write it interrupts fails (EINTR), not retried forever. */
	const volatile sig_atomic_t *stop;
	size_t len;
	char buf[1 << 16];
};

void out_init(struct out *o, int fd);
void out_write(struct out *o, const void *p, size_t n);
void out_str(struct out *o, const char *s);
void out_char(struct out *o, char c);
void out_u64(struct out *o, uint64_t v);
void out_i64(struct out *o, int64_t v);
void out_pad(struct out *o, size_t n);
void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A JSON string literal, quotes included, always valid UTF-8: controls
 * (C0, DEL, C1) as \u00XX, each byte outside valid UTF-8 as \ufffd.
 */
void out_json_str(struct out *o, const char *s);
/* A CSV field escaped as fmt_text escapes it, quoted only when it must be (RFC 4180). */
void out_csv_field(struct out *o, const char *s);
/*
 * Text from outside (a process name, an interface name) for a terminal: s
 * with every control character (C0, DEL, and the C1 controls, raw or
 * UTF-8 encoded), every byte that is not part of valid UTF-8, and the
 * backslash written as a C escape (\n \t \r \\ \xHH), so that a name
 * cannot move the cursor, end a line or send the terminal a command, and
 * the escaped form reads back unambiguously.  Writes at most len - 1 bytes
 * and a NUL (len >= 1), never half an escape or half a character; returns
 * the length.  The escaping of table and CSV text; JSON has its own.
 */
size_t fmt_text(char *buf, size_t len, const char *s);
/*
 * The columns n bytes of text fmt_text made take on a terminal: one per
 * character (UTF-8 continuation bytes take none).  East Asian wide
 * characters are counted as one.
 */
size_t text_width(const char *s, size_t n);
/*
 * Length of the valid UTF-8 sequence at p (RFC 3629), or 0 when p does not
 * begin one (overlong forms, surrogates and code points past U+10FFFF are
 * not valid).
 */
size_t utf8_seq_len(const unsigned char *p);
/* Flush; returns 0, or -1 with o->err set. */
int out_flush(struct out *o);

/* Decimal digits of v into buf (no NUL); returns the length. */
size_t fmt_u64(char *buf, uint64_t v);

#endif
