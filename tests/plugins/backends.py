"""Backend factories for the backend contract suite and the ACP integration tests.

A ``BackendCase`` says how to build one backend for one agent and what it declares about itself (does it
keep memory across a respawn, does it report usage, does it run a process that can crash). Built-in cases
cover every built-in agent; ``HEARTH_CONTRACT_AGENT_CONFIG=path/to/agents.toml`` adds every agent of an
operator's config file, so a new ACP agent is checked with one command:

    HEARTH_CONTRACT_AGENT_CONFIG=agents.toml .venv/bin/pytest tests/integration/test_backend_contract.py

(the behaviour contract, for agents that call their LLM through hearth's provider settings);
tests/integration/test_acp_protocol_contract.py takes the same variable for the protocol contract any ACP agent
must pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
import pytest_asyncio
from returns.result import Failure

from adapters.acp.oneshot import OneShotAcpBackend
from adapters.acp.warm import WarmAcpBackend
from adapters.agent_install import install_command, resolve_command
from adapters.store.sqlite import SqliteStore
from app.settings import load_configured_agents
from core.agents import BUILTIN_AGENTS, AgentSpec, ProviderConfig
from core.events import AgentEvent, TextDelta, is_terminal
from core.model import BackendKind, TranscriptEntry
from core.ports.agents import AgentBackend, BackendRuntime, SessionHandle, TurnInput
from core.ports.clock import Clock
from core.ports.store import ProcessRegistry

AGENTS_DIR = Path(os.environ.get("HEARTH_CACHE_DIR", str(Path.home() / ".cache" / "hearth"))) / "agents"
CONTRACT_CONFIG_VAR = "HEARTH_CONTRACT_AGENT_CONFIG"
TURN_TIMEOUT_S = 120.0

UsageDeclaration = Literal["reported", "absent", "either"]
BackendFactory = Callable[[AgentSpec, BackendRuntime, ProcessRegistry, Clock], AgentBackend]


class SystemClock:
    """The real clock (UTC wall time, monotonic seconds)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class BackendCase:
    id: str
    spec: AgentSpec
    memory_survives_crash: bool  # resume restores the conversation (else a context reset is declared)
    usage: UsageDeclaration
    has_process: bool = True  # runs an agent process that can crash and be respawned

    def build(self, runtime: BackendRuntime, registry: ProcessRegistry, clock: Clock) -> AgentBackend:
        return backend_factory(self.spec)(self.spec, runtime, registry, clock)


def _builtin(name: str) -> AgentSpec:
    return next(spec for spec in BUILTIN_AGENTS if spec.name == name)


def builtin_cases() -> list[BackendCase]:
    return [
        BackendCase("warm-acp-qwen", _builtin("qwen"), memory_survives_crash=True, usage="reported"),
        BackendCase("warm-acp-claude", _builtin("claude"), memory_survives_crash=True, usage="absent"),
        BackendCase("warm-acp-gemini", _builtin("gemini"), memory_survives_crash=False, usage="reported"),
        BackendCase("warm-acp-opencode-acp", _builtin("opencode-acp"), memory_survives_crash=True, usage="reported"),
        BackendCase("opencode-server", _builtin("opencode"), memory_survives_crash=True, usage="reported"),
        BackendCase("native", _builtin("native"), memory_survives_crash=True, usage="reported", has_process=False),
    ]


def configured_cases() -> list[BackendCase]:
    """Every agent of the file named by HEARTH_CONTRACT_AGENT_CONFIG (what it guarantees is unknown: either)."""
    path = os.environ.get(CONTRACT_CONFIG_VAR)
    if not path:
        return []
    return [
        BackendCase(f"configured-{spec.name}", spec, memory_survives_crash=False, usage="either")
        for spec in load_configured_agents(Path(path))
    ]


def contract_cases() -> list[BackendCase]:
    configured = configured_cases()
    return configured if configured else builtin_cases()


def backend_factory(spec: AgentSpec) -> BackendFactory:
    match spec.backend:
        case BackendKind.WARM_ACP:
            return WarmAcpBackend
        case BackendKind.ONE_SHOT:
            return OneShotAcpBackend
        case BackendKind.OPENCODE_SERVER:
            return _late("adapters.opencode.backend", "OpenCodeServerBackend")
        case BackendKind.NATIVE:
            native = _late("adapters.native.agent", "NativeBackend")
            return lambda spec, runtime, _registry, _clock: native(spec, runtime)


def _late(module: str, name: str) -> Callable[..., AgentBackend]:
    """Backends built by other areas are imported when used, so one missing module names itself clearly."""
    from tests.plugins.environment import unavailable  # imported late: plugins load in name order

    try:
        factory: Callable[..., AgentBackend] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        unavailable(f"{module}.{name} is not available: {error}")
    return factory


def require_agent(spec: AgentSpec) -> None:
    """Fail (CI) or skip (locally) with the install command when the agent's executable is missing."""
    from tests.plugins.environment import unavailable  # imported late: plugins load in name order

    if spec.backend is BackendKind.NATIVE:
        return
    if isinstance(resolve_command(spec, AGENTS_DIR), Failure):
        unavailable(f"agent {spec.name!r} is not installed in {AGENTS_DIR}; run: {install_command(spec)}")


def make_runtime(data_dir: Path, provider: ProviderConfig, **overrides: float) -> BackendRuntime:
    return BackendRuntime(
        data_dir=str(data_dir), agents_dir=str(AGENTS_DIR), node_id="test-node", provider=provider, **overrides
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def process_registry(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SqliteStore]:
    """A real SQLite store as the ProcessRegistry backends record their processes in."""
    store = await SqliteStore.open(tmp_path_factory.mktemp("registry") / "hearth.sqlite3")
    yield store
    await store.close()


@dataclass
class TurnResult:
    events: list[AgentEvent]

    @property
    def terminal(self) -> AgentEvent:
        return self.events[-1]

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    def of_type(self, kind: str) -> list[AgentEvent]:
        return [e for e in self.events if e.type == kind]


async def run_turn(
    handle: SessionHandle,
    turn_id: str,
    prompt: str,
    transcript: Sequence[TranscriptEntry] = (),
    on_event: Callable[[AgentEvent], object] | None = None,
) -> TurnResult:
    """Drive one turn to its terminal event (bounded), calling ``on_event`` for each event as it arrives."""
    events: list[AgentEvent] = []
    turn = TurnInput(turn_id=turn_id, prompt=prompt, transcript=tuple(transcript))
    async with asyncio.timeout(TURN_TIMEOUT_S), contextlib.aclosing(handle.run_turn(turn)) as stream:
        async for event in stream:
            events.append(event)
            if on_event is not None:
                result = on_event(event)
                if asyncio.iscoroutine(result):
                    await result
            if is_terminal(event):
                break
    assert events, "the turn produced no events"
    assert is_terminal(events[-1]), f"the turn ended without a terminal event: {events[-3:]}"
    return TurnResult(events)
