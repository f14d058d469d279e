"""The one composition root: Settings -> store, bus, worktrees, one backend per agent, pool, dispatcher, jobs.

``run_service`` is an async context manager owned by the Litestar lifespan: it opens everything, runs startup
recovery, runs the dispatcher inside a TaskGroup for as long as the app lives, and on exit stops taking work,
gives running turns a grace period, stops every agent process and closes the store.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from returns.result import Failure, Result

from app.clock import SystemClock
from app.metrics import Metrics
from app.pool import AgentPool
from app.settings import Settings
from app.turns.dispatcher import Dispatcher
from app.turns.runner import TurnRunner
from app.upkeep.jobs import JobIntervals, Jobs
from app.upkeep.leases import ChatLeases
from app.upkeep.reaping import Reaper
from app.upkeep.recovery import RecoveryReport, recover
from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError
from core.lifecycle import WatchdogPolicy
from core.model import BackendKind
from core.ports.agents import AgentBackend, BackendRuntime, ProcessInfo, SessionHandle, SessionSpec
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import Store
from core.ports.worktrees import Worktrees

log = logging.getLogger(__name__)

# (module, class) per backend kind; imported lazily so one broken adapter cannot take the service down
_BACKENDS: dict[BackendKind, tuple[str, str]] = {
    BackendKind.OPENCODE_SERVER: ("adapters.opencode.backend", "OpenCodeServerBackend"),
    BackendKind.WARM_ACP: ("adapters.acp.warm", "WarmAcpBackend"),
    BackendKind.ONE_SHOT: ("adapters.acp.oneshot", "OneShotAcpBackend"),
    BackendKind.NATIVE: ("adapters.native.agent", "NativeBackend"),
}


class UnavailableBackend:
    """Stands in for a backend whose adapter could not be loaded: every turn fails saying why."""

    def __init__(self, kind: BackendKind, reason: str) -> None:
        self.kind = kind
        self.reason = reason

    async def open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]:
        return Failure(AgentUnavailable(detail=self.reason, field="agent"))

    async def health(self) -> dict[str, object]:
        return {"ok": False, "error": self.reason}

    def processes(self) -> list[ProcessInfo]:
        return []

    def reset(self) -> bool:
        return False  # it keeps no crash budget: nothing to reset

    def wants_drain(self) -> bool:
        return False  # closing a session frees what it held

    async def restart(self, reason: str) -> None:
        return None  # it never started a process

    async def aclose(self) -> None:
        return None


def _load(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def build_backend(
    kind: BackendKind, spec: AgentSpec, runtime: BackendRuntime, store: Store, clock: Clock
) -> AgentBackend:
    module, name = _BACKENDS[kind]
    try:
        cls = _load(module, name)
    except (ImportError, AttributeError) as exc:
        return UnavailableBackend(kind, f"agent {spec.name!r}: backend {kind.value} is not available ({exc})")
    if kind is BackendKind.NATIVE:
        return cast(AgentBackend, cls(spec, runtime))
    return cast(AgentBackend, cls(spec, runtime, store, clock))


async def open_store(settings: Settings) -> Store:
    if settings.database_url:
        return cast(Store, await _load("adapters.store.postgres", "PostgresStore").open(settings.database_url))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return cast(Store, await _load("adapters.store.sqlite", "SqliteStore").open(settings.sqlite_path))


async def open_bus(settings: Settings, store: Store) -> EventBus:
    if settings.database_url:
        return cast(
            EventBus, await _load("adapters.bus.postgres", "PostgresEventBus").open(settings.database_url, store)
        )
    return cast(EventBus, _load("adapters.bus.memory", "InMemoryEventBus")())


def open_worktrees(settings: Settings) -> Worktrees:
    cls = _load("adapters.git.worktrees", "GitWorktrees")
    return cast(Worktrees, cls(list(settings.repo_roots), settings.chat_worktrees_dir))


@dataclass
class Service:
    settings: Settings
    clock: Clock
    store: Store
    bus: EventBus
    worktrees: Worktrees
    specs: Mapping[str, AgentSpec]
    backends: Mapping[str, AgentBackend]
    oneshot_backends: Mapping[str, AgentBackend]
    pool: AgentPool
    runner: TurnRunner
    dispatcher: Dispatcher
    jobs: Jobs
    metrics: Metrics
    started_at: datetime
    recovery: RecoveryReport = field(default_factory=RecoveryReport)

    def all_backends(self) -> list[tuple[str, AgentBackend]]:
        return [*self.backends.items(), *self.oneshot_backends.items()]


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


def assemble(settings: Settings, store: Store, bus: EventBus, worktrees: Worktrees, clock: Clock) -> Service:
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
    runner = TurnRunner(
        store=store,
        bus=bus,
        worktrees=worktrees,
        pool=pool,
        oneshot_backends=oneshot,
        clock=clock,
        metrics=metrics,
        node_id=settings.node_id,
        watchdog=WatchdogPolicy(
            silence_s=settings.turn_watchdog_s, escalation_s=max(1.0, settings.turn_watchdog_s / 10)
        ),
    )
    dispatcher = Dispatcher(
        store=store,
        bus=bus,
        runner=runner,
        clock=clock,
        node_id=settings.node_id,
        max_parallel=settings.max_parallel_turns,
        lease_ttl_s=settings.lease_ttl_s,
        poll_interval_s=settings.dispatch_poll_s,
    )
    bus.on_work(dispatcher.wake)  # a turn queued or a request relayed through any node
    leases = ChatLeases(
        store=store,
        bus=bus,
        pool=pool,
        dispatcher=dispatcher,
        runner=runner,
        clock=clock,
        node_id=settings.node_id,
        ttl_s=settings.lease_ttl_s,
    )
    reaper = Reaper(store, worktrees, clock, settings.reaper_grace_s)
    intervals = JobIntervals(
        eviction_s=settings.eviction_interval_s,
        health_s=settings.health_interval_s,
        reaper_s=settings.reaper_interval_s,
        snapshot_expiry_s=max(settings.reaper_interval_s, 3600.0),
        snapshot_retention=timedelta(days=settings.snapshot_retention_days),
        health_timeout_s=settings.health_timeout_s,
        lease_renewal_s=settings.lease_ttl_s / 3,
    )
    jobs = Jobs(
        store,
        worktrees,
        pool,
        {**backends, **{f"{n}/one-shot": b for n, b in oneshot.items()}},
        reaper,
        leases,
        clock,
        intervals,
    )
    return Service(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        worktrees=worktrees,
        specs=specs,
        backends=backends,
        oneshot_backends=oneshot,
        pool=pool,
        runner=runner,
        dispatcher=dispatcher,
        jobs=jobs,
        metrics=metrics,
        started_at=clock.now(),
    )


async def _close_quietly(what: str, close: Callable[[], Any]) -> None:
    try:
        async with asyncio.timeout(30):
            result = close()
            if asyncio.iscoroutine(result):
                await result
    except Exception:
        log.exception("closing %s failed", what)


@asynccontextmanager
async def run_service(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Service]:
    clock = clock or SystemClock()
    store = await open_store(settings)
    bus: EventBus | None = None
    service: Service | None = None
    try:
        bus = await open_bus(settings, store)
        service = assemble(settings, store, bus, open_worktrees(settings), clock)
        service.recovery = await recover(store, bus, clock, settings.node_id)
        async with asyncio.TaskGroup() as group:
            group.create_task(service.dispatcher.run(), name="dispatcher")
            service.jobs.start()
            try:
                yield service
            finally:
                await service.jobs.shutdown()
                await service.dispatcher.shutdown(settings.shutdown_grace_s)
                await _close_quietly("the chat leases", service.jobs.leases.release)
    finally:
        if service is not None:
            await _close_quietly("the agent pool", service.pool.aclose)
            for name, backend in service.all_backends():
                await _close_quietly(f"backend {name}", backend.aclose)
        for method in ("aclose", "close"):
            if bus is not None and hasattr(bus, method):
                await _close_quietly("the event bus", getattr(bus, method))
                break
        await _close_quietly("the store", store.close)
