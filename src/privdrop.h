/*
 * privdrop.h - giving up root once the capture is open, as tcpdump -Z does:
 * switch to an unprivileged user and keep only the capabilities the
 * command still needs (none for watch; top keeps the ones it uses).
 */
#ifndef TCPSTATE_PRIVDROP_H
#define TCPSTATE_PRIVDROP_H

#include <stddef.h>

/*
 * Become USER (by name; "root" keeps root), keeping the capabilities listed
 * in keep[0..nkeep-1] (CAP_* numbers).  Does nothing when not root.
 * Returns 0, or -1 with err.
 */
int privdrop(const char *user, const int *keep, int nkeep, char *err, size_t errlen);

#endif
