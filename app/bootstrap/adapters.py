"""The adapters hearth runs on, chosen from the settings: the only place in app/ that names them."""

from __future__ import annotations

from collections.abc import Callable
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
from adapters.procfs import ProcFs, memory_total_bytes
from adapters.store.postgres import PostgresStore
from adapters.store.sqlite import SqliteStore
from app.settings import Settings
from core.agents import AgentSpec
from core.errors import DomainError
from core.model import BackendKind
from core.ports.agents import AgentBackend, BackendRuntime
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.processes import HostProcesses
from core.ports.store import Store
from core.ports.worktrees import Worktrees


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


def host_processes() -> HostProcesses:
    return ProcFs()


def memory_budget_bytes(settings: Settings) -> int:
    """HEARTH_MEMORY_BUDGET_MIB, else half of the host's memory (0: no budget)."""
    if settings.memory_budget_mib is not None:
        return settings.memory_budget_mib * 1024 * 1024
    return memory_total_bytes() // 2
