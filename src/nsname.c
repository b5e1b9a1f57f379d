/*
 * nsname.c - a process's container name without a daemon: which cgroup
 * line to read, the container and pod segments of a cgroup path, and the
 * runtimes' state files that name them (Docker's config.v2.json,
 * containers/storage's containers.json, containerd's and CRI-O's OCI
 * bundles, the kubelet's /var/log/pods directories).  Every file is opened
 * under a root directory with RESOLVE_IN_ROOT, so that a host mounted at
 * /host resolves its own absolute symbolic links.  doc/namespaces.md lists
 * the sources and their order.
 */
#define _GNU_SOURCE
#include "nsname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "jsonpick.h"

/*
 * containers.json holds every container of the host, a few hundred bytes
 * each: 4 MiB is thousands of them.  OCI bundles inline their seccomp
 * profile (tens of KiB).  A larger file is skipped as not a source.
 */
#define NSNAME_JSON_MAX (4u << 20)
/* /proc/PID/cgroup: one line per v1 hierarchy; a few KiB at most. */
#define NSNAME_CGROUP_MAX (64u << 10)

#define CONTAINERD_TASKS "/run/containerd/io.containerd.runtime.v2.task"

/* ---- opening files under the root ---- */

/* path (absolute) under the root directory rootfd, with symbolic links kept inside it. */
static int open_in(int rootfd, const char *path, int flags)
{
	struct open_how how = {.flags = (unsigned)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};
	const char *rel = path + strspn(path, "/");
	int fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));

	/* Before 5.6: plain openat, links resolved as they stand. */
	if (fd < 0 && errno == ENOSYS)
		fd = openat(rootfd, *rel ? rel : ".", flags | O_CLOEXEC);
	return fd;
}

/* A directory under the root, or NULL. */
static DIR *opendir_in(int rootfd, const char *path)
{
	int fd = open_in(rootfd, path, O_RDONLY | O_DIRECTORY);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* Errors that mean "not there": the file, or the process that /proc showed. */
static int absent(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ESRCH;
}

/*
 * The whole of path, at most cap bytes, into a malloc'd *buf (NUL added
 * after n bytes).  1 read; 0 absent; -1 with errno set on another error:
 * EFBIG beyond cap, EINVAL when not a regular file (a FIFO would block).
 */
static int slurp(int rootfd, const char *path, size_t cap, char **buf, size_t *n)
{
	size_t size = 0, got = 0;
	char *b = NULL;
	struct stat st;
	int fd = open_in(rootfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY), e = 0;

	*buf = NULL;
	*n = 0;
	if (fd < 0)
		return absent(errno) ? 0 : -1;
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL;
	while (!e) {
		if (got == size) {
			/* Room for one byte past the cap tells a file over it from one that fits.
			 */
			size_t want = size ? size * 2 : 4096;
			want = want > cap + 1 ? cap + 1 : want;
			char *nb = got > cap ? NULL : realloc(b, want + 1);
			if (!nb) {
				e = got > cap ? EFBIG : ENOMEM;
				break;
			}
			b = nb;
			size = want;
		}
		ssize_t r = read(fd, b + got, size - got);
		if (r < 0 && errno != EINTR)
			e = errno;
		else if (r == 0)
			break;
		else if (r > 0)
			got += (size_t)r;
	}
	close(fd);
	if (e) {
		free(b);
		errno = e;
		return absent(e) ? 0 : -1;
	}
	b[got] = '\0';
	*buf = b;
	*n = got;
	return 1;
}

/* A JSON state file, read whole: 1 read, 0 absent, unreadable or too big (not a source then). */
static int slurp_json(int rootfd, const char *path, char **buf, size_t *n)
{
	return slurp(rootfd, path, NSNAME_JSON_MAX, buf, n) == 1;
}

/* ---- the cgroup path ---- */

/*
 * From /proc/PID/cgroup ("ID:CONTROLLERS:PATH" lines), the path to parse:
 * the v2 line "0::PATH" unless PATH is "/", else the v1 name=systemd line,
 * else the first v1 line whose path is not "/" (hybrid hosts keep
 * containers in v1 hierarchies and "0::/").  Cuts text in place; NULL when
 * every path is "/".
 */
static const char *cgroup_pick(char *text)
{
	const char *v2 = NULL, *systemd = NULL, *first = NULL;
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/' || strcmp(c2 + 1, "/") == 0)
			continue;
		*c2 = '\0';
		if (strcmp(l, "0:") == 0)
			v2 = c2 + 1;
		else if (strstr(c1 + 1, "name=systemd") && !systemd)
			systemd = c2 + 1;
		else if (!first)
			first = c2 + 1;
	}
	return v2 ? v2 : systemd ? systemd : first;
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * Segment s (n bytes) is prefix + 64 hex digits + suffix, the suffix
 * optional when opt (the ERE ^prefix([0-9a-f]{64})(suffix)?$): the digits
 * into id.  "libpod-conmon-ID" and "crio-conmon-ID" never match, as conmon
 * is not in the container's network namespace.
 */
static int id_seg(const char *s, size_t n, const char *prefix, const char *suffix, int opt,
		  char id[65])
{
	size_t p = strlen(prefix), x = strlen(suffix);

	if (n < p + 64 || memcmp(s, prefix, p) != 0 || !is_hex(s + p, 64))
		return 0;
	if (!(n == p + 64 && opt) && !(n == p + 64 + x && memcmp(s + p + 64, suffix, x) == 0))
		return 0;
	memcpy(id, s + p, 64);
	id[64] = '\0';
	return 1;
}

/* A pod uid: 32 hex digits (a static pod), or a UUID with sep between its groups, into uid with
 * '-'. */
static int uid_ok(const char *s, size_t n, char sep, char uid[37])
{
	if (n == 32 && is_hex(s, 32)) {
		memcpy(uid, s, 32);
		uid[32] = '\0';
		return 1;
	}
	if (n != 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != sep : !is_hex(s + i, 1))
			return 0;
		uid[i] = dash ? '-' : s[i];
	}
	uid[36] = '\0';
	return 1;
}

