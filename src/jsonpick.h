/*
 * jsonpick.h - a small, bounds-checked JSON reader for the few values
 * nsname.c takes from container runtimes' state files: one string by its
 * key path, and the first name of the entry with a given "id" in an array
 * of objects (containers/storage's containers.json).
 *
 * Why not a library: these are a dozen keys in files of known shape; a
 * reader of some 400 lines that validates the whole document first is
 * smaller to audit than a dependency, and its unit tests fuzz it.
 *
 * Buffers need no NUL: every read is checked against buf + n.  The whole
 * document is checked before anything is taken from it, so a file cut
 * mid-write gives nothing rather than what came before the cut.
 */
#ifndef TCPSTATE_JSONPICK_H
#define TCPSTATE_JSONPICK_H

#include <stddef.h>

/* Nesting deeper than this is refused as malformed (the files nest 4 deep). */
#define JSONPICK_DEPTH_MAX 64

/* 1 if buf[0..n) is one well-formed JSON value, with only white space around it. */
int jsonpick_valid(const char *buf, size_t n);

/*
 * The string at keys[0].keys[1]...keys[nkeys-1] (objects all the way down)
 * into out.  1 when found; 0 when absent, not a string, holding a NUL, or
 * longer than len - 1 (out is then empty); -1 when the document is
 * malformed.  The first of duplicate keys counts.
 */
int jsonpick_str(const char *buf, size_t n, const char *const *keys, size_t nkeys, char *out,
		 size_t len);

/*
 * In a top-level array of objects, the first entry whose "id" is the string
 * id: the first string of its "names" array into out.  Returns as
 * jsonpick_str (0 also when the entry has no usable name).
 */
int jsonpick_names(const char *buf, size_t n, const char *id, char *out, size_t len);

#endif
