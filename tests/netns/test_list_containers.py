#!/usr/bin/env python3
"""`tcpstate list -A --rootfs DIR` names namespaces after their containers
(issue 18), from fake runtime state: no daemon runs.

Root only.  Eight holders each unshare a network namespace of their own
(test_list_all_ns's unnamed Space: `unshare -n` running a python holder,
never named, the way runtimes make them) and build a small table in it
(listeners and established pairs over 127.0.0.1 and ::1).  The holder is
the only process there, so it is the namespace's lowest pid, the one whose
cgroup nsname.c reads.  The namespaces are real; only the
metadata is fake: a temporary DIR holds DIR/proc/<holder pid>/cgroup for
each holder, pointing at one runtime's layout, and that runtime's state
files (the layouts of tests/unit/test_nsname.c, doc/namespaces.md
"Container names"):

  docker_systemd  /system.slice/docker-ID.scope, config.v2.json Name
  docker_cgroupfs a v1 memory line /docker/ID (0::/), config.v2.json Name
  podman          /machine.slice/libpod-ID.scope/container, containers.json
  containerd_pod  a kubepods pod slice, cri-containerd-ID.scope, the
                  sandbox bundle's annotations -> "prod/api-PID"
  crio_pod        a kubepods pod slice, crio-ID.scope, the sandbox's
                  userdata/config.json annotations -> "shop/web-PID"
  nerdctl         /system.slice/nerdctl-ID.scope, bundle nerdctl/name
  kubelet_logs    cgroupfs /kubepods/burstable/podUID/ID that no runtime
                  holds: /var/log/pods/NS_POD_UID -> "staging/worker-PID"
  none            a session scope: no container, the column shows comm[pid]

Names carry the test's pid, so that no other namespace on the machine can
carry them.

Cases:
  * `list -A -a --rootfs DIR --json`: every row of each holder's namespace
    (by inode) carries exactly the expected "container" (null for none),
    and each namespace has as many rows as its table;
  * the table's Netns column shows the container (comm[pid] for none) on
    every line of the namespace;
  * `--ns 'prod/*'` picks the containerd pod's namespace and nothing else;
  * `--rootfs` without -A: exit 2 and the message;
  * a missing rootfs, and one that is a regular file: exit 0, every row of
    ours carries a null container, the table shows comm[pid].

Other sessions' namespaces exist on this machine: rows are selected by
inode, never counted as a whole.  The holders and DIR go on exit, on
failure and on a signal.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, fmt_cmd  # noqa: E402
from test_list_all_ns import Space, by_inode, list_json  # noqa: E402

TCPSTATE = nslib.TCPSTATE
CASES = ["json_container_per_namespace", "table_netns_column", "ns_pattern_pod",
         "rootfs_needs_all_ns", "rootfs_missing_null", "rootfs_not_dir_null"]
TOOLS = ("ip", "unshare")  # the holders bring their loopback up with ip

TASKS = "run/containerd/io.containerd.runtime.v2.task/"
STORAGE = "var/lib/containers/storage/overlay-containers/"


def cid(k):
    """A 64-hex-digit container id of its own for holder k."""
    return ("%02x" % (0xa0 + k)) * 32


def uid(k):
    """A pod uid of its own for holder k (a UUID)."""
    return "8a5c2f5e-1b7d-4c0e-9f6a-3d2e1c0b9a%02x" % k


def pod_slice(k, qos):
    """The systemd pod slice of pod uid(k) in QoS class qos ("_" for "-")."""
    return ("/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice"
            % (qos, qos, uid(k).replace("-", "_")))


# Each layout: (cgroup file text, {path under DIR: content}, expected
# container) for holder k with test tag t; a content of None is a directory.
def docker_systemd(k, t):
    return ("0::/system.slice/docker-%s.scope\n" % cid(k),
            {"var/lib/docker/containers/%s/config.v2.json" % cid(k):
             {"ID": cid(k), "Name": "/web-" + t, "State": {"Running": True}}},
            "web-" + t)


def docker_cgroupfs(k, t):
    return ("12:pids:/\n4:memory:/docker/%s\n1:name=systemd:/\n0::/\n" % cid(k),
            {"var/lib/docker/containers/%s/config.v2.json" % cid(k):
             {"ID": cid(k), "Name": "/cache-" + t}},
            "cache-" + t)


def podman(k, t):
    return ("0::/machine.slice/libpod-%s.scope/container\n" % cid(k),
            {STORAGE + "containers.json":
             [{"id": cid(k + 16), "names": ["other"]},
              {"id": cid(k), "names": ["db-" + t], "metadata": '{"name":"x"}'}]},
            "db-" + t)


def containerd_pod(k, t):
    return ("0::%s/cri-containerd-%s.scope\n" % (pod_slice(k, "besteffort"), cid(k)),
            {TASKS + "k8s.io/%s/config.json" % cid(k):
             {"ociVersion": "1.1.0", "annotations": {
                 "io.kubernetes.cri.container-type": "sandbox",
                 "io.kubernetes.cri.sandbox-name": "api-" + t,
                 "io.kubernetes.cri.sandbox-namespace": "prod",
                 "io.kubernetes.cri.sandbox-uid": uid(k)}}},
            "prod/api-" + t)


def crio_pod(k, t):
    return ("0::%s/crio-%s.scope\n" % (pod_slice(k, "burstable"), cid(k)),
            {"run/containers/storage/overlay-containers/%s/userdata/config.json" % cid(k):
             {"annotations": {"io.kubernetes.cri-o.ContainerType": "sandbox",
                              "io.kubernetes.pod.name": "web-" + t,
                              "io.kubernetes.pod.namespace": "shop"}}},
            "shop/web-" + t)


def nerdctl(k, t):
    return ("0::/system.slice/nerdctl-%s.scope\n" % cid(k),
            {TASKS + "default/%s/config.json" % cid(k):
             {"annotations": {"nerdctl/name": "nginx-" + t, "nerdctl/namespace": "default"}}},
            "nginx-" + t)


def kubelet_logs(k, t):
    return ("0::/kubepods/burstable/pod%s/%s\n" % (uid(k), cid(k)),
            {"var/log/pods/staging_worker-%s_%s" % (t, uid(k)): None,
             "var/log/pods/prod_decoy-%s_%s0" % (t, uid(k)): None},  # another uid
            "staging/worker-" + t)


def none(k, t):
    return ("0::/user.slice/user-0.slice/session-1.scope\n", {}, None)


LAYOUTS = [docker_systemd, docker_cgroupfs, podman, containerd_pod, crio_pod, nerdctl,
           kubelet_logs, none]


class Holder:
    """Holder k: test_list_all_ns's unnamed Space k (a namespace of its own
    made by unshare -n, a small table of its own), the layout that names it
    and what it should then show."""

    def __init__(self, k, layout):
        self.k, self.layout = k, layout
        self.space = Space(k, None)
        self.want = self.comm = None

    def ready(self, deadline):
        self.space.ready(deadline)
        with open("/proc/%d/comm" % self.space.pid) as f:
            self.comm = "%s[%d]" % (f.read().strip(), self.space.pid)

    @property
    def pid(self):
        return self.space.pid

    @property
    def inode(self):
        return self.space.inode

    def rows(self):
        """How many rows list -A -a gives for its namespace."""
        return sum(self.space.plan.values())

    def label(self):
        """The Netns cell expected with the fake root."""
        return self.want or self.comm


def put(root, rel, content):
    """content at root/rel: JSON of it, a directory when None."""
    path = os.path.join(root, rel)
    if content is None:
        os.makedirs(path, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))


def build_root(root, holders):
    """DIR/proc/PID/cgroup of every holder and its runtime's files."""
    tag = str(os.getpid())
    for h in holders:
        cgroup, files, h.want = h.layout(h.k, tag)
        put(root, "proc/%d/cgroup" % h.pid, cgroup)
        for rel, content in files.items():
            put(root, rel, content)


