/*
 * Unit tests: container names from cgroup paths and the runtimes' state
 * files, in fixture trees laid out as Docker, Podman, containerd, CRI-O and
 * the kubelet write them, under a temporary root (mkdtemp).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "nsname.h"
#include "unit.h"

#define IDA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define IDA_TAIL48 "0123456789abcdef0123456789abcdef0123456789abcdef"
#define IDB "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID "8a5c2f5e-1b7d-4c0e-9f6a-3d2e1c0b9a87"
#define UID_ "8a5c2f5e_1b7d_4c0e_9f6a_3d2e1c0b9a87"
#define SUID "0f1e2d3c4b5a69788796a5b4c3d2e1f0" /* a static pod's config hash */

/* ---- fixture trees ---- */

static void mkdirs(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
}

/* Write text (n bytes) at root/rel, making the directories on the way. */
static void put_n(const char *root, const char *rel, const char *text, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	mkdirs(path);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(text, 1, n, f) == n);
		fclose(f);
	}
}

static void put(const char *root, const char *rel, const char *text)
{
	put_n(root, rel, text, strlen(text));
}

static void del(const char *root, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	CHECK(unlink(path) == 0);
}

/* A directory at root/rel (for /var/log/pods entries). */
static void put_dir(const char *root, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s/", root, rel);
	mkdirs(path);
}

/* Process pid's /proc/PID/cgroup as a pure cgroup v2 host writes it. */
static void put_cgroup(const char *root, int pid, const char *path)
{
	char rel[64], text[1024];

	snprintf(rel, sizeof(rel), "proc/%d/cgroup", pid);
	snprintf(text, sizeof(text), "0::%s\n", path);
	put(root, rel, text);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

struct fx {
	char root[64];
};

static int fx_make(struct fx *x)
{
	strcpy(x->root, "/tmp/nsname-test.XXXXXX");
	CHECK(mkdtemp(x->root) != NULL);
	return x->root[0] && access(x->root, F_OK) == 0;
}

static void fx_done(struct fx *x)
{
	nftw(x->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The name for pid under root: the return value, and out. */
static int name_of(const struct fx *x, int pid, char *out)
{
	return nsname_container(x->root, (pid_t)pid, out, NSNAME_MAX);
}

/* ---- cgroup paths ---- */

struct parse_case {
	const char *path;
	enum nsname_rt rt;
	const char *id, *pod;
};

static void check_parse(const struct parse_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct nsname_ref ref;
		int r = nsname_cgroup_parse(c[i].path, &ref);
		int ok = r == (c[i].rt != NSNAME_RT_NONE || c[i].pod[0]) && ref.rt == c[i].rt &&
			 strcmp(ref.id, c[i].id) == 0 && strcmp(ref.pod, c[i].pod) == 0;
		if (!ok)
			printf("  %s: r %d rt %d id \"%s\" pod \"%s\"\n", c[i].path, r, ref.rt,
			       ref.id, ref.pod);
		CHECK(ok);
	}
}

/* Docker, Podman and nerdctl paths: systemd, cgroupfs, rootless, crun's /container, conmon. */
static void parse_engines(void)
{
	static const struct parse_case c[] = {
		{"/system.slice/docker-" IDA ".scope", NSNAME_RT_DOCKER, IDA, ""},
		{"/docker/" IDA, NSNAME_RT_DOCKER, IDA, ""},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" IDA ".scope",
		 NSNAME_RT_DOCKER, IDA, ""},
		{"/machine.slice/libpod-" IDA ".scope", NSNAME_RT_PODMAN, IDA, ""},
		{"/machine.slice/libpod-" IDA ".scope/container", NSNAME_RT_PODMAN, IDA, ""},
		{"/machine.slice/machine-libpod_pod_" IDB ".slice/libpod-" IDA ".scope/container",
		 NSNAME_RT_PODMAN, IDA, ""},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" IDA
		 ".scope/container",
		 NSNAME_RT_PODMAN, IDA, ""},
		{"/libpod_parent/libpod-" IDA, NSNAME_RT_PODMAN, IDA, ""},
		{"/machine.slice/libpod-conmon-" IDA ".scope", NSNAME_RT_NONE, "", ""},
		{"/libpod_parent/conmon", NSNAME_RT_NONE, "", ""},
		{"/system.slice/nerdctl-" IDA ".scope", NSNAME_RT_NERDCTL, IDA, ""},
		{"/default/" IDA, NSNAME_RT_BARE, IDA, ""},
		/* Not containers: near misses of each form. */
		{"/", NSNAME_RT_NONE, "", ""},
		{"", NSNAME_RT_NONE, "", ""},
		{"/user.slice/user-1000.slice/session-2.scope", NSNAME_RT_NONE, "", ""},
		{"/system.slice/docker-" IDA "0.scope", NSNAME_RT_NONE, "", ""},
		{"/system.slice/"
		 "docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
		 ".scope",
		 NSNAME_RT_NONE, "", ""},
		{"/system.slice/docker-" IDA ".scopex", NSNAME_RT_NONE, "", ""},
		{"/system.slice/docker-" IDA, NSNAME_RT_NONE, "", ""},
		{"/system.slice/cri-containerd-" IDA, NSNAME_RT_NONE, "", ""},
		{"/process_api/fb5b2591aa7ad4f9bf118326a7901806", NSNAME_RT_NONE, "", ""},
	};
	check_parse(c, sizeof(c) / sizeof(c[0]));
}

