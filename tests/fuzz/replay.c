/*
 * replay.c - run a fuzz target without libFuzzer: every file of the
 * directories (and every file) named on the command line goes through the
 * target's LLVMFuzzerTestOneInput once, in name order.
 *
 * Prints one line per argument in the form tests/run counts:
 *   PASS: fuzz-replay TARGET DIR: N inputs
 *   FAIL: fuzz-replay TARGET DIR: why
 * A crash ends the process (tests/run counts the non-zero exit).  Built with
 * gcc into build/<flavor>/fuzz-replay-TARGET (tests/fuzz/build.mk); with
 * SANITIZE=1 the replay runs under ASan and UBSan.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read a whole file into an exact-size buffer (overreads stay detectable). */
static int run_file(const char *path, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;

	if (!f) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	size_t n = (size_t)st.st_size;
	buf = malloc(n ? n : 1);
	if (!buf || fread(buf, 1, n, f) != n) {
		snprintf(why, whylen, "%s: cannot read", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, sorted; hidden files (.gitkeep, ...) are skipped. */
static int run_dir(const char *dir, unsigned *count, char *why, size_t whylen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn) {
				rc = -1;
				snprintf(why, whylen, "out of memory");
				goto out;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = -1;
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		rc = run_file(path, why, whylen);
		if (rc == 0)
			(*count)++;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	const char *target = strrchr(argv[0], '/');
	int failed = 0;

	target = target ? target + 1 : argv[0];
	if (strncmp(target, "fuzz-replay-", 12) == 0)
		target += 12;
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		char why[4200] = "";
		unsigned count = 0;
		int rc;

		if (stat(argv[i], &st) < 0) {
			printf("FAIL: fuzz-replay %s %s: %s\n", target, argv[i], strerror(errno));
			failed = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = run_dir(argv[i], &count, why, sizeof(why));
		} else {
			rc = run_file(argv[i], why, sizeof(why));
			count = rc == 0;
		}
		if (rc < 0) {
			printf("FAIL: fuzz-replay %s %s: %s\n", target, argv[i], why);
			failed = 1;
		} else {
			printf("PASS: fuzz-replay %s %s: %u inputs\n", target, argv[i], count);
		}
		fflush(stdout);
	}
	return failed;
}
