"""An arena's live progress: the chat's stream (contestants journal under the arena's chat), keeping only the
arena's contestants, and ending once each of them has journaled its terminal event."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.usecases.streams import EventStreams
from core.arena import Arena
from core.events import is_terminal
from core.model import StoredEvent
from core.ports.store import Journal


async def follow_arena(
    streams: EventStreams, journal: Journal, arena: Arena, after_seq: int
) -> AsyncIterator[StoredEvent | None]:
    """``None`` is a keep-alive. A client reconnecting after the end gets the rest of the arena and the end."""
    if arena.chat_id is None:
        return
    waiting = {c.task_id for c in arena.contestants}
    ended: set[str] = set()
    if after_seq > 0:  # ends seen before the reconnect still count
        for task_id in waiting:
            rows = await journal.list_events(task_id)
            if any(row.seq <= after_seq and is_terminal(row.event) for row in rows):
                ended.add(task_id)
        if ended >= waiting:
            return
    async for row in streams.follow(arena.chat_id, None, after_seq):
        if row is None:
            yield None
            continue
        if row.task_id not in waiting:
            continue
        yield row
        if is_terminal(row.event):
            ended.add(row.task_id)
            if ended >= waiting:
                return
