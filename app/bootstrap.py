"""The one composition root: Settings -> store, bus, worktrees, one backend per agent, pool, turns, jobs, use cases.

Adapters are imported here, statically, so mypy checks each against its port and import-linter sees every arrow.
``run_service`` is an async context manager owned by the Litestar lifespan (or the CLI): it opens everything, runs
startup recovery, runs the dispatcher inside a TaskGroup for as long as it lives, and on exit stops taking work,
gives running turns a grace period, stops every agent process and closes the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from returns.result import Result

from adapters.acp.oneshot import OneShotAcpBackend
from adapters.acp.warm import WarmAcpBackend
from adapters.agent_install import resolve_command
from adapters.bus.memory import InMemoryEventBus
from adapters.bus.postgres import PostgresEventBus
from adapters.git.worktrees import GitWorktrees
from adapters.native.agent import NativeBackend
from adapters.opencode.backend import OpenCodeServerBackend
from adapters.procfs import ProcFs
from adapters.store.postgres import PostgresStore
from adapters.store.sqlite import SqliteStore
from app.clock import SystemClock
from app.metrics import Metrics
from app.pool import AgentPool
from app.settings import Settings
from app.turns.dispatcher import Dispatcher
from app.turns.registry import TurnRegistry
from app.turns.runner import TurnRunner
from app.turns.sessions import TurnSessions
from app.upkeep.jobs import JobIntervals, Jobs
from app.upkeep.leases import ChatLeases
from app.upkeep.reaping import Reaper
from app.upkeep.recovery import LostTurns, RecoveryReport, recover
from app.usecases.agents import Agents
from app.usecases.bundle import UseCases
from app.usecases.changes import Changes
from app.usecases.chats import Chats
from app.usecases.replays import Replays
from app.usecases.streams import EventStreams
from app.usecases.system import NodeFacts, System
from app.usecases.turns import Turns
from app.version import VERSION
from core.agents import AgentSpec
from core.errors import DomainError
from core.lifecycle import WatchdogPolicy
from core.model import BackendKind
from core.ports.agents import AgentBackend, BackendRuntime
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.processes import HostProcesses
from core.ports.store import Store
from core.ports.worktrees import Worktrees

log = logging.getLogger(__name__)


def build_backend(
    kind: BackendKind, spec: AgentSpec, runtime: BackendRuntime, store: Store, clock: Clock
) -> AgentBackend:
    match kind:
        case BackendKind.OPENCODE_SERVER:
            return OpenCodeServerBackend(spec, runtime, store, clock)
        case BackendKind.WARM_ACP:
            return WarmAcpBackend(spec, runtime, store, clock)
        case BackendKind.ONE_SHOT:
            return OneShotAcpBackend(spec, runtime, store, clock)
        case BackendKind.NATIVE:
            return NativeBackend(spec, runtime)


async def open_store(settings: Settings) -> Store:
    if settings.database_url:
        return await PostgresStore.open(settings.database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return await SqliteStore.open(settings.sqlite_path)


async def open_bus(settings: Settings, store: Store) -> EventBus:
    if settings.database_url:
        return await PostgresEventBus.open(settings.database_url, store)
    return InMemoryEventBus()


def open_worktrees(settings: Settings) -> Worktrees:
    return GitWorktrees(list(settings.repo_roots), settings.chat_worktrees_dir)


def locate_agent(agents_dir: Path) -> Callable[[AgentSpec], Result[str, DomainError]]:
    return lambda spec: resolve_command(spec, agents_dir).map(str)


def _runtime(settings: Settings) -> BackendRuntime:
    return BackendRuntime(
        data_dir=str(settings.data_dir),
        agents_dir=str(settings.agents_dir),
        node_id=settings.node_id,
        provider=settings.provider,
        permission_timeout_s=settings.permission_timeout_s,
        health_interval_s=settings.health_interval_s,
        health_timeout_s=settings.health_timeout_s,
        llm_retry_limit=settings.llm_retry_limit,
        acp_recycle_mib=settings.acp_recycle_mib,
    )


@dataclass
class Node:
    """Everything one running hearth is made of. Only this module, the CLI and the tests look inside it; the
    edges get ``use_cases``."""

    settings: Settings
    clock: Clock
    store: Store
    bus: EventBus
    worktrees: Worktrees
    processes: HostProcesses
    specs: Mapping[str, AgentSpec]
    backends: Mapping[str, AgentBackend]
    oneshot_backends: Mapping[str, AgentBackend]
    metrics: Metrics
    pool: AgentPool
    registry: TurnRegistry
    runner: TurnRunner
    dispatcher: Dispatcher
    lost_turns: LostTurns
    leases: ChatLeases
    jobs: Jobs
    recovery: RecoveryReport = field(default_factory=RecoveryReport)
    use_cases: UseCases = field(init=False)

    def all_backends(self) -> list[tuple[str, AgentBackend]]:
        return [*self.backends.items(), *self.oneshot_backends.items()]


def assemble(settings: Settings, store: Store, bus: EventBus, worktrees: Worktrees, clock: Clock) -> Node:
    """Wire the object graph (no I/O): constructor injection everywhere, nothing global."""
    runtime = _runtime(settings)
    specs = settings.agents()
    backends = {name: build_backend(spec.backend, spec, runtime, store, clock) for name, spec in specs.items()}
    oneshot = {
        name: build_backend(BackendKind.ONE_SHOT, spec, runtime, store, clock)
        for name, spec in specs.items()
        if spec.backend is BackendKind.WARM_ACP
    }
    metrics = Metrics()
    pool = AgentPool(backends, store, clock, metrics, settings.idle_ttl, settings.max_live)
    registry = TurnRegistry()
    sessions = TurnSessions(pool=pool, oneshot_backends=oneshot, sessions=store, clock=clock, node_id=settings.node_id)
    watchdog = WatchdogPolicy(silence_s=settings.turn_watchdog_s, escalation_s=max(1.0, settings.turn_watchdog_s / 10))
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
        node_id=settings.node_id,
        max_parallel=settings.max_parallel_turns,
        lease_ttl_s=settings.lease_ttl_s,
        poll_interval_s=settings.dispatch_poll_s,
    )
    bus.on_work(dispatcher.wake)  # a turn queued or a request relayed through any node
    lost = LostTurns(journal=store, sessions=store, bus=bus)
    leases = ChatLeases(
        leases=store,
        registry=registry,
        pool=pool,
        lost=lost,
        wake_dispatcher=dispatcher.wake,
        clock=clock,
        node_id=settings.node_id,
        ttl_s=settings.lease_ttl_s,
    )
    reaper = Reaper(store, store, store, store, store, worktrees, clock, settings.reaper_grace_s)
    intervals = JobIntervals(
        eviction_s=settings.eviction_interval_s,
        health_s=settings.health_interval_s,
        reaper_s=settings.reaper_interval_s,
        snapshot_expiry_s=max(settings.reaper_interval_s, 3600.0),
        snapshot_retention=timedelta(days=settings.snapshot_retention_days),
        health_timeout_s=settings.health_timeout_s,
        lease_renewal_s=settings.lease_ttl_s / 3,
    )
    all_backends = {**backends, **{f"{n}/one-shot": b for n, b in oneshot.items()}}
    jobs = Jobs(store, worktrees, pool, all_backends, reaper, leases, clock, intervals)
    return Node(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        worktrees=worktrees,
        processes=ProcFs(),
        specs=specs,
        backends=backends,
        oneshot_backends=oneshot,
        metrics=metrics,
        pool=pool,
        registry=registry,
        runner=runner,
        dispatcher=dispatcher,
        lost_turns=lost,
        leases=leases,
        jobs=jobs,
    )


def use_cases_of(node: Node) -> UseCases:
    settings, store, clock = node.settings, node.store, node.clock
    chats = Chats(
        chats=store,
        worktree_rows=store,
        queue=store,
        journal=store,
        pending=store,
        bus=node.bus,
        worktrees=node.worktrees,
        pool=node.pool,
        clock=clock,
    )
    turns = Turns(
        chats=chats,
        queue=store,
        relay=store,
        journal=store,
        bus=node.bus,
        registry=node.registry,
        dispatcher=node.dispatcher,
        specs=node.specs,
        provider=settings.provider,
        clock=clock,
        node_id=settings.node_id,
        max_prompt_chars=settings.max_prompt_chars,
    )
    agents = Agents(
        chats=chats,
        sessions=store,
        queue=store,
        journal=store,
        pending=store,
        specs=node.specs,
        backends=node.backends,
        pool=node.pool,
        locate=locate_agent(settings.agents_dir),
    )
    facts = NodeFacts(
        version=VERSION,
        node_id=settings.node_id,
        store_kind="postgresql" if settings.database_url else "sqlite",
        started_at=clock.now(),
        health_timeout_s=settings.health_timeout_s,
    )
    system = System(
        facts=facts,
        connection=store,
        queue=store,
        backends=node.backends,
        oneshot_backends=node.oneshot_backends,
        pool=node.pool,
        dispatcher=node.dispatcher,
        registry=node.registry,
        jobs=node.jobs,
        recovery=node.recovery,
        metrics=node.metrics,
        processes=node.processes,
    )
    return UseCases(
        chats=chats,
        turns=turns,
        changes=Changes(chats=chats, worktree_rows=store, pending=store, worktrees=node.worktrees, clock=clock),
        agents=agents,
        streams=EventStreams(queue=store, journal=store, bus=node.bus),
        system=system,
        replays=Replays(store=store),
    )


async def _close_quietly(what: str, close: Callable[[], Awaitable[object]]) -> None:
    try:
        async with asyncio.timeout(30):
            await close()
    except Exception:
        log.exception("closing %s failed", what)


@asynccontextmanager
async def run_service(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Node]:
    clock = clock or SystemClock()
    store = await open_store(settings)
    bus: EventBus | None = None
    node: Node | None = None
    try:
        bus = await open_bus(settings, store)
        node = assemble(settings, store, bus, open_worktrees(settings), clock)
        node.recovery = await recover(store, store, node.processes, node.lost_turns, clock, settings.node_id)
        node.use_cases = use_cases_of(node)
        async with asyncio.TaskGroup() as group:
            group.create_task(node.dispatcher.run(), name="dispatcher")
            node.jobs.start()
            try:
                yield node
            finally:
                await node.jobs.shutdown()
                await node.dispatcher.shutdown(settings.shutdown_grace_s)
                await _close_quietly("the chat leases", node.leases.release)
    finally:
        if node is not None:
            await _close_quietly("the agent pool", node.pool.aclose)
            for name, backend in node.all_backends():
                await _close_quietly(f"backend {name}", backend.aclose)
        if bus is not None:
            await _close_quietly("the event bus", bus.close)
        await _close_quietly("the store", store.close)
