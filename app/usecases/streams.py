"""A turn's or a chat's events as a live stream: replay, then follow, losing nothing.

Every reader of a chat shares one in-memory ring of its recent events, fed by the bus (``app.usecases.fanout``);
a reader reads the journal only when the ring cannot vouch for what it has not seen yet (``core.streaming.
ring_covers``): a replay from an old ``Last-Event-ID``, or after the bus lost events. Joining the ring before that
read means nothing published in between is missed. When the stream ends is ``core.streaming``'s decision; a turn
stream looks at its turn's stored status only in quiet moments (nothing new arrived), so a busy turn costs its
readers no store read. ``None`` in the stream means "nothing happened for a while": the edge sends a keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from app.usecases.fanout import RING_CAPACITY, ChatRing, ChatRings
from core.events import is_terminal
from core.model import StoredEvent
from core.ports.bus import EventBus
from core.ports.store import Journal, TaskQueue
from core.streaming import BusState, StreamView, ring_covers, stream_step

KEEPALIVE_S = 15.0
POLL_S = 2.0  # a quiet turn stream looks at its turn's status this often (its writer may have died)
TERMINAL_GRACE_S = 2.0
REPLAY_PAGE = 500  # a replay from an old cursor reads the journal this many events at a time


class EventStreams:
    def __init__(
        self,
        *,
        queue: TaskQueue,
        journal: Journal,
        bus: EventBus,
        keepalive_s: float = KEEPALIVE_S,
        ring_capacity: int = RING_CAPACITY,
    ) -> None:
        self._queue = queue
        self._journal = journal
        self._rings = ChatRings(bus, ring_capacity)
        self._keepalive_s = keepalive_s
        self._stopping = asyncio.Event()
        self.store_reads = 0  # journal and task reads made for readers (the ring spares the rest)

    def stop(self) -> None:
        """Ends every open stream as a closed bus would (the client reconnects with ``Last-Event-ID``).

        The server calls it as shutdown begins: it waits for open responses before it stops the service, and a
        chat stream never ends on its own."""
        self._stopping.set()

    def following(self, chat_id: str) -> int:
        """Readers of the chat's events (its chat and turn streams) on this node."""
        return self._rings.readers(chat_id)

    async def _catch_up(
        self, ring: ChatRing, turn_id: str | None, after: int, synced: int | None
    ) -> tuple[list[StoredEvent], int | None]:
        """What the reader has not seen, from the ring when it covers it, else from the journal (once: readers of a
        chat joining together wait for the first one's read, which seeds the ring); and the epoch now synced."""
        if turn_id is not None:
            epoch = ring.view.epoch
            self.store_reads += 1
            rows = await self._journal.list_events(turn_id, after, limit=REPLAY_PAGE)
            return rows, (epoch if len(rows) < REPLAY_PAGE else synced)
        async with ring.reading:
            if ring_covers(ring.view, after, synced):
                return ring.after(after, None), synced
            epoch = ring.view.epoch
            self.store_reads += 1
            rows = await self._journal.list_chat_events(ring.chat_id, after, limit=REPLAY_PAGE)
            if len(rows) == REPLAY_PAGE:  # one page of a long replay: the rest is read next, the ring vouches for none
                return rows, synced
            ring.seed(after, rows, epoch)
            return rows, epoch

    async def follow(self, chat_id: str, turn_id: str | None, after_seq: int) -> AsyncIterator[StoredEvent | None]:
        last = after_seq
        synced: int | None = None  # the ring's epoch at this reader's last journal read
        with self._rings.join(chat_id) as ring:
            stopping = asyncio.ensure_future(self._stopping.wait())
            loop = asyncio.get_running_loop()
            next_keepalive = loop.time() + self._keepalive_s
            over_since: float | None = None
            try:
                while True:
                    changed = ring.changed()
                    paging = False
                    if ring_covers(ring.view, last, synced):
                        rows = ring.after(last, turn_id)
                    else:
                        rows, synced = await self._catch_up(ring, turn_id, last, synced)
                        paging = len(rows) == REPLAY_PAGE
                    delivered = delivered_terminal = False
                    for row in rows:
                        if row.seq <= last:
                            continue
                        last = row.seq
                        delivered = True
                        yield row
                        if turn_id is not None and is_terminal(row.event):
                            delivered_terminal = True
                            break
                    if paging and not delivered_terminal:
                        continue  # a replay from an old cursor: the next page at once
                    bus = BusState.CLOSED if stopping.done() or ring.closed else BusState.OPEN
                    view = await self._view(turn_id, last, delivered, delivered_terminal, bus, loop.time(), over_since)
                    step = stream_step(view, TERMINAL_GRACE_S)
                    if step.end is not None:
                        return
                    over_since = step.over_since
                    timeout = max(0.0, next_keepalive - loop.time())
                    if turn_id is not None:
                        timeout = min(timeout, POLL_S)
                    if over_since is not None:
                        timeout = min(timeout, max(0.0, over_since + TERMINAL_GRACE_S - loop.time()))
                    waiters: set[asyncio.Future[Any]] = {stopping, changed}
                    await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                    if loop.time() >= next_keepalive:
                        yield None
                        next_keepalive = loop.time() + self._keepalive_s
            finally:
                stopping.cancel()
                with contextlib.suppress(BaseException):
                    await stopping

    async def _view(
        self,
        turn_id: str | None,
        last: int,
        delivered: bool,
        delivered_terminal: bool,
        bus: BusState,
        now: float,
        over_since: float | None,
    ) -> StreamView:
        finished = unread = journaled = False
        if turn_id is not None and not delivered:  # a quiet moment: has the turn ended without a word?
            self.store_reads += 1
            task = await self._queue.get_task(turn_id)
            finished = task is None or task.status.is_terminal
            if finished:
                self.store_reads += 1
                unread = bool(await self._journal.list_events(turn_id, last))
            if finished and not unread and over_since is None:
                self.store_reads += 1
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
