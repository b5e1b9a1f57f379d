/*
 * cmd_tune_change.c - `tune set` and `tune revert`: tune's writing half
 * (cmd_tune.c has the command line, show and guide).
 *
 * set validates every value, records the previous ones (and, with
 * --persist, the sysctl.d lines it replaces) as a record on the rollback
 * stack, then writes the kernel's values and the sysctl.d file, undoing
 * the steps before a failure.  revert undoes the newest record (or every
 * one), in the kernel and in the file, and drops it.  Both hold the
 * rollback file's lock throughout, and the sysctl.d file's while they edit
 * it.  The text of both files is rollback.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_tune_int.h"
#include "knobs.h"
#include "rollback.h"
#include "sysctl.h"

/* ip_unprivileged_port_start, or -1 when unknown. */
static long unpriv_port_start(void)
{
	long v;

	sysctl_read_longs("net.ipv4.ip_unprivileged_port_start", &v, 1);
	return v;
}

static int has_privilege(void)
{
	FILE *f;
	char line[256];
	unsigned long long eff = 0;

	if (geteuid() == 0)
		return 1;
	/* CAP_NET_ADMIN (12) is what namespaced sysctls under net/ check. */
	f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> 12) & 1;
}

static int confirm(const struct tune *t, const char *what)
{
	char answer[16];

	if (t->yes || !isatty(STDIN_FILENO))
		return 1; /* scripts: no terminal, no prompt */
	fprintf(stderr, "%s? [y/N] ", what);
	fflush(stderr);
	if (!fgets(answer, sizeof(answer), stdin))
		return 0;
	return answer[0] == 'y' || answer[0] == 'Y';
}

/*
 * Write every setting, in order; if one fails, put back those already
 * written.  Returns 0, or the failing index's errno (negative) with
 * *failed set to it.
 */
static int apply_all(const struct setting *want, const struct setting *old, int n, int *failed)
{
	for (int i = 0; i < n; i++) {
		int r = sysctl_write(want[i].knob, want[i].value);
		if (r < 0) {
			*failed = i;
			for (int j = i - 1; j >= 0; j--)
				sysctl_write(old[j].knob, old[j].value);
			return r;
		}
	}
	return 0;
}

static const char *rollback_path(struct tune *t)
{
	if (t->rollback)
		return t->rollback;
	snprintf(t->rollback_buf, sizeof(t->rollback_buf), "/var/lib/tcpstate/rollback%s%s",
		 t->netns ? "-" : "", t->netns ? t->netns : "");
	return t->rollback_buf;
}

static const char *sysctl_path(const struct tune *t)
{
	return t->sysctlfile ? t->sysctlfile : DEFAULT_SYSCTL_FILE;
}

/* Text built with stdio (open_memstream); freed by the caller. */
struct text {
	char *p;
	size_t len;
	FILE *f;
};

static int text_open(struct text *x)
{
	x->p = NULL;
	x->len = 0;
	x->f = open_memstream(&x->p, &x->len);
	return x->f ? 0 : -ENOMEM;
}

/* 0, or -ENOMEM when a write to it failed. */
static int text_close(struct text *x)
{
	int bad = 0;

	if (x->f) {
		bad = ferror(x->f);
		bad |= fclose(x->f) != 0;
	}
	x->f = NULL;
	return bad ? -ENOMEM : 0;
}

/*
 * A change holds an flock(2) on "ROLLBACK.lock", beside the rollback file,
 * from reading the kernel's values until its last file is written; and,
 * while it edits a sysctl.d file, one on ".NAME.lock" in that file's
 * directory, which two stacks (two namespaces) may share.  The files
 * themselves are replaced by rename, so they cannot carry a lock.  Returns
 * the descriptor, `held` when that is the same file, or -errno.
 */
