"""A turn's or a chat's events as a live stream: replay from the journal, then follow, losing nothing.

Subscribe first, then replay, so nothing published in between is missed. The bus is only a wake-up: every
delivery reads the journal after the last delivered ``seq``, so a dropped or reordered notification cannot create
a gap, and a quiet period still polls the journal now and then. When the stream ends is ``core.streaming``'s
decision. ``None`` in the stream means "nothing happened for a while": the edge sends a keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from core.events import is_terminal
from core.model import StoredEvent
from core.ports.bus import EventBus
from core.ports.store import Journal, TaskQueue
from core.streaming import BusState, StreamView, stream_step

KEEPALIVE_S = 15.0
POLL_S = 2.0
TERMINAL_GRACE_S = 2.0
REPLAY_PAGE = 500  # a replay from an old cursor reads the journal this many events at a time


class EventStreams:
    def __init__(self, *, queue: TaskQueue, journal: Journal, bus: EventBus, keepalive_s: float = KEEPALIVE_S) -> None:
        self._queue = queue
        self._journal = journal
        self._bus = bus
        self._keepalive_s = keepalive_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ends every open stream as a closed bus would (the client reconnects with ``Last-Event-ID``).

        The server calls it as shutdown begins: it waits for open responses before it stops the service, and a
        chat stream never ends on its own."""
        self._stopping.set()

    async def _read(self, chat_id: str, turn_id: str | None, after: int) -> list[StoredEvent]:
        if turn_id is not None:
            return await self._journal.list_events(turn_id, after, limit=REPLAY_PAGE)
        return await self._journal.list_chat_events(chat_id, after, limit=REPLAY_PAGE)

    async def follow(self, chat_id: str, turn_id: str | None, after_seq: int) -> AsyncIterator[StoredEvent | None]:
        last = after_seq
        async with self._bus.subscribe(chat_id) as live:
            notifications = aiter(live)
            pending: asyncio.Future[StoredEvent] | None = asyncio.ensure_future(anext(notifications))
            stopping = asyncio.ensure_future(self._stopping.wait())
            loop = asyncio.get_running_loop()
            next_keepalive = loop.time() + self._keepalive_s
            over_since: float | None = None
            bus = BusState.OPEN
            try:
                while True:
                    delivered_terminal = False
                    page = await self._read(chat_id, turn_id, last)
                    for row in page:
                        if row.seq <= last:
                            continue
                        last = row.seq
                        yield row
                        if turn_id is not None and is_terminal(row.event):
                            delivered_terminal = True
                            break
                    if len(page) == REPLAY_PAGE and not delivered_terminal:
                        continue  # a replay from an old cursor: the next page at once
                    if stopping.done():
                        bus = BusState.CLOSED
                    view = await self._view(turn_id, last, delivered_terminal, bus, loop.time(), over_since)
                    step = stream_step(view, TERMINAL_GRACE_S)
                    if step.end is not None:
                        return
                    over_since = step.over_since
                    if not step.listen and pending is not None:
                        pending.cancel()  # the reader fell behind: the journal poll carries on alone
                        pending = None
                    timeout = max(0.0, min(POLL_S, next_keepalive - loop.time()))
                    if over_since is not None:
                        timeout = min(timeout, max(0.0, over_since + TERMINAL_GRACE_S - loop.time()))
                    waiters: set[asyncio.Future[Any]] = {stopping} if pending is None else {stopping, pending}
                    await asyncio.wait(waiters, timeout=timeout)
                    if pending is not None and pending.done():
                        if pending.exception() is None:
                            pending = asyncio.ensure_future(anext(notifications))
                        else:
                            bus = BusState.OVERFLOWED if getattr(live, "overflowed", False) else BusState.CLOSED
                    if loop.time() >= next_keepalive:
                        yield None
                        next_keepalive = loop.time() + self._keepalive_s
            finally:
                for waiter in (pending, stopping):
                    if waiter is not None:
                        waiter.cancel()
                        with contextlib.suppress(BaseException):
                            await waiter

    async def _view(
        self,
        turn_id: str | None,
        last: int,
        delivered_terminal: bool,
        bus: BusState,
        now: float,
        over_since: float | None,
    ) -> StreamView:
        finished = unread = journaled = False
        if turn_id is not None and not delivered_terminal:
            task = await self._queue.get_task(turn_id)
            finished = task is None or task.status.is_terminal
            if finished:
                unread = bool(await self._journal.list_events(turn_id, last))
            if finished and not unread and over_since is None:
                journaled = any(is_terminal(row.event) for row in await self._journal.list_events(turn_id))
        return StreamView(
            turn_stream=turn_id is not None,
            delivered_terminal=delivered_terminal,
            turn_finished=finished,
            unread=unread,
            terminal_journaled=journaled,
            bus=bus,
            now=now,
            over_since=over_since,
        )