/* ^([a-z]+-)*kubepods(-[a-z]+)*-pod(UID)\.slice$, the UID with '_' for '-'. */
static int pod_slice(const char *s, size_t n, char uid[37])
{
	const char *tail = ".slice", *pod = NULL;
	int kube = 0;

	if (n < 6 || memcmp(s + n - 6, tail, 6) != 0)
		return 0;
	for (size_t i = 0; i + 4 <= n - 6; i++)
		if (memcmp(s + i, "-pod", 4) == 0)
			pod = s + i; /* the last: a uid never holds "-pod" */
	if (!pod)
		return 0;
	/* The words before "-pod": lower-case letters, one of them "kubepods". */
	for (const char *w = s; w < pod;) {
		const char *e = memchr(w, '-', (size_t)(pod - w));
		e = e ? e : pod;
		if (e == w)
			return 0;
		for (const char *q = w; q < e; q++)
			if (*q < 'a' || *q > 'z')
				return 0;
		kube |= e - w == 8 && memcmp(w, "kubepods", 8) == 0;
		w = e + 1;
	}
	return kube && uid_ok(pod + 4, (size_t)(s + n - 6 - (pod + 4)), '_', uid);
}

/* How a bare id is read: by its parent segment. */
enum parent { PARENT_OTHER, PARENT_DOCKER, PARENT_POD };

/* A container segment: its runtime (id filled), or NONE. */
static enum nsname_rt container_seg(const char *s, size_t n, enum parent parent, char id[65])
{
	if (id_seg(s, n, "docker-", ".scope", 0, id))
		return NSNAME_RT_DOCKER;
	if (id_seg(s, n, "libpod-", ".scope", 1, id))
		return NSNAME_RT_PODMAN;
	if (id_seg(s, n, "cri-containerd-", ".scope", 0, id))
		return NSNAME_RT_CONTAINERD;
	if (id_seg(s, n, "crio-", ".scope", 1, id))
		return NSNAME_RT_CRIO;
	if (id_seg(s, n, "nerdctl-", ".scope", 0, id))
		return NSNAME_RT_NERDCTL;
	if (!id_seg(s, n, "", "", 1, id))
		return NSNAME_RT_NONE;
	/* A bare id: the cgroupfs drivers' parent/ID. */
	return parent == PARENT_DOCKER ? NSNAME_RT_DOCKER
	       : parent == PARENT_POD  ? NSNAME_RT_KUBE
				       : NSNAME_RT_BARE;
}

