"""Live fan-out of journaled events, and the wake-up call between nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Protocol

from core.model import StoredEvent


class FeedSink(Protocol):
    """Takes a chat's published events synchronously, in publish order (one in-memory ring per chat)."""

    def offer(self, event: StoredEvent) -> None: ...
    def gap(self) -> None:
        """Events may have been missed (a listener reconnected): what the sink holds no longer proves continuity."""
        ...

    def end(self) -> None:
        """The bus closed: nothing more comes."""
        ...


class EventBus(Protocol):
    """Fans stored events out to live subscribers of a chat (in process, or LISTEN/NOTIFY across nodes)."""

    async def publish(self, event: StoredEvent) -> None: ...
    def subscribe(self, chat_id: str) -> AbstractAsyncContextManager[AsyncIterator[StoredEvent]]: ...
    def tap(self, chat_id: str, sink: FeedSink) -> AbstractContextManager[None]:
        """``sink`` is handed every event of the chat published while the block runs, inside ``publish`` (no task,
        no buffer of its own: the sink is the buffer)."""
        ...

    async def announce_work(self) -> None:
        """A turn was queued or a request relayed: every node's ``on_work`` callbacks run (best effort: nodes also
        poll)."""
        ...

    def on_work(self, wake: Callable[[], None]) -> None: ...

    async def close(self) -> None:
        """Stop fanning out: open subscriptions end (their readers see the stream close)."""
        ...
