"""What an SSE client receives for a journaled event: the row's ids, then the event's own fields, in this order.

Runs on the in-memory store: the wire form depends on the event, not on the database it was journaled in.
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.bus.memory import InMemoryEventBus
from adapters.store.memory import MemoryStore
from app.api.sse import sse_messages
from app.usecases.streams import EventStreams
from core.events import ToolCall, TurnCompleted
from core.model import Chat, Task

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_turn_stream_sends_each_row_as_ids_then_event_fields_and_ends_at_the_terminal() -> None:
    store, bus = MemoryStore(), InMemoryEventBus()
    await store.create_chat(Chat(id="c1", repo_path="/repos/app", created_at=T0))
    await store.enqueue_task(Task(id="t1", chat_id="c1", agent="native", prompt="p", created_at=T0))
    call = ToolCall(session_id="s", turn_id="t1", tool_call_id="c", name="w", status="running", input={"b": [1.5]})
    await store.append_events("t1", "c1", [call, TurnCompleted(session_id="s", turn_id="t1")])

    stamps = [row.journaled_at.isoformat() for row in await store.list_events("t1") if row.journaled_at is not None]
    rows = EventStreams(queue=store, journal=store, bus=bus).follow("c1", "t1", 0)
    sent = [message async for message in sse_messages(rows) if message.comment is None]
    await bus.close()

    assert [message.id for message in sent] == ["1", "2"]
    assert [message.data for message in sent] == [
        f'{{"seq": 1, "task_id": "t1", "chat_id": "c1", "journaled_at": "{stamps[0]}", "session_id": "s", '
        '"turn_id": "t1", "type": "tool_call", '
        '"tool_call_id": "c", "name": "w", "status": "running", "title": null, "input": {"b": [1.5]}, "output": null}',
        f'{{"seq": 2, "task_id": "t1", "chat_id": "c1", "journaled_at": "{stamps[1]}", "session_id": "s", '
        '"turn_id": "t1", "type": "turn_completed", '
        '"stop_reason": "end_turn"}',
    ]
