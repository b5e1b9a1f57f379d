#!/usr/bin/env python3
"""Review of `tcpstate list -A` (issue 18, attack18): defects found by
attacking it as an SRE on a container host would.

Root only.  Three namespaces of ours, each with test_list_all_ns's small
table (a Space: listeners and established pairs over 127.0.0.1 / ::1):

  long    unnamed (unshare -n), its holder given a fake cgroup and Docker
          state under a temporary --rootfs DIR (doc/namespaces.md,
          "Container names");
  utf8    named "tcpst-rv-<pid>-é-ü" (valid UTF-8, shown as it is);
  ascii   named "tcpst-rv-<pid>-ascii-longer" (longer in characters than
          utf8, shorter in bytes).

Cases:
  * k8s_pod_at_max_lengths: a pod whose namespace (63 characters) and name
    (253) are at Kubernetes' own limits, read from cri-dockerd's
    config.v2.json labels: every row carries container "NS/POD" (317
    characters).  The doc promises the pod; a name over 255 bytes was
    dropped and the row showed comm[pid], with no fallback at all;
  * docker_long_name: a Docker container named with 300 characters (Docker
    sets no limit): container is that name, not null;
  * utf8_name_aligned: in the table, every line's State cell starts in the
    same terminal column as the header's State (each character here is one
    column wide): the Netns cells are padded by characters, not by bytes;
  * empty_run_netns: /run/netns that exists with no name in it (what
    `ip netns del` of the last name leaves), made in a private mount
    namespace (an empty tmpfs over it, seen by nobody else): exit 0 and
    nothing on stderr.  nsall.c sorted the empty list with qsort(NULL, 0),
    which the sanitizer build stops at (run it with SANITIZE=1).

Other sessions' namespaces exist on this machine: rows are selected by
inode or by --ns with our names, never counted as a whole.  Everything
made here goes on exit, on failure and on a signal.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import contextlib
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
CASES = ["k8s_pod_at_max_lengths", "docker_long_name", "top_docker_long_name",
         "utf8_name_aligned", "empty_run_netns"]
TOOLS = ("ip", "unshare", "mount")

CID = "ab" * 32
K8S_NS = "n" * 63
K8S_POD = "p" * 253
DOCKER_NAME = "d" * 300


def put(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def docker_root(root, pid, config):
    """DIR/proc/PID/cgroup in Docker's systemd scope, and its config.v2.json."""
    put(root, "proc/%d/cgroup" % pid, "0::/system.slice/docker-%s.scope\n" % CID)
    put(root, "var/lib/docker/containers/%s/config.v2.json" % CID, json.dumps(config))


def containers_of(sp, root):
    """The container of every row of sp's namespace (as many as its table)."""
    res, rows = list_json(["-a", "--rootfs", root, "--ns", str(sp.inode)])
    got = [o["container"] for o in by_inode(rows).get(sp.inode, [])]
    want = sum(sp.plan.values())
    if len(got) != want:
        raise Fail("`%s`: %d rows for inode %d, want %d"
                   % (fmt_cmd(res.argv), len(got), sp.inode, want))
    return res, got


def k8s_pod(sp, tmp):
    root = os.path.join(tmp, "k8s")
    docker_root(root, sp.pid, {"Name": "/k8s_POD_x", "Config": {"Labels": {
        "io.kubernetes.pod.namespace": K8S_NS, "io.kubernetes.pod.name": K8S_POD}}})
    res, got = containers_of(sp, root)
    want = K8S_NS + "/" + K8S_POD
    bad = [c for c in got if c != want]
    if bad:
        raise Fail("`%s`: container %r on %d of %d rows, want the pod (%d characters)"
                   % (fmt_cmd(res.argv), bad[0], len(bad), len(got), len(want)))


def docker_long(sp, tmp):
    root = os.path.join(tmp, "docker")
    docker_root(root, sp.pid, {"Name": "/" + DOCKER_NAME})
    res, got = containers_of(sp, root)
    bad = [c for c in got if c != DOCKER_NAME]
    if bad:
        raise Fail("`%s`: container %r on %d of %d rows, want the %d-character name"
                   % (fmt_cmd(res.argv), bad[0], len(bad), len(got), len(DOCKER_NAME)))


