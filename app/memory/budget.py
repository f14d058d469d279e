"""The memory budget at work: one sampler over every agent process tree, eviction when over, and what it saw.

``sample`` reads the process table off the event loop, charges it to agent processes and chats
(``core.lifecycle.attribution``) and tells the pool which idle handles still have background work, so no eviction
of any kind takes them. ``enforce`` then asks ``core.lifecycle.budget.plan_budget`` what to let go of, stops the
background work of a forced eviction (and journals it), evicts, and recycles every process the evictions emptied.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from app.metrics import Metrics
from app.pool import AgentPool, LiveSession
from app.turns.journal import TurnJournal
from core.lifecycle.attribution import AgentRoot, Attribution, Tenant, attribute
from core.lifecycle.budget import (
    BudgetEviction,
    BudgetPlan,
    BudgetPolicy,
    charge_of,
    forced_notice,
    idle_with_background,
    plan_budget,
)
from core.ports.agents import AgentBackend
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.processes import HostProcesses
from core.ports.store import Journal

log = logging.getLogger(__name__)

FORCED_JOURNAL = 50  # forced evictions remembered for /api/agents/memory
RESERVATION_S = 120.0  # an admitted session not seen by a sample this long has failed to open


@dataclass
class MemoryState:
    sampled_at: datetime | None = None
    attribution: Attribution | None = None
    plan: BudgetPlan | None = None
    forced: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=FORCED_JOURNAL))
    waiting: dict[tuple[str, str], datetime] = field(default_factory=dict)  # admissions waiting: (chat, agent)
    recycled: Counter[str] = field(default_factory=Counter)
    # sessions admitted but not yet seen by a sample: (chat, agent) -> (bytes expected, when admitted)
    reserved: dict[tuple[str, str], tuple[int, datetime]] = field(default_factory=dict)


class MemoryBudget:
    def __init__(
        self,
        *,
        pool: AgentPool,
        backends: Mapping[str, AgentBackend],  # every backend by name, one-shot ones too ("qwen/one-shot")
        processes: HostProcesses,
        clock: Clock,
        metrics: Metrics,
        policy: BudgetPolicy,
        journal: Journal | None = None,  # where a forced eviction says what it stopped (with ``bus``)
        bus: EventBus | None = None,
    ) -> None:
        self._pool = pool
        self._journal = journal
        self._bus = bus
        self._backends = backends
        self._processes = processes
        self._clock = clock
        self._metrics = metrics
        self.policy = policy
        self.state = MemoryState()
        self._lock = asyncio.Lock()  # one enforcement at a time (the job and waiting admissions)

    def _roots(self) -> list[AgentRoot]:
        return [
            AgentRoot(process=f"{name}:{info.pid}", pid=info.pid, agent=name)
            for name, backend in sorted(self._backends.items())
            for info in backend.processes()
        ]

    async def sample(self) -> Attribution:
        roots = self._roots()
        home = {root.agent: root.process for root in roots}
        live_sessions = self._pool.live_sessions()
        working = await asyncio.gather(*(agent_work(live) for live in live_sessions))
        tenants = [
            Tenant(
                chat_id=live.chat_id,
                agent=live.agent,
                process=home.get(live.agent, ""),
                cwd=live.cwd,
                last_used=live.last_used,
                busy=live.busy,
                turn_started=live.turn_started,
                agent_work=work,
            )
            for live, work in zip(live_sessions, working, strict=True)
        ]
        rows = await asyncio.to_thread(self._processes.table)
        result = attribute(rows, roots, tenants)
        now = self._clock.now()
        self._pool.keep = frozenset(idle_with_background(result.handles, now, self.policy))
        self.state.sampled_at, self.state.attribution = now, result
        seen = {h.key for h in result.handles}
        self.state.reserved = {
            key: (size, at)
            for key, (size, at) in self.state.reserved.items()
            if key not in seen and (now - at).total_seconds() < RESERVATION_S
        }
        return result

    def reserved_bytes(self) -> int:
        return sum(size for size, _ in self.state.reserved.values())

    async def enforce(self, reserve_bytes: int = 0) -> dict[str, object]:
        """Sample, then bring the total (plus ``reserve_bytes`` an admission needs) back within the budget."""
        async with self._lock:
            sampled = await self.sample()
            policy = self.policy
            if reserve_bytes and policy.budget_bytes:
                policy = policy.model_copy(update={"budget_bytes": max(1, policy.budget_bytes - reserve_bytes)})
            plan = plan_budget(sampled.handles, sampled.processes, self._clock.now(), policy)
            self.state.plan = plan
            for eviction in plan.evictions:
                if eviction.stops:
                    await self._stop_background(eviction)
            by_reason: dict[str, list[tuple[str, str]]] = {}
            for eviction in plan.evictions:
                by_reason.setdefault(eviction.reason.value, []).append(eviction.key)
            evicted = [key for reason, keys in by_reason.items() for key in await self._pool.evict(keys, reason)]
            recycled = [name for name in plan.recycle if await self._recycle(name)]
            if evicted or recycled:
                await self.sample()
            return {
                "total_bytes": plan.total_bytes,
                "overshoot_bytes": plan.overshoot_bytes,
                "evicted": [f"{chat}/{agent}" for chat, agent in evicted],
                "recycled": recycled,
                "deferred": [f"{chat}/{agent}" for chat, agent in plan.deferred],
            }

    async def _recycle(self, process: str) -> bool:
        name = process.rsplit(":", 1)[0]
        backend = self._backends.get(name)
        if backend is None or not await backend.recycle_if_empty():
            return False
        self.state.recycled[name] += 1
        return True

    async def _stop_background(self, eviction: BudgetEviction) -> None:
        """A forced eviction: the background work outlived its grace; stop it and say so in the chat's journal."""
        chat_id, agent = eviction.key
        # an agent's own busy session (no pid) ends with the eviction that closes it
        stopped = [
            entry
            for entry in eviction.stops
            if not entry.split(" ", 1)[0].isdigit() or await self._processes.terminate(int(entry.split()[0]))
        ]
        log.warning(
            "memory budget: evicting %s in chat %s stopped the background work it left running: %s",
            agent,
            chat_id,
            "; ".join(stopped) or "(already gone)",
        )
        self.state.forced.append(
            {"at": self._clock.now().isoformat(), "chat_id": chat_id, "agent": agent, "stopped": stopped}
        )
        live = self._pool.find(chat_id, agent)
        if self._journal is None or self._bus is None or live is None or live.turn_id is None:
            return
        notice = forced_notice(
            eviction,
            stopped,
            turn_id=live.turn_id,
            session_id=live.handle.backend_session_id,
            grace_s=self.policy.background_grace_s,
        )
        await TurnJournal(self._journal, self._bus, live.turn_id, chat_id).write([notice])

    def charged(self) -> tuple[dict[str, int], dict[str, int]]:
        """Bytes charged to each agent (its process trees) and to each chat (its handles' charges)."""
        sampled = self.state.attribution
        if sampled is None:
            return {}, {}
        agents: Counter[str] = Counter()
        for process, size in sampled.roots_bytes.items():
            agents[process.rsplit(":", 1)[0]] += size
        chats: Counter[str] = Counter()
        for handle in sampled.handles:
            chats[handle.chat_id] += int(charge_of(handle, sampled.handles, sampled.processes))
        return dict(agents), dict(chats)

    def total_bytes(self) -> int:
        sampled = self.state.attribution
        return 0 if sampled is None else sum(sampled.roots_bytes.values())

    def view(self) -> dict[str, object]:
        sampled = self.state.attribution
        agents, chats = self.charged()
        handles = [] if sampled is None else sampled.handles
        return {
            "budget_bytes": self.policy.budget_bytes,
            "total_bytes": self.total_bytes(),
            "sampled_at": self.state.sampled_at.isoformat() if self.state.sampled_at else None,
            "agents": agents,
            "chats": chats,
            "handles": [
                {
                    "chat_id": h.chat_id,
                    "agent": h.agent,
                    "charged_bytes": int(charge_of(h, handles, sampled.processes if sampled else ())),
                    "busy": h.busy,
                    "background_work": list(h.background),
                }
                for h in handles
            ],
            "evictions": {f"{agent}/{reason}": n for (agent, reason), n in self._metrics.evictions_by_reason.items()},
            "recycled": dict(self.state.recycled),
            "forced": list(self.state.forced),
            "admissions_waiting": [
                {"chat_id": chat, "agent": agent, "since": since.isoformat()}
                for (chat, agent), since in self.state.waiting.items()
            ],
        }


async def agent_work(live: LiveSession) -> tuple[str, ...]:
    """What an idle session's agent says it still runs on its own (an OpenCode session still busy), as background
    work: it defers every eviction of the handle like a job the agent left running."""
    if live.busy or not await live.handle.working():
        return ()
    return (f"session {live.handle.backend_session_id} still busy at {live.agent}",)
