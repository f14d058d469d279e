"""SSE fan-out from memory: N readers of a chat cost the one journal write of each batch, not N reads.

Counted through ``EventStreams.store_reads`` (every journal or task read made for a reader), never timed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from adapters.bus.memory import InMemoryEventBus
from adapters.store.sqlite import SqliteStore
from app.usecases.streams import EventStreams
from core.events import TextDelta, TurnCompleted
from core.model import Chat, StoredEvent, Task

READERS = 50
BATCHES = 10
PER_BATCH = 3
WAIT_S = 20.0


async def _opened(tmp_path: Path) -> SqliteStore:
    store = await SqliteStore.open(tmp_path / "h.sqlite3")
    now = datetime.now(UTC)
    await store.create_chat(Chat(id="c1", repo_path=str(tmp_path), created_at=now))
    await store.enqueue_task(Task(id="t1", chat_id="c1", agent="native", prompt="p", created_at=now))
    return store


async def _write(store: SqliteStore, bus: InMemoryEventBus, batch: int, last: bool = False) -> list[StoredEvent]:
    """As ``TurnJournal.write`` does: one append per batch, then publish the stored rows."""
    events: list[TextDelta | TurnCompleted] = [
        TextDelta(session_id="s", turn_id="t1", part_id="a", text=f"{batch}.{i}") for i in range(PER_BATCH)
    ]
    if last:
        events.append(TurnCompleted(session_id="s", turn_id="t1"))
    rows = await store.append_events("t1", "c1", events)
    for row in rows:
        await bus.publish(row)
    return rows


async def _collect(stream: AsyncIterator[StoredEvent | None], want: int) -> list[int]:
    seqs: list[int] = []
    async for row in stream:
        if row is not None:
            seqs.append(row.seq)
            if len(seqs) == want:
                return seqs
    return seqs


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not check():
            await asyncio.sleep(0.005)


async def test_fifty_chat_readers_cost_one_journal_read_whatever_the_batches(tmp_path: Path) -> None:
    store = await _opened(tmp_path)
    bus = InMemoryEventBus()
    streams = EventStreams(queue=store, journal=store, bus=bus)
    try:
        early = await _write(store, bus, 0)  # journaled before anyone follows: a replay
        want = PER_BATCH * (BATCHES + 1)
        async with asyncio.TaskGroup() as group:
            readers = [group.create_task(_collect(streams.follow("c1", None, 0), want)) for _ in range(READERS)]
            await _until(lambda: streams.following("c1") == READERS and streams.store_reads == 1)
            for batch in range(1, BATCHES + 1):
                await _write(store, bus, batch)
            async with asyncio.timeout(WAIT_S):
                results = [await reader for reader in readers]
        every = [row.seq for row in await store.list_chat_events("c1")]
        assert every[:PER_BATCH] == [row.seq for row in early]
        assert all(seqs == every for seqs in results)
        assert streams.store_reads == 1  # the first reader's replay seeded the ring; the batches cost no read
        await _until(lambda: streams.following("c1") == 0)  # the readers' generators are closed as they go
        assert not bus.has_subscribers("c1")  # the ring let go of the bus with its last reader
    finally:
        await bus.close()
        await store.close()


async def test_a_replay_from_before_the_ring_reads_the_journal_once_and_loses_nothing(tmp_path: Path) -> None:
    store = await _opened(tmp_path)
    bus = InMemoryEventBus()
    streams = EventStreams(queue=store, journal=store, bus=bus, ring_capacity=4)
    try:
        want = PER_BATCH * 4
        async with asyncio.TaskGroup() as group:
            live = group.create_task(_collect(streams.follow("c1", None, 0), want))
            await _until(lambda: streams.store_reads == 1)
            for batch in range(4):
                await _write(store, bus, batch)
            async with asyncio.timeout(WAIT_S):
                await live
            # the ring kept the newest four events only: an old Last-Event-ID is served from the journal
            before = streams.store_reads
            late = group.create_task(_collect(streams.follow("c1", None, 0), want))
            async with asyncio.timeout(WAIT_S):
                replayed = await late
        assert replayed == [row.seq for row in await store.list_chat_events("c1")]
        assert streams.store_reads == before + 1
    finally:
        await bus.close()
        await store.close()


async def test_a_bus_that_lost_events_sends_each_reader_back_to_the_journal(tmp_path: Path) -> None:
    store = await _opened(tmp_path)
    bus = InMemoryEventBus()
    streams = EventStreams(queue=store, journal=store, bus=bus)
    try:
        async with asyncio.TaskGroup() as group:
            readers = [group.create_task(_collect(streams.follow("c1", None, 0), PER_BATCH * 2)) for _ in range(3)]
            await _until(lambda: streams.following("c1") == 3 and streams.store_reads == 1)
            await store.append_events(
                "t1", "c1", [TextDelta(session_id="s", turn_id="t1", part_id="a", text=f"lost {i}") for i in range(3)]
            )  # journaled, but its notification never came: the listener reconnected
            bus.mark_gap()
            await _write(store, bus, 1)
            async with asyncio.timeout(WAIT_S):
                results = [await reader for reader in readers]
        every = [row.seq for row in await store.list_chat_events("c1")]
        assert all(seqs == every for seqs in results)
        assert streams.store_reads == 2  # one read after the gap, shared by the three readers
    finally:
        await bus.close()
        await store.close()
