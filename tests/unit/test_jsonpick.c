/*
 * Unit tests: the small JSON reader behind container names.  Documents are
 * copied into buffers of exactly their length (no NUL after them), so that
 * an overread shows under ASan.
 */
#include <stdlib.h>
#include <string.h>

#include "jsonpick.h"
#include "unit.h"

/* A malloc'd copy of s without its NUL. */
static char *exact(const char *s, size_t n)
{
	char *b = malloc(n ? n : 1);

	if (b)
		memcpy(b, s, n);
	return b;
}

static int pick(const char *doc, const char *const *keys, size_t nk, char *out, size_t len)
{
	size_t n = strlen(doc);
	char *b = exact(doc, n);
	int r = b ? jsonpick_str(b, n, keys, nk, out, len) : -2;

	free(b);
	return r;
}

static int names(const char *doc, const char *id, char *out, size_t len)
{
	size_t n = strlen(doc);
	char *b = exact(doc, n);
	int r = b ? jsonpick_names(b, n, id, out, len) : -2;

	free(b);
	return r;
}

static const char oci[] =
	"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"/pause\"],\"env\":[],\"cwd\":\"/\"},"
	"\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/var/run/netns/cni-1\"}],"
	"\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
	"\"action\":\"SCMP_ACT_ALLOW\",\"args\":null}]}},\"hooks\":{},\"n\":-1.5e+3,\"t\":true,"
	"\"f\":false,\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
	"\"io.kubernetes.cri.sandbox-name\":\"api-7f9\","
	"\"io.kubernetes.cri.sandbox-namespace\":\"prod\",\"x\":0}}";

/* A string by key path; what is absent, or not a string, is 0 with out empty. */
static void str_by_path(void)
{
	const char *ns[] = {"annotations", "io.kubernetes.cri.sandbox-namespace"};
	const char *ver[] = {"ociVersion"}, *cwd[] = {"process", "cwd"};
	const char *num[] = {"n"}, *obj[] = {"hooks"}, *none[] = {"annotations", "nope"};
	const char *deep[] = {"ociVersion", "x"};
	char out[64];

	CHECK(pick(oci, ns, 2, out, sizeof(out)) == 1);
	CHECK_STR(out, "prod");
	CHECK(pick(oci, ver, 1, out, sizeof(out)) == 1);
	CHECK_STR(out, "1.0.2");
	CHECK(pick(oci, cwd, 2, out, sizeof(out)) == 1);
	CHECK_STR(out, "/");
	strcpy(out, "junk");
	CHECK(pick(oci, num, 1, out, sizeof(out)) == 0);
	CHECK_STR(out, "");
	CHECK(pick(oci, obj, 1, out, sizeof(out)) == 0);
	CHECK(pick(oci, none, 2, out, sizeof(out)) == 0);
	CHECK(pick(oci, deep, 2, out, sizeof(out)) == 0);
	/* The first of duplicate keys; keys deeper down do not count at the top. */
	CHECK(pick("{\"a\":\"1\",\"a\":\"2\"}", ver, 0, out, sizeof(out)) == 0);
	CHECK(pick("{\"ociVersion\":\"1\",\"ociVersion\":\"2\"}", ver, 1, out, sizeof(out)) == 1);
	CHECK_STR(out, "1");
	CHECK(pick("{\"o\":{\"ociVersion\":\"in\"}}", ver, 1, out, sizeof(out)) == 0);
}

/* A value that does not fit is 0 and empty, never cut; one that fits exactly is whole. */
static void str_fit(void)
{
	const char *k[] = {"k"};
	char out[6];

	CHECK(pick("{\"k\":\"12345\"}", k, 1, out, sizeof(out)) == 1);
	CHECK_STR(out, "12345");
	CHECK(pick("{\"k\":\"123456\"}", k, 1, out, sizeof(out)) == 0);
	CHECK_STR(out, "");
	CHECK(pick("{\"k\":\"1\"}", k, 1, out, 1) == 0);
	CHECK_STR(out, "");
}

/* Escapes are decoded; \u0000 would cut the C string, so it is not usable (0). */
static void str_escapes(void)
{
	const char *k[] = {"k"};
	char out[32];

	CHECK(pick("{\"k\":\"a\\/b\\\\c\\\"d\\n\"}", k, 1, out, sizeof(out)) == 1);
	CHECK_STR(out, "a/b\\c\"d\n");
	CHECK(pick("{\"k\":\"\\u00e9\\u20ac\"}", k, 1, out, sizeof(out)) == 1);
	CHECK_STR(out, "\xc3\xa9\xe2\x82\xac");
	CHECK(pick("{\"k\":\"\\ud83d\\ude00\"}", k, 1, out, sizeof(out)) == 1);
	CHECK_STR(out, "\xf0\x9f\x98\x80");
	CHECK(pick("{\"k\":\"a\\u0000b\"}", k, 1, out, sizeof(out)) == 0);
	CHECK_STR(out, "");
	/* An escaped key matches its decoded form. */
	CHECK(pick("{\"\\u006b\":\"v\"}", k, 1, out, sizeof(out)) == 1);
	CHECK_STR(out, "v");
}