/* Kubernetes: QoS classes, Guaranteed pods, static pods, cgroupfs, CRI-O, KinD's prefix, nesting.
 */
static void parse_kube(void)
{
	static const struct parse_case c[] = {
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		 ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, UID},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		 ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, UID},
		{"/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, UID},
		{"/kubepods.slice/kubepods-pod" SUID ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, SUID},
		{"/kubepods/burstable/pod" UID "/" IDA, NSNAME_RT_KUBE, IDA, UID},
		{"/kubepods/pod" UID "/" IDA, NSNAME_RT_KUBE, IDA, UID},
		{"/kubepods/pod" SUID "/" IDA, NSNAME_RT_KUBE, IDA, SUID},
		{"/kubepods/burstable/pod" UID "/crio-" IDA, NSNAME_RT_CRIO, IDA, UID},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		 ".slice/crio-" IDA ".scope/container",
		 NSNAME_RT_CRIO, IDA, UID},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		 ".slice/crio-conmon-" IDA ".scope",
		 NSNAME_RT_NONE, "", UID},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		 ".slice/docker-" IDA ".scope",
		 NSNAME_RT_DOCKER, IDA, UID},
		{"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
		 "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, UID},
		/* KinD on Podman: the pod's container inside the node's container wins. */
		{"/machine.slice/libpod-" IDB
		 ".scope/container/kubelet.slice/kubelet-kubepods.slice/"
		 "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_
		 ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, UID},
		/* The node's own processes: the node's container, no pod. */
		{"/machine.slice/libpod-" IDB ".scope/container/kubelet.slice", NSNAME_RT_PODMAN,
		 IDB, ""},
		/* A pod slice with no container below: the pod alone. */
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice",
		 NSNAME_RT_NONE, "", UID},
		/* Near misses: a uid with the wrong separator or length, pod<uid> outside kubepods.
		 */
		{"/kubepods.slice/kubepods-pod" UID ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, ""},
		{"/kubepods.slice/kubepods-pod" SUID "0.slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, ""},
		{"/kubepods.slice/Kubepods-pod" UID_ ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, ""},
		{"/kubepods.slice/pods-pod" UID_ ".slice/cri-containerd-" IDA ".scope",
		 NSNAME_RT_CONTAINERD, IDA, ""},
		{"/other/pod" UID "/" IDA, NSNAME_RT_BARE, IDA, ""},
	};
	check_parse(c, sizeof(c) / sizeof(c[0]));
}

/* ---- which cgroup line ---- */

/*
 * On hybrid hosts "0::/" says nothing: name=systemd is taken before other
 * v1 lines, and the 0:: line before both when it names a cgroup.
 */
