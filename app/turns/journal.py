"""A turn's journal: persist first, then publish, so a subscriber never sees an event the store does not have.

It also adds up the usage the agent reports and prices it (``core.usage``, the one ledger), which
``finish_task`` stores with the turn's terminal status. A turn's terminal event is written last, once its final
state is stored (the runner, ``dequeue``, the dispatcher, recovery), so whoever reacts to it reads a finished turn.
The agent's last batch before its terminal event is ``hold``-ed: counted at once, stored in the transaction that
finishes the turn (``TaskQueue.finish_turn``), so the end of a turn costs one write, not two.
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
        self.held: list[AgentEvent] = []  # counted, not stored yet: they go with the turn's end (``finish_turn``)

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
        self._count_usage(events)
        await self._store(events)
        self._count_content(events)  # only once stored: a store that failed the turn keeps no half-counted reply

    async def write_held(self) -> None:
        """Stores the held events on their own (counted already), for an end that does not journal them."""
        await self._store(self.held)

    async def _store(self, events: Sequence[AgentEvent]) -> None:
        if not events:
            return
        started = time.perf_counter()
        stored_rows = await self._journal.append_events(self.task_id, self.chat_id, events)
        self.persist_s += time.perf_counter() - started
        # only once stored: a terminal event the store refused is written again when the turn is finished
        self.ended = self.ended or any(is_terminal(event) for event in events)
        await self.published(stored_rows)

    def hold(self, events: Sequence[AgentEvent]) -> None:
        """The agent's last events before its terminal one: counted now (usage, reply, tools, so whatever the
        runner decides from them sees them), stored with the turn's end by the runner (``last_events``)."""
        self._count_usage(events)
        self._count_content(events)
        self.held.extend(events)

    def last_events(self, terminal: AgentEvent) -> list[AgentEvent]:
        """What the transaction that finishes the turn journals: the held events, then ``terminal``."""
        return [*self.held, terminal]

    async def published(self, stored_rows: Sequence[StoredEvent]) -> None:
        """Publishes rows this turn's events were stored as (by ``write``, or with the turn's end by the runner);
        held events among them are stored now, so they are no longer held."""
        self.ended = self.ended or any(is_terminal(row.event) for row in stored_rows)
        if stored_rows:
            self.held.clear()
        for stored in stored_rows:
            await self._bus.publish(stored)

    def _count_usage(self, events: Sequence[AgentEvent]) -> None:
        for event in events:
            if isinstance(event, UsageReport):
                self._reported = combine(self._reported, reported(event))

    def _count_content(self, events: Sequence[AgentEvent]) -> None:
        self._texts += [event.text for event in events if isinstance(event, TextDelta)]
        self.tools_used.update(event.name for event in events if isinstance(event, ToolCall))


async def dequeue(queue: TaskQueue, journal: Journal, bus: EventBus, task: Task, at: datetime) -> bool:
    """Cancel a turn that is still queued, journaling why so its open streams end; False when it left the queue."""
    if await queue.cancel_queued_task(task.id, at) is None:
        return False
    writer = TurnJournal(journal, bus, task.id, task.chat_id)
    await writer.write([TurnCancelled(session_id="", turn_id=task.id, reason=CANCELLED_BEFORE_START)])
    return True
