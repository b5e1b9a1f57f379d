/* Unit tests: output escaping, number formatting and write errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "out.h"
#include "unit.h"

/* Run fn into a pipe and return what it wrote. */
static void capture(void (*fn)(struct out *), char *got, size_t len)
{
	int p[2];
	struct out *o = malloc(sizeof(*o));
	CHECK(pipe(p) == 0 && o);
	out_init(o, p[1]);
	fn(o);
	CHECK(out_flush(o) == 0);
	close(p[1]);
	ssize_t n = read(p[0], got, len - 1);
	got[n > 0 ? n : 0] = '\0';
	close(p[0]);
	free(o);
}

static void json_cases(struct out *o)
{
	out_json_str(o, "a\"b\\c\n\x01\x7f");
	out_char(o, ' ');
	out_json_str(o, "");
}

static void csv_cases(struct out *o)
{
	out_csv_field(o, "plain");
	out_char(o, '|');
	out_csv_field(o, "a,b");
	out_char(o, '|');
	out_csv_field(o, "say \"hi\"");
}

/* Bytes a process may name itself with: invalid UTF-8, raw and encoded C1, ESC. */
static void json_names(struct out *o)
{
	out_json_str(o, "\xff\xfe\xc3|\x9b"
			"1m|\xc2\x9b|\x1b[31m|\xc3\xa9\xe2\x80\xae|\xc3");
}

static void csv_names(struct out *o)
{
	out_csv_field(o, "\x1b[31mX\n");
	out_char(o, '|');
	out_csv_field(o, "a\tb\rc,\\\x7f\xc2\x9b\xff");
	out_char(o, '|');
	out_csv_field(o, "\xc3\xa9");
}

static void num_cases(struct out *o)
{
	out_u64(o, 0);
	out_char(o, ' ');
	out_u64(o, 18446744073709551615ULL);
	out_char(o, ' ');
	out_i64(o, -9223372036854775807LL - 1);
	out_char(o, ' ');
	out_pad(o, 40);
	out_char(o, '.');
}

static void escaping(void)
{
	char got[256];
	capture(json_cases, got, sizeof(got));
	CHECK_STR(got, "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\" \"\"");
	capture(csv_cases, got, sizeof(got));
	CHECK_STR(got, "plain|\"a,b\"|\"say \"\"hi\"\"\"");
	capture(json_names, got, sizeof(got));
	CHECK_STR(got, "\"\\ufffd\\ufffd\\ufffd|\\ufffd1m|\\u009b|\\u001b[31m|\xc3\xa9\xe2\x80\xae|"
		       "\\ufffd\"");
	capture(csv_names, got, sizeof(got));
	CHECK_STR(got, "\\x1b[31mX\\n|\"a\\tb\\rc,\\\\\\x7f\\xc2\\x9b\\xff\"|\xc3\xa9");
	capture(num_cases, got, sizeof(got));
	CHECK(strncmp(got, "0 18446744073709551615 -9223372036854775808 ", 44) == 0);
	CHECK(strlen(got) == 44 + 40 + 1);
}

static void write_error_remembered(void)
{
	struct out *o = malloc(sizeof(*o));
	int fd = open("/dev/full", O_WRONLY);
	CHECK(fd >= 0 && o);
	out_init(o, fd);
	for (int i = 0; i < 100000; i++)
		out_str(o, "filling the disk ");
	CHECK(out_flush(o) == -1 && o->err == ENOSPC);
	close(fd);
	free(o);
}

static void addresses(void)
{
	uint8_t a[16] = {198, 18, 0, 1};
	char buf[ADDR_STRLEN];
	addr_format_port(buf, AF_INET, a, 443, 0);
	CHECK_STR(buf, "198.18.0.1:443");
	uint8_t z[16] = {0};
	addr_format_port(buf, AF_INET, z, 0, 1);
	CHECK_STR(buf, "0.0.0.0:*");
	int fam;
	CHECK(addr_parse("fd00::1", &fam, a) == 0 && fam == AF_INET6);
	addr_format_port(buf, AF_INET6, a, 80, 0);
	CHECK_STR(buf, "[fd00::1]:80");
	addr_format(buf, AF_INET6, a);
	CHECK_STR(buf, "fd00::1");
	CHECK(addr_parse("255.255.255.255", &fam, a) == 0 && fam == AF_INET);
	addr_format(buf, AF_INET, a);
	CHECK_STR(buf, "255.255.255.255");
	CHECK(addr_parse("1.2.3", &fam, a) == -1);
	CHECK(addr_parse("example.com", &fam, a) == -1);
	uint8_t p1[16] = {10, 1, 2, 3}, p2[16] = {10, 1, 2, 200};
	CHECK(addr_prefix_match(p1, p2, 24) == 1);
	CHECK(addr_prefix_match(p1, p2, 25) == 0);
	CHECK(addr_prefix_match(p1, p2, 0) == 1);
}

