"""The object graph of one hearth node, wired with constructor injection (no I/O, nothing global)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from app.bootstrap.adapters import build_backend, host_processes, memory_budget_bytes
from app.memory.admission import Admission
from app.memory.budget import MemoryBudget
from app.metrics import Metrics
from app.pool import AgentPool
from app.settings import Settings
from app.turns.contests import ContestRunner
from app.turns.continuation import Continuations
from app.turns.dispatcher import Dispatcher
from app.turns.registry import TurnRegistry
from app.turns.runner import TurnRunner
from app.turns.sessions import TurnSessions
from app.upkeep.jobs import JobIntervals, Jobs
from app.upkeep.leases import ChatLeases
from app.upkeep.reaping import Reaper
from app.upkeep.recovery import LostTurns, RecoveryReport
from app.usecases.bundle import UseCases
from core.agents import AgentSpec
from core.handoff import HistoryBudget
from core.lifecycle import WatchdogPolicy
from core.lifecycle.budget import BudgetPolicy
from core.model import BackendKind
from core.ports.agents import AgentBackend, BackendRuntime, McpEndpoint
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.processes import HostProcesses
from core.ports.store import Store
from core.ports.worktrees import Worktrees
from core.usage import price_for


def backend_runtime(settings: Settings) -> BackendRuntime:
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
        agent_state_dir=str(settings.agent_state_root),
        worktrees_dir=str(settings.chat_worktrees_dir),
        hearth_mcp=hearth_mcp_of(settings),
    )


def hearth_mcp_of(settings: Settings) -> McpEndpoint | None:
    if settings.agent_mcp_url is None:
        return None
    headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
    return McpEndpoint(url=settings.agent_mcp_url, headers=headers)


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
    contests: ContestRunner
    memory: MemoryBudget
    recovery: RecoveryReport = field(default_factory=RecoveryReport)
    use_cases: UseCases = field(init=False)

    def all_backends(self) -> list[tuple[str, AgentBackend]]:
        return [*self.backends.items(), *self.oneshot_backends.items()]


def build_backends(
    settings: Settings, store: Store, clock: Clock
) -> tuple[dict[str, AgentSpec], dict[str, AgentBackend], dict[str, AgentBackend]]:
    """The configured agents, a backend for each, and a one-shot backend for each warm ACP agent."""
    runtime = backend_runtime(settings)
    specs = settings.agents()
    backends = {name: build_backend(spec.backend, spec, runtime, store, clock) for name, spec in specs.items()}
    oneshot = {
        name: build_backend(BackendKind.ONE_SHOT, spec, runtime, store, clock)
        for name, spec in specs.items()
        if spec.backend is BackendKind.WARM_ACP
    }
    return specs, backends, oneshot


def assemble(
    settings: Settings,
    store: Store,
    bus: EventBus,
    worktrees: Worktrees,
    clock: Clock,
    agents: tuple[Mapping[str, AgentSpec], Mapping[str, AgentBackend], Mapping[str, AgentBackend]] | None = None,
) -> Node:
    """Wire the object graph (no I/O): constructor injection everywhere, nothing global. ``agents`` (specs,
    backends, one-shot backends) replaces the configured ones (the fast tests drive a scripted backend)."""
    specs, backends, oneshot = agents or build_backends(settings, store, clock)
    metrics = Metrics()
    pool = AgentPool(backends, store, clock, metrics, settings.idle_ttl, settings.max_live)
    registry = TurnRegistry()
    sessions = TurnSessions(pool=pool, oneshot_backends=oneshot, sessions=store, clock=clock, node_id=settings.node_id)
    watchdog = WatchdogPolicy(silence_s=settings.turn_watchdog_s, escalation_s=max(1.0, settings.turn_watchdog_s / 10))
    prices = {name: price for name, spec in specs.items() if (price := price_for(spec, settings.provider)) is not None}
    runner = TurnRunner(
        worktree_rows=store,
        queue=store,
        journal=store,
        history=store,
        bus=bus,
        worktrees=worktrees,
        sessions=sessions,
        registry=registry,
        clock=clock,
        metrics=metrics,
        watchdog=watchdog,
        prices=prices,
        native_history=HistoryBudget(max_turns=settings.history_max_turns, max_chars=settings.history_max_chars),
        handoff_max_chars=settings.handoff_max_chars,
    )
    contests = ContestRunner(
        queue=store,
        journal=store,
        arenas=store,
        bus=bus,
        worktrees=worktrees,
        sessions=sessions,
        clock=clock,
        watchdog=watchdog,
        prices=prices,
        max_parallel=settings.arena_max_parallel,
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
    bus.on_work(dispatcher.work_announced)  # a turn queued or a request relayed through any node
    runner.continuations = Continuations(chats=store, queue=store, clock=clock, wake=dispatcher.wake)
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
    reaper = Reaper(
        store, store, store, store, store, worktrees, clock, settings.reaper_grace_s, arenas=store, queue=store
    )
    intervals = JobIntervals(
        eviction_s=settings.eviction_interval_s,
        health_s=settings.health_interval_s,
        reaper_s=settings.reaper_interval_s,
        snapshot_expiry_s=max(settings.reaper_interval_s, 3600.0),
        snapshot_retention=timedelta(days=settings.snapshot_retention_days),
        health_timeout_s=settings.health_timeout_s,
        lease_renewal_s=settings.lease_ttl_s / 3,
        memory_s=settings.memory_sample_interval_s,
    )
    all_backends = {**backends, **{f"{n}/one-shot": b for n, b in oneshot.items()}}
    processes = host_processes()
    memory = MemoryBudget(
        pool=pool,
        backends=all_backends,
        processes=processes,
        clock=clock,
        metrics=metrics,
        policy=BudgetPolicy(
            budget_bytes=memory_budget_bytes(settings),
            floor=settings.memory_floor,
            background_grace_s=settings.background_grace_s,
        ),
        journal=store,
        bus=bus,
    )
    pool.admit = Admission(budget=memory, clock=clock, wait_s=settings.admission_wait_s, journal=store, bus=bus).admit
    jobs = Jobs(store, worktrees, pool, all_backends, reaper, leases, clock, intervals, memory)
    return Node(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        worktrees=worktrees,
        processes=processes,
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
        contests=contests,
        memory=memory,
    )
