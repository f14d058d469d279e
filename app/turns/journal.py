"""A turn's journal: persist first, then publish, so a subscriber never sees an event the store does not have.

It also adds up the usage the agent reports, which ``finish_task`` stores with the turn's terminal status. A turn's
terminal event is written last, once its final state is stored (the runner, ``dequeue``, the dispatcher, recovery),
so whoever reacts to it reads a finished turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.events import AgentEvent, TurnCancelled, UsageReport, is_terminal
from core.model import Task, Usage
from core.ports.bus import EventBus
from core.ports.store import Journal, TaskQueue

CANCELLED_BEFORE_START = "cancelled before it started"


class TurnJournal:
    """Persist first, then publish: a subscriber never sees an event the store does not have."""

    def __init__(self, journal: Journal, bus: EventBus, task_id: str, chat_id: str | None) -> None:
        self._journal = journal
        self._bus = bus
        self.task_id = task_id
        self.chat_id = chat_id
        self.usage = Usage()
        self.ended = False  # its terminal event is journaled: a turn has exactly one

    async def write(self, events: Sequence[AgentEvent]) -> None:
        if not events:
            return
        for event in events:
            if isinstance(event, UsageReport):
                self.usage = self.usage + Usage(
                    input_tokens=event.input_tokens,
                    output_tokens=event.output_tokens,
                    reasoning_tokens=event.reasoning_tokens,
                    cost_usd=event.cost_usd,
                )
        stored_rows = await self._journal.append_events(self.task_id, self.chat_id, events)
        # only once stored: a terminal event the store refused is written again when the turn is finished
        self.ended = self.ended or any(is_terminal(event) for event in events)
        for stored in stored_rows:
            await self._bus.publish(stored)


async def dequeue(queue: TaskQueue, journal: Journal, bus: EventBus, task: Task, at: datetime) -> bool:
    """Cancel a turn that is still queued, journaling why so its open streams end; False when it left the queue."""
    if await queue.cancel_queued_task(task.id, at) is None:
        return False
    writer = TurnJournal(journal, bus, task.id, task.chat_id)
    await writer.write([TurnCancelled(session_id="", turn_id=task.id, reason=CANCELLED_BEFORE_START)])
    return True