static int take_lock(const char *file, int hidden, int how, int held)
{
	char path[4200];
	const char *slash = strrchr(file, '/');

	if (!hidden)
		snprintf(path, sizeof(path), "%s.lock", file);
	else if (slash)
		snprintf(path, sizeof(path), "%.*s/.%s.lock", (int)(slash - file), file, slash + 1);
	else
		snprintf(path, sizeof(path), ".%s.lock", file);
	int fd = file_lock(path, how, held);
	if (fd == -EWOULDBLOCK) {
		fprintf(stderr,
			"tcpstate tune: note: waiting for %s: another tune set or revert "
			"holds it\n",
			path);
		fd = file_lock(path, how | FILE_LOCK_WAIT, held);
	}
	return fd == -EDEADLK ? held : fd;
}

static void release(int fd, int held)
{
	if (fd >= 0 && fd != held)
		close(fd);
}

/* The kernel's values now of want's knobs, into now[]. */
static int read_now(const struct cmd_entry *cmd, const struct setting *want, struct setting *now,
		    int n)
{
	for (int i = 0; i < n; i++) {
		now[i].knob = want[i].knob;
		int r = sysctl_read(want[i].knob, now[i].value, sizeof(now[i].value));
		if (r < 0) {
			cmd_error(cmd, "%s: cannot read it: %s", want[i].knob->name, strerror(-r));
			return EXIT_RUNTIME;
		}
	}
	return 0;
}

static void print_change(const char *verb, const char *name, const char *from, const char *to)
{
	printf("%s %s: %s -> %s%s\n", verb, name, from, to, strcmp(from, to) ? "" : " (unchanged)");
}

/* A file's text, or NULL when it does not exist: that is no error here. */
static int read_if_any(const char *path, char **text, size_t *len)
{
	int r = file_read(path, text, len);

	if (r == -ENOENT) {
		*text = NULL;
		*len = 0;
		return 0;
	}
	return r;
}

/* Put a file back as it was: its text, or no file when it had none. */
static int put_back(const char *path, const char *text, size_t len, int mode, int private_dir)
{
	if (text)
		return file_replace(path, text, len, mode, private_dir);
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* A file's permission bits, or `dflt` when it does not exist. */
static int mode_of(const char *path, int dflt)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : dflt;
}

/*
 * The sysctl.d file's new text after the set (into *conf) and the record's
 * lines for it (into *rec), both from its current text.
 */
static int persist_plan(const struct cmd_entry *cmd, const char *path, const struct setting *want,
			int n, struct text *conf, struct text *rec)
{
	char *cur, abs[4200], cwd[4096];
	size_t curlen;
	struct stat st;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		cmd_error(cmd, "%s: not a regular file; nothing was changed", path);
		return EXIT_RUNTIME;
	}
	int r = read_if_any(path, &cur, &curlen);
	if (r < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, file_strerror(-r));
		return EXIT_RUNTIME;
	}
	/* revert may run elsewhere: the record names the file absolutely. */
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(abs, sizeof(abs), "%s/%s", cwd, path);
	else
		snprintf(abs, sizeof(abs), "%s", path);
	r = text_open(conf);
	if (r == 0)
		rollback_persist_set(cur, curlen, abs, want, n, conf->f, rec->f);
	free(cur);
	if (r < 0 || text_close(conf) < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	return 0;
}

/*
 * The rollback stack with one more record.  A stack that cannot be read
 * is refused: its records could not be reverted either.
 */
static int push_record(const struct cmd_entry *cmd, const struct tune *t, const char *path,
		       const char *stack, size_t len, const struct setting *old, int n,
		       struct text *rec, struct text *out)
{
	struct rb_record top;
	char err[700];

