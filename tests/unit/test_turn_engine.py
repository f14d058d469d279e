"""The turn engine end to end in milliseconds: dispatcher, registry, runner and use cases over the fast store and a
scripted agent. Real git worktrees; no agent process, no HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.turns.journal import CANCELLED_BEFORE_START
from app.turns.runner import SHUTDOWN_ERROR
from app.usecases.errors import Refused
from core.events import PermissionResolved, TextDelta, ToolCall, TurnCancelled, TurnFailed, is_terminal
from core.model import AgentSessionStatus, TaskOrigin, TaskStatus
from core.ports.store import Store
from tests.doubles.engine import AGENT, Engine, running_engine
from tests.doubles.scripted_backend import Gate, ScriptedBackend, ask

CHAT = TaskOrigin.CHAT


def text(value: str) -> TextDelta:
    return TextDelta(session_id="", turn_id="", part_id="p", text=value)


@pytest.fixture
async def engine(fast_store: Store, git_repo: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    async with running_engine(fast_store, git_repo.parent, tmp_path / "worktrees") as running:
        yield running


async def _chat(engine: Engine, git_repo: Path) -> str:
    return (await engine.chats.create(str(git_repo), None, None)).id


async def test_a_turn_runs_to_success_and_its_text_is_journaled(engine: Engine, git_repo: Path) -> None:
    chat = await _chat(engine, git_repo)
    engine.backend.script([text("hello")])
    turn = await engine.turns.submit(chat, AGENT, "hi", None, CHAT)
    done = await engine.finished(turn.id)
    assert done.status is TaskStatus.SUCCEEDED
    events = await engine.store.list_events(turn.id)
    assert [e.event.type for e in events] == ["text_delta", "turn_completed"]
    (session,) = await engine.store.list_agent_sessions(chat)
    assert session.status is AgentSessionStatus.IDLE
    assert session.turns == 1


async def test_turns_of_one_chat_run_in_order_and_other_chats_run_alongside(engine: Engine, git_repo: Path) -> None:
    first_chat, other_chat = await _chat(engine, git_repo), await _chat(engine, git_repo)
    gate = Gate()
    engine.backend.script([gate], [text("second")], [text("other")])
    first = await engine.turns.submit(first_chat, AGENT, "one", None, CHAT)
    await asyncio.wait_for(gate.reached.wait(), 5)
    second = await engine.turns.submit(first_chat, AGENT, "two", None, CHAT)
    other = await engine.turns.submit(other_chat, AGENT, "three", None, CHAT)
    assert (await engine.finished(other.id)).status is TaskStatus.SUCCEEDED  # not blocked by the busy chat
    assert (await engine.store.get_task(second.id)).status is TaskStatus.QUEUED  # type: ignore[union-attr]
    gate.open()
    assert (await engine.finished(first.id)).status is TaskStatus.SUCCEEDED
    assert (await engine.finished(second.id)).status is TaskStatus.SUCCEEDED


async def test_cancel_reaches_a_running_turn_and_a_queued_one(engine: Engine, git_repo: Path) -> None:
    chat = await _chat(engine, git_repo)
    gate = Gate()
    engine.backend.script([gate])
    running = await engine.turns.submit(chat, AGENT, "slow", None, CHAT)
    await asyncio.wait_for(gate.reached.wait(), 5)
    queued = await engine.turns.submit(chat, AGENT, "later", None, CHAT)
    _, dequeued = await engine.turns.cancel(chat, queued.id)
    _, interrupting = await engine.turns.cancel(chat, running.id)
    assert (dequeued, interrupting) == ("dequeued", "interrupting")
    assert (await engine.finished(running.id)).status is TaskStatus.CANCELLED
    assert (await engine.finished(queued.id)).status is TaskStatus.CANCELLED
    (journaled,) = await engine.store.list_events(queued.id)  # its stream ends saying why
    assert isinstance(journaled.event, TurnCancelled)
    assert journaled.event.reason == CANCELLED_BEFORE_START
    _, again = await engine.turns.cancel(chat, running.id)
    assert again == "already_finished"


async def test_a_turn_the_watchdog_cancels_says_hearth_cancelled_a_silent_agent(
    fast_store: Store, git_repo: Path, tmp_path: Path
) -> None:
    async with running_engine(fast_store, git_repo.parent, tmp_path / "worktrees", turn_watchdog_s=0.3) as engine:
        chat = await _chat(engine, git_repo)
        engine.backend.script([Gate()])  # never opened: the agent is silent and only the cancel ends the turn
        turn = await engine.turns.submit(chat, AGENT, "silent", None, CHAT)
        finished = await engine.finished(turn.id)
        events = await engine.store.list_events(turn.id)
    assert finished.status is TaskStatus.CANCELLED
    assert finished.error is not None
    assert "hearth's turn watchdog cancelled the turn" in finished.error
    assert "agent sent nothing for" in finished.error
    assert "by request" not in finished.error
    assert isinstance(events[-1].event, TurnCancelled)
    assert events[-1].event.reason == finished.error


async def test_a_tool_call_left_running_by_a_cancelled_turn_is_closed_with_the_terminal(
    engine: Engine, git_repo: Path
) -> None:
    chat = await _chat(engine, git_repo)
    gate = Gate()
    shell = ToolCall(session_id="", turn_id="", tool_call_id="call-1", name="bash", status="running", output="tick")
    engine.backend.script([shell, gate])  # the agent ends the turn without ever finishing the tool
    running = await engine.turns.submit(chat, AGENT, "sleep", None, CHAT)
    await asyncio.wait_for(gate.reached.wait(), 5)
    await engine.turns.cancel(chat, running.id)
    assert (await engine.finished(running.id)).status is TaskStatus.CANCELLED
    events = [stored.event for stored in await engine.store.list_events(running.id)]
    assert isinstance(events[-1], TurnCancelled)
    last_state = {e.tool_call_id: e for e in events if isinstance(e, ToolCall)}
    assert last_state["call-1"].status == "failed"
    output = str(last_state["call-1"].output)
    assert "the turn was cancelled before this tool reported its result" in output
    assert output.startswith("tick")


async def test_a_permission_answer_reaches_the_waiting_question(engine: Engine, git_repo: Path) -> None:
    chat = await _chat(engine, git_repo)
    engine.backend.script([*ask("r1"), text("done")])
    turn = await engine.turns.submit(chat, AGENT, "edit", None, CHAT)
    await engine.until(lambda: bool(engine.backend.sessions) and bool(engine.backend.sessions[0]._answers))
    assert await engine.turns.answer_permission(chat, turn.id, "r1", "allow") is None  # answered here
    with pytest.raises(Refused) as unknown:
        await engine.turns.answer_permission(chat, turn.id, "r1", "allow")  # nothing waits any more
    assert unknown.value.error.field == "request_id"
    assert (await engine.finished(turn.id)).status is TaskStatus.SUCCEEDED
    outcomes = [
        e.event.outcome for e in await engine.store.list_events(turn.id) if isinstance(e.event, PermissionResolved)
    ]
    assert "allow_once" in outcomes


async def test_an_answer_naming_an_option_not_offered_is_refused_and_the_question_still_waits(
    engine: Engine, git_repo: Path
) -> None:
    chat = await _chat(engine, git_repo)
    engine.backend.script([*ask("r1"), text("done")])  # offers the one option "allow"
    turn = await engine.turns.submit(chat, AGENT, "edit", None, CHAT)
    await engine.until(lambda: bool(engine.backend.sessions) and bool(engine.backend.sessions[0]._answers))
    with pytest.raises(Refused) as unknown:
        await engine.turns.answer_permission(chat, turn.id, "r1", "always")
    assert (unknown.value.error.kind, unknown.value.error.field) == ("invalid_input", "option_id")
    assert "'always'" in unknown.value.error.detail
    assert "allow" in unknown.value.error.detail  # the options offered
    assert await engine.turns.answer_permission(chat, turn.id, "r1", "allow") is None  # it still waited
    with pytest.raises(Refused) as answered:
        await engine.turns.answer_permission(chat, turn.id, "r1", "always")  # nothing waits: 404, not 422
    assert (answered.value.error.kind, answered.value.error.field) == ("not_found", "request_id")
    assert (await engine.finished(turn.id)).status is TaskStatus.SUCCEEDED


async def test_an_agent_that_cannot_start_fails_the_turn_saying_why(engine: Engine, git_repo: Path) -> None:
    chat = await _chat(engine, git_repo)
    engine.backend.open_failure = "scripted: not installed; run: npm install scripted"
    turn = await engine.turns.submit(chat, AGENT, "hi", None, CHAT)
    done = await engine.finished(turn.id)
    assert (done.status, done.error) == (TaskStatus.FAILED, "scripted: not installed; run: npm install scripted")


async def test_a_failed_turn_keeps_the_agents_error(engine: Engine, git_repo: Path) -> None:
    chat = await _chat(engine, git_repo)
    engine.backend.script([TurnFailed(session_id="", turn_id="", error="the LLM said no")])
    done = await engine.finished((await engine.turns.submit(chat, AGENT, "hi", None, CHAT)).id)
    assert (done.status, done.error) == (TaskStatus.FAILED, "the LLM said no")


async def test_bad_submissions_are_refused_and_store_nothing(engine: Engine, git_repo: Path) -> None:
    chat = await _chat(engine, git_repo)
    for agent, prompt, field in (("nobody", "hi", "agent"), (AGENT, "  ", "prompt"), (AGENT, "x" * 10_001, "prompt")):
        with pytest.raises(Refused) as refused:
            await engine.turns.submit(chat, agent, prompt, None, CHAT)
        assert refused.value.error.field == field
    with pytest.raises(Refused) as missing:
        await engine.turns.submit("chat-missing", AGENT, "hi", None, CHAT)
    assert missing.value.error.kind == "not_found"
    assert await engine.store.list_tasks(chat) == []


async def test_shutdown_fails_a_turn_that_outlives_the_grace(fast_store: Store, git_repo: Path, tmp_path: Path) -> None:
    backend = ScriptedBackend(AGENT)
    backend.script([Gate()])  # never opened: the turn outlives the grace
    async with running_engine(fast_store, git_repo.parent, tmp_path / "w", backend=backend) as engine:
        chat = await _chat(engine, git_repo)
        turn = await engine.turns.submit(chat, AGENT, "forever", None, CHAT)
        await engine.until(lambda: engine.registry.get(turn.id) is not None and bool(backend.sessions))
    done = await fast_store.get_task(turn.id)
    assert done is not None
    assert (done.status, done.error) == (TaskStatus.FAILED, SHUTDOWN_ERROR)
    terminals = [row for row in await fast_store.list_events(turn.id) if is_terminal(row.event)]
    assert [row.event.type for row in terminals] == ["turn_failed"]  # exactly one terminal event
    assert backend.sessions[0]._cancelled.is_set()  # the agent was interrupted, not left working
