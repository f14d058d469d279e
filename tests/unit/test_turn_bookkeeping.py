"""Lean bookkeeping keeps the records right: a kept-warm session is only marked busy (its row otherwise as the
last turn left it), a handle that died in between is recorded afresh, and each turn's end is journaled once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.events import TextDelta, is_terminal
from core.model import AgentSessionStatus, TaskOrigin, TaskStatus
from core.ports.store import Store
from tests.doubles.engine import AGENT, Engine, running_engine

CHAT = TaskOrigin.CHAT


@pytest.fixture
async def engine(fast_store: Store, git_repo: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    async with running_engine(fast_store, git_repo.parent, tmp_path / "worktrees") as running:
        yield running


def text(value: str) -> TextDelta:
    return TextDelta(session_id="", turn_id="", part_id="p", text=value)


async def test_warm_turns_keep_one_session_row_counting_every_turn(engine: Engine, git_repo: Path) -> None:
    chat = (await engine.chats.create(str(git_repo), None, None)).id
    engine.backend.script([text("one")], [text("two")], [text("three")])
    turns = []
    for prompt in ("one", "two", "three"):
        turn = await engine.turns.submit(chat, AGENT, prompt, None, CHAT)
        assert (await engine.finished(turn.id)).status is TaskStatus.SUCCEEDED
        turns.append(turn.id)
    assert len(engine.backend.sessions) == 1  # kept warm
    (session,) = await engine.store.list_agent_sessions(chat)
    assert session.turns == 3
    assert session.status is AgentSessionStatus.IDLE
    assert session.backend_session_id == engine.backend.sessions[0].backend_session_id
    for turn_id in turns:  # exactly one terminal event each, journaled with the turn's end
        assert sum(is_terminal(row.event) for row in await engine.store.list_events(turn_id)) == 1
    history = await engine.store.turn_history(chat, before=None, limit=5)
    assert [entry.reply for entry in history.entries] == ["one", "two", "three"]


async def test_a_kept_handle_that_died_is_reopened_and_recorded_afresh(engine: Engine, git_repo: Path) -> None:
    chat = (await engine.chats.create(str(git_repo), None, None)).id
    engine.backend.script([text("one")], [text("two")])
    first = await engine.turns.submit(chat, AGENT, "one", None, CHAT)
    assert (await engine.finished(first.id)).status is TaskStatus.SUCCEEDED
    engine.backend.sessions[0].closed = True  # its process died between the turns
    second = await engine.turns.submit(chat, AGENT, "two", None, CHAT)
    assert (await engine.finished(second.id)).status is TaskStatus.SUCCEEDED
    assert len(engine.backend.sessions) == 2
    (session,) = await engine.store.list_agent_sessions(chat)
    assert session.turns == 2
    assert session.status is AgentSessionStatus.IDLE
    assert session.backend_session_id == engine.backend.sessions[1].backend_session_id