def top_docker_long(sp, tmp):
    """top -A names the same long container as list -A (it kept names in a
    buffer of its own, 256 bytes, and dropped longer ones)."""
    root = os.path.join(tmp, "docker-top")
    docker_root(root, sp.pid, {"Name": "/" + DOCKER_NAME})
    argv = [nslib.TCPSTATE, "top", "-A", "-b", "--json", "-n", "1", "--no-wire",
            "--rootfs", root, "--ns", str(sp.inode)]
    res = nslib.run_result(argv, 60)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    rows = [r for l in res.stdout.splitlines() if l.strip()
            for r in json.loads(l)["rows"] if r.get("netns_inode") == sp.inode]
    bad = [r["container"] for r in rows if r["container"] != DOCKER_NAME]
    if not rows or bad:
        raise Fail("`%s`: %d rows, container %r, want the %d-character name"
                   % (fmt_cmd(argv), len(rows), bad[0] if bad else None, len(DOCKER_NAME)))


def utf8_aligned(spaces):
    nslib.need_tcpstate()
    argv = [TCPSTATE, "list", "-A", "-a"] + sum((["--ns", sp.name] for sp in spaces), [])
    res = nslib.run_result(argv, 30)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    lines = res.stdout.splitlines()
    if len(lines) < 2 or not lines[0].startswith("Netns"):
        raise Fail("`%s`: no table: %r" % (fmt_cmd(argv), res.stdout[:300]))
    col = lines[0].index("State")
    states = ("ESTABLISHED", "LISTEN", "FIN-WAIT-2", "CLOSE-WAIT", "TIME-WAIT")
    bad = [line for line in lines[1:] if not line[col:].startswith(states)]
    if bad:
        raise Fail("`%s`: State is in column %d of the header but not on %d of %d lines: %r"
                   % (fmt_cmd(argv), col, len(bad), len(lines) - 1, bad[:2]))


def empty_run_netns():
    nslib.need_tcpstate()
    script = 'mount -t tmpfs tcpstate-review /run/netns && exec "$0" list -A -l'
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, TCPSTATE]
    res = nslib.run_result(argv, 30)
    if res.rc != 0 or res.stderr:
        raise Fail("%s; expected rc=0 and nothing on stderr" % res.describe())
    if not res.stdout.startswith("Netns"):
        raise Fail("`%s`: no table: %r" % (fmt_cmd(argv), res.stdout[:200]))


def cases(rep, spaces, tmp):
    tag = os.getpid()
    spaces += [Space(40, None), Space(41, "tcpst-rv-%d-é-ü" % tag),
               Space(42, "tcpst-rv-%d-ascii-longer" % tag)]
    for sp in spaces:
        sp.start()
    deadline = time.time() + 20
    for sp in spaces:
        sp.ready(deadline)
    rep.case("k8s_pod_at_max_lengths", k8s_pod, spaces[0], tmp)
    rep.case("docker_long_name", docker_long, spaces[0], tmp)
    rep.case("top_docker_long_name", top_docker_long, spaces[0], tmp)
    rep.case("utf8_name_aligned", utf8_aligned, spaces[1:])
    rep.case("empty_run_netns", empty_run_netns)


def destroy(spaces):
    for sp in spaces:
        try:
            sp.destroy()
        except Exception as e:
            print("cleanup of %s: %s" % (sp.label(), e), file=sys.stderr)


def main():
    why = nslib.cannot_run(TOOLS)
    rep = nslib.begin("allns_review", CASES, watchdog=60, ready=lambda: not why, why=why)
    spaces = []
    # Undone last to first, on failure and on a signal (SystemExit) too.
    with contextlib.ExitStack() as undo:
        tmp = tempfile.mkdtemp(prefix="tcpstate-allns_review.")
        undo.callback(shutil.rmtree, tmp, ignore_errors=True)
        undo.callback(destroy, spaces)
        undo.callback(nslib.stop_watchdog)
        try:
            cases(rep, spaces, tmp)
        except Exception as e:
            rep.fail_rest(CASES, "%s: %s" % (type(e).__name__, e))
    rep.exit()


if __name__ == "__main__":
    main()
