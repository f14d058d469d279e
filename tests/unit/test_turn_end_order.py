"""A turn's terminal event is published only once its final state is stored: whoever reacts to the event (an SSE
client reading the turn at once) sees the terminal status, the usage, ``finished_at`` and the pending changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.events import UsageReport, is_terminal
from core.model import StoredEvent, Task, TaskOrigin, TaskStatus
from core.ports.store import Store
from tests.doubles.engine import AGENT, Engine, running_engine
from tests.doubles.scripted_backend import Gate

WAIT_S = 10.0


@pytest.fixture
async def engine(fast_store: Store, git_repo: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    async with running_engine(fast_store, git_repo.parent, tmp_path / "worktrees") as running:
        yield running


async def _at_terminal_event(engine: Engine, chat_id: str, started: asyncio.Event) -> tuple[StoredEvent, Task]:
    """Wait for the first terminal event on the bus and read its turn at once, as an SSE client does."""
    async with engine.bus.subscribe(chat_id) as live:
        started.set()
        async with asyncio.timeout(WAIT_S):
            async for row in live:
                if is_terminal(row.event):
                    task = await engine.store.get_task(row.task_id)
                    assert task is not None
                    return row, task
    raise AssertionError("the bus closed before a terminal event")


async def test_the_terminal_event_follows_the_stored_status_usage_and_changes(engine: Engine, git_repo: Path) -> None:
    chat = (await engine.chats.create(str(git_repo), None, None)).id
    gate = Gate()
    usage = UsageReport(session_id="", turn_id="", input_tokens=7, output_tokens=3, cost_usd=0.5)
    engine.backend.script([gate, usage])
    subscribed = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        watcher = group.create_task(_at_terminal_event(engine, chat, subscribed))
        await asyncio.wait_for(subscribed.wait(), WAIT_S)
        await engine.turns.submit(chat, AGENT, "edit", None, TaskOrigin.CHAT)
        await asyncio.wait_for(gate.reached.wait(), WAIT_S)
        worktree = await engine.store.get_worktree(chat)
        assert worktree is not None
        (Path(worktree.path) / "made-by-the-agent.txt").write_text("hello\n")
        gate.open()
    row, task = watcher.result()
    assert row.event.type == "turn_completed"
    assert task.status is TaskStatus.SUCCEEDED, task
    assert task.finished_at is not None
    assert task.usage is not None
    assert (task.usage.input_tokens, task.usage.output_tokens, task.usage.cost_usd) == (7, 3, 0.5)
    pending = await engine.store.list_pending_changes(chat)
    assert [change.path for change in pending] == ["made-by-the-agent.txt"]
