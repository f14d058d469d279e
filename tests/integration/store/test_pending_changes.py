"""Pending changes (``PendingChangeStore``): the latest diff per (chat, path), and its review status."""

from __future__ import annotations

import pytest

from core.model import PendingChangeStatus
from core.ports.store import Store
from tests.integration.store.records import at, change, chat, task


async def test_pending_changes_latest_wins_per_path_and_removal(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.replace_pending_changes("c1", [change("a.py", "+1"), change("b.py", "+2")], [])
    newer = change("a.py", "+1\n+3", agent="qwen", contributors=("opencode", "qwen"), task_id="t1", updated_at=at(5))
    await store.replace_pending_changes("c1", [newer], ["b.py", "never-there.py"])
    assert await store.list_pending_changes("c1") == [newer]
    with pytest.raises(ValueError, match="belongs to chat"):
        await store.replace_pending_changes("c1", [change("x.py", chat_id="other")], [])


async def test_pending_status_for_some_paths_or_all(store: Store) -> None:
    await store.create_chat(chat())
    await store.replace_pending_changes("c1", [change("a.py"), change("b.py"), change("c.py")], [])
    await store.set_pending_status("c1", ["a.py"], PendingChangeStatus.APPLIED, at(1))
    assert [c.path for c in await store.list_pending_changes("c1")] == ["b.py", "c.py"]
    await store.set_pending_status("c1", None, PendingChangeStatus.DISCARDED, at(2))
    assert await store.list_pending_changes("c1") == []
    every = await store.list_pending_changes("c1", None)
    assert [(c.path, c.status, c.updated_at) for c in every] == [
        ("a.py", PendingChangeStatus.APPLIED, at(1)),
        ("b.py", PendingChangeStatus.DISCARDED, at(2)),
        ("c.py", PendingChangeStatus.DISCARDED, at(2)),
    ]
    assert [c.path for c in await store.list_pending_changes("c1", PendingChangeStatus.APPLIED)] == ["a.py"]
    # a new diff of an applied file makes it pending again (latest wins)
    await store.replace_pending_changes("c1", [change("a.py", "+again", updated_at=at(3))], [])
    assert [c.diff for c in await store.list_pending_changes("c1")] == ["+again"]
