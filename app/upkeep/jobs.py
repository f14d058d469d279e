"""Periodic jobs on APScheduler 3.11 (AsyncIOScheduler): idle eviction, health monitor, reaper, snapshot expiry,
chat lease renewal.

Each job records its last run, outcome and error so ``/api/health`` can show it. Jobs are cancellation-safe:
``AsyncIOExecutor.shutdown`` cancels in-flight coroutine jobs, and a cancelled pass simply runs again next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.memory.budget import MemoryBudget
from app.pool import AgentPool
from app.upkeep.leases import ChatLeases
from app.upkeep.reaping import Reaper
from core.ports.agents import AgentBackend
from core.ports.clock import Clock
from core.ports.store import WorktreeStore
from core.ports.worktrees import Worktrees

log = logging.getLogger(__name__)

JOB_TIMEOUT_S = 120.0
STARTUP_REAP_DELAY_S = 5.0


@dataclass
class JobState:
    interval_s: float
    runs: int = 0
    last_run: datetime | None = None
    last_error: str | None = None
    last_result: object = None

    def as_dict(self) -> dict[str, object]:
        return {
            "interval_s": self.interval_s,
            "runs": self.runs,
            "last_run": self.last_run.isoformat() if self.last_run else None,
            "ok": self.last_error is None,
            "last_error": self.last_error,
            "last_result": self.last_result,
        }


@dataclass
class JobIntervals:
    eviction_s: float
    health_s: float
    reaper_s: float
    snapshot_expiry_s: float
    snapshot_retention: timedelta
    health_timeout_s: float
    lease_renewal_s: float
    memory_s: float = 10.0


@dataclass
class Jobs:
    worktree_rows: WorktreeStore
    worktrees: Worktrees
    pool: AgentPool
    backends: Mapping[str, AgentBackend]
    reaper: Reaper
    leases: ChatLeases
    clock: Clock
    intervals: JobIntervals
    memory: MemoryBudget | None = None
    states: dict[str, JobState] = field(default_factory=dict)
    backend_health: dict[str, dict[str, object]] = field(default_factory=dict)
    _scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        """Inside the running loop (``app.bootstrap.service.run_service`` starts it)."""
        scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}, timezone="UTC"
        )
        jobs: dict[str, tuple[float, Callable[[], Awaitable[object]]]] = {
            "idle_eviction": (self.intervals.eviction_s, self.evict_idle),
            "health_monitor": (self.intervals.health_s, self.check_health),
            "reaper": (self.intervals.reaper_s, self.reap),
            "snapshot_expiry": (self.intervals.snapshot_expiry_s, self.expire_snapshots),
            "chat_leases": (self.intervals.lease_renewal_s, self.leases.renew),
        }
        if self.memory is not None:
            jobs["memory_budget"] = (self.intervals.memory_s, self.memory.enforce)
        for name, (interval, job) in jobs.items():
            self.states[name] = JobState(interval_s=interval)
            # the reaper also runs soon after start: it finishes soft deletes a crash interrupted
            first = (
                self.clock.now() + timedelta(seconds=min(interval, STARTUP_REAP_DELAY_S)) if name == "reaper" else None
            )
            scheduler.add_job(
                self._tracked(name, job),
                "interval",
                seconds=interval,
                id=name,
                replace_existing=True,
                **({"next_run_time": first} if first else {}),
            )
        scheduler.start()
        self._scheduler = scheduler

    async def shutdown(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
            await asyncio.sleep(0)  # let cancelled job coroutines unwind

    def _tracked(self, name: str, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            state = self.states[name]
            state.runs += 1
            state.last_run = self.clock.now()
            try:
                async with asyncio.timeout(JOB_TIMEOUT_S):
                    state.last_result = await job()
                state.last_error = None
            except Exception as exc:
                log.exception("job %s failed", name)
                state.last_error = f"{type(exc).__name__}: {exc}"

        return run

    async def evict_idle(self) -> object:
        if self.memory is not None:  # a fresh look for background work, which no eviction may take
            await self.memory.sample()
        evicted = await self.pool.evict_idle()
        return {"evicted": [f"{chat}/{agent}" for chat, agent in evicted]}

    async def check_health(self) -> object:
        """Ask every backend that has processes; drop idle handles whose process died (next turn respawns)."""
        for name, backend in self.backends.items():
            if not backend.processes():
                continue
            try:
                async with asyncio.timeout(self.intervals.health_timeout_s):
                    self.backend_health[name] = await backend.health()
            except Exception as exc:
                self.backend_health[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        dead = await self.pool.discard_dead_idle()
        return {"dead_handles": [f"{chat}/{agent}" for chat, agent in dead]}

    async def reap(self) -> object:
        verdicts = await self.reaper.run_once()
        return {v.action.value: sum(1 for w in verdicts if w.action is v.action) for v in verdicts}

    async def expire_snapshots(self) -> object:
        older_than = self.clock.now() - self.intervals.snapshot_retention
        repos = sorted({wt.repo_path for wt in await self.worktree_rows.list_worktrees()})
        expired: list[str] = []
        for repo in repos:
            expired += await self.worktrees.expire_snapshots(repo, older_than)
        return {"expired": expired}

    def state(self) -> dict[str, object]:
        return {
            "running": self._scheduler is not None,
            "jobs": {name: s.as_dict() for name, s in self.states.items()},
            "unsafe_worktrees": [
                {"path": v.path, "chat_id": v.chat_id, "reasons": list(v.reasons)} for v in self.reaper.last_unsafe
            ],
            "backend_health": self.backend_health,
        }
