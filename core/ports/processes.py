"""The host's processes as hearth sees them: memory and CPU of an agent process, and stopping one a previous
hearth recorded (only when it is still provably the process that hearth started)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.model import Frozen, ProcessRecord


class ProcessSample(Frozen):
    pid: int
    rss_bytes: int
    cpu_seconds: float  # user + system


class HostProcess(Frozen):
    """One row of the host's process table, as the memory budget reads it."""

    pid: int
    ppid: int
    rss_bytes: int
    cwd: str  # "" when unreadable (another user's process, or gone)
    started_at: datetime
    command: str


class HostProcesses(Protocol):
    def table(self) -> list[HostProcess]:
        """Every process this user can see, read in one pass; blocking (call it off the event loop)."""
        ...

    async def terminate(self, pid: int) -> bool:
        """SIGTERM, then SIGKILL after a grace, a process hearth does not parent; False when it may not."""
        ...

    def sample(self, pid: int) -> ProcessSample | None:
        """RSS and CPU time of ``pid``; None once it is gone."""
        ...

    async def stop_recorded(self, record: ProcessRecord) -> bool:
        """SIGTERM, then SIGKILL after a grace, a recorded process that still runs the recorded command; True when a
        live matching process was stopped, False when the pid is gone or belongs to something else now."""
        ...