int nsname_cgroup_parse(const char *path, struct nsname_ref *ref)
{
	enum parent parent = PARENT_OTHER;
	char pod[37] = "", uid[37];
	int kubepods = 0;

	memset(ref, 0, sizeof(*ref));
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");
		enum nsname_rt rt;
		kubepods |= n == 8 && memcmp(s, "kubepods", 8) == 0;
		if (pod_slice(s, n, uid) || (kubepods && n > 3 && memcmp(s, "pod", 3) == 0 &&
					     uid_ok(s + 3, n - 3, '-', uid))) {
			memcpy(pod, uid, sizeof(pod));
			parent = PARENT_POD;
		} else {
			if (n && (rt = container_seg(s, n, parent, ref->id)) != NSNAME_RT_NONE) {
				/* Innermost wins: the pod above this container is its pod. */
				ref->rt = rt;
				memcpy(ref->pod, pod, sizeof(pod));
				pod[0] = '\0';
			}
			parent = n == 6 && memcmp(s, "docker", 6) == 0 ? PARENT_DOCKER
								       : PARENT_OTHER;
		}
		s += n + (s[n] == '/');
	}
	if (pod[0]) { /* a pod below the last container: the pod is innermost */
		memset(ref, 0, sizeof(*ref));
		memcpy(ref->pod, pod, sizeof(pod));
	}
	return ref->rt != NSNAME_RT_NONE || ref->pod[0];
}

/* ---- names from the runtimes' files ---- */

/* What the state files said: a pod ("ns/pod") and the container's own name. */
struct found {
	char pod[NSNAME_MAX];
	char own[NSNAME_MAX];
	const char *label; /* the runtime, for "RUNTIME:ID12" */
};

/*
 * A name shows in a table and on a terminal: printable ASCII, no spaces,
 * as every runtime's own rules for names require.  Anything else is not
 * taken as a name.
 */
static int name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

/* "ns/pod" into f->pod (if empty) from the strings at two key paths of depth nk. */
static void pod_from(struct found *f, const char *buf, size_t n, const char *const *nskeys,
		     const char *const *podkeys, size_t nk)
{
	char ns[256], pod[256];

	if (!f->pod[0] && jsonpick_str(buf, n, nskeys, nk, ns, sizeof(ns)) == 1 &&
	    jsonpick_str(buf, n, podkeys, nk, pod, sizeof(pod)) == 1 && name_ok(ns) && name_ok(pod))
		snprintf(f->pod, sizeof(f->pod), "%s/%s", ns, pod);
}

/* The string at keys into dst (NSNAME_MAX) if dst is empty and the string (after skip bytes) is a
 * name. */
static void own_from(char *dst, const char *buf, size_t n, const char *const *keys, size_t nk,
		     const char *skip)
{
	char v[NSNAME_MAX];
	const char *s = v;

	if (dst[0] || jsonpick_str(buf, n, keys, nk, v, sizeof(v)) != 1)
		return;
	s += strspn(v, skip);
	if (name_ok(s))
		snprintf(dst, NSNAME_MAX, "%s", s);
}

/* Docker: config.v2.json's "Name" ("/web": the "/" dropped), and cri-dockerd's pod labels. */
static int docker_config(int rootfd, const char *id, struct found *f)
{
	static const char *const name[] = {"Name"},
				 *const ns[] = {"Config", "Labels", "io.kubernetes.pod.namespace"},
				 *const pod[] = {"Config", "Labels", "io.kubernetes.pod.name"};
	char path[160], *buf;
	size_t n;

	snprintf(path, sizeof(path), "/var/lib/docker/containers/%s/config.v2.json", id);
	if (!slurp_json(rootfd, path, &buf, &n))
		return 0;
	pod_from(f, buf, n, ns, pod, 3);
	own_from(f->own, buf, n, name, 1, "/");
	free(buf);
	return 1;
}