/* fmt_u64 against printf, and addr_port_len against the formatted length. */
static void numbers_and_lengths(void)
{
	static const uint64_t v[] = {0,		1,   9,	   10,	  11,	 99,	 100,
				     101,	999, 1000, 65535, 99999, 100000, 1234567890123ULL,
				     UINT64_MAX};
	char got[32], want[32], b[ADDR_STRLEN];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = fmt_u64(got, v[i]);
		got[n] = '\0';
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
		CHECK_STR(got, want);
	}
	static const uint8_t a4[][4] = {
		{0, 0, 0, 0}, {9, 10, 99, 100}, {255, 255, 255, 255}, {198, 18, 0, 1}};
	static const uint16_t ports[] = {0, 9, 10, 443, 9999, 10000, 65535};
	for (size_t i = 0; i < sizeof(a4) / sizeof(a4[0]); i++) {
		uint8_t a[16] = {0};
		memcpy(a, a4[i], 4);
		for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++)
			CHECK(addr_port_len(AF_INET, a, ports[k]) ==
			      addr_format_port(b, AF_INET, a, ports[k], 0));
	}
	uint8_t a6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	CHECK(addr_port_len(AF_INET6, a6, 443) == addr_format_port(b, AF_INET6, a6, 443, 0));
}

/* Table text: names from outside reach a terminal only escaped. */
static void text_escaping(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"python3", "python3"},
		{"x\n\x1b[31mevil", "x\\n\\x1b[31mevil"}, /* a line break, an SGR sequence */
		{"t\tr\rb\\", "t\\tr\\rb\\\\"},		  /* the backslash too: unambiguous */
		{"\x01\x7f", "\\x01\\x7f"},		  /* C0, DEL */
		{"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}, /* UTF-8 */
		{"\xc2\x9b"
		 "2J",
		 "\\xc2\\x9b2J"},	  /* U+009B, the C1 CSI */
		{"\xc2\xa0", "\xc2\xa0"}, /* U+00A0 is printable */
		{"\x9b"
		 "2J",
		 "\\x9b2J"},				      /* a raw C1 byte: not UTF-8 */
		{"\xc0\xaf\xff", "\\xc0\\xaf\\xff"},	      /* overlong, never valid */
		{"\xed\xa0\x80", "\\xed\\xa0\\x80"},	      /* a surrogate */
		{"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* past U+10FFFF */
		{"a\xe2\x82", "a\\xe2\\x82"},		      /* cut short at the end */
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = fmt_text(buf, sizeof(buf), cases[i].in);
		CHECK_STR(buf, cases[i].want);
		CHECK(n == strlen(cases[i].want));
	}
	/* Cut to fit, never inside an escape or a character. */
	CHECK(fmt_text(buf, 5, "ab\ncd") == 4);
	CHECK_STR(buf, "ab\\n");
	CHECK(fmt_text(buf, 4, "ab\ncd") == 2);
	CHECK_STR(buf, "ab");
	CHECK(fmt_text(buf, 4, "a\xe2\x82\xac") == 1);
	CHECK_STR(buf, "a");
	CHECK(fmt_text(buf, 1, "abc") == 0);
	CHECK_STR(buf, "");
}

const struct unit_test out_tests[] = {
	{"out: table text escaped for a terminal", text_escaping},
	{"out: fmt_u64 and address lengths", numbers_and_lengths},
	{"out: JSON, CSV and number formatting", escaping},
	{"out: write error remembered", write_error_remembered},
	{"addr: format and parse", addresses},
	{NULL, NULL},
};
