"""The handoff a turn gives its agent, read through the turn engine: a bounded window of the chat's finished turns
after the agent's own last turn (its cursor), never the whole chat, saying how many older turns it leaves out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.events import TextDelta
from core.model import Task, TaskOrigin, TaskStatus
from core.ports.store import Store
from core.routing import PREAMBLE_MAX_TURNS
from tests.doubles.engine import AGENT, Engine, running_engine

CHAT = TaskOrigin.CHAT


@pytest.fixture
async def engine(fast_store: Store, git_repo: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    async with running_engine(fast_store, git_repo.parent, tmp_path / "worktrees") as running:
        yield running


async def _other_agents_turns(engine: Engine, chat: str, first: int, count: int) -> None:
    """Finished turns of another agent, written straight to the store (the engine runs only the scripted one)."""
    for n in range(first, first + count):
        task_id = f"other-{n:04d}"
        done = Task(
            id=task_id,
            chat_id=chat,
            agent="other",
            prompt=f"other prompt {n}",
            status=TaskStatus.SUCCEEDED,
            created_at=datetime.now(UTC),
        )
        await engine.store.enqueue_task(done)
        text = TextDelta(session_id="s", turn_id=task_id, part_id="p", text=f"other reply {n}")
        await engine.store.append_events(task_id, chat, [text])


async def test_a_new_session_sees_the_newest_turns_and_is_told_how_many_are_left_out(
    engine: Engine, git_repo: Path
) -> None:
    chat = (await engine.chats.create(str(git_repo), None, None)).id
    await _other_agents_turns(engine, chat, 0, PREAMBLE_MAX_TURNS + 7)
    first = await engine.turns.submit(chat, AGENT, "first", None, CHAT)
    assert (await engine.finished(first.id)).status is TaskStatus.SUCCEEDED
    (prompt,) = engine.backend.sessions[0].prompts
    assert "(7 earlier turns not shown: " in prompt
    assert "other prompt 6" not in prompt
    assert "other prompt 7" in prompt
    assert f"other reply {PREAMBLE_MAX_TURNS + 6}" in prompt

    # the session is warm now: the next preamble starts after the agent's own last turn, its cursor
    await _other_agents_turns(engine, chat, 100, 2)
    second = await engine.turns.submit(chat, AGENT, "second", None, CHAT)
    assert (await engine.finished(second.id)).status is TaskStatus.SUCCEEDED
    latest = engine.backend.sessions[-1].prompts[-1]
    assert "other prompt 100" in latest
    assert "other prompt 101" in latest
    assert "other prompt 7" not in latest
    assert "not shown" not in latest
    assert latest.endswith("[user]\nsecond")

    # nothing happened since its last turn: no preamble at all
    third = await engine.turns.submit(chat, AGENT, "third", None, CHAT)
    assert (await engine.finished(third.id)).status is TaskStatus.SUCCEEDED
    assert engine.backend.sessions[-1].prompts[-1] == "third"