static void cgroup_lines(void)
{
	struct fx x;
	char out[NSNAME_MAX];

	if (!fx_make(&x))
		return;
	put(x.root, "proc/10/cgroup",
	    "12:pids:/\n4:memory:/docker/" IDA "\n1:name=systemd:/system.slice/docker-" IDB
	    ".scope\n0::/\n");
	CHECK(name_of(&x, 10, out) == 1);
	CHECK_STR(out, "docker:fedcba987654");
	put(x.root, "proc/11/cgroup",
	    "12:pids:/\n4:memory:/docker/" IDA "\n1:name=systemd:/\n0::/\n");
	CHECK(name_of(&x, 11, out) == 1);
	CHECK_STR(out, "docker:0123456789ab");
	put(x.root, "proc/12/cgroup",
	    "1:name=systemd:/system.slice/docker-" IDB ".scope\n0::/machine.slice/libpod-" IDA
	    ".scope\n");
	CHECK(name_of(&x, 12, out) == 1);
	CHECK_STR(out, "podman:0123456789ab");
	/* Every path "/", or no container in it: none applies. */
	put(x.root, "proc/13/cgroup", "9:name=systemd:/\n4:memory:/\n0::/\n");
	strcpy(out, "junk");
	CHECK(name_of(&x, 13, out) == 0);
	CHECK_STR(out, "");
	put(x.root, "proc/14/cgroup", "0::/user.slice/user-0.slice/session-1.scope\n");
	CHECK(name_of(&x, 14, out) == 0);
	/* Lines without two colons are passed over. */
	put(x.root, "proc/15/cgroup", "garbage\n::\n0:/docker/" IDA "\n0::/docker/" IDB "\n");
	CHECK(name_of(&x, 15, out) == 1);
	CHECK_STR(out, "docker:fedcba987654");
	fx_done(&x);
}

/*
 * A process that has gone is none (0); a root that cannot be opened, or a
 * cgroup file beyond any real one, is an error (-1).
 */
static void cgroup_errors(void)
{
	struct fx x;
	char out[NSNAME_MAX], *big;
	size_t n = 70000;

	if (!fx_make(&x))
		return;
	CHECK(name_of(&x, 99, out) == 0);
	errno = 0;
	CHECK(nsname_container("/nonexistent-nsname-root", 1, out, sizeof(out)) == -1);
	CHECK(errno == ENOENT);
	big = malloc(n);
	if (big) {
		memset(big, '\n', n);
		memcpy(big, "0::/docker/" IDA "\n", 76);
		put_n(x.root, "proc/20/cgroup", big, n);
		strcpy(out, "junk");
		errno = 0;
		CHECK(name_of(&x, 20, out) == -1 && errno == EFBIG);
		CHECK_STR(out, "");
		put_n(x.root, "proc/21/cgroup", big, 60000);
		CHECK(name_of(&x, 21, out) == 1);
		free(big);
	}
	/* A cgroup "file" that is a directory. */
	put_dir(x.root, "proc/22/cgroup");
	errno = 0;
	CHECK(name_of(&x, 22, out) == -1 && errno == EINVAL);
	/* The real root: this process is in no container here, and nothing fails. */
	CHECK(nsname_container("", getpid(), out, sizeof(out)) >= 0);
	CHECK(nsname_container("/", getpid(), out, sizeof(out)) >= 0);
	fx_done(&x);
}

/* A name that does not fit out is an error (ENAMETOOLONG), never a cut name. */
static void out_too_small(void)
{
	struct fx x;
	char out[32];

	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 30, "/system.slice/docker-" IDA ".scope");
	CHECK(nsname_container(x.root, 30, out, 20) == 1);
	CHECK_STR(out, "docker:0123456789ab");
	strcpy(out, "junk");
	errno = 0;
	CHECK(nsname_container(x.root, 30, out, 19) == -1 && errno == ENAMETOOLONG);
	CHECK_STR(out, "");
	fx_done(&x);
}

/* ---- names ---- */

