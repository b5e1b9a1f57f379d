/*
 * privdrop.c - setgroups/setresgid/setresuid with the capabilities to keep
 * set directly through capset(2): no libcap needed for so little.
 */
#define _GNU_SOURCE
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int set_caps(const int *keep, int nkeep)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	for (int i = 0; i < nkeep; i++) {
		int c = keep[i];
		d[c / 32].effective |= 1u << (c % 32);
		d[c / 32].permitted |= 1u << (c % 32);
	}
	return (int)syscall(SYS_capset, &h, d);
}

int privdrop(const char *user, const int *keep, int nkeep, char *err, size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0 || !user || strcmp(user, "root") == 0)
		return 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "-Z: no user \"%s\"", user);
		return -1;
	}
	/* Nothing regained through exec, and no capability outside the bound. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		int kept = 0;
		for (int i = 0; i < nkeep; i++)
			kept |= keep[i] == c;
		if (!kept)
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	}
	if (nkeep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		goto fail;
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		goto fail;
	/* After setresuid the effective set is empty; grant back only what is kept. */
	if (set_caps(keep, nkeep) < 0)
		goto fail;
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
fail:
	snprintf(err, errlen, "-Z %s: cannot drop privileges: %s", user, strerror(errno));
	return -1;
}
