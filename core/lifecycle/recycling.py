"""When a warm agent process that serves several chats should be emptied and stopped, to give memory back.

An ACP agent keeps every session it ever opened until its process ends: ACP has no portable way to close one
(measured: closing 3 of 4 claude-code-acp sessions freed 20 of 988 MiB, each keeps a ``claude`` child; qwen
freed nothing, about 9 MiB a session). So the pool evicting a handle frees nothing in the agent. Once the
memory held by sessions hearth let go of ("detached") reaches the budget, the process is stopped if nothing in
it is open, or else drained: the pool evicts the agent's idle handles (each resumes with ``session/load`` on
its next turn) and the process is stopped when the last one closes. A busy process is never touched, and an
agent whose sessions are small keeps its warm process (and, for agents whose load fails, their context).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from core.model import Frozen

MIB = 1024 * 1024


class RecyclePolicy(Frozen):
    max_detached_bytes: int = Field(default=512 * MIB, ge=0)  # memory detached sessions may hold


class ProcessLoad(Frozen):
    """The sessions one warm agent process holds, and its memory now and right after it started."""

    open: int = Field(default=0, ge=0)  # a live handle uses it (or one is being opened)
    busy: int = Field(default=0, ge=0)  # of the open ones, running a turn
    detached: int = Field(default=0, ge=0)  # closed by hearth, still held by the agent
    rss_bytes: int = Field(default=0, ge=0)
    baseline_bytes: int = Field(default=0, ge=0)

    def detached_bytes(self) -> float:
        """The growth since start, shared evenly by every session the process holds, times the detached ones."""
        sessions = self.open + self.detached
        if not self.detached or not sessions:
            return 0.0
        return max(0, self.rss_bytes - self.baseline_bytes) / sessions * self.detached


class RecycleStep(StrEnum):
    KEEP = "keep"
    STOP = "stop"  # nothing open: stop the process now, the next turn respawns it and loads its session
    DRAIN = "drain"  # evict the agent's idle handles, after which the process is stopped


def recycle_step(load: ProcessLoad, policy: RecyclePolicy = RecyclePolicy()) -> RecycleStep:
    if load.busy or not load.detached or load.detached_bytes() < policy.max_detached_bytes:
        return RecycleStep.KEEP
    return RecycleStep.STOP if load.open == 0 else RecycleStep.DRAIN