/* Docker: "Name" without its "/"; cri-dockerd's pod labels first; the fallback. */
static void docker_names(void)
{
	struct fx x;
	char out[NSNAME_MAX];

	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 40, "/system.slice/docker-" IDA ".scope");
	CHECK(name_of(&x, 40, out) == 1);
	CHECK_STR(out, "docker:0123456789ab");
	put(x.root, "var/lib/docker/containers/" IDA "/config.v2.json",
	    "{\"ID\":\"" IDA "\",\"Name\":\"/web\",\"State\":{\"Pid\":123,\"Running\":true}}");
	CHECK(name_of(&x, 40, out) == 1);
	CHECK_STR(out, "web");
	/* cgroupfs, on a v1 host: the same file. */
	put(x.root, "proc/41/cgroup", "4:memory:/docker/" IDA "\n0::/\n");
	CHECK(name_of(&x, 41, out) == 1);
	CHECK_STR(out, "web");
	/* cri-dockerd: the pod's labels name the pod. */
	put_cgroup(x.root, 42, "/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" IDB ".scope");
	put(x.root, "var/lib/docker/containers/" IDB "/config.v2.json",
	    "{\"Name\":\"/k8s_POD_api-7f9_prod_" UID "_0\",\"Config\":{\"Labels\":{"
	    "\"io.kubernetes.pod.name\":\"api-7f9\",\"io.kubernetes.pod.namespace\":\"prod\"}}}");
	CHECK(name_of(&x, 42, out) == 1);
	CHECK_STR(out, "prod/api-7f9");
	fx_done(&x);
}

/*
 * Names that are not names (control characters, spaces, empty), files cut
 * mid-write and files over the 4 MiB cap fall back to RUNTIME:ID12.
 */
static void docker_bad_files(void)
{
	static const char *const bad[] = {
		"{\"Name\":\"/we\\u001b[2Jb\"}",
		"{\"Name\":\"/my web\"}",
		"{\"Name\":\"/\"}",
		"{\"Name\":\"\"}",
		"{\"Name\":7}",
		"{\"Name\":\"/web\"",
		"{\"Name\":\"/web\"}}",
		"",
		"[]",
	};
	const char *rel = "var/lib/docker/containers/" IDA "/config.v2.json";
	struct fx x;
	char out[NSNAME_MAX], *big, fifo[1024];
	size_t cap = 4u << 20;

	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 50, "/docker/" IDA);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(x.root, rel, bad[i]);
		CHECK(name_of(&x, 50, out) == 1);
		CHECK_STR(out, "docker:0123456789ab");
	}
	big = malloc(cap + 64);
	if (big) {
		/* Valid JSON of exactly the cap is read; one byte more is not. */
		memset(big, ' ', cap + 1);
		memcpy(big, "{\"Name\":\"/big\"}", 15);
		put_n(x.root, rel, big, cap);
		CHECK(name_of(&x, 50, out) == 1);
		CHECK_STR(out, "big");
		put_n(x.root, rel, big, cap + 1);
		CHECK(name_of(&x, 50, out) == 1);
		CHECK_STR(out, "docker:0123456789ab");
		free(big);
	}
	/* A FIFO where the file should be is not read (it would block), nor a directory. */
	snprintf(fifo, sizeof(fifo), "%s/%s", x.root, rel);
	CHECK(unlink(fifo) == 0 && mkfifo(fifo, 0600) == 0);
	CHECK(name_of(&x, 50, out) == 1);
	CHECK_STR(out, "docker:0123456789ab");
	CHECK(unlink(fifo) == 0 && mkdir(fifo, 0700) == 0);
	CHECK(name_of(&x, 50, out) == 1);
	CHECK_STR(out, "docker:0123456789ab");
	fx_done(&x);
}

/* Podman: containers.json, volatile-containers.json (--rm), and the run root's (transient_store).
 */
