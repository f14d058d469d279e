"""The host's processes as hearth sees them: memory and CPU of an agent process, and stopping one a previous
hearth recorded (only when it is still provably the process that hearth started)."""

from __future__ import annotations

from typing import Protocol

from core.model import Frozen, ProcessRecord


class ProcessSample(Frozen):
    pid: int
    rss_bytes: int
    cpu_seconds: float  # user + system


class HostProcesses(Protocol):
    def sample(self, pid: int) -> ProcessSample | None:
        """RSS and CPU time of ``pid``; None once it is gone."""
        ...

    async def stop_recorded(self, record: ProcessRecord) -> bool:
        """SIGTERM, then SIGKILL after a grace, a recorded process that still runs the recorded command; True when a
        live matching process was stopped, False when the pid is gone or belongs to something else now."""
        ...