/*
 * containerd's OCI bundle, in whichever containerd namespace holds the id
 * (k8s.io for CRI, default for nerdctl, any other): the CRI sandbox's pod,
 * or nerdctl's name (its labels are passed on as annotations).
 */
static int containerd_bundle(int rootfd, const char *id, struct found *f)
{
	static const char *const ns[] = {"annotations", "io.kubernetes.cri.sandbox-namespace"},
				 *const pod[] = {"annotations", "io.kubernetes.cri.sandbox-name"},
				 *const name[] = {"annotations", "nerdctl/name"};
	DIR *d = opendir_in(rootfd, CONTAINERD_TASKS);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		char path[512], *buf;
		size_t n;
		if (e->d_name[0] == '.' || strlen(e->d_name) > 255)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s/config.json", CONTAINERD_TASKS, e->d_name,
			 id);
		if (!slurp_json(rootfd, path, &buf, &n))
			continue;
		pod_from(f, buf, n, ns, pod, 2);
		own_from(f->own, buf, n, name, 2, "");
		free(buf);
		found = 1;
	}
	closedir(d);
	return found;
}

/*
 * CRI-O's bundle: the sandbox carries the kubelet's labels as annotations;
 * an app container has them inside the JSON string io.kubernetes.cri-o.Labels.
 */
static int crio_bundle(int rootfd, const char *id, struct found *f)
{
	static const char *const ns[] = {"annotations", "io.kubernetes.pod.namespace"},
				 *const pod[] = {"annotations", "io.kubernetes.pod.name"},
				 *const labels[] = {"annotations", "io.kubernetes.cri-o.Labels"};
	char path[160], *buf, *inner = malloc(NSNAME_JSON_MAX / 64);
	size_t n;

	snprintf(path, sizeof(path),
		 "/run/containers/storage/overlay-containers/%s/userdata/config.json", id);
	if (!inner || !slurp_json(rootfd, path, &buf, &n)) {
		free(inner);
		return 0;
	}
	pod_from(f, buf, n, ns, pod, 2);
	if (jsonpick_str(buf, n, labels, 2, inner, NSNAME_JSON_MAX / 64) == 1)
		pod_from(f, inner, strlen(inner), ns + 1, pod + 1, 1);
	free(inner);
	free(buf);
	return 1;
}

/*
 * containers/storage (Podman, and CRI-O's containers too): the entry with
 * this id in containers.json or volatile-containers.json (--rm), under the
 * graph root or, with transient_store, the run root.
 */
static int storage_lists(int rootfd, const char *id, struct found *f)
{
	static const char *const lists[] = {
		"/var/lib/containers/storage/overlay-containers/containers.json",
		"/var/lib/containers/storage/overlay-containers/volatile-containers.json",
		"/run/containers/storage/overlay-containers/containers.json",
		"/run/containers/storage/overlay-containers/volatile-containers.json",
	};
	char v[NSNAME_MAX], *buf;
	size_t n;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]) && !f->own[0]; i++) {
		if (!slurp_json(rootfd, lists[i], &buf, &n))
			continue;
		if (jsonpick_names(buf, n, id, v, sizeof(v)) == 1 && name_ok(v))
			memcpy(f->own, v, sizeof(v));
		free(buf);
	}
	return f->own[0] != 0;
}

/*
 * The kubelet makes /var/log/pods/NAMESPACE_POD_UID for every pod; names
 * and namespaces are DNS-1123 and hold no '_', so the name splits in three.
 */
