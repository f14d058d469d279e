"""How this node is: health (store, agents, pool, turns, jobs, startup recovery) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.memory.budget import MemoryBudget
from app.memory.exposition import render_memory
from app.metrics import Metrics, render
from app.pool import AgentPool
from app.turns.dispatcher import Dispatcher
from app.turns.registry import TurnRegistry
from app.upkeep.jobs import Jobs
from app.upkeep.recovery import RecoveryReport
from core.ports.agents import AgentBackend
from core.ports.processes import HostProcesses
from core.ports.store import StoreConnection, TaskQueue


@dataclass(frozen=True)
class NodeFacts:
    version: str
    node_id: str
    store_kind: str  # sqlite | postgresql
    started_at: datetime
    health_timeout_s: float


class System:
    def __init__(
        self,
        *,
        facts: NodeFacts,
        connection: StoreConnection,
        queue: TaskQueue,
        backends: Mapping[str, AgentBackend],
        oneshot_backends: Mapping[str, AgentBackend],
        pool: AgentPool,
        dispatcher: Dispatcher,
        registry: TurnRegistry,
        jobs: Jobs,
        recovery: RecoveryReport,
        metrics: Metrics,
        processes: HostProcesses,
        memory: MemoryBudget,
    ) -> None:
        self._facts = facts
        self._connection = connection
        self._queue = queue
        self._backends = backends
        self._oneshot = oneshot_backends
        self._pool = pool
        self._dispatcher = dispatcher
        self._registry = registry
        self._jobs = jobs
        self._recovery = recovery
        self._metrics = metrics
        self._processes = processes
        self._memory = memory

    async def store_ok(self) -> dict[str, object]:
        try:
            async with asyncio.timeout(self._facts.health_timeout_s):
                await self._connection.ping()
        except Exception as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True}

    async def health(self) -> tuple[bool, dict[str, object]]:
        """Whether this node can work (its store answers), and the whole picture."""
        store = await self.store_ok()
        ok = store["ok"] is True
        return ok, {
            "status": "ok" if ok else "degraded",
            "version": self._facts.version,
            "node_id": self._facts.node_id,
            "started_at": self._facts.started_at.isoformat(),
            "store": {**store, "kind": self._facts.store_kind},
            "agents": {name: backend.kind.value for name, backend in self._backends.items()},
            "pool": {
                "live": self._pool.snapshot(),
                "max_live": self._pool.max_live,
                "idle_ttl_s": self._pool.idle_ttl_s,
            },
            "dispatcher": {
                "accepting": self._dispatcher.accepting,
                "running_turns": self._registry.count(),
                "max_parallel_turns": self._dispatcher.max_parallel,
            },
            "jobs": self._jobs.state(),
            "recovery": {
                "failed_turns": self._recovery.failed_turns,
                "stopped_processes": self._recovery.stopped_processes,
            },
        }

    async def metrics(self) -> str:
        counts = {status.value: n for status, n in (await self._queue.count_tasks_by_status()).items()}
        samples = [
            (info.agent, sample)
            for backend in [*self._backends.values(), *self._oneshot.values()]
            for info in backend.processes()
            if (sample := self._processes.sample(info.pid)) is not None
        ]
        return render(self._metrics, self._pool.live_counts(), counts, samples) + render_memory(
            self._memory, self._metrics
        )

    def memory(self) -> dict[str, object]:
        """The memory budget: what is charged to each agent and chat, evictions, admissions waiting."""
        return self._memory.view()
