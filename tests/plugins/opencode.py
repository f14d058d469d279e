"""Fixtures and helpers for tests that drive the real `opencode serve` against the scripted LLM.

The binary comes from hearth's agent cache (``hearth agents install opencode``); without it the tests
are skipped locally and fail under CI=true (``unavailable``). Each user of ``opencode_backend`` gets its
own state dir; the server is stopped and reaped on exit.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from pathlib import Path

import pygit2
import pytest
from returns.result import Failure

from adapters.agent_install import resolve_command
from adapters.opencode.backend import OpenCodeServerBackend
from adapters.store.sqlite import SqliteStore
from app.clock import SystemClock
from core.agents import BUILTIN_AGENTS, AgentSpec, ProviderConfig
from core.events import AgentEvent, is_terminal
from core.ports.agents import BackendRuntime, SessionHandle, TurnInput
from tests.plugins.environment import unavailable

OPENCODE_SPEC: AgentSpec = next(spec for spec in BUILTIN_AGENTS if spec.name == "opencode")


def agents_dir() -> Path:
    cache = os.environ.get("HEARTH_CACHE_DIR")
    return (Path(cache) if cache else Path.home() / ".cache" / "hearth") / "agents"


@pytest.fixture(scope="session")
def opencode_agents_dir() -> Path:
    """hearth's agent cache with opencode in it, or an `unavailable` naming the install command."""
    found = resolve_command(OPENCODE_SPEC, agents_dir())
    if isinstance(found, Failure):
        unavailable(found.failure().detail)
    return agents_dir()


def make_git_repo(path: Path) -> Path:
    """A real git repository with one commit (stands in for a chat worktree)."""
    path.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(path), initial_head="main")
    (path / "README.md").write_text("# test repo\n")
    repo.index.add("README.md")
    repo.index.write()
    signature = pygit2.Signature("hearth test", "test@hearth.invalid")
    repo.create_commit("HEAD", signature, signature, "initial", repo.index.write_tree(), [])
    return path


def opencode_runtime(data_dir: Path, agents: Path, provider: ProviderConfig, **overrides: object) -> BackendRuntime:
    fields: dict[str, object] = {
        "data_dir": str(data_dir),
        "agents_dir": str(agents),
        "node_id": "node-test",
        "provider": provider,
        **overrides,
    }
    return BackendRuntime.model_validate(fields)


@asynccontextmanager
async def opencode_backend(
    runtime: BackendRuntime,
    store: SqliteStore,
    stream_idle_timeout_s: float | None = None,
    spec: AgentSpec = OPENCODE_SPEC,
) -> AsyncIterator[OpenCodeServerBackend]:
    backend = OpenCodeServerBackend(spec, runtime, store, SystemClock(), stream_idle_timeout_s)
    try:
        yield backend
    finally:
        await backend.aclose()


@asynccontextmanager
async def sqlite_registry(path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(path)
    try:
        yield store
    finally:
        await store.close()


async def run_turn(
    handle: SessionHandle,
    turn_id: str,
    prompt: str,
    on_event: Callable[[AgentEvent], Awaitable[None]] | None = None,
) -> list[AgentEvent]:
    """All events of one turn; ``on_event`` sees each as it arrives (to cancel or kill mid-turn)."""
    events: list[AgentEvent] = []
    async with aclosing(handle.run_turn(TurnInput(turn_id=turn_id, prompt=prompt))) as stream:
        async for event in stream:
            events.append(event)
            if on_event is not None:
                await on_event(event)
            if is_terminal(event):
                break
    return events
