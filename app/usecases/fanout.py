"""SSE fan-out from memory: one bounded ring of recent journal entries per followed chat, fed by the bus.

The ring taps the bus (``EventBus.tap``): every event of the chat published while anyone follows it lands here,
inside ``publish``, with no task and no store read, so N readers of a chat cost the one write of each batch, not N
reads. A reader asks ``core.streaming.ring_covers`` whether the ring holds everything it has not seen; only when it
does not (a replay from an old ``Last-Event-ID``, events let go of for capacity, a bus that lost events) does it read
the journal, once, and a chat reader's read seeds the ring for the next reader. The ring lives while someone
follows the chat.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from core.model import StoredEvent
from core.ports.bus import EventBus
from core.streaming import RingView

RING_CAPACITY = 2000  # events kept per followed chat: a few long turns


class ChatRing:
    """Implements ``core.ports.bus.FeedSink``: the recent events of one chat, in seq order."""

    def __init__(self, chat_id: str, capacity: int) -> None:
        self.chat_id = chat_id
        self._capacity = capacity
        self._rows: list[StoredEvent] = []
        self._seqs: list[int] = []
        self._epoch = 0
        self._dropped = 0
        self._base: int | None = None
        self.closed = False
        self.readers = 0
        self.reading = asyncio.Lock()  # readers joining at once share one journal read instead of each doing one
        self._tick: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def view(self) -> RingView:
        return RingView(epoch=self._epoch, dropped=self._dropped, base=self._base)

    def changed(self) -> asyncio.Future[None]:
        """Resolves at the next change (an event, a gap, the end): capture it before reading, then wait on it."""
        return self._tick

    def offer(self, event: StoredEvent) -> None:
        self._insert(event)
        self._trim()
        self._wake()

    def gap(self) -> None:
        self._epoch += 1
        self._rows.clear()
        self._seqs.clear()
        self._dropped = 0
        self._base = None
        self._wake()

    def end(self) -> None:
        self.closed = True
        self._wake()

    def seed(self, after: int, rows: Sequence[StoredEvent], epoch: int) -> None:
        """A chat reader read the journal after ``after`` while the ring listened, in ``epoch``: the ring now holds
        every event of the chat after ``after``."""
        if epoch != self._epoch:
            return  # the bus lost events meanwhile: the read proves nothing about what the ring holds
        for row in rows:
            self._insert(row)
        self._base = after if self._base is None else min(self._base, after)
        self._trim()

    def after(self, last: int, turn_id: str | None) -> list[StoredEvent]:
        rows = self._rows[bisect.bisect_right(self._seqs, last) :]
        return rows if turn_id is None else [row for row in rows if row.task_id == turn_id]

    def _insert(self, event: StoredEvent) -> None:
        if self._seqs and event.seq <= self._seqs[-1]:
            at = bisect.bisect_left(self._seqs, event.seq)
            if at < len(self._seqs) and self._seqs[at] == event.seq:
                return  # seen already (a seed overlapping what the bus delivered)
            self._rows.insert(at, event)
            self._seqs.insert(at, event.seq)
            return
        self._rows.append(event)
        self._seqs.append(event.seq)

    def _trim(self) -> None:
        excess = len(self._rows) - self._capacity
        if excess <= 0:
            return
        self._dropped = max(self._dropped, self._seqs[excess - 1])
        del self._rows[:excess], self._seqs[:excess]
        if self._base is not None and self._base < self._dropped:
            self._base = self._dropped

    def _wake(self) -> None:
        tick, self._tick = self._tick, asyncio.get_running_loop().create_future()
        if not tick.done():
            tick.set_result(None)


class ChatRings:
    """The rings of the chats being followed on this node."""

    def __init__(self, bus: EventBus, capacity: int = RING_CAPACITY) -> None:
        self._bus = bus
        self._capacity = capacity
        self._rings: dict[str, tuple[ChatRing, ExitStack]] = {}

    @contextmanager
    def join(self, chat_id: str) -> Iterator[ChatRing]:
        """The chat's ring, listening to the bus before this returns (so a read after it misses nothing)."""
        entry = self._rings.get(chat_id)
        if entry is None:
            ring, stack = ChatRing(chat_id, self._capacity), ExitStack()
            stack.enter_context(self._bus.tap(chat_id, ring))
            entry = self._rings[chat_id] = (ring, stack)
        ring = entry[0]
        ring.readers += 1
        try:
            yield ring
        finally:
            ring.readers -= 1
            if not ring.readers and self._rings.get(chat_id) is entry:
                del self._rings[chat_id]
                entry[1].close()

    def readers(self, chat_id: str) -> int:
        entry = self._rings.get(chat_id)
        return entry[0].readers if entry is not None else 0
