"""Chats (``ChatStore``): create, read, close, delete (the chat's history stays, with chat_id None)."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from core.model import ChatStatus, OnInterrupt
from core.ports.store import Store
from tests.integration.store.records import REFUSED, T0, at, change, chat, delta, session, task, worktree


async def test_ping_and_chat_round_trip(store: Store) -> None:
    await store.ping()
    created = await store.create_chat(chat(title="fix the bug", ref="main"))
    assert await store.get_chat("c1") == created
    assert await store.get_chat("missing") is None
    await store.create_chat(chat("c2", created_at=at(1)))
    assert [c.id for c in await store.list_chats()] == ["c1", "c2"]


async def test_close_chat_sets_status_and_time(store: Store) -> None:
    await store.create_chat(chat())
    closed = await store.close_chat("c1", at(9))
    assert closed is not None
    assert (closed.status, closed.closed_at) == (ChatStatus.CLOSED, at(9))
    assert await store.get_chat("c1") == closed
    assert await store.close_chat("missing", at(9)) is None


async def test_reopen_chat_opens_a_closed_chat_again(store: Store) -> None:
    opened = await store.create_chat(chat())
    await store.close_chat("c1", at(9))
    reopened = await store.reopen_chat("c1")
    assert reopened == opened
    assert reopened is not None
    assert (reopened.status, reopened.closed_at) == (ChatStatus.OPEN, None)
    assert await store.get_chat("c1") == reopened
    assert await store.reopen_chat("missing") is None


async def test_times_come_back_as_utc_whatever_offset_went_in(store: Store) -> None:
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    await store.create_chat(chat(created_at=plus_two))
    stored = await store.get_chat("c1")
    assert stored is not None
    assert stored.created_at == T0
    assert stored.created_at.utcoffset() == timedelta(0)


async def test_delete_chat_keeps_history_with_chat_id_null(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_worktree(worktree())
    await store.upsert_agent_session(session())
    await store.enqueue_task(task("t1"))
    await store.append_events("t1", "c1", [delta("hi")])
    await store.replace_pending_changes("c1", [change("a.py")], [])

    assert await store.delete_chat("c1") is True
    assert await store.delete_chat("c1") is False

    kept_task = await store.get_task("t1")
    assert kept_task is not None
    assert kept_task.chat_id is None
    events = await store.list_events("t1")
    assert [e.chat_id for e in events] == [None]
    assert [w.chat_id for w in await store.list_worktrees()] == [None]
    # sessions and pending changes belong to the chat and go with it
    assert await store.list_agent_sessions("c1") == []
    assert await store.list_pending_changes("c1", None) == []


async def test_a_chat_id_is_taken_once(store: Store) -> None:
    first = await store.create_chat(chat())
    with pytest.raises(REFUSED):
        await store.create_chat(chat(title="another"))
    assert await store.list_chats() == [first]


async def test_on_interrupt_is_stored_and_changed(store: Store) -> None:
    created = await store.create_chat(chat(on_interrupt=OnInterrupt.CONTINUE))
    assert await store.get_chat("c1") == created
    changed = await store.set_on_interrupt("c1", OnInterrupt.STOP)
    assert changed == created.model_copy(update={"on_interrupt": OnInterrupt.STOP})
    assert await store.get_chat("c1") == changed
    assert await store.set_on_interrupt("missing", OnInterrupt.STOP) is None


async def test_a_continuation_turn_names_the_turn_it_continues(store: Store) -> None:
    await store.create_chat(chat())
    first = await store.enqueue_task(task("t1"))
    follow = await store.enqueue_task(task("t2", continues="t1"))
    assert (await store.get_task("t1"), await store.get_task("t2")) == (first, follow)
    assert follow.continues == "t1"