def start_holders(holders):
    for k, layout in enumerate(LAYOUTS):
        holders.append(Holder(k, layout))
        holders[-1].space.start()
    deadline = time.time() + 20
    for h in holders:
        h.ready(deadline)


def containers_are(holders, rows, want):
    """Each holder's namespace has as many rows as its table, each with container want(h)."""
    groups, bad = by_inode(rows), []
    for h in holders:
        got = [o.get("container", "<no key>") for o in groups.get(h.inode, [])]
        if got != [want(h)] * h.rows():
            bad.append("%s (inode %d, pid %d): containers %s, want {%r: %d}"
                       % (h.layout.__name__, h.inode, h.pid, dict(collections.Counter(got)),
                          want(h), h.rows()))
    if bad:
        raise Fail("; ".join(bad))


def json_containers(holders, root):
    _, rows = list_json(["-a", "--rootfs", root])
    containers_are(holders, rows, lambda h: h.want)


def netns_column(holders, args, label):
    """The table of `list -A -a ARGS`: each holder's namespace has as many
    lines starting with label(h) (the Netns cell) as it has rows."""
    nslib.need_tcpstate()
    res = nslib.run_result([TCPSTATE, "list", "-A", "-a"] + args, 30)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    lines = res.stdout.splitlines()
    if not lines or lines[0].split()[:1] != ["Netns"]:
        raise Fail("the table's first column is not Netns: %r" % (lines[:1],))
    first = collections.Counter(line.split()[0] for line in lines[1:] if line.split())
    bad = ["%s: %d lines start with %r" % (h.layout.__name__, first[label(h)], label(h))
           for h in holders if first[label(h)] != h.rows()]
    if bad:
        raise Fail("`%s`: %s" % (fmt_cmd(res.argv), "; ".join(bad)))


