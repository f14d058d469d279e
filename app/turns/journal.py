"""A turn's journal: persist first, then publish, so a subscriber never sees an event the store does not have.

It also adds up the usage the agent reports and prices it (``core.usage``, the one ledger), which
``finish_task`` stores with the turn's terminal status. A turn's terminal event is written last, once its final
state is stored (the runner, ``dequeue``, the dispatcher, recovery), so whoever reacts to it reads a finished turn.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from core.agents import ModelPrice
from core.events import AgentEvent, TextDelta, ToolCall, TurnCancelled, UsageReport, is_terminal
from core.model import StoredEvent, Task, Usage
from core.ports.bus import EventBus
from core.ports.store import Journal, TaskQueue
from core.usage import combine, priced, reported

CANCELLED_BEFORE_START = "cancelled before it started"


class TurnJournal:
    """Persist first, then publish: a subscriber never sees an event the store does not have."""

    def __init__(
        self, journal: Journal, bus: EventBus, task_id: str, chat_id: str | None, price: ModelPrice | None = None
    ) -> None:
        self._journal = journal
        self._bus = bus
        self.task_id = task_id
        self.chat_id = chat_id
        self._price = price  # the agent's provider's; a journal that records no agent's turn needs none
        self._reported: Usage | None = None  # None until the agent reports usage
        self.ended = False  # its terminal event is journaled: a turn has exactly one
        self._texts: list[str] = []  # the visible reply, kept with the finished turn for later handoffs
        self.tools_used: set[str] = set()  # the names of the tools the agent called (``core.changes``)
        self.persist_s = 0.0  # time spent writing to the journal (a metric, not a decision: no Clock needed)

    @property
    def usage(self) -> Usage | None:
        """The turn's usage so far, priced once here for every backend: None when the agent reported none."""
        return priced(self._reported, self._price)

    @property
    def reply(self) -> str:
        """The agent's visible text so far, deltas concatenated in journal order."""
        return "".join(self._texts)

    async def write(self, events: Sequence[AgentEvent]) -> None:
        if not events:
            return
        for event in events:
            if isinstance(event, UsageReport):
                self._reported = combine(self._reported, reported(event))
        started = time.perf_counter()
        stored_rows = await self._journal.append_events(self.task_id, self.chat_id, events)
        self.persist_s += time.perf_counter() - started
        # only once stored: a terminal event the store refused is written again when the turn is finished
        self.ended = self.ended or any(is_terminal(event) for event in events)
        self._texts += [event.text for event in events if isinstance(event, TextDelta)]
        self.tools_used.update(event.name for event in events if isinstance(event, ToolCall))
        await self.published(stored_rows)

    async def published(self, stored_rows: Sequence[StoredEvent]) -> None:
        """Publishes rows this turn's events were stored as (by ``write``, or with the turn's end by the runner)."""
        self.ended = self.ended or any(is_terminal(row.event) for row in stored_rows)
        for stored in stored_rows:
            await self._bus.publish(stored)


async def dequeue(queue: TaskQueue, journal: Journal, bus: EventBus, task: Task, at: datetime) -> bool:
    """Cancel a turn that is still queued, journaling why so its open streams end; False when it left the queue."""
    if await queue.cancel_queued_task(task.id, at) is None:
        return False
    writer = TurnJournal(journal, bus, task.id, task.chat_id)
    await writer.write([TurnCancelled(session_id="", turn_id=task.id, reason=CANCELLED_BEFORE_START)])
    return True
