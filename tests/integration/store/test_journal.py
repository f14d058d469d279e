"""The turn journal (``Journal``): every event of every turn in one store-wide ``seq`` order."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from adapters.store.postgres import Conn, PostgresStore
from core.events import TextDelta, ToolCall, TurnCancelled, TurnCompleted, UsageReport
from core.ports.store import Store
from tests.integration.store.records import REFUSED, T0, chat, delta, task


async def test_events_append_in_order_and_list_after_seq(store: Store) -> None:
    await store.create_chat(chat())
    await store.create_chat(chat("c2"))
    await store.enqueue_task(task("t1"))
    await store.enqueue_task(task("t2", "c2"))
    first = await store.append_events("t1", "c1", [delta("a"), delta("b")])
    other = await store.append_events("t2", "c2", [delta("z", "t2")])
    last = await store.append_events("t1", "c1", [UsageReport(session_id="s1", turn_id="t1", input_tokens=3)])
    final = await store.append_events("t1", "c1", [TurnCompleted(session_id="s1", turn_id="t1")])
    assert await store.append_events("t1", "c1", []) == []

    seqs = [e.seq for e in first + other + last + final]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 5
    listed = await store.list_events("t1")
    assert listed == first + last + final
    assert listed[0].event == delta("a")
    assert await store.list_events("t1", after_seq=first[1].seq) == last + final
    assert await store.list_chat_events("c1", after_seq=first[0].seq) == [first[1], *last, *final]
    assert await store.list_chat_events("c2") == other
    assert await store.list_events("nope") == []


async def test_events_with_nul_characters_are_stored(store: Store) -> None:
    """Agents stream raw tool output (a binary file read): a NUL must not break the journal (PostgreSQL's text
    and jsonb refuse it, so it may come back as U+FFFD)."""
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    stored = await store.append_events("t1", "c1", [delta("a\x00b")])
    (listed,) = await store.list_events("t1")
    assert listed == stored[0]
    assert isinstance(listed.event, TextDelta)
    assert listed.event.text in {"a\x00b", "a\ufffdb"}


async def test_a_chat_reads_the_events_of_all_its_turns_interleaved_in_seq_order(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.enqueue_task(task("t2"))
    written = []
    for turn in ("t1", "t2", "t1", "t2"):
        written += await store.append_events(turn, "c1", [delta(f"from {turn}", turn)])
    assert await store.list_chat_events("c1") == written
    assert [row.seq for row in written] == sorted(row.seq for row in written)
    assert [row.event for row in await store.list_events("t2")] == [delta("from t2", "t2")] * 2


async def test_an_event_read_back_is_a_value_of_its_own(store: Store) -> None:
    """A reader changing a tool call's input (a plain dict inside the frozen event) changes nobody else's copy."""
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    call = ToolCall(session_id="s1", turn_id="t1", tool_call_id="c", name="write", status="running", input={"n": 1})
    (stored,) = await store.append_events("t1", "c1", [call])
    assert isinstance(stored.event, ToolCall)
    assert stored.event.input is not None
    stored.event.input["n"] = 2
    (listed,) = await store.list_events("t1")
    assert listed.event == call
    assert isinstance(listed.event, ToolCall)
    assert listed.event.input is not None
    listed.event.input["n"] = 3
    assert [row.event for row in await store.list_chat_events("c1")] == [call]


async def test_events_of_a_task_that_does_not_exist_are_refused(store: Store) -> None:
    await store.create_chat(chat())
    with pytest.raises(REFUSED):
        await store.append_events("missing", "c1", [delta("a")])
    assert await store.list_chat_events("c1") == []


class PausingPostgres(PostgresStore):
    """Holds the first append_events transaction open between its statements until released."""

    paused: asyncio.Event
    release: asyncio.Event

    async def _fault_point(self, conn: Conn, name: str) -> None:
        if name == "append_events" and not self.paused.is_set():
            self.paused.set()
            await self.release.wait()


@pytest.mark.postgres
async def test_a_chat_reader_never_skips_a_row_committed_late(pg_dsn: str) -> None:
    """The chat SSE stream reads the journal in ``seq`` order, then asks only for ``seq > last``: a row must never
    become visible after a row of the same chat with a higher ``seq``. On PostgreSQL two transactions appending for
    one chat (a running turn's events and the cancel of a queued turn) used to commit out of sequence order, and
    the chat stream skipped the earlier one for good."""
    store = await PausingPostgres.open(pg_dsn)
    store.paused, store.release = asyncio.Event(), asyncio.Event()
    try:
        await store.create_chat(chat())
        for task_id in ("running", "queued"):
            await store.enqueue_task(task(task_id, agent="native", created_at=T0))
        deltas = [TextDelta(session_id="s", turn_id="running", part_id="p", text=t) for t in ("a", "b")]
        streaming = asyncio.create_task(store.append_events("running", "c1", deltas))
        async with asyncio.timeout(10):
            await store.paused.wait()  # its first row has a seq, uncommitted
        cancel = TurnCancelled(session_id="", turn_id="queued", reason="cancelled before it started")
        cancelling = asyncio.create_task(store.append_events("queued", "c1", [cancel]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(cancelling), 0.5)  # commits now unless it waits its turn

        seen = await store.list_chat_events("c1")  # what a chat SSE stream sends at this moment
        store.release.set()
        await asyncio.wait_for(asyncio.gather(streaming, cancelling), 10)

        last = max((row.seq for row in seen), default=0)
        later = await store.list_chat_events("c1", last)
        everything = await store.list_chat_events("c1")
        assert [row.seq for row in seen + later] == [row.seq for row in everything]
        assert len(everything) == 3
    finally:
        store.release.set()
        await store.close()
