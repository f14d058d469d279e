"""Live fan-out of journaled events, and the wake-up call between nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from core.model import StoredEvent


class EventBus(Protocol):
    """Fans stored events out to live subscribers of a chat (in process, or LISTEN/NOTIFY across nodes)."""

    async def publish(self, event: StoredEvent) -> None: ...
    def subscribe(self, chat_id: str) -> AbstractAsyncContextManager[AsyncIterator[StoredEvent]]: ...
    async def announce_work(self) -> None:
        """A turn was queued or a request relayed: every node's ``on_work`` callbacks run (best effort: nodes also
        poll)."""
        ...

    def on_work(self, wake: Callable[[], None]) -> None: ...

    async def close(self) -> None:
        """Stop fanning out: open subscriptions end (their readers see the stream close)."""
        ...