	if (stack && rollback_parse(stack, len, &top, err, sizeof(err)) < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, err);
		return EXIT_RUNTIME;
	}
	if (text_close(rec) < 0 || text_open(out) < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	if (!stack)
		rollback_preamble(out->f);
	else if (fwrite(stack, 1, len, out->f) == len && len && stack[len - 1] != '\n')
		fputc('\n', out->f);
	rollback_record(out->f, t->netns, (long)time(NULL), old, n, rec->p, rec->len);
	if (text_close(out) < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	return 0;
}

/*
 * set, holding the rollback file's lock: record the previous values (and
 * the sysctl.d lines replaced) on the stack, write the kernel's values,
 * then the sysctl.d file; a failure undoes the steps before it.
 */
static int set_locked(const struct cmd_entry *cmd, struct tune *t, const struct setting *want,
		      int n, int rb_lock)
{
	struct setting old[MAX_SETTINGS];
	struct text rec = {0}, conf = {0}, stack = {0};
	const char *rb = rollback_path(t), *sc = sysctl_path(t);
	char *prev = NULL;
	size_t prevlen = 0;
	int rc = EXIT_RUNTIME, sc_lock = -1, failed = 0, r;

	if (read_now(cmd, want, old, n))
		return EXIT_RUNTIME;
	if (!t->yes && isatty(STDIN_FILENO))
		for (int i = 0; i < n; i++)
			print_change("will set", want[i].knob->name, old[i].value, want[i].value);
	fflush(stdout);
	if (!confirm(t, "Apply these changes")) {
		cmd_error(cmd, "not confirmed; nothing was changed");
		return EXIT_RUNTIME;
	}
	if (text_open(&rec) < 0) {
		cmd_error(cmd, "%s", strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	if (t->persist) {
		/* Nobody writes on a read-only file system: no lock is needed there. */
		sc_lock = take_lock(sc, 1, FILE_LOCK_MKDIR, rb_lock);
		if (sc_lock < 0 && sc_lock != -EROFS) {
			cmd_error(cmd, "%s: cannot lock it: %s; nothing was changed", sc,
				  strerror(-sc_lock));
			goto out;
		}
		if (persist_plan(cmd, sc, want, n, &conf, &rec))
			goto out;
	}
	r = read_if_any(rb, &prev, &prevlen);
	if (r < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", rb, file_strerror(-r));
		goto out;
	}
	if (push_record(cmd, t, rb, prev, prevlen, old, n, &rec, &stack))
		goto out;
	/* Record first: even a crash halfway leaves something to revert to. */
	r = file_replace(rb, stack.p, stack.len, 0600, 1);
	if (r < 0) {
		cmd_error(cmd, "%s: cannot record the previous values: %s; nothing was changed", rb,
			  strerror(-r));
		goto out;
	}
	r = apply_all(want, old, n, &failed);
	if (r < 0) {
		put_back(rb, prev, prevlen, 0600, 1);
		cmd_error(cmd, "%s: the kernel refused \"%s\": %s; all values restored",
			  want[failed].knob->name, want[failed].value, strerror(-r));
		goto out;
	}
	if (t->persist) {
		r = file_replace(sc, conf.p, conf.len, mode_of(sc, 0644), 0);
		if (r < 0) {
			int ignored;
			apply_all(old, want, n, &ignored);
			put_back(rb, prev, prevlen, 0600, 1);
			cmd_error(cmd,
				  "%s: %s; the running values were restored and the file is "
				  "unchanged",
				  sc, strerror(-r));
			goto out;
		}
	}
	/* Only now is it true. */
	for (int i = 0; i < n; i++)
		print_change("set", want[i].knob->name, old[i].value, want[i].value);
	if (t->persist)
		printf("persisted in %s\n", sc);
	rc = EXIT_OK;
out:
	release(sc_lock, rb_lock);
	text_close(&rec);
	text_close(&conf);
	text_close(&stack);
	free(rec.p);
	free(conf.p);
	free(stack.p);
	free(prev);
	return rc;
}

int tune_set(const struct cmd_entry *cmd, struct tune *t, int argc, char **argv)
{
	struct setting want[MAX_SETTINGS];
	int n = 0;
	long unpriv = unpriv_port_start();

	if (argc == 0)
		return cmd_usage_error(cmd, "set needs KNOB=VALUE");
	if (argc > MAX_SETTINGS)
		return cmd_usage_error(cmd, "too many settings (at most %d)", MAX_SETTINGS);
	/* Every value is checked before anything is written. */
	for (int i = 0; i < argc; i++) {
		char name[128], err[512], warn[256];
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i])
			return cmd_usage_error(cmd, "\"%s\": expected KNOB=VALUE", argv[i]);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[i]), argv[i]);
		const struct knob *k = knob_find(name);
		if (!k) {
			const char *s = knob_suggest(name);
			return cmd_usage_error(
				cmd, "unknown knob \"%s\"%s%s%s; nothing was changed", name,
				s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
		}
		if (k->type == KNOB_MYTH) {
			cmd_error(cmd, "%s is not a knob (%s): %s Nothing was changed.", k->name,
				  k->since, k->meaning);
			return EXIT_USAGE;
		}
		if (!sysctl_exists(k)) {
			cmd_error(cmd,
				  "%s does not exist here (kernel %s, namespace, or module not "
				  "loaded); nothing was changed",
				  k->name, k->since);
			return EXIT_RUNTIME;
		}
		for (int j = 0; j < n; j++)
			if (want[j].knob == k)
				return cmd_usage_error(cmd, "%s is set twice", k->name);
		if (knob_validate(k, eq + 1, unpriv, want[n].value, sizeof(want[n].value), err,
				  sizeof(err), warn, sizeof(warn)) < 0)
			return cmd_usage_error(cmd, "%s; nothing was changed", err);
		if (warn[0])
			fprintf(stderr, "tcpstate tune: note: %s\n", warn);
		want[n++].knob = k;
	}
	if (t->dry) {
		struct setting now[MAX_SETTINGS];
		if (read_now(cmd, want, now, n))
			return EXIT_RUNTIME;
		for (int i = 0; i < n; i++)
			print_change("would set", want[i].knob->name, now[i].value, want[i].value);
		return EXIT_OK;
	}
	if (!has_privilege()) {
		cmd_error(cmd, "changing sysctls needs root or CAP_NET_ADMIN; nothing was changed");
		return EXIT_RUNTIME;
	}
	const char *rb = rollback_path(t);
	int lock = take_lock(rb, 0, FILE_LOCK_MKDIR | FILE_LOCK_PRIVATE, -1);
	if (lock < 0) {
		cmd_error(cmd, "%s: cannot lock it: %s; nothing was changed", rb, strerror(-lock));
		return EXIT_RUNTIME;
	}
	int rc = set_locked(cmd, t, want, n, lock);
	close(lock);
	return rc;
}

