"""The turn engine of one node for fast tests: the composition root's own wiring (pool, registry, runner, dispatcher,
use cases) over a given store, the in-process bus, real git worktrees and a scripted agent backend. No agent
process, no HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from adapters.bus.memory import InMemoryEventBus
from adapters.git.worktrees import GitWorktrees
from app.bootstrap.node import assemble
from app.bootstrap.usecases import use_cases_of
from app.clock import SystemClock
from app.pool import AgentPool
from app.settings import Settings
from app.turns.dispatcher import Dispatcher
from app.turns.registry import TurnRegistry
from app.usecases.chats import Chats
from app.usecases.turns import Turns
from core.agents import AgentSpec
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
    poll_s: float = 0.02,
    turn_watchdog_s: float = 300.0,
) -> AsyncIterator[Engine]:
    """A node wired by the composition root around a scripted agent; its dispatcher runs for the duration of the
    block, then shuts down as a node does (no jobs, no startup recovery)."""
    settings = Settings(
        data_dir=worktrees_dir.parent / "data",
        repo_roots=[repo_root],
        worktrees_dir=worktrees_dir,
        node_id=node_id,
        max_parallel_turns=max_parallel,
        dispatch_poll_s=poll_s,
        shutdown_grace_s=2.0,
        database_url=None,
        max_prompt_chars=10_000,
        turn_watchdog_s=turn_watchdog_s,
    )
    backend = backend or ScriptedBackend(AGENT)
    spec = AgentSpec(name=AGENT, backend=BackendKind.WARM_ACP, command=AGENT)
    bus = InMemoryEventBus()
    worktrees = GitWorktrees([repo_root], worktrees_dir)
    node = assemble(settings, store, bus, worktrees, SystemClock(), agents=({AGENT: spec}, {AGENT: backend}, {}))
    node.use_cases = use_cases_of(node)
    engine = Engine(
        store, bus, backend, node.pool, node.registry, node.dispatcher, node.use_cases.chats, node.use_cases.turns
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(node.dispatcher.run())
        try:
            yield engine
        finally:
            await node.dispatcher.shutdown(settings.shutdown_grace_s)
            await node.pool.aclose()