def ns_pattern_pod(holders, root):
    res, rows = list_json(["-a", "--rootfs", root, "--ns", "prod/*"])
    pod = next(h for h in holders if h.layout is containerd_pod)
    got = by_inode(rows)
    if set(got) != {pod.inode} or len(got[pod.inode]) != pod.rows():
        raise Fail("`%s` gave namespaces %s (%d rows), want only %d (%d rows)"
                   % (fmt_cmd(res.argv), sorted(got), len(rows), pod.inode, pod.rows()))


def rootfs_needs_all_ns(root):
    nslib.need_tcpstate()
    res = nslib.run_result([TCPSTATE, "list", "--rootfs", root], 30)
    msg = "--rootfs names containers of namespaces: it needs -A"
    if res.rc != 2 or msg not in res.stderr or res.stdout:
        raise Fail("%s, stdout %r; expected rc=2, no output and %r"
                   % (res.describe(), res.stdout[:200], msg))


def rootfs_without_names(holders, rootfs):
    """A rootfs that names nothing: exit 0, null containers, comm[pid] shown,
    and one warning naming the rootfs (a typo must not pass unseen)."""
    res, rows = list_json(["-a", "--rootfs", rootfs])
    containers_are(holders, rows, lambda h: None)
    if ("warning: --rootfs %s:" % rootfs) not in res.stderr:
        raise Fail("no warning about --rootfs %s: stderr %r" % (rootfs, res.stderr[:300]))
    netns_column(holders, ["--rootfs", rootfs], lambda h: h.comm)


def cases(rep, holders, tmp):
    root = os.path.join(tmp, "root")
    start_holders(holders)
    build_root(root, holders)
    rep.case("json_container_per_namespace", json_containers, holders, root)
    rep.case("table_netns_column", netns_column, holders, ["--rootfs", root],
             Holder.label)
    rep.case("ns_pattern_pod", ns_pattern_pod, holders, root)
    rep.case("rootfs_needs_all_ns", rootfs_needs_all_ns, root)
    rep.case("rootfs_missing_null", rootfs_without_names, holders,
             os.path.join(tmp, "no-such-root"))
    put(tmp, "a-file", "not a directory\n")
    rep.case("rootfs_not_dir_null", rootfs_without_names, holders,
             os.path.join(tmp, "a-file"))


def why_not():
    """Why this cannot run here ("" when it can): not root, a tool missing,
    or a tcpstate without --rootfs."""
    why = nslib.cannot_run(TOOLS)
    if why or not os.access(TCPSTATE, os.X_OK):
        return why  # a missing binary fails the cases (need_tcpstate)
    r = nslib.run([TCPSTATE, "list", "--help"])
    if "--rootfs" not in r.stdout + r.stderr:
        return "tcpstate list has no --rootfs yet (issue 18)"
    return ""


def main():
    why = why_not()
    rep = nslib.begin("list_containers", CASES, watchdog=60, ready=lambda: not why, why=why)
    holders = []
    tmp = tempfile.mkdtemp(prefix="tcpstate-list_containers.")
    try:
        cases(rep, holders, tmp)
    except BaseException as e:
        rep.fail_rest(CASES, "%s: %s" % (type(e).__name__, e))
        if not isinstance(e, Exception):
            raise
    finally:
        nslib.stop_watchdog()
        for h in holders:
            try:
                h.space.destroy()
            except Exception as e:
                print("cleanup of %s: %s" % (h.layout.__name__, e), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    rep.exit()


if __name__ == "__main__":
    main()
