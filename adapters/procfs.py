"""The host's processes read from /proc: the ``HostProcesses`` port."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from core.model import ProcessRecord
from core.ports.processes import ProcessSample

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
PROC = Path("/proc")


def alive(pid: int, proc: Path = PROC) -> bool:
    """Running (a zombie or a vanished pid is not)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :][:1] not in {"Z", "X", ""}


def cmdline(pid: int, proc: Path = PROC) -> str:
    try:
        return (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def sample(pid: int, proc: Path = PROC) -> ProcessSample | None:
    """RSS from /proc/<pid>/status (VmRSS) and CPU from /proc/<pid>/stat (utime+stime); None once it is gone."""
    try:
        status = (proc / str(pid) / "status").read_text()
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    rss_kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    # the command name (field 2) may contain spaces; the numeric fields start after its closing parenthesis
    fields = stat[stat.rfind(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15
    return ProcessSample(pid=pid, rss_bytes=rss_kib * 1024, cpu_seconds=cpu)


async def _matches(record: ProcessRecord) -> bool:
    """The pid still runs the recorded executable. Some kernels briefly show an empty cmdline: look again."""
    executable = Path(record.command.split()[0]).name if record.command.strip() else ""
    for _ in range(20):
        if not alive(record.pid):
            return False
        line = cmdline(record.pid)
        if line:
            return bool(executable) and executable in line
        await asyncio.sleep(0.05)
    return False


async def stop_recorded_process(record: ProcessRecord) -> bool:
    """SIGTERM, then SIGKILL after a timeout; True when a live matching process was stopped."""
    if not await _matches(record):
        return False
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(record.pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            log.warning("cannot signal recorded agent process %d (%s): not ours", record.pid, record.command)
            return False
        deadline = loop.time() + STOP_TIMEOUT_S
        while loop.time() < deadline:
            if not alive(record.pid):
                return True
            await asyncio.sleep(0.05)
    log.error("recorded agent process %d survived SIGKILL", record.pid)
    return True


class ProcFs:
    """Implements ``core.ports.processes.HostProcesses``."""

    def sample(self, pid: int) -> ProcessSample | None:
        return sample(pid)

    async def stop_recorded(self, record: ProcessRecord) -> bool:
        return await stop_recorded_process(record)