static void podman_names(void)
{
	static const char *const lists[] = {
		"var/lib/containers/storage/overlay-containers/containers.json",
		"var/lib/containers/storage/overlay-containers/volatile-containers.json",
		"run/containers/storage/overlay-containers/containers.json",
		"run/containers/storage/overlay-containers/volatile-containers.json",
	};
	struct fx x;
	char out[NSNAME_MAX], doc[1024];

	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 60, "/machine.slice/libpod-" IDA ".scope/container");
	CHECK(name_of(&x, 60, out) == 1);
	CHECK_STR(out, "podman:0123456789ab");
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		char want[16];
		snprintf(want, sizeof(want), "db%zu", i);
		snprintf(doc, sizeof(doc),
			 "[{\"id\":\"" IDB "\",\"names\":[\"other\"]},"
			 "{\"id\":\"" IDA
			 "\",\"names\":[\"%s\"],\"metadata\":\"{\\\"name\\\":\\\"x\\\"}\"}]",
			 want);
		put(x.root, lists[i], doc);
		CHECK(name_of(&x, 60, out) == 1);
		CHECK_STR(out, want);
		put(x.root, lists[i], "[{\"id\":\"" IDB "\",\"names\":[\"other\"]}]");
	}
	/* Rootless, cgroupfs: the same lists. */
	put(x.root, lists[1], "[{\"id\":\"" IDA "\",\"names\":[\"rm-me\"]}]");
	put_cgroup(x.root, 61,
		   "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" IDA
		   ".scope/container");
	CHECK(name_of(&x, 61, out) == 1);
	CHECK_STR(out, "rm-me");
	put_cgroup(x.root, 62, "/libpod_parent/libpod-" IDA);
	CHECK(name_of(&x, 62, out) == 1);
	CHECK_STR(out, "rm-me");
	/* conmon is not in the container's namespace. */
	put_cgroup(x.root, 63, "/machine.slice/libpod-conmon-" IDA ".scope");
	CHECK(name_of(&x, 63, out) == 0);
	fx_done(&x);
}

#define TASKS "run/containerd/io.containerd.runtime.v2.task/"

/* containerd: the CRI sandbox's pod from its bundle; nerdctl's name; any containerd namespace. */
static void containerd_names(void)
{
	struct fx x;
	char out[NSNAME_MAX];

	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 70,
		   "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		   ".slice/cri-containerd-" IDA ".scope");
	CHECK(name_of(&x, 70, out) == 1);
	CHECK_STR(out, "containerd:0123456789ab");
	put(x.root, TASKS "k8s.io/" IDA "/config.json",
	    "{\"ociVersion\":\"1.1.0\",\"annotations\":{"
	    "\"io.kubernetes.cri.container-type\":\"sandbox\","
	    "\"io.kubernetes.cri.sandbox-name\":\"api-7f9\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"prod\","
	    "\"io.kubernetes.cri.sandbox-uid\":\"" UID "\"}}");
	CHECK(name_of(&x, 70, out) == 1);
	CHECK_STR(out, "prod/api-7f9");
	/* Half the pair is no pod. */
	put(x.root, TASKS "k8s.io/" IDA "/config.json",
	    "{\"annotations\":{\"io.kubernetes.cri.sandbox-name\":\"api-7f9\"}}");
	CHECK(name_of(&x, 70, out) == 1);
	CHECK_STR(out, "containerd:0123456789ab");
	/* nerdctl, in a namespace of its own. */
	put_cgroup(x.root, 71, "/system.slice/nerdctl-" IDB ".scope");
	CHECK(name_of(&x, 71, out) == 1);
	CHECK_STR(out, "containerd:fedcba987654");
	put(x.root, TASKS "default/" IDB "/config.json",
	    "{\"annotations\":{\"nerdctl/name\":\"nginx-1\",\"nerdctl/namespace\":\"default\"}}");
	CHECK(name_of(&x, 71, out) == 1);
	CHECK_STR(out, "nginx-1");
	/* cgroupfs: /NAMESPACE/ID. */
	put_cgroup(x.root, 72, "/default/" IDB);
	CHECK(name_of(&x, 72, out) == 1);
	CHECK_STR(out, "nginx-1");
	put_cgroup(x.root, 73, "/default/" IDA);
	CHECK(name_of(&x, 73, out) == 1);
	CHECK_STR(out, "containerd:0123456789ab");
	put_cgroup(x.root, 74, "/elsewhere/aaaaaaaaaaaacdef" IDA_TAIL48);
	CHECK(name_of(&x, 74, out) == 1);
	CHECK_STR(out, "container:aaaaaaaaaaaa");
	fx_done(&x);
}

