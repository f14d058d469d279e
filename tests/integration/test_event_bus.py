"""Both EventBus implementations: in-process fan-out, and LISTEN/NOTIFY across two nodes on real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from adapters.bus.memory import InMemoryEventBus, Subscription
from adapters.bus.postgres import APPLICATION_NAME, PostgresEventBus
from adapters.store.postgres import PostgresStore
from core.events import TextDelta
from core.model import Chat, StoredEvent, Task
from core.ports.bus import EventBus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WAIT_S = 10.0


def stored(seq: int, chat_id: str | None = "c1") -> StoredEvent:
    return StoredEvent(
        seq=seq,
        task_id="t1",
        chat_id=chat_id,
        event=TextDelta(session_id="s1", turn_id="t1", part_id="p1", text=str(seq)),
    )


async def take(subscription: Subscription, count: int) -> list[StoredEvent]:
    async with asyncio.timeout(WAIT_S):
        return [await anext(subscription) for _ in range(count)]


async def rest(subscription: Subscription) -> list[StoredEvent]:
    async with asyncio.timeout(WAIT_S):
        return [event async for event in subscription]


async def test_in_memory_fans_out_per_chat_in_order() -> None:
    bus = InMemoryEventBus()
    typed: EventBus = bus  # the port, structurally
    async with bus.subscribe("c1") as first, bus.subscribe("c1") as second, bus.subscribe("c2") as other:
        for seq in (1, 2, 3):
            await typed.publish(stored(seq))
        await typed.publish(stored(4, "c2"))
        await typed.publish(stored(5, None))  # a chat-less task's event reaches nobody
        assert [e.seq for e in await take(first, 3)] == [1, 2, 3]
        assert [e.seq for e in await take(second, 3)] == [1, 2, 3]
        assert [e.seq for e in await take(other, 1)] == [4]
        assert bus.subscriber_count() == 3
    assert bus.subscriber_count() == 0  # leaving the block unsubscribes


async def test_a_slow_subscriber_overflows_without_blocking_the_publisher() -> None:
    bus = InMemoryEventBus(buffer=3)
    async with bus.subscribe("c1") as slow, bus.subscribe("c1") as fast:
        received: list[int] = []

        async def read_fast() -> None:
            async for event in fast:
                received.append(event.seq)
                if event.seq == 10:
                    return

        async with asyncio.timeout(WAIT_S), asyncio.TaskGroup() as group:
            group.create_task(read_fast())
            for seq in range(1, 11):
                await bus.publish(stored(seq))  # never waits for the slow reader
                await asyncio.sleep(0)  # let the fast reader keep up
        assert received == list(range(1, 11))
        # the slow one gets what fitted, then its stream ends marked overflowed: replay from the store
        assert [e.seq for e in await rest(slow)] == [1, 2, 3]
        assert slow.overflowed is True
        assert fast.overflowed is False


async def test_a_timed_out_wait_loses_no_event() -> None:
    bus = InMemoryEventBus()
    async with bus.subscribe("c1") as subscription:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(subscription), timeout=0.05)  # e.g. an SSE keep-alive tick
        await bus.publish(stored(1))
        assert [e.seq for e in await take(subscription, 1)] == [1]


async def test_close_ends_streams_without_marking_overflow() -> None:
    bus = InMemoryEventBus()
    async with bus.subscribe("c1") as subscription:
        await bus.publish(stored(1))
        await bus.close()
        assert [e.seq for e in await rest(subscription)] == [1]
        assert subscription.overflowed is False
    async with bus.subscribe("c1") as late:
        assert await rest(late) == []


@pytest.fixture
async def pg_store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.open(pg_dsn)
    await store.create_chat(Chat(id="c1", repo_path="/r", created_at=T0))
    await store.enqueue_task(Task(id="t1", chat_id="c1", agent="native", prompt="p", created_at=T0))
    try:
        yield store
    finally:
        await store.close()


async def append(store: PostgresStore, *texts: str) -> list[StoredEvent]:
    events = [TextDelta(session_id="s", turn_id="t1", part_id="p", text=text) for text in texts]
    return await store.append_events("t1", "c1", events)


@pytest.mark.postgres
async def test_postgres_bus_streams_a_chat_to_every_node(pg_dsn: str, pg_store: PostgresStore) -> None:
    node_a = await PostgresEventBus.open(pg_dsn, pg_store)
    node_b = await PostgresEventBus.open(pg_dsn, pg_store)
    typed: EventBus = node_a
    try:
        async with node_a.subscribe("c1") as on_a, node_b.subscribe("c1") as on_b:
            huge = "x" * 100_000  # far beyond NOTIFY's ~8000-byte payload limit: only ids travel
            written = await append(pg_store, "one", huge, "three")
            for event in written:
                await typed.publish(event)
            assert await take(on_a, 3) == written
            assert await take(on_b, 3) == written
    finally:
        await node_a.close()
        await node_b.close()


@pytest.mark.postgres
async def test_postgres_bus_reconnects_and_flags_the_gap(pg_dsn: str, pg_store: PostgresStore) -> None:
    bus = await PostgresEventBus.open(pg_dsn, pg_store)
    try:
        async with bus.subscribe("c1") as before:
            admin = await asyncpg.connect(pg_dsn)
            try:
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = $1 AND datname = current_database()",
                    APPLICATION_NAME,
                )
            finally:
                await admin.close()
            assert killed == 1
            # the old stream ends as overflowed (notifications may have been lost while disconnected)
            assert await rest(before) == []
            assert before.overflowed is True
        async with asyncio.timeout(WAIT_S):
            while bus.reconnects < 1 or bus.subscriber_count() != 0:
                await asyncio.sleep(0.05)
        async with bus.subscribe("c1") as after:
            written = await append(pg_store, "after the reconnect")
            await bus.publish(written[0])
            assert await take(after, 1) == written
    finally:
        await bus.close()


@pytest.mark.postgres
async def test_postgres_bus_open_fails_clearly_when_the_database_is_unreachable(pg_store: PostgresStore) -> None:
    with pytest.raises(ConnectionError, match=r"could not LISTEN on PostgreSQL at .*127\.0\.0\.1:1"):
        await PostgresEventBus.open("postgresql://root@127.0.0.1:1/none", pg_store, connect_timeout_s=0.5)
