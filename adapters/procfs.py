"""Every read of Linux's /proc in one place: whether a pid lives, what it runs, its memory and CPU, and stopping
processes hearth does not parent.

A zombie (state ``Z``), a dead task (``X``) and a vanished pid are all "not alive": a zombie holds no memory and
runs nothing, it only waits for its parent to reap it, so a stop that left one behind has done its job.
``ProcFs`` is the ``core.ports.processes.HostProcesses`` the app is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.model import ProcessRecord
from core.ports.processes import HostProcess, ProcessSample

log = logging.getLogger(__name__)

PROC = Path("/proc")
STOP_GRACE_S = 5.0  # SIGTERM to SIGKILL
KILL_WAIT_S = 2.0  # SIGKILL to giving up
_POLL_S = 0.05
_EMPTY_CMDLINE_LOOKS = 20  # some kernels briefly show an empty cmdline (e.g. right after exec): look again
_NOT_ALIVE = {"Z", "X"}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _read(pid: int, name: str) -> bytes | None:
    try:
        return (PROC / str(pid) / name).read_bytes()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat from the state on (field 3): the command name before them is in
    parentheses and may itself contain spaces and parentheses, so the split starts after the last ')'."""
    stat = _read(pid, "stat")
    if stat is None:
        return None
    return stat[stat.rfind(b")") + 1 :].decode(errors="replace").split()


def alive(pid: int) -> bool:
    """The pid exists and is neither a zombie nor dead."""
    fields = _stat_fields(pid)
    return fields is not None and bool(fields) and fields[0] not in _NOT_ALIVE


def argv(pid: int) -> list[str] | None:
    """The command line as its arguments; None when the pid is gone or unreadable."""
    raw = _read(pid, "cmdline")
    if raw is None:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def cmdline(pid: int) -> str:
    """The arguments joined by spaces ("" when gone, unreadable, or a kernel thread)."""
    return " ".join(argv(pid) or ())


def environ(pid: int) -> dict[str, str] | None:
    """The environment the process started with; None when it is gone or not ours to read."""
    raw = _read(pid, "environ")
    if raw is None:
        return None
    entries = (entry.decode(errors="replace") for entry in raw.split(b"\0") if b"=" in entry)
    return dict(entry.split("=", 1) for entry in entries)


def _vm_rss_bytes(status: bytes) -> int:
    for line in status.decode(errors="replace").splitlines():
        if line.startswith("VmRSS:"):
            with contextlib.suppress(ValueError, IndexError):
                return int(line.split()[1]) * 1024
    return 0  # a zombie or a kernel thread has no VmRSS line: it holds no user memory


def rss_bytes(pid: int) -> int:
    """Resident memory (VmRSS); 0 when gone."""
    status = _read(pid, "status")
    return 0 if status is None else _vm_rss_bytes(status)


def sample(pid: int) -> ProcessSample | None:
    """RSS and CPU time (utime + stime) of ``pid``; None once it is gone."""
    status, fields = _read(pid, "status"), _stat_fields(pid)
    if status is None or fields is None:
        return None
    try:
        ticks = int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat
    except (ValueError, IndexError):
        return None
    return ProcessSample(pid=pid, rss_bytes=_vm_rss_bytes(status), cpu_seconds=ticks / _CLOCK_TICKS)


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (0 where /proc is unavailable)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in PROC.iterdir():
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(int(entry.name))
            if fields is not None and len(fields) > 1 and fields[1].isdigit():
                children.setdefault(int(fields[1]), []).append(int(entry.name))  # field 4: the parent pid
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        total += rss_bytes(current)
        pending.extend(children.get(current, ()))
    return total


def _boot_time() -> datetime:
    stat = (PROC / "stat").read_text()
    seconds = next((int(line.split()[1]) for line in stat.splitlines() if line.startswith("btime ")), 0)
    return datetime.fromtimestamp(seconds, UTC)


def _row(pid: int, booted: datetime) -> HostProcess | None:
    status, fields = _read(pid, "status"), _stat_fields(pid)
    if status is None or fields is None or len(fields) < 20 or fields[0] in _NOT_ALIVE:
        return None
    try:
        ppid, start_ticks = int(fields[1]), int(fields[19])  # fields 4 and 22 of stat
    except ValueError:
        return None
    try:
        cwd = os.readlink(PROC / str(pid) / "cwd")
    except OSError:
        cwd = ""
    return HostProcess(
        pid=pid,
        ppid=ppid,
        rss_bytes=_vm_rss_bytes(status),
        cwd=cwd,
        started_at=booted + timedelta(seconds=start_ticks / _CLOCK_TICKS),
        command=cmdline(pid)[:200],
    )


def table() -> list[HostProcess]:
    """The process table in one pass over /proc (processes that vanish meanwhile are left out)."""
    booted = _boot_time()
    try:
        pids = [int(name) for name in os.listdir(PROC) if name.isdigit()]
    except OSError:
        return []
    rows: list[HostProcess] = []
    for pid in pids:
        try:
            row = _row(pid, booted)
        except (OSError, ValueError):  # it ended while being read: leave it out, never the rest
            continue
        if row is not None:
            rows.append(row)
    return rows


async def _gone_within(pid: int, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if not alive(pid):
            return True
        await asyncio.sleep(_POLL_S)
    return not alive(pid)


async def stop_unparented(pid: int, grace_s: float = STOP_GRACE_S, kill_wait_s: float = KILL_WAIT_S) -> bool:
    """SIGTERM a process hearth does not parent (so it cannot wait for it), poll until it is gone, SIGKILL after
    ``grace_s``. False only when it may not be signalled (another user's); True once it is gone, or after a
    SIGKILL it survived (logged: nothing more can be done)."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, kill_wait_s)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            log.warning("cannot signal process %d: it is not ours", pid)
            return False
        if await _gone_within(pid, wait_s):
            return True
    log.error("process %d survived SIGKILL", pid)
    return True


async def runs_recorded_command(record: ProcessRecord) -> bool:
    """The recorded pid is alive and still runs the recorded executable (a reused pid runs something else)."""
    executable = Path(record.command.split()[0]).name if record.command.strip() else ""
    for _ in range(_EMPTY_CMDLINE_LOOKS):
        if not alive(record.pid):
            return False
        if command := cmdline(record.pid):
            return bool(executable) and executable in command
        await asyncio.sleep(_POLL_S)
    return False


async def stop_recorded(record: ProcessRecord, grace_s: float = STOP_GRACE_S) -> bool:
    """Stop a process a previous hearth recorded, only while it still matches its record; True when a live
    matching process was stopped."""
    if not await runs_recorded_command(record):
        return False
    return await stop_unparented(record.pid, grace_s, kill_wait_s=grace_s)


class ProcFs:
    """The host's processes as read from /proc (``core.ports.processes.HostProcesses``)."""

    def sample(self, pid: int) -> ProcessSample | None:
        return sample(pid)

    async def stop_recorded(self, record: ProcessRecord) -> bool:
        return await stop_recorded(record)

    def table(self) -> list[HostProcess]:
        return table()

    async def terminate(self, pid: int) -> bool:
        return await stop_unparented(pid)


def memory_total_bytes() -> int:
    """The host's MemTotal (0 where /proc/meminfo is unavailable)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in (PROC / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0