#define CRIO_BUNDLE "run/containers/storage/overlay-containers/" IDA "/userdata/config.json"

/* CRI-O: the sandbox's annotations, an app container's Labels string; containers.json after both.
 */
static void crio_names(void)
{
	struct fx x;
	char out[NSNAME_MAX];

	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 80,
		   "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		   ".slice/crio-" IDA ".scope/container");
	CHECK(name_of(&x, 80, out) == 1);
	CHECK_STR(out, "cri-o:0123456789ab");
	put(x.root, "var/lib/containers/storage/overlay-containers/containers.json",
	    "[{\"id\":\"" IDA "\",\"names\":[\"k8s_POD_api-7f9_prod_" UID "_0\"]}]");
	CHECK(name_of(&x, 80, out) == 1);
	CHECK_STR(out, "k8s_POD_api-7f9_prod_" UID "_0");
	put(x.root, CRIO_BUNDLE,
	    "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
	    "\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.pod.name\\\":\\\"api-7f9\\\","
	    "\\\"io.kubernetes.pod.namespace\\\":\\\"prod\\\"}\"}}");
	CHECK(name_of(&x, 80, out) == 1);
	CHECK_STR(out, "prod/api-7f9");
	put(x.root, CRIO_BUNDLE,
	    "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
	    "\"io.kubernetes.pod.name\":\"web-0\",\"io.kubernetes.pod.namespace\":\"shop\"}}");
	CHECK(name_of(&x, 80, out) == 1);
	CHECK_STR(out, "shop/web-0");
	/* A Labels string that is not JSON is no pod. */
	put(x.root, CRIO_BUNDLE,
	    "{\"annotations\":{\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.pod.name\\\":\"}"
	    "}");
	CHECK(name_of(&x, 80, out) == 1);
	CHECK_STR(out, "k8s_POD_api-7f9_prod_" UID "_0");
	fx_done(&x);
}

/*
 * A bare id under pod<uid> (cgroupfs): containerd or CRI-O, told apart by
 * whose bundle holds the id; neither gives "cri:".
 */
static void kube_bare(void)
{
	struct fx x;
	char out[NSNAME_MAX];

	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 90, "/kubepods/burstable/pod" UID "/" IDA);
	CHECK(name_of(&x, 90, out) == 1);
	CHECK_STR(out, "cri:0123456789ab");
	put(x.root, CRIO_BUNDLE, "{\"annotations\":{}}");
	CHECK(name_of(&x, 90, out) == 1);
	CHECK_STR(out, "cri-o:0123456789ab");
	del(x.root, CRIO_BUNDLE);
	put(x.root, TASKS "k8s.io/" IDB "/config.json",
	    "{\"annotations\":{\"io.kubernetes.cri.sandbox-name\":\"p\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"n\"}}");
	put_cgroup(x.root, 91, "/kubepods/pod" UID "/" IDB);
	CHECK(name_of(&x, 91, out) == 1);
	CHECK_STR(out, "n/p");
	fx_done(&x);
}

/*
 * The kubelet's /var/log/pods/NS_POD_UID: the pod when no runtime file
 * names it, before a container's own name; only exact three-part names.
 */