static void pod_logs(int rootfd, const char *uid, struct found *f)
{
	DIR *d = opendir_in(rootfd, "/var/log/pods");
	struct dirent *e;

	if (!d)
		return;
	while (!f->pod[0] && (e = readdir(d)) != NULL) {
		char n[sizeof(e->d_name)];
		snprintf(n, sizeof(n), "%s", e->d_name); /* readdir's entry is not ours to cut */
		char *u1 = strchr(n, '_'), *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
		if (!u2 || u1 == n || u2 == u1 + 1 || strcmp(u2 + 1, uid) != 0)
			continue;
		*u1 = '/';
		*u2 = '\0';
		if (name_ok(n))
			snprintf(f->pod, sizeof(f->pod), "%s", n);
	}
	closedir(d);
}

/* Every state file the runtime of ref may have left, in the order doc/namespaces.md gives. */
static void lookup(int rootfd, const struct nsname_ref *ref, struct found *f)
{
	static const char *const labels[] = {
		[NSNAME_RT_DOCKER] = "docker",
		[NSNAME_RT_PODMAN] = "podman",
		[NSNAME_RT_CONTAINERD] = "containerd",
		[NSNAME_RT_NERDCTL] = "containerd",
		[NSNAME_RT_CRIO] = "cri-o",
		[NSNAME_RT_KUBE] = "cri",
		[NSNAME_RT_BARE] = "container",
	};
	enum nsname_rt rt = ref->rt;

	f->label = labels[rt];
	if ((rt == NSNAME_RT_DOCKER || rt == NSNAME_RT_BARE) && docker_config(rootfd, ref->id, f))
		f->label = "docker";
	if ((rt == NSNAME_RT_CONTAINERD || rt == NSNAME_RT_NERDCTL || rt == NSNAME_RT_KUBE ||
	     rt == NSNAME_RT_BARE) &&
	    containerd_bundle(rootfd, ref->id, f))
		f->label = "containerd";
	if ((rt == NSNAME_RT_CRIO || rt == NSNAME_RT_KUBE) && crio_bundle(rootfd, ref->id, f))
		f->label = "cri-o";
	if (ref->pod[0])
		pod_logs(rootfd, ref->pod, f);
	if (rt == NSNAME_RT_PODMAN || rt == NSNAME_RT_CRIO || rt == NSNAME_RT_KUBE ||
	    rt == NSNAME_RT_BARE)
		storage_lists(rootfd, ref->id, f);
}

/* The name to show: the pod, the container's own name, RUNTIME:ID12, pod:UID. */
static void choose(const struct nsname_ref *ref, const struct found *f, char *name)
{
	if (f->pod[0])
		snprintf(name, NSNAME_MAX, "%s", f->pod);
	else if (f->own[0])
		snprintf(name, NSNAME_MAX, "%s", f->own);
	else if (ref->rt != NSNAME_RT_NONE)
		snprintf(name, NSNAME_MAX, "%s:%.12s", f->label, ref->id);
	else
		snprintf(name, NSNAME_MAX, "pod:%s", ref->pod);
}

/* The container ref of pid from its cgroup file: 1, 0 (none, or gone), -1 (errno). */
static int pid_ref(int rootfd, pid_t pid, struct nsname_ref *ref)
{
	char path[64], *buf;
	size_t n;
	const char *cg;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	r = slurp(rootfd, path, NSNAME_CGROUP_MAX, &buf, &n);
	if (r <= 0)
		return r;
	cg = cgroup_pick(buf);
	r = cg ? nsname_cgroup_parse(cg, ref) : 0;
	free(buf);
	return r;
}

int nsname_container(const char *rootfs, pid_t pid, char *out, size_t len)
{
	struct nsname_ref ref;
	struct found *f;
	int rootfd, r;

	if (len)
		out[0] = '\0';
	rootfd = open(*rootfs ? rootfs : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -1;
	r = pid_ref(rootfd, pid, &ref);
	f = r == 1 ? calloc(1, sizeof(*f)) : NULL;
	if (f) {
		char name[NSNAME_MAX];
		lookup(rootfd, &ref, f);
		choose(&ref, f, name);
		if (strlen(name) < len)
			memcpy(out, name, strlen(name) + 1);
		else
			errno = ENAMETOOLONG, r = -1;
		free(f);
	} else if (r == 1) {
		r = -1;
	}
	close(rootfd);
	return r;
}
