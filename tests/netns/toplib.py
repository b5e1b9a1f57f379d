"""What the tests of `tcpstate top` share: the table rows read off a screen
or a batch frame, and a case that runs in a namespace of its own.  The tmux
server they drive the screen in is nslib.Tmux (imported from here too)."""
import re

import nslib
from nslib import Tmux  # the top tests' terminal, imported from here

__all__ = ["Tmux", "rows", "case"]


def rows(s):
    """Table rows: lines after the column header, up to the status line."""
    lines = s.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("State ")) + 1
    except StopIteration:
        return []
    return [l for l in lines[start:] if re.match(r"^(\S+)\s+\d|^\(wire only\)|^[A-Z-]+ +[0-9\[]", l)]


def case(rep, name, fn, *args):
    """One case, in a namespace of its own (nslib.Netns, passed to fn first):
    fn returns (ok, why); an exception fails the case."""
    try:
        with nslib.Netns() as ns:
            ok, why = fn(ns, *args)
        rep.check(ok, name, why)
    except Exception as e:
        rep.check(False, name, f"{type(e).__name__}: {e}")