/* The rollback stack as revert reads it. */
struct stack {
	char *text;
	size_t len;
	struct rb_record top; /* the newest record */
	int count;
};

static int stack_load(const struct cmd_entry *cmd, const char *path, struct stack *s)
{
	char err[700];
	int r = file_read(path, &s->text, &s->len);

	if (r == -ENOENT) {
		cmd_error(cmd, "%s: %s: nothing to revert", path, strerror(-r));
		return EXIT_RUNTIME;
	}
	if (r < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, file_strerror(-r));
		return EXIT_RUNTIME;
	}
	s->count = rollback_parse(s->text, s->len, &s->top, err, sizeof(err));
	if (s->count < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, err);
		return EXIT_RUNTIME;
	}
	if (!s->count) {
		cmd_error(cmd, "%s records no values: nothing to revert", path);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* The record's values, as settings. */
static void record_values(const struct rb_record *r, struct setting *want)
{
	for (int i = 0; i < r->n; i++) {
		want[i].knob = r->knob[i];
		snprintf(want[i].value, sizeof(want[i].value), "%.*s", (int)r->old[i].len,
			 r->old[i].p);
	}
}

/* "VERB in FILE: the lines of X, Y as they were", for the knobs in `which`. */
static void print_restored(const char *verb, const struct rb_record *r, unsigned which)
{
	int first = 1;

	if (!which)
		return;
	printf("%s in %.*s: the lines of ", verb, (int)r->persist.len, r->persist.p);
	for (int i = 0; i < r->n; i++)
		if (which >> i & 1) {
			printf("%s%s", first ? "" : ", ", r->knob[i]->name);
			first = 0;
		}
	printf(" as they were\n");
}

static void note_changed(const struct knob *k, void *path)
{
	fprintf(stderr,
		"tcpstate tune: note: %s: the line for %s changed since that set; left as it "
		"is\n",
		(const char *)path, k->name);
}

/* What a plan's lines say: "would" (a dry run) or "will" (before asking). */
struct plan_words {
	const char *verb, *path;
};

static void plan_changed(const struct knob *k, void *words)
{
	const struct plan_words *w = words;

	printf("%s leave in %s: the line for %s, changed since that set\n", w->verb, w->path,
	       k->name);
}

/* A sysctl.d file's text as revert sees it, `path` empty when not read yet. */
struct conf_text {
	char path[4200];
	char *text; /* NULL: there is no file */
	size_t len;
};

/*
 * The file's text with record r of the stack `stack` undone, into *out;
 * *remove as rollback_persist_undo() says.  The knobs restored, or -errno.
 */
static long undo_text(const char *stack, const struct rb_record *r, const struct conf_text *c,
		      struct text *out, int *remove,
		      void (*changed)(const struct knob *k, void *arg), void *arg)
{
	int rc = text_open(out);

	if (rc < 0)
		return rc;
	unsigned restored =
		rollback_persist_undo(stack, r, c->text, c->len, out->f, remove, changed, arg);
	rc = text_close(out);
	return rc < 0 ? rc : (long)restored;
}

/*
 * What reverting record r would do to its sysctl.d file, printed; *c is
 * that file as the newer records' reverts leave it, and is left as this
 * one leaves it.  0, or -errno.
 */
static int plan_persist(const char *stack, const struct rb_record *r, struct conf_text *c,
			const char *verb)
{
	struct text out;
	int remove = 0;
	struct plan_words words = {verb, c->path};
	char restore[32];

	if (strlen(c->path) != r->persist.len || memcmp(c->path, r->persist.p, r->persist.len)) {
		free(c->text);
		snprintf(c->path, sizeof(c->path), "%.*s", (int)r->persist.len, r->persist.p);
		int e = read_if_any(c->path, &c->text, &c->len);
		if (e < 0)
			return e;
	}
	if (!c->text) {
		printf("%s leave %s alone: it is gone\n", verb, c->path);
		return 0;
	}
	long restored = undo_text(stack, r, c, &out, &remove, plan_changed, &words);
	if (restored < 0) {
		free(out.p);
		return (int)restored;
	}
	free(c->text);
	c->text = remove ? NULL : out.p;
	c->len = remove ? 0 : out.len;
	if (remove) {
		printf("%s remove %s (that set created it)\n", verb, c->path);
		free(out.p);
	}
	snprintf(restore, sizeof(restore), "%s restore", verb);
	print_restored(restore, r, remove ? 0 : (unsigned)restored);
	return 0;
}

/*
 * What revert would do: the newest record, or with --all each one, newest
 * first, from the values the newer ones leave.
 */
static int revert_plan(const struct cmd_entry *cmd, int dry, const struct stack *s, int all)
{
	size_t nk = 0;
	while (knob_table[nk].name)
		nk++;
	struct setting *sim = calloc(nk, sizeof(*sim)), want[MAX_SETTINGS];
	struct rb_record r = s->top;
	struct conf_text conf = {.text = NULL};
	int count = s->count, rc = 0;
	char err[700];

	if (!sim) {
		cmd_error(cmd, "%s", strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	while (count > 0 && !rc) {
		record_values(&r, want);
		for (int i = 0; i < r.n && !rc; i++) {
			struct setting *now = &sim[want[i].knob - knob_table];
			if (!now->knob) {
				now->knob = want[i].knob;
				rc = read_now(cmd, &want[i], now, 1);
			}
			if (!rc)
				print_change(dry ? "would set" : "will set", want[i].knob->name,
					     now->value, want[i].value);
			memcpy(now->value, want[i].value, sizeof(now->value));
		}
		int e = !rc && r.persist.len
				? plan_persist(s->text, &r, &conf, dry ? "would" : "will")
				: 0;
		if (e < 0) {
			cmd_error(cmd, "%s: %s; nothing was changed", conf.path, file_strerror(-e));
			rc = EXIT_RUNTIME;
		}
		if (!all)
			break;
		count = rollback_parse(s->text, r.start, &r, err, sizeof(err));
	}
	free(conf.text);
	free(sim);
	fflush(stdout);
	return rc;
}

enum { PERSIST_GONE, PERSIST_RESTORED, PERSIST_REMOVED };

/*
 * The file (*c) with the record undone: a PERSIST_*, or -errno; *restored
 * gets the knobs whose lines came back.
 */
static int undo_lines(const struct stack *s, const struct conf_text *c, unsigned *restored)
{
	struct text out;
	int remove = 0, rc;
	long r = undo_text(s->text, &s->top, c, &out, &remove, note_changed, (void *)c->path);

	rc = r < 0 ? (int)r : 0;
	if (rc == 0 && remove && unlink(c->path) < 0)
		rc = -errno;
	else if (rc == 0 && !remove && (out.len != c->len || memcmp(out.p, c->text, c->len)))
		rc = file_replace(c->path, out.p, out.len, mode_of(c->path, 0644), 0);
	free(out.p);
	*restored = rc < 0 || remove ? 0 : (unsigned)r;
	return rc < 0 ? rc : remove ? PERSIST_REMOVED : PERSIST_RESTORED;
}

/*
 * Put back the sysctl.d lines the record's set replaced, or remove the
 * file it created, holding that file's lock.  A PERSIST_*, or -errno with
 * the file unchanged.
 */
static int revert_persist(const struct stack *s, int rb_lock, unsigned *restored)
{
	const struct rb_record *r = &s->top;
	struct conf_text c = {.text = NULL};

	*restored = 0;
	snprintf(c.path, sizeof(c.path), "%.*s", (int)r->persist.len, r->persist.p);
	/* No directory, or a read-only one: nobody can write the file there. */
	int lock = take_lock(c.path, 1, 0, rb_lock);
	if (lock < 0 && lock != -ENOENT && lock != -EROFS)
		return lock;
	int rc = read_if_any(c.path, &c.text, &c.len);
	if (rc == 0 && !c.text) {
		fprintf(stderr, "tcpstate tune: note: %s is gone; nothing to restore there\n",
			c.path);
		rc = PERSIST_GONE;
	} else if (rc == 0) {
		rc = undo_lines(s, &c, restored);
	}
	release(lock, rb_lock);
	free(c.text);
	return rc;
}

/*
 * Undo the newest record: the kernel's values, then the sysctl.d lines,
 * then drop the record from the stack (and the file with the last one).
 */
static int revert_top(const struct cmd_entry *cmd, const char *rb, struct stack *s, int rb_lock)
{
	struct setting want[MAX_SETTINGS], now[MAX_SETTINGS];
	const struct rb_record *r = &s->top;
	char err[700];
	int failed = 0, n = r->n;
	unsigned restored = 0;

	record_values(r, want);
	if (read_now(cmd, want, now, n))
		return EXIT_RUNTIME;
	int e = apply_all(want, now, n, &failed);
	if (e < 0) {
		cmd_error(cmd, "%s: the kernel refused \"%s\": %s; all values restored",
			  want[failed].knob->name, want[failed].value, strerror(-e));
		return EXIT_RUNTIME;
	}
	int persisted = r->persist.len ? revert_persist(s, rb_lock, &restored) : PERSIST_GONE;
	if (persisted < 0) {
		int ignored;
		apply_all(now, want, n, &ignored);
		cmd_error(cmd, "%.*s: %s; the running values were put back and the record is kept",
			  (int)r->persist.len, r->persist.p, file_strerror(-persisted));
		return EXIT_RUNTIME;
	}
	/* Only now is it true. */
	for (int i = 0; i < n; i++)
		print_change("set", want[i].knob->name, now[i].value, want[i].value);
	if (persisted == PERSIST_REMOVED)
		printf("removed %.*s (that set created it)\n", (int)r->persist.len, r->persist.p);
	/* Lines changed since that set were left as they are, with a note. */
	print_restored("restored", r, restored);
	size_t len = r->start;
	s->count = rollback_parse(s->text, len, &s->top, err, sizeof(err));
	if (s->count > 0)
		e = file_replace(rb, s->text, len, 0600, 1);
	else
		e = unlink(rb) < 0 && errno != ENOENT ? -errno : 0;
	if (e < 0) {
		cmd_error(cmd,
			  "%s: the values are restored, but the record could not be removed: "
			  "%s",
			  rb, strerror(-e));
		return EXIT_RUNTIME;
	}
	s->len = len;
	return EXIT_OK;
}

/* "in namespace "NAME"" or "without -N", for a record's namespace or revert's. */
static void where_text(char *buf, size_t len, const char *name, size_t namelen, int own)
{
	if (own)
		snprintf(buf, len, "without -N");
	else
		snprintf(buf, len, "in namespace \"%.*s\"", (int)namelen, name);
}

/*
 * A record's values belong to the namespace it was made in: written into
 * another they would change what that set never touched.  Every record
 * revert would undo is checked before anything is written.
 */
static int check_netns(const struct cmd_entry *cmd, const struct tune *t, const char *rb,
		       const struct stack *s)
{
	struct rb_record r = s->top;
	char err[700], made[300], here[300];

	for (int count = s->count; count > 0;
	     count = rollback_parse(s->text, r.start, &r, err, sizeof(err))) {
		if (!rollback_netns_is(&r, t->netns)) {
			int own = rollback_netns_is(&r, NULL);
			where_text(made, sizeof(made), r.netns.p, r.netns.len, own);
			where_text(here, sizeof(here), t->netns, t->netns ? strlen(t->netns) : 0,
				   !t->netns);
			cmd_error(cmd,
				  "%s: the set to undo was made %s and this revert runs %s; revert "
				  "it "
				  "%s%.*s; nothing was changed",
				  rb, made, here, own ? "without -N" : "with -N ",
				  own ? 0 : (int)r.netns.len, r.netns.p);
			return EXIT_RUNTIME;
		}
		if (!t->all)
			break;
	}
	return 0;
}

int tune_revert(const struct cmd_entry *cmd, struct tune *t)
{
	struct stack s = {0};
	const char *rb = rollback_path(t);
	int lock = -1, rc;

	if (!t->dry && !has_privilege()) {
		cmd_error(cmd, "changing sysctls needs root or CAP_NET_ADMIN; nothing was changed");
		return EXIT_RUNTIME;
	}
	if (!t->dry) {
		/* No directory: no stack either, as stack_load says. */
		lock = take_lock(rb, 0, 0, -1);
		if (lock < 0 && lock != -ENOENT) {
			cmd_error(cmd, "%s: cannot lock it: %s; nothing was changed", rb,
				  strerror(-lock));
			return EXIT_RUNTIME;
		}
	}
	rc = stack_load(cmd, rb, &s);
	if (!rc)
		rc = check_netns(cmd, t, rb, &s);
	int asking = !t->yes && isatty(STDIN_FILENO);
	if (!rc && (t->dry || asking))
		rc = revert_plan(cmd, t->dry, &s, t->all);
	if (!rc && !t->dry &&
	    !confirm(t, t->all ? "Undo every recorded set" : "Restore these values")) {
		cmd_error(cmd, "not confirmed; nothing was changed");
		rc = EXIT_RUNTIME;
	}
	while (!rc && !t->dry && s.count > 0) {
		rc = revert_top(cmd, rb, &s, lock);
		if (!t->all)
			break;
	}
	if (lock >= 0)
		close(lock);
	free(s.text);
	return rc;
}
