"""Servers a previous hearth process left running: identify them strictly, then stop them.

A recorded pid is only signalled when /proc proves it is still the server we spawned: same command line
and the same isolated HOME. A reused pid belonging to anything else is left alone and the record dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path


def _read_proc(pid: int, name: str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    stat = _read_proc(pid, "stat")
    if stat is None:
        return False
    state = stat.rsplit(b")", 1)[1].split()[0]
    return state != b"Z"


def is_our_server(pid: int, command: str, home: Path) -> bool:
    """True only if ``pid`` runs exactly ``command`` with HOME set to our isolated state home."""
    cmdline = _read_proc(pid, "cmdline")
    if cmdline is None or not _alive(pid):
        return False
    argv = [part.decode(errors="replace") for part in cmdline.split(b"\0") if part]
    if " ".join(argv) != command:
        return False
    environ = _read_proc(pid, "environ")
    if environ is None:  # unreadable: we cannot prove it is ours, so it is not
        return False
    env = dict(entry.decode(errors="replace").split("=", 1) for entry in environ.split(b"\0") if b"=" in entry)
    return env.get("HOME") == str(home)


async def stop_pid(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM a process we do not parent, poll until it is gone, SIGKILL after ``grace_s``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            if not _alive(pid):
                return
            await asyncio.sleep(0.05)
