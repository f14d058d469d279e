"""In-process EventBus: fans stored events out to the live subscribers of each chat.

Every subscriber has its own bounded buffer. A subscriber that falls behind never slows a publisher: when
its buffer is full the subscription is marked ``overflowed`` and ends after yielding what it buffered. The
reader (the SSE layer) then knows it missed events and replays them from the store by seq, then
subscribes again; an SSE client whose stream simply ends reconnects with Last-Event-ID, which does the
same. Iterating is cancellation-safe: cancelling a wait (e.g. a keep-alive timeout) loses no event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from core.model import StoredEvent
from core.ports.bus import FeedSink

DEFAULT_BUFFER = 1000


class Subscription:
    """The live events of one chat for one reader, in publish order (an ``AsyncIterator[StoredEvent]``)."""

    def __init__(self, chat_id: str, buffer: int) -> None:
        self.chat_id = chat_id
        self._buffer = buffer
        self._items: deque[StoredEvent] = deque()
        self._ready = asyncio.Event()
        self._ended = False
        self.overflowed = False  # True: events were dropped; replay from the store after the last seq seen

    def offer(self, event: StoredEvent) -> None:
        if self._ended:
            return
        if len(self._items) >= self._buffer:
            self.overflowed = True
            self.end()
            return
        self._items.append(event)
        self._ready.set()

    def end(self) -> None:
        """No more events: the iteration stops once the buffered ones are read."""
        self._ended = True
        self._ready.set()

    def mark_gap(self) -> None:
        """Events may have been missed (e.g. the listener reconnected): same as an overflow for the reader."""
        self.overflowed = True
        self.end()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> StoredEvent:
        while not self._items:
            if self._ended:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class InMemoryEventBus:
    """Implements ``core.ports.bus.EventBus`` within one process."""

    def __init__(self, buffer: int = DEFAULT_BUFFER) -> None:
        self._buffer = buffer
        self._subscribers: dict[str, set[Subscription]] = {}
        self._taps: dict[str, set[FeedSink]] = {}
        self._closed = False
        self._work_callbacks: list[Callable[[], None]] = []

    async def publish(self, event: StoredEvent) -> None:
        self.deliver(event)

    async def announce_work(self) -> None:
        self.work_announced()

    def on_work(self, wake: Callable[[], None]) -> None:
        self._work_callbacks.append(wake)

    def work_announced(self) -> None:
        for wake in self._work_callbacks:
            wake()

    def deliver(self, event: StoredEvent) -> None:
        """Hands the event to every subscriber of its chat without waiting (events of no chat go nowhere)."""
        if event.chat_id is None:
            return
        for subscription in list(self._subscribers.get(event.chat_id, ())):
            subscription.offer(event)
        for sink in list(self._taps.get(event.chat_id, ())):
            sink.offer(event)

    def has_subscribers(self, chat_id: str) -> bool:
        return bool(self._subscribers.get(chat_id)) or bool(self._taps.get(chat_id))

    @contextmanager
    def tap(self, chat_id: str, sink: FeedSink) -> Iterator[None]:
        """Registered on entry, so events published after ``with`` starts are never missed."""
        if self._closed:
            sink.end()
        else:
            self._taps.setdefault(chat_id, set()).add(sink)
        try:
            yield
        finally:
            sinks = self._taps.get(chat_id)
            if sinks is not None:
                sinks.discard(sink)
                if not sinks:
                    del self._taps[chat_id]

    def mark_gap(self) -> None:
        """Every current subscriber may have missed events: end them all as overflowed."""
        for sinks in list(self._taps.values()):
            for sink in list(sinks):
                sink.gap()
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                subscription.mark_gap()

    @asynccontextmanager
    async def subscribe(self, chat_id: str) -> AsyncIterator[Subscription]:
        """Registered on entry, so events published after ``async with`` starts are never missed."""
        subscription = Subscription(chat_id, self._buffer)
        if self._closed:
            subscription.end()
        else:
            self._subscribers.setdefault(chat_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(chat_id)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[chat_id]

    def subscriber_count(self, chat_id: str | None = None) -> int:
        if chat_id is not None:
            return len(self._subscribers.get(chat_id, ()))
        return sum(len(subscriptions) for subscriptions in self._subscribers.values())

    async def close(self) -> None:
        """Ends every subscription (not as overflowed: the stream is over); later subscriptions end at once."""
        self._closed = True
        for sinks in list(self._taps.values()):
            for sink in list(sinks):
                sink.end()
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                subscription.end()
