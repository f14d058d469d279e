"""The TurnRegistry answers for a turn in every phase: claimed, running, finishing, gone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.turns.registry import CancelOutcome, TurnRegistry
from core.model import Task
from core.ports.agents import SessionSpec
from tests.doubles.scripted_backend import ScriptedBackend, ScriptedSession

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _task(turn_id: str, chat_id: str | None = "c1") -> Task:
    return Task(id=turn_id, chat_id=chat_id, agent="scripted", prompt="p", created_at=T0)


async def _session() -> ScriptedSession:
    opened = await ScriptedBackend().open_session(SessionSpec(chat_id="c1", agent="scripted", cwd="/w"))
    session = opened.unwrap()
    assert isinstance(session, ScriptedSession)
    return session


async def test_a_turn_cancelled_before_it_starts_does_not_start() -> None:
    registry = TurnRegistry()
    registry.claim(_task("t1"))
    assert await registry.cancel("t1") is CancelOutcome.INTERRUPTING
    assert not registry.start("t1")
    registry.release("t1")
    assert registry.get("t1") is None
    assert await registry.cancel("t1") is CancelOutcome.NOT_RUNNING_HERE


async def test_a_running_turn_is_interrupted_through_its_session() -> None:
    registry = TurnRegistry()
    registry.claim(_task("t1"))
    assert registry.start("t1")
    assert not registry.cancel_requested("t1")
    session = await _session()
    registry.attach("t1", session)
    assert await registry.cancel("t1") is CancelOutcome.INTERRUPTING
    assert registry.cancel_requested("t1")
    assert session._cancelled.is_set()


async def test_a_cancel_while_the_session_opens_is_kept_for_the_runner() -> None:
    registry = TurnRegistry()
    registry.claim(_task("t1"))
    registry.start("t1")
    assert await registry.cancel("t1") is CancelOutcome.INTERRUPTING  # no session yet
    assert registry.cancel_requested("t1")  # the runner checks this before it prompts


async def test_a_cancel_of_a_finishing_turn_waits_for_its_outcome() -> None:
    registry = TurnRegistry()
    registry.claim(_task("t1"))
    registry.start("t1")
    registry.finishing("t1")
    cancel = asyncio.ensure_future(registry.cancel("t1"))
    await asyncio.sleep(0.01)
    assert not cancel.done()  # it waits for the terminal status to be stored
    registry.release("t1")
    assert await asyncio.wait_for(cancel, 1) is CancelOutcome.NOT_RUNNING_HERE


async def test_permission_answers_reach_the_session_of_the_turn_only() -> None:
    registry = TurnRegistry()
    registry.claim(_task("t1"))
    assert not await registry.answer_permission("t1", "r1", "allow")  # no session yet
    assert not await registry.answer_permission("elsewhere", "r1", "allow")


def test_the_chats_held_are_those_with_a_turn_here() -> None:
    registry = TurnRegistry()
    registry.claim(_task("t1", "c1"))
    registry.claim(_task("t2", "c2"))
    registry.claim(_task("t3", None))
    assert registry.chats() == ["c1", "c2"]
    assert registry.turns_of("c2") == ["t2"]
    assert registry.count() == 3
    registry.release("t2")
    assert registry.chats() == ["c1"]
