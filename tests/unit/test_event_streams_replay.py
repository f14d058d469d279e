"""The SSE generator itself: keep-alive comments while idle, replay then live, and nothing sent twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from adapters.bus.memory import InMemoryEventBus
from adapters.store.sqlite import SqliteStore
from app.api.sse import sse_messages
from app.usecases.streams import EventStreams
from core.events import TextDelta, TurnCompleted
from core.model import Chat, Task


async def test_keepalive_replay_then_live_without_duplicates(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "h.sqlite3")
    bus = InMemoryEventBus()
    try:
        now = datetime.now(UTC)
        await store.create_chat(Chat(id="c1", repo_path=str(tmp_path), created_at=now))
        await store.enqueue_task(Task(id="t1", chat_id="c1", agent="native", prompt="p", created_at=now))
        early = await store.append_events("t1", "c1", [TextDelta(session_id="s", turn_id="t1", part_id="a", text="1")])
        stream = sse_messages(EventStreams(queue=store, journal=store, bus=bus, keepalive_s=0.05).follow("c1", "t1", 0))
        received: list[str] = []
        comments = 0
        async with asyncio.timeout(10):
            async for message in stream:
                if message.comment is not None:
                    comments += 1
                    if comments == 3:  # idle long enough: now the turn goes on, live
                        rows = await store.append_events(
                            "t1",
                            "c1",
                            [
                                TextDelta(session_id="s", turn_id="t1", part_id="a", text="2"),
                                TurnCompleted(session_id="s", turn_id="t1"),
                            ],
                        )
                        for row in rows:
                            await bus.publish(row)
                            await bus.publish(row)  # a duplicate notification must not duplicate the event
                    continue
                assert message.id is not None
                received.append(str(message.id))
        assert received[0] == str(early[0].seq)
        assert len(received) == 3
        assert len(set(received)) == 3
        assert comments >= 3
    finally:
        await bus.close()
        await store.close()