static void pod_logs(void)
{
	struct fx x;
	char out[NSNAME_MAX];

	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 100,
		   "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		   ".slice/crio-" IDA ".scope");
	put(x.root, "var/lib/containers/storage/overlay-containers/containers.json",
	    "[{\"id\":\"" IDA "\",\"names\":[\"k8s_POD_x\"]}]");
	put_dir(x.root, "var/log/pods/" UID);		   /* the old form: no names */
	put_dir(x.root, "var/log/pods/prod_" UID);	   /* two parts */
	put_dir(x.root, "var/log/pods/_api_" UID);	   /* an empty namespace */
	put_dir(x.root, "var/log/pods/prod__" UID);	   /* an empty pod */
	put_dir(x.root, "var/log/pods/a_b_c_" UID);	   /* four parts */
	put_dir(x.root, "var/log/pods/prod_api_" UID "0"); /* another uid */
	put_dir(x.root, "var/log/pods/prod_other_" SUID);  /* another pod */
	CHECK(name_of(&x, 100, out) == 1);
	CHECK_STR(out, "k8s_POD_x");
	put_dir(x.root, "var/log/pods/prod_api-7f9_" UID);
	CHECK(name_of(&x, 100, out) == 1);
	CHECK_STR(out, "prod/api-7f9");
	/* A pod with no container segment: its log directory, or pod:UID. */
	put_cgroup(x.root, 101, "/kubepods/pod" SUID);
	CHECK(name_of(&x, 101, out) == 1);
	CHECK_STR(out, "prod/other");
	put_cgroup(x.root, 102, "/kubepods.slice/kubepods-pod" UID_ "0.slice");
	CHECK(name_of(&x, 102, out) == 0);
	put_cgroup(x.root, 103,
		   "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
		   "11111111_2222_3333_4444_555555555555.slice");
	CHECK(name_of(&x, 103, out) == 1);
	CHECK_STR(out, "pod:11111111-2222-3333-4444-555555555555");
	fx_done(&x);
}

/*
 * Under a root, absolute symbolic links resolve inside it (a host at /host
 * whose /var/lib/docker links to /data/docker), and ".." cannot climb out.
 */
static void links_in_root(void)
{
	struct fx x;
	char out[NSNAME_MAX], link[1024], outside[1024];

	/* Without openat2 (before 5.6, or under valgrind) links resolve as they stand. */
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
	int probe = (int)syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));
	if (probe < 0 && errno == ENOSYS) {
		unit_skip("openat2 is not available here (a kernel before 5.6, or valgrind)");
		return;
	}
	if (probe >= 0)
		close(probe);
	if (!fx_make(&x))
		return;
	put_cgroup(x.root, 110, "/docker/" IDA);
	put(x.root, "data/docker/containers/" IDA "/config.v2.json", "{\"Name\":\"/linked\"}");
	snprintf(link, sizeof(link), "%s/var/lib/docker", x.root);
	put_dir(x.root, "var/lib");
	CHECK(symlink("/data/docker", link) == 0);
	CHECK(name_of(&x, 110, out) == 1);
	CHECK_STR(out, "linked");
	/* A link up and out of the root stays in it: no name from outside. */
	snprintf(outside, sizeof(outside), "%s-outside", x.root);
	put(outside, "containers/" IDA "/config.v2.json", "{\"Name\":\"/escaped\"}");
	CHECK(unlink(link) == 0);
	snprintf(outside, sizeof(outside), "../../../%s-outside", strrchr(x.root, '/') + 1);
	CHECK(symlink(outside, link) == 0);
	CHECK(name_of(&x, 110, out) == 1);
	CHECK_STR(out, "docker:0123456789ab");
	snprintf(outside, sizeof(outside), "%s-outside", x.root);
	nftw(outside, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fx_done(&x);
}

const struct unit_test nsname_tests[] = {
	{"nsname_parse_engines", parse_engines},
	{"nsname_parse_kube", parse_kube},
	{"nsname_cgroup_lines", cgroup_lines},
	{"nsname_cgroup_errors", cgroup_errors},
	{"nsname_out_too_small", out_too_small},
	{"nsname_docker_names", docker_names},
	{"nsname_docker_bad_files", docker_bad_files},
	{"nsname_podman_names", podman_names},
	{"nsname_containerd_names", containerd_names},
	{"nsname_crio_names", crio_names},
	{"nsname_kube_bare", kube_bare},
	{"nsname_pod_logs", pod_logs},
	{"nsname_links_in_root", links_in_root},
	{NULL, NULL},
};
