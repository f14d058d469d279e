"""Warm ACP backend on the real agents (qwen, Claude Code, gemini, OpenCode over ACP) and the scripted LLM.

One warm process per agent for the whole module: the tests run in order against it, like turns of a chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from returns.result import Success

from adapters.acp.warm import WarmAcpBackend
from adapters.store.sqlite import SqliteStore
from core.agents import BUILTIN_AGENTS, ProviderConfig
from core.events import AgentEvent, ReasoningDelta, TextDelta, ToolCall, TurnCancelled, TurnCompleted, TurnFailed
from core.lifecycle import SupervisionPolicy
from core.ports.agents import SessionHandle, SessionSpec, TurnInput
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import SystemClock, make_runtime, require_agent, run_turn

pytestmark = [pytest.mark.agents, pytest.mark.asyncio(loop_scope="module")]

AGENTS = ("qwen", "claude", "gemini", "opencode-acp")
# gemini's resume finds a session only if gemini had written it to disk before it died: not always after a kill -9
LOAD_WORKS = {"qwen": True, "claude": True, "gemini": False, "opencode-acp": True}
FAST_RESTART = SupervisionPolicy(backoff_initial_s=0.05, backoff_max_s=0.2)


@dataclass
class Warm:
    name: str
    backend: WarmAcpBackend
    handle: SessionHandle
    worktree: Path
    llm: ScriptedLLM

    def pid(self) -> int:
        (info,) = self.backend.processes()
        return info.pid


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=AGENTS)
async def warm(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    provider_config: ProviderConfig,
    scripted_llm: ScriptedLLM,
    process_registry: SqliteStore,
) -> AsyncIterator[Warm]:
    name: str = request.param
    spec = next(s for s in BUILTIN_AGENTS if s.name == name)
    require_agent(spec)
    root = tmp_path_factory.mktemp(f"acp-{name}")
    worktree = root / "worktree"
    worktree.mkdir()
    runtime = make_runtime(root / "data", provider_config)
    backend = WarmAcpBackend(spec, runtime, process_registry, SystemClock(), policy=FAST_RESTART)
    opened = await backend.open_session(SessionSpec(chat_id="chat-1", agent=name, cwd=str(worktree)))
    assert isinstance(opened, Success), opened
    yield Warm(name, backend, opened.unwrap(), worktree, scripted_llm)
    await backend.aclose()


async def test_two_turns_reuse_one_process_and_one_session(warm: Warm, process_registry: SqliteStore) -> None:
    pid, session_id = warm.pid(), warm.handle.backend_session_id
    assert [r.pid for r in await process_registry.list_processes("test-node")].count(pid) == 1
    target = warm.worktree / "hello.txt"
    first = await run_turn(warm.handle, "t1", f"THINK please WRITE {target} Hello from {warm.name} turn one")

    assert isinstance(first.terminal, TurnCompleted), first.events
    assert "Let me think step by step" in "".join(e.text for e in first.events if isinstance(e, ReasoningDelta))
    tools = [e for e in first.events if isinstance(e, ToolCall)]
    assert tools, "the write tool call was not mapped"
    assert tools[-1].status == "completed"
    assert {e.session_id for e in first.events} == {session_id}
    assert {e.turn_id for e in first.events} == {"t1"}
    assert target.read_text() == f"Hello from {warm.name} turn one\n"

    second = await run_turn(warm.handle, "t2", "RECALL")
    assert isinstance(second.terminal, TurnCompleted), second.events
    assert f"Hello from {warm.name} turn one" in second.text
    recall = [entry for entry in warm.llm.log() if "RECALL" in str(entry.get("last_user"))]
    assert recall, "turn 2 never reached the LLM"
    # The request carried turn one: the scripted reply above quotes it. The log truncates each earlier user
    # text to ~200 chars, and Claude and gemini put their context block in front of the first prompt.
    assert recall[-1]["prior_users"], recall[-1]
    assert int(str(recall[-1]["n_messages"])) >= 3, recall[-1]
    assert warm.pid() == pid
    assert warm.handle.backend_session_id == session_id


async def test_cancel_returns_cancelled_and_the_next_turn_completes(warm: Warm) -> None:
    pid = warm.pid()

    async def cancel_on_first_text(event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            await warm.handle.cancel()

    cancelled = await run_turn(warm.handle, "t3", "SLOW=0.3 count slowly", on_event=cancel_on_first_text)
    assert isinstance(cancelled.terminal, TurnCancelled), cancelled.events
    assert warm.pid() == pid, "cancel must never kill the agent"

    after = await run_turn(warm.handle, "t4", "ping after cancel")
    assert isinstance(after.terminal, TurnCompleted), after.events
    assert "ping after cancel" in after.text
    assert warm.handle.is_alive()


async def test_a_cancel_right_after_run_turn_is_called_ends_the_turn_without_prompting(warm: Warm) -> None:
    stream = warm.handle.run_turn(TurnInput(turn_id="t3b", prompt="EARLY-CANCEL never prompted"))
    await warm.handle.cancel()  # before the consumer's first step: the generator has not run yet
    async with asyncio.timeout(30), contextlib.aclosing(stream):
        events = [event async for event in stream]

    assert [type(e) for e in events] == [TurnCancelled], events
    assert not any("EARLY-CANCEL" in str(entry.get("last_user")) for entry in warm.llm.log())
    after = await run_turn(warm.handle, "t3c", "ping after an early cancel")
    assert isinstance(after.terminal, TurnCompleted), after.events


async def test_a_closed_handle_reopens_the_same_session_in_the_same_warm_process(warm: Warm) -> None:
    pid, session_id = warm.pid(), warm.handle.backend_session_id
    await warm.handle.close()  # what eviction does
    assert not warm.handle.is_alive()
    reopened = await warm.backend.open_session(
        SessionSpec(chat_id="chat-1", agent=warm.name, cwd=str(warm.worktree), resume_id=session_id)
    )
    assert isinstance(reopened, Success), reopened
    warm.handle = reopened.unwrap()
    assert (warm.handle.backend_session_id, warm.handle.resumed, warm.pid()) == (session_id, True, pid)
    recalled = await run_turn(warm.handle, "t4b", "RECALL after reopening")
    assert isinstance(recalled.terminal, TurnCompleted), recalled.events
    assert "turn one" in recalled.text


async def test_kill_9_mid_turn_fails_clearly_then_the_next_turn_resumes(warm: Warm) -> None:
    old_pid, old_session = warm.pid(), warm.handle.backend_session_id

    def kill_on_first_text(event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            os.kill(old_pid, signal.SIGKILL)

    crashed = await run_turn(warm.handle, "t5", "SLOW=0.3 a long answer", on_event=kill_on_first_text)
    assert isinstance(crashed.terminal, TurnFailed), crashed.events
    assert f"pid {old_pid}) was killed by SIGKILL (exit code -9)" in crashed.terminal.error
    assert "stderr" in crashed.terminal.error
    assert not warm.handle.is_alive()

    reopened = await warm.backend.open_session(
        SessionSpec(chat_id="chat-1", agent=warm.name, cwd=str(warm.worktree), resume_id=old_session)
    )
    assert isinstance(reopened, Success), reopened
    handle = warm.handle = reopened.unwrap()
    assert warm.pid() != old_pid
    if LOAD_WORKS[warm.name]:
        assert handle.resumed
    if handle.resumed:  # gemini too, when it had written the session to disk before the kill (a race)
        assert handle.context_reset_reason is None
        assert handle.backend_session_id == old_session
    else:
        assert handle.context_reset_reason is not None
        assert "could not resume" in handle.context_reset_reason

    recalled = await run_turn(handle, "t6", "RECALL after respawn")
    assert isinstance(recalled.terminal, TurnCompleted), recalled.events
    # the replayed history (turn one's reasoning and write) is not re-emitted as this turn's events
    assert not [e for e in recalled.events if isinstance(e, ToolCall | ReasoningDelta)]
    assert {e.turn_id for e in recalled.events} == {"t6"}
    assert ("turn one" in recalled.text) is handle.resumed
    health = await warm.backend.health()
    assert health["alive"] is True
    assert health["state"] == "healthy"


async def test_a_write_outside_the_worktree_does_not_land(warm: Warm) -> None:
    # Last in the module: Claude Code hands the refused tool's result to the model with the next prompt.
    outside = warm.worktree.parent / "outside"
    outside.mkdir()
    turn = await run_turn(warm.handle, "t7", f"WRITE {outside / 'escape.txt'} must not land")
    assert isinstance(turn.terminal, TurnCompleted), turn.events
    assert not (outside / "escape.txt").exists()
    assert [e.status for e in turn.events if isinstance(e, ToolCall)][-1:] in ([], ["failed"]), turn.events
