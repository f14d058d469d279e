"""A turn's SSE stream ends with its terminal event even when the terminal status is stored first.

The cancel of a queued turn (and startup recovery) store the terminal status, then journal the terminal event.
A stream that looked in between used to end at once, so a live client never saw ``turn_cancelled``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from litestar.response import ServerSentEventMessage

from adapters.bus.memory import InMemoryEventBus
from adapters.store.sqlite import SqliteStore
from app.api.sse import sse_messages
from app.turns.journal import TurnJournal
from app.usecases.streams import EventStreams
from core.events import TextDelta, TurnCancelled
from core.model import Chat, Task

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STREAM_TIMEOUT_S = 30.0


def _types(messages: list[ServerSentEventMessage]) -> list[str]:
    return [json.loads(str(m.data))["type"] for m in messages if m.data]


def _seq(messages: list[ServerSentEventMessage]) -> int:
    return int(next(str(m.id) for m in messages if m.data))


async def _store_with_turn(tmp_path: Path) -> SqliteStore:
    store = await SqliteStore.open(tmp_path / "hearth.db")
    await store.create_chat(Chat(id="c1", repo_path="/repos/app", created_at=T0))
    await store.enqueue_task(Task(id="t1", chat_id="c1", agent="native", prompt="p", created_at=T0))
    return store


async def test_a_turn_cancelled_before_its_event_is_journaled_still_streams_the_event(tmp_path: Path) -> None:
    store = await _store_with_turn(tmp_path)
    bus = InMemoryEventBus()
    try:
        assert await store.cancel_queued_task("t1", T0) is not None  # status first, as dequeue does
        received: list[ServerSentEventMessage] = []

        async def follow() -> None:
            async for message in sse_messages(EventStreams(queue=store, journal=store, bus=bus).follow("c1", "t1", 0)):
                received.append(message)

        async with asyncio.timeout(STREAM_TIMEOUT_S), asyncio.TaskGroup() as group:
            group.create_task(follow())
            while not received:  # connected
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # it has looked at the journal and found the turn over, no event yet
            journal = TurnJournal(store, bus, "t1", "c1")
            await journal.write([TurnCancelled(session_id="", turn_id="t1", reason="cancelled before it started")])
        assert _types(received) == ["turn_cancelled"]
    finally:
        await bus.close()
        await store.close()


async def test_a_finished_turn_without_a_terminal_event_still_ends(tmp_path: Path) -> None:
    store = await _store_with_turn(tmp_path)
    bus = InMemoryEventBus()
    try:
        await store.append_events("t1", "c1", [TextDelta(session_id="s", turn_id="t1", part_id="p", text="hi")])
        assert await store.cancel_queued_task("t1", T0) is not None  # e.g. written by an older hearth
        streams = EventStreams(queue=store, journal=store, bus=bus)
        async with asyncio.timeout(STREAM_TIMEOUT_S):
            received = [message async for message in sse_messages(streams.follow("c1", "t1", 0))]
        assert _types(received) == ["text_delta"]
        seen = [m async for m in sse_messages(streams.follow("c1", "t1", 1))]  # reconnect after everything
        assert _types(seen) == []
    finally:
        await bus.close()
        await store.close()


async def test_stop_ends_open_chat_streams_and_those_opened_after(tmp_path: Path) -> None:
    """Shutdown: the server waits for open responses, and a chat stream never ends on its own."""
    store = await _store_with_turn(tmp_path)
    bus = InMemoryEventBus()
    streams = EventStreams(queue=store, journal=store, bus=bus)
    try:
        await TurnJournal(store, bus, "t1", "c1").write(
            [TextDelta(session_id="", turn_id="t1", part_id="p1", text="hi")]
        )
        received: list[ServerSentEventMessage] = []

        async def follow() -> None:
            async for message in sse_messages(streams.follow("c1", None, 0)):
                received.append(message)

        async with asyncio.timeout(STREAM_TIMEOUT_S), asyncio.TaskGroup() as group:
            group.create_task(follow())
            while len(received) < 2:  # connected, then the journaled delta
                await asyncio.sleep(0.01)
            streams.stop()
        assert _types(received) == ["text_delta"]
        async with asyncio.timeout(STREAM_TIMEOUT_S):
            late = [row async for row in streams.follow("c1", None, 0)]
        assert [row.seq for row in late if row is not None] == [_seq(received)]  # replays the journal, then ends
    finally:
        await bus.close()
        await store.close()