/* What RFC 8259 refuses is -1, whatever key is asked for. */
static void malformed(void)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"{\"k\"}",
		"{\"k\":}",
		"{\"k\":\"v\",}",
		"{\"k\":\"v\"} x",
		"{\"k\":\"v\"}{}",
		"[1,]",
		"[01]",
		"[-]",
		"[1.]",
		"[1e]",
		"[.5]",
		"[tru]",
		"[nul]",
		"[\"a\tb\"]",
		"[\"\\x\"]",
		"[\"\\u12g4\"]",
		"[\"\\u12\"]",
		"{\"k\":\"v\"",
		"{\"k\" \"v\"}",
		"{k:\"v\"}",
		"['v']",
	};
	const char *k[] = {"k"};
	char out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = pick(bad[i], k, 1, out, sizeof(out));
		if (r != -1)
			printf("  \"%s\": %d\n", bad[i], r);
		CHECK(r == -1);
		CHECK(names(bad[i], "k", out, sizeof(out)) == -1);
	}
	CHECK(pick(" {\"k\" : \"v\" }\r\n", k, 1, out, sizeof(out)) == 1);
}

/* Nesting is capped: JSONPICK_DEPTH_MAX levels are read, one more is malformed. */
static void depth(void)
{
	char doc[2 * (JSONPICK_DEPTH_MAX + 1) + 1];
	size_t d;

	for (d = JSONPICK_DEPTH_MAX; d <= JSONPICK_DEPTH_MAX + 1; d++) {
		memset(doc, '[', d);
		memset(doc + d, ']', d);
		CHECK(jsonpick_valid(doc, 2 * d) == (d == JSONPICK_DEPTH_MAX));
	}
}

/*
 * Every prefix of a real document is malformed (a file cut mid-write gives
 * nothing), and so is every prefix of a containers.json; no prefix reads
 * beyond its own length (ASan).
 */
static void truncated(void)
{
	static const char list[] =
		"[{\"id\":\"abc\",\"names\":[\"db\"],\"metadata\":\"{\\\"n\\\":1}\"}]";
	const char *ns[] = {"annotations", "io.kubernetes.cri.sandbox-namespace"};
	char out[64];

	for (size_t n = 0; n < sizeof(oci) - 1; n++) {
		char *b = exact(oci, n);
		CHECK(b && jsonpick_str(b, n, ns, 2, out, sizeof(out)) == -1);
		free(b);
	}
	for (size_t n = 0; n < sizeof(list) - 1; n++) {
		char *b = exact(list, n);
		CHECK(b && jsonpick_names(b, n, "abc", out, sizeof(out)) == -1);
		free(b);
	}
	CHECK(names(list, "abc", out, sizeof(out)) == 1);
	CHECK_STR(out, "db");
}

/* Every byte replaced by each of a few troublesome ones: an answer, never a crash or overread. */
static void mutated(void)
{
	static const char subst[] = "\"\\{}[]:,0u\x01";
	const char *ns[] = {"annotations", "io.kubernetes.cri.sandbox-name"};
	size_t n = sizeof(oci) - 1;
	char out[16];
	int odd = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < sizeof(subst) - 1; j++) {
			char *b = exact(oci, n);
			if (!b)
				continue;
			b[i] = subst[j];
			int r = jsonpick_str(b, n, ns, 2, out, sizeof(out));
			int q = jsonpick_names(b, n, "x", out, sizeof(out));
			odd |= r < -1 || r > 1 || q < -1 || q > 0 || (r == 1 && strlen(out) >= 16);
			free(b);
		}
	}
	CHECK(!odd);
}

/* containers.json: the entry by "id", its first name; key order and other entries do not matter. */
static void names_by_id(void)
{
	static const char list[] =
		"[{\"id\":\"aaa\",\"names\":[\"one\",\"uno\"]},"
		" 7, \"x\", null,"
		"{\"names\":[\"two\"],\"layer\":\"l\",\"id\":\"bbb\"},"
		"{\"id\":\"ccc\",\"names\":[]},"
		"{\"id\":\"ddd\",\"names\":[3,\"n\"]},"
		"{\"id\":\"eee\"},"
		"{\"id\":7,\"names\":[\"seven\"]},"
		"{\"id\":\"fff\",\"names\":[\"a-name-too-long-for-the-buffer\"]}]";
	char out[16];

	CHECK(names(list, "aaa", out, sizeof(out)) == 1);
	CHECK_STR(out, "one");
	CHECK(names(list, "bbb", out, sizeof(out)) == 1);
	CHECK_STR(out, "two");
	CHECK(names(list, "ccc", out, sizeof(out)) == 0);
	CHECK(names(list, "ddd", out, sizeof(out)) == 0);
	CHECK(names(list, "eee", out, sizeof(out)) == 0);
	CHECK(names(list, "7", out, sizeof(out)) == 0);
	CHECK(names(list, "fff", out, sizeof(out)) == 0);
	CHECK_STR(out, "");
	CHECK(names(list, "zzz", out, sizeof(out)) == 0);
	CHECK(names("[]", "aaa", out, sizeof(out)) == 0);
	CHECK(names("{\"id\":\"aaa\",\"names\":[\"one\"]}", "aaa", out, sizeof(out)) == 0);
}

const struct unit_test jsonpick_tests[] = {
	{"jsonpick_str_by_path", str_by_path},
	{"jsonpick_str_fit", str_fit},
	{"jsonpick_str_escapes", str_escapes},
	{"jsonpick_malformed", malformed},
	{"jsonpick_depth", depth},
	{"jsonpick_truncated", truncated},
	{"jsonpick_mutated", mutated},
	{"jsonpick_names_by_id", names_by_id},
	{NULL, NULL},
};
