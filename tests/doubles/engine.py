"""The turn engine of one node wired for fast tests: the real pool, registry, runner, dispatcher and use cases, over
a given store, the in-process bus, real git worktrees and a scripted agent backend. No agent process, no HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from adapters.bus.memory import InMemoryEventBus
from adapters.git.worktrees import GitWorktrees
from app.clock import SystemClock
from app.metrics import Metrics
from app.pool import AgentPool
from app.turns.dispatcher import Dispatcher
from app.turns.registry import TurnRegistry
from app.turns.runner import TurnRunner
from app.turns.sessions import TurnSessions
from app.usecases.chats import Chats
from app.usecases.turns import Turns
from core.agents import AgentSpec, ProviderConfig
from core.lifecycle import WatchdogPolicy
from core.model import BackendKind, Task
from core.ports.bus import EventBus
from core.ports.store import Store
from tests.doubles.scripted_backend import ScriptedBackend

AGENT = "scripted"
WAIT_S = 10.0


@dataclass
class Engine:
    store: Store
    bus: EventBus
    backend: ScriptedBackend
    pool: AgentPool
    registry: TurnRegistry
    dispatcher: Dispatcher
    chats: Chats
    turns: Turns

    async def until(self, check: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while not check():
                await asyncio.sleep(0.005)

    async def finished(self, turn_id: str, timeout_s: float = WAIT_S) -> Task:
        async with asyncio.timeout(timeout_s):
            while True:
                task = await self.store.get_task(turn_id)
                if task is not None and task.status.is_terminal and self.registry.get(turn_id) is None:
                    return task
                await asyncio.sleep(0.005)


@asynccontextmanager
async def running_engine(
    store: Store,
    repo_root: Path,
    worktrees_dir: Path,
    *,
    node_id: str = "node-a",
    max_parallel: int = 4,
    backend: ScriptedBackend | None = None,
    bus: EventBus | None = None,
    poll_s: float = 0.02,
    max_live: int = 10,
) -> AsyncIterator[Engine]:
    """An engine whose dispatcher runs for the duration of the block, then shuts down like a node does."""
    clock = SystemClock()
    bus = bus or InMemoryEventBus()
    backend = backend or ScriptedBackend(AGENT)
    worktrees = GitWorktrees([repo_root], worktrees_dir)
    metrics = Metrics()
    pool = AgentPool({AGENT: backend}, store, clock, metrics, idle_ttl_s=3600, max_live=max_live)
    registry = TurnRegistry()
    sessions = TurnSessions(pool=pool, oneshot_backends={}, sessions=store, clock=clock, node_id=node_id)
    watchdog = WatchdogPolicy(silence_s=300, escalation_s=30)
    runner = TurnRunner(
        chats=store,
        worktree_rows=store,
        queue=store,
        journal=store,
        pending=store,
        bus=bus,
        worktrees=worktrees,
        sessions=sessions,
        registry=registry,
        clock=clock,
        metrics=metrics,
        watchdog=watchdog,
    )
    dispatcher = Dispatcher(
        queue=store,
        relay=store,
        journal=store,
        bus=bus,
        registry=registry,
        runner=runner,
        clock=clock,
        node_id=node_id,
        max_parallel=max_parallel,
        lease_ttl_s=30,
        poll_interval_s=poll_s,
    )
    chats = Chats(
        chats=store,
        worktree_rows=store,
        queue=store,
        journal=store,
        pending=store,
        bus=bus,
        worktrees=worktrees,
        pool=pool,
        clock=clock,
    )
    spec = AgentSpec(name=AGENT, backend=BackendKind.WARM_ACP, command=AGENT)
    turns = Turns(
        chats=chats,
        queue=store,
        relay=store,
        journal=store,
        bus=bus,
        registry=registry,
        dispatcher=dispatcher,
        specs={AGENT: spec},
        provider=ProviderConfig(),
        clock=clock,
        node_id=node_id,
        max_prompt_chars=10_000,
    )
    engine = Engine(store, bus, backend, pool, registry, dispatcher, chats, turns)
    async with asyncio.TaskGroup() as group:
        group.create_task(dispatcher.run())
        try:
            yield engine
        finally:
            await dispatcher.shutdown(grace_s=2)
            await pool.aclose()
