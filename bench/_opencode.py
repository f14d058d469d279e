"""Shared set-up of the OpenCode benchmarks: the scripted LLM, a registry, a backend, a git directory."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path

import pygit2

from adapters.opencode.backend import OpenCodeServerBackend
from adapters.store.sqlite import SqliteStore
from app.clock import SystemClock
from app.settings import Settings
from core.agents import BUILTIN_AGENTS, ProviderConfig
from core.events import TurnCompleted, is_terminal
from core.ports.agents import BackendRuntime, SessionHandle, TurnInput
from scripted_llm.llm import ScriptedLLM

SPEC = next(spec for spec in BUILTIN_AGENTS if spec.name == "opencode")


def provider_for(llm: ScriptedLLM) -> ProviderConfig:
    return ProviderConfig(openai_base_url=llm.openai_base_url, openai_api_key="fake", openai_model="fake-model")


def runtime_for(data_dir: Path, provider: ProviderConfig) -> BackendRuntime:
    return BackendRuntime(
        data_dir=str(data_dir), agents_dir=str(Settings().agents_dir), node_id="bench", provider=provider
    )


def git_dir(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(path), initial_head="main")
    (path / "README.md").write_text("# bench\n")
    repo.index.add("README.md")
    repo.index.write()
    who = pygit2.Signature("bench", "bench@hearth.invalid")
    repo.create_commit("HEAD", who, who, "initial", repo.index.write_tree(), [])
    return str(path)


def linked_worktree(path: Path) -> str:
    """A linked worktree (``git worktree add``) of a fresh repository made by ``git_dir``: the kind of directory a
    chat's agents work in, so an agent driven directly does the same git work on it as under hearth."""
    repo = pygit2.Repository(git_dir(path / "repo"))
    repo.add_worktree("direct", str(path / "worktree"))
    return str(path / "worktree")


@asynccontextmanager
async def backend_at(runtime: BackendRuntime, store: SqliteStore) -> AsyncIterator[OpenCodeServerBackend]:
    backend = OpenCodeServerBackend(SPEC, runtime, store, SystemClock())
    try:
        yield backend
    finally:
        await backend.aclose()


async def turn(handle: SessionHandle, turn_id: str, prompt: str) -> None:
    async with aclosing(handle.run_turn(TurnInput(turn_id=turn_id, prompt=prompt))) as events:
        async for event in events:
            if is_terminal(event):
                if not isinstance(event, TurnCompleted):
                    raise RuntimeError(f"turn {turn_id} did not complete: {event!r}")
                return
    raise RuntimeError(f"turn {turn_id} ended without a terminal event")


def timer() -> float:
    return time.perf_counter()
