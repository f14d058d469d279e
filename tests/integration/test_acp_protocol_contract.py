"""The ACP protocol contract: what any ACP agent must do for hearth, whether or not it calls an LLM.

initialize and session/new; a prompt that ends with ``end_turn``; a cancel that ends the turn ``cancelled`` (and
the next prompt still works); session/load after a respawn when the agent advertises it; errors the agent answers
with reach the turn or the session handle in the agent's own words. It runs against a minimal echo agent
(tests/fixtures/agents/echo_acp.py, written with the SDK's agent side) and, with

    HEARTH_CONTRACT_AGENT_CONFIG=path/to/agents.toml .venv/bin/pytest tests/integration/test_acp_protocol_contract.py

against every ACP agent of that file instead. The behaviour contract (test_backend_contract.py) asks more: memory,
file edits, usage, crashes, and it drives the agent through hearth's scripted LLM, so it needs an agent that calls
its LLM through hearth's provider settings.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from returns.result import Success

from adapters.store.sqlite import SqliteStore
from core.agents import AgentSpec, ProviderConfig
from core.events import AgentEvent, TurnCancelled, TurnCompleted, TurnFailed
from core.model import BackendKind
from core.ports.agents import AgentBackend, SessionHandle, SessionSpec
from tests.plugins.backends import SystemClock, TurnResult, backend_factory, configured_cases, make_runtime
from tests.plugins.backends import run_turn as drive

pytestmark = pytest.mark.asyncio(loop_scope="module")

ECHO_AGENT = Path(__file__).parents[1] / "fixtures" / "agents" / "echo_acp.py"
ACP_BACKENDS = (BackendKind.WARM_ACP, BackendKind.ONE_SHOT)


@dataclass(frozen=True)
class ProtocolCase:
    id: str
    spec: AgentSpec
    long_prompt: str  # still running when the first event arrives, so a cancel lands mid-turn
    advertises_load: bool | None  # None: whatever the agent advertises
    failing_prompt: tuple[str, str] | None = None  # a prompt the agent answers with an error, and words of it


def _echo_case() -> ProtocolCase:
    spec = AgentSpec(name="echo", backend=BackendKind.WARM_ACP, command=sys.executable, args=(str(ECHO_AGENT),))
    return ProtocolCase(
        "echo-acp", spec, "WAIT", advertises_load=True, failing_prompt=("FAIL out of ink", "out of ink")
    )


def protocol_cases() -> list[ProtocolCase]:
    configured = [
        ProtocolCase(case.id, case.spec, "Count slowly from 1 to 500, one number per line.", advertises_load=None)
        for case in configured_cases()
        if case.spec.backend in ACP_BACKENDS
    ]
    return configured or [_echo_case()]


CASES = protocol_cases()


@dataclass
class Live:
    case: ProtocolCase
    backend: AgentBackend
    handle: SessionHandle
    cwd: Path

    async def turn(self, turn_id: str, prompt: str, **kwargs: object) -> TurnResult:
        return await drive(self.handle, turn_id, prompt, **kwargs)  # type: ignore[arg-type]

    async def reopen(self, resume_id: str) -> SessionHandle:
        spec = SessionSpec(chat_id=f"protocol-{self.case.id}", agent=self.case.spec.name, cwd=str(self.cwd))
        opened = await self.backend.open_session(spec.model_copy(update={"resume_id": resume_id}))
        assert isinstance(opened, Success), opened
        self.handle = opened.unwrap()
        return self.handle


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=CASES, ids=[case.id for case in CASES])
async def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    provider_config: ProviderConfig,
    process_registry: SqliteStore,
) -> AsyncIterator[Live]:
    case: ProtocolCase = request.param
    root = tmp_path_factory.mktemp(f"protocol-{case.id}")
    cwd = root / "cwd"
    cwd.mkdir()
    spec = case.spec
    if case.id == "echo-acp":  # its session ids outlive a respawn in this file
        spec = spec.model_copy(update={"env": {"ECHO_ACP_SESSIONS": str(root / "echo-sessions.txt")}})
    runtime = make_runtime(root / "data", provider_config)
    backend = backend_factory(spec)(spec, runtime, process_registry, SystemClock())
    try:
        opened = await backend.open_session(SessionSpec(chat_id=f"protocol-{case.id}", agent=spec.name, cwd=str(cwd)))
        assert isinstance(opened, Success), f"initialize or session/new failed: {opened}"
        yield Live(case, backend, opened.unwrap(), cwd)
    finally:
        await backend.aclose()


async def test_initialize_and_new_session_give_a_fresh_session(live: Live) -> None:
    assert live.handle.backend_session_id, "session/new must answer with a session id"
    assert not live.handle.resumed


async def test_a_prompt_ends_with_end_turn(live: Live) -> None:
    turn = await live.turn("p1", "Say hello in one short line.")
    assert isinstance(turn.terminal, TurnCompleted), turn.events
    assert turn.terminal.stop_reason == "end_turn"
    if live.case.id == "echo-acp":
        assert turn.text == "echo: Say hello in one short line."


async def test_cancel_ends_the_turn_cancelled_and_the_next_prompt_completes(live: Live) -> None:
    async def cancel_on_first_event(event: AgentEvent) -> None:
        await live.handle.cancel()

    cancelled = await live.turn("p2", live.case.long_prompt, on_event=cancel_on_first_event)
    assert isinstance(cancelled.terminal, TurnCancelled), cancelled.events
    after = await live.turn("p3", "Say hello again in one short line.")
    assert isinstance(after.terminal, TurnCompleted), after.events


async def test_a_respawned_agent_loads_the_session_when_it_advertises_load(live: Live) -> None:
    session_id = live.handle.backend_session_id
    await live.backend.restart("protocol contract: a new process must load the session")
    handle = await live.reopen(session_id)
    if live.case.advertises_load is None and not handle.resumed:
        assert handle.context_reset_reason, "a session that was not loaded must say why"
    else:
        assert handle.resumed == bool(live.case.advertises_load), handle.context_reset_reason
        assert handle.backend_session_id == session_id
    turn = await live.turn("p4", "Say hello after the respawn.")
    assert isinstance(turn.terminal, TurnCompleted), turn.events


async def test_errors_reach_hearth_in_the_agents_words(live: Live) -> None:
    unknown = "no-such-session-of-the-protocol-contract"
    handle = await live.reopen(unknown)
    assert not handle.resumed
    assert handle.context_reset_reason, "a session that could not be loaded must say why"
    if live.case.advertises_load:
        assert unknown in handle.context_reset_reason
        assert "has no session" in handle.context_reset_reason  # the echo agent's own words
    if live.case.failing_prompt is not None:
        prompt, words = live.case.failing_prompt
        failed = await live.turn("p5", prompt)
        assert isinstance(failed.terminal, TurnFailed), failed.events
        assert words in failed.terminal.error, failed.terminal.error
    after = await live.turn("p6", "Say hello after the error.")
    assert isinstance(after.terminal, TurnCompleted), after.events
