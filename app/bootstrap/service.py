"""``run_service``: an async context manager owned by the Litestar lifespan (or the CLI). It opens everything, runs
startup recovery, runs the dispatcher inside a TaskGroup for as long as it lives, and on exit stops taking work,
gives running turns a grace period, stops every agent process and closes the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from app.bootstrap.adapters import open_bus, open_store, open_worktrees
from app.bootstrap.node import Node, assemble
from app.bootstrap.usecases import use_cases_of
from app.clock import SystemClock
from app.settings import Settings
from app.upkeep.recovery import recover
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Store
from core.ports.worktrees import Worktrees

log = logging.getLogger(__name__)


async def _close_quietly(what: str, close: Callable[[], Awaitable[object]]) -> None:
    try:
        async with asyncio.timeout(30):
            await close()
    except Exception:
        log.exception("closing %s failed", what)


StoreOpener = Callable[[Settings], Awaitable[Store]]


@asynccontextmanager
async def run_service(
    settings: Settings, clock: Clock | None = None, opener: StoreOpener = open_store
) -> AsyncIterator[Node]:
    """``opener`` opens the store the node runs on (the tests wrap the real one to count its calls)."""
    clock = clock or SystemClock()
    store = await opener(settings)
    bus: EventBus | None = None
    node: Node | None = None
    worktrees: Worktrees | None = None
    try:
        bus = await open_bus(settings, store)
        worktrees = open_worktrees(settings)
        node = assemble(settings, store, bus, worktrees, clock)
        for name, spec in node.specs.items():
            if spec.sandbox == "off":
                log.warning(
                    "SANDBOX OFF for agent %s: its shell commands can write anywhere this user can, outside the "
                    'chat\'s worktree too (set sandbox = "worktree" in the config file to confine them)',
                    name,
                )
        node.recovery = await recover(
            store, store, node.processes, node.lost_turns, clock, settings.node_id, node.runner.continuations
        )
        node.use_cases = use_cases_of(node)
        async with asyncio.TaskGroup() as group:
            group.create_task(node.dispatcher.run(), name="dispatcher")
            group.create_task(node.contests.run(), name="arena contestants")
            node.jobs.start()
            try:
                yield node
            finally:
                await node.jobs.shutdown()
                await node.dispatcher.shutdown(settings.shutdown_grace_s)
                await node.contests.shutdown(settings.shutdown_grace_s)
                await _close_quietly("the chat leases", node.leases.release)
    finally:
        if node is not None:
            await _close_quietly("the agent pool", node.pool.aclose)
            for name, backend in node.all_backends():
                await _close_quietly(f"backend {name}", backend.aclose)
        if worktrees is not None:
            worktrees.close()
        if bus is not None:
            await _close_quietly("the event bus", bus.close)
        await _close_quietly("the store", store.close)
