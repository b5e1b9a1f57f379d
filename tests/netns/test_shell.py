#!/usr/bin/env python3
"""Root-only end-to-end tests for `tcpstate shell`.

Batch mode (stdin not a terminal) runs inside a throw-away network namespace
(`ip netns exec`), so any command that reaches for a sysctl acts there, and
`tune set` always gets a --rollback-file in a temporary directory.  The
interactive prompt runs in a private tmux server with XDG_STATE_HOME and HOME
pointing into a temporary directory.  The host's values of the tune knobs
(nslib.host_tune_snapshot) are compared before and after the file.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, fmt_cmd, run_result  # noqa: E402

TCPSTATE = nslib.TCPSTATE

CASES = [
    "batch_runs_each_line",
    "batch_failure_sets_status_and_continues",
    "batch_comments_prefix_help",
    "batch_line_continuation",
    "batch_quotes_as_sh",
    "tmux_completion_history",
    "tmux_history_file_option",
    "tmux_line_continuation",
    "host_sysctls_unchanged",
]

PORT = 5999
TMP = None   # the file's scratch directory
NS = None    # its namespace (nslib.Netns), where a listener holds PORT
TMUX = None  # its tmux server (nslib.Tmux), with the socket in TMP


def shell_batch(text, timeout=30):
    """Feed `text` to `tcpstate shell` on a pipe, inside the test namespace."""
    nslib.need_tcpstate()
    argv = ["ip", "netns", "exec", NS.name, TCPSTATE, "shell"]
    return run_result(argv, timeout, input=text, desc="printf %r | %s" % (text, fmt_cmd(argv)))


def direct(args):
    """The same command run directly (for comparing outputs)."""
    return run_result(["ip", "netns", "exec", NS.name, TCPSTATE] + args)


# --------------------------------------------------------------------------
# batch


def batch_runs_each_line():
    list_out = direct(["list", "-l", "-H"])
    guide_out = direct(["tune", "guide", "--os", "windows"])
    if list_out.rc != 0 or "%d" % PORT not in list_out.stdout:
        raise RuntimeError("control `list -l -H` failed or misses the listener: %s" % list_out)
    res = shell_batch("list -l -H\ntune guide --os windows\n")
    if res.rc != 0:
        raise Fail("%s; expected rc=0" % res)
    probs = []
    if list_out.stdout not in res.stdout:
        probs.append("the output of `list -l -H` (%r) is missing" % list_out.stdout)
    if guide_out.stdout not in res.stdout:
        probs.append("the output of `tune guide --os windows` is missing")
    for w in ("LISTEN", "127.0.0.1:%d" % PORT, "TcpTimedWaitDelay"):
        if w not in res.stdout:
            probs.append("%r not in stdout" % w)
    if not probs and res.stdout.find("127.0.0.1:%d" % PORT) > res.stdout.find("TcpTimedWaitDelay"):
        probs.append("outputs are out of order")
    if probs:
        raise Fail("%s; %s" % (res, "; ".join(probs)))


def batch_failure_sets_status_and_continues():
    rb = os.path.join(TMP, "rb")
    missing = "tcpst-nosuch-%d" % os.getpid()
    # tw-recycle is a myth: usage error (2), nothing written.  Later lines run.
    text = ("tune set tw-recycle=1 --rollback-file %s\n"
            "tune guide --os macos\n"
            "tune show -N %s\n"
            "tune guide --os freebsd\n" % (rb, missing))
    res = shell_batch(text)
    probs = []
    if res.rc != 2:
        probs.append("exit status %s, expected 2 (the first failure's)" % res.rc)
    if "net.inet.tcp.msl" not in res.stdout or "nolocaltimewait" not in res.stdout:
        probs.append("the lines after the failure did not all run")
    if "4.12" not in res.stderr:
        probs.append("no tw-recycle explanation on stderr")
    if missing not in res.stderr:
        probs.append("the third line's error (naming %s) is missing" % missing)
    if os.path.exists(rb):
        probs.append("a rollback file was written")
    if probs:
        raise Fail("%s; %s" % (res, "; ".join(probs)))
    # The first failure's status wins, whatever comes later.
    text = "tune show -N %s\ntune frob\nfrobnicate\ntune guide --os linux\n" % missing
    res = shell_batch(text)
    if res.rc != 1:
        raise Fail("%s; expected rc=1 (the first failing line exits 1, later ones 2)" % res)
    if "frobnicate" not in res.stderr or "tcp_tw_reuse" not in res.stdout:
        raise Fail("%s; expected an error naming frobnicate and the last line's output" % res)
    # An unknown command alone: usage error.
    res = shell_batch("frobnicate --now\n")
    if res.rc != 2 or "frobnicate" not in res.stderr:
        raise Fail("%s; expected rc=2 naming frobnicate" % res)
    # All good: 0.
    res = shell_batch("tune guide --os windows\ntune guide --os macos\n")
    if res.rc != 0:
        raise Fail("%s; expected rc=0" % res)


def batch_comments_prefix_help():
    list_out = direct(["list", "-l", "-H"])
    if list_out.rc != 0 or not list_out.stdout.strip():
        raise RuntimeError("control `list -l -H` failed: %s" % list_out)
    text = ("# a comment line\n"
            "\n"
            "   \n"
            "\t# an indented comment\n"
            "tcpstate list -l -H\n")
    res = shell_batch(text)
    if res.rc != 0 or res.stdout != list_out.stdout or res.stderr:
        raise Fail("%s; expected rc=0, exactly the output of `list -l -H` (%r), empty stderr"
                   % (res, list_out.stdout))
    res = shell_batch("help\n")
    if res.rc != 0:
        raise Fail("%s; expected rc=0" % res)
    miss = [c for c in ("list", "top", "watch", "tune", "explain", "exit")
            if not re.search(r"^\s*%s\b" % c, res.stdout, re.M)]
    if miss:
        raise Fail("%s; `help` does not list %r" % (res, miss))
    res = shell_batch("help tune\n")
    if res.rc != 0 or "tune" not in res.stdout or "--rollback-file" not in res.stdout:
        raise Fail("%s; `help tune` should show tune's options" % res)
    # Quoting works as on the command line.
    res = shell_batch("tune set -n --rollback-file %s port-range='20000 60001'\n"
                      % os.path.join(TMP, "rb-q"))
    if res.rc != 0 or "-> 20000 60001" not in res.stdout:
        raise Fail("%s; a quoted value should reach tune as one word" % res)


def batch_line_continuation():
    """A backslash at the end of a line continues the command, as in sh."""
    control = direct(["list", "-l", "-H"])
    if control.rc != 0 or "%d" % PORT not in control.stdout:
        raise RuntimeError("control `list -l -H` failed: %s" % control)
    probs = []
    for text, what in (("list \\\n  -l \\\n-H\n", "options on continued lines"),
                       ("list -l -\\\nH\n", "a word split over two lines"),
                       ("list -l -H \\", "a backslash at the end of the input"),
                       ("# a comment \\\nlist -l -H\n", "a comment's backslash (no continuation)")):
        res = shell_batch(text)
        if res.rc != 0 or res.stdout != control.stdout or res.stderr:
            probs.append("%s: %s; expected exactly the output of `list -l -H`" % (what, res))
    # An escaped backslash is a backslash: no continuation, and the next line runs alone.
    res = shell_batch("explain close\\\\\nlist -l -H\n")
    if (res.rc != 2 or 'unknown topic "close\\"' not in res.stderr or
            not res.stdout.endswith(control.stdout)):
        probs.append("an escaped backslash: %s; expected explain to refuse \"close\\\" "
                     "and the next line to run" % res)
    if probs:
        raise Fail("; ".join(probs))


def batch_quotes_as_sh():
    """Quotes as sh reads them, sh itself the oracle: a backslash-newline
    inside "..." continues the word; elsewhere in "..." a backslash escapes
    only $ ` " \\; '...' keeps everything and spans lines.  The word reaches
    `explain`, whose refusal quotes it."""
    probs = []
    for text in ('explain "tcp and \\\nport 80"\n',
                 'explain "a\\b\\$\\"\\\\x\\n"\n',
                 "explain 'a\\\nb \"c'\n",
                 'explain "x\ny"\n'):
        sh = subprocess.run(["sh", "-c", "printf %s " + text.split(" ", 1)[1]],
                            capture_output=True, text=True)
        res = shell_batch(text)
        want = 'tcpstate explain: unknown topic "%s" (' % sh.stdout
        if sh.returncode != 0 or res.rc != 2 or not res.stderr.startswith(want) or \
                res.stderr.count("tcpstate explain:") != 1:
            probs.append("%s; expected one refusal of sh's word %r" % (res, sh.stdout))
    # A failed command is one failure, its continued lines never run alone.
    for text, err in (("explain " + "w " * 300 + "\\\nexplain tail\n",
                       "tcpstate shell: more than 256 words\n"),
                      ("explain 'open\nexplain tail\n", "tcpstate shell: unterminated quote\n")):
        res = shell_batch(text)
        if res.rc != 2 or res.stderr != err:
            probs.append("%s; expected rc=2 and only %r" % (res, err))
    if probs:
        raise Fail("; ".join(probs))


# --------------------------------------------------------------------------
# tmux


def last_line(s):
    lines = [l for l in s.splitlines() if l.strip()]
    return lines[-1] if lines else ""


def shell_env(tag):
    """A HOME and an XDG_STATE_HOME (left for the shell to make) of their
    own for one prompt session: (env for start_shell, the state directory)."""
    state = os.path.join(TMP, "state" + tag)
    home = os.path.join(TMP, "home" + tag)
    os.makedirs(home)
    return {"XDG_STATE_HOME": state, "HOME": home, "TERM": "xterm"}, state


def enter(line):
    """Type line at the prompt, as it is (send-keys -l), and press Enter."""
    TMUX.keys("t", "-l", line)
    TMUX.keys("t", "Enter")


def start_shell(env, extra=""):
    cmd = ("env %s ip netns exec %s %s shell %s; echo EXIT=$?; sleep 60" % (
        " ".join("%s=%s" % kv for kv in env.items()), NS.name, TCPSTATE, extra))
    TMUX.new("t", cmd, 160, 40)
    s = TMUX.wait(lambda s: last_line(s) == "tcpstate>")  # capture trims the blank
    if last_line(s) != "tcpstate>":
        raise Fail("no `tcpstate> ` prompt from `%s`; screen %r" % (cmd, s))
    return cmd


def expect_exit_0(what):
    """The shell session ended with status 0 (start_shell() echoes EXIT=)."""
    s = TMUX.wait(lambda s: "EXIT=" in s)
    if "EXIT=0" not in s:
        raise Fail("%s: expected the shell to end with status 0; screen %r" % (what, s))


def type_tab(text):
    """Type text, press Tab, type a marker; return the prompt line."""
    TMUX.keys("t", "C-u")
    TMUX.keys("t", "-l", text)
    time.sleep(0.15)
    TMUX.keys("t", "Tab")
    time.sleep(0.3)
    TMUX.keys("t", "-l", "@")
    s = TMUX.wait(lambda s: last_line(s).endswith("@"))
    line = last_line(s)
    TMUX.keys("t", "C-u")
    time.sleep(0.15)
    return line


def tmux_completion_history():
    env, state = shell_env("")
    hist = os.path.join(state, "tcpstate", "history")
    try:
        cmd = start_shell(env)
        probs = []
        for typed, want in (("tu", "tcpstate> tune @"),
                            ("tune show tw-reuse-d", "tcpstate> tune show tw-reuse-delay @"),
                            ("list state close-w", "tcpstate> list state close-wait @"),
                            ("tune set max-o", "tcpstate> tune set max-orphans@"),
                            ("tune --ro", "tcpstate> tune --rollback-file @")):
            got = type_tab(typed)
            if typed == "tune set max-o":
                # after `tune set`, a knob comes with its = and no space: the value follows
                if got != "tcpstate> tune set max-orphans=@":
                    probs.append("%r + Tab gave %r, expected max-orphans=" % (typed, got))
                continue
            if got != want.rstrip() and got != want:
                probs.append("%r + Tab gave %r, expected %r" % (typed, got, want))
        if probs:
            raise Fail("in `%s`: %s" % (cmd, "; ".join(probs)))
        first = "tune guide --os freebsd"
        enter(first)
        s = TMUX.wait(lambda s: "fast_finwait2_recycle" in s and last_line(s) == "tcpstate>")
        if "fast_finwait2_recycle" not in s:
            raise Fail("`%s` at the prompt printed no guide; screen %r" % (first, s))
        enter("exit")
        s = TMUX.wait(lambda s: "EXIT=" in s)
        if "EXIT=0" not in s:
            raise Fail("`exit` at the prompt: expected the shell to end with status 0; "
                       "screen %r" % s)
        if not os.path.isfile(hist):
            raise Fail("no history file %s after the session; %s holds %r" % (
                hist, state, [os.path.join(r, f) for r, _, fs in os.walk(state) for f in fs]))
        mode = stat.S_IMODE(os.stat(hist).st_mode)
        with open(hist) as f:
            entries = [l for l in f.read().splitlines() if l and not l.startswith("#")]
        if mode != 0o600:
            raise Fail("history file %s has mode %o, expected 600" % (hist, mode))
        if first not in entries:
            raise Fail("history file %s lacks %r: %r" % (hist, first, entries))
        # A new shell: Up brings back the last command, Up again the one before.
        start_shell(env)
        TMUX.keys("t", "Up")
        want1 = "tcpstate> " + entries[-1]
        s = TMUX.wait(lambda s: last_line(s) == want1)
        if last_line(s) != want1:
            raise Fail("Up in a new shell shows %r, expected %r (history %r)" % (
                last_line(s), want1, entries))
        if entries[-1] != first:
            TMUX.keys("t", "Up")
            want2 = "tcpstate> " + first
            s = TMUX.wait(lambda s: last_line(s) == want2)
            if last_line(s) != want2:
                raise Fail("Up twice in a new shell shows %r, expected %r (history %r)" % (
                    last_line(s), want2, entries))
        # Ctrl-D on an empty line leaves with status 0.
        TMUX.keys("t", "C-u")
        TMUX.keys("t", "C-d")
        expect_exit_0("Ctrl-D")
    finally:
        TMUX.run("kill-session", "-t", "t")


def tmux_history_file_option():
    env, state = shell_env("2")
    hf = os.path.join(TMP, "hist-dir", "my-history")
    try:
        cmd = start_shell(env, "--history-file " + hf)
        line = "list -l -H"
        enter(line)
        s = TMUX.wait(lambda s: "127.0.0.1:%d" % PORT in s)
        if "127.0.0.1:%d" % PORT not in s:
            raise Fail("`%s` at the prompt of `%s` did not show the listener; screen %r"
                       % (line, cmd, s))
        enter("quit")
        s = TMUX.wait(lambda s: "EXIT=" in s)
        if "EXIT=0" not in s:
            raise Fail("`quit`: expected status 0; screen %r" % s)
        if not os.path.isfile(hf):
            raise Fail("--history-file %s was not written" % hf)
        with open(hf) as f:
            text = f.read()
        mode = stat.S_IMODE(os.stat(hf).st_mode)
        if line not in text.splitlines() or mode != 0o600:
            raise Fail("--history-file %s: mode %o, content %r" % (hf, mode, text))
        if os.path.exists(os.path.join(state, "tcpstate", "history")):
            raise Fail("with --history-file, the default history file was written too")
    finally:
        TMUX.run("kill-session", "-t", "t")


def tmux_line_continuation():
    """At the prompt, a trailing backslash gives a "> " prompt for the rest."""
    env, _ = shell_env("3")
    try:
        cmd = start_shell(env)
        enter("list -l \\")
        s = TMUX.wait(lambda s: last_line(s) == ">")
        if last_line(s) != ">":
            raise Fail("`list -l \\` + Enter in `%s`: no \"> \" prompt; screen %r" % (cmd, s))
        enter(" -H")  # (a bare "-H" would be send-keys' flag)
        s = TMUX.wait(lambda s: "127.0.0.1:%d" % PORT in s and last_line(s) == "tcpstate>")
        if "127.0.0.1:%d" % PORT not in s or "Recv-Q" in s or "\\" in s.split(">", 2)[-1]:
            raise Fail("`list -l \\`, then `-H`: expected the listener without a header; "
                       "screen %r" % s)
        enter("exit")
        expect_exit_0("`exit`")
    finally:
        TMUX.run("kill-session", "-t", "t")


# --------------------------------------------------------------------------

HOLDER = r"""
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", %d)); l.listen(8)
print("ready", flush=True)
sys.stdin.read()
""" % PORT


def cases(rep, ns, tmp):
    """Every case but the last, in one namespace with the listener up."""
    global TMP, NS, TMUX
    NS, TMP = ns, tmp
    ns.spawn(HOLDER)
    with nslib.Tmux(path=os.path.join(tmp, "tmux.sock")) as TMUX:
        for name in CASES[:-1]:
            rep.case(name, globals()[name])


def main():
    rep = nslib.begin("test_shell", CASES, watchdog=55, tools=("ip", "sysctl", "tmux"))
    rep.guard_host("host_sysctls_unchanged", nslib.host_tune_snapshot)
    nslib.in_netns(rep, CASES[:-1], lambda ns, tmp: cases(rep, ns, tmp))


if __name__ == "__main__":
    main()
