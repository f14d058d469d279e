"""Continuation of interrupted turns (opt-in per chat, ``on_interrupt = "continue"``; ADR 0015).

The runner calls ``after`` when a turn failed because its agent process died under it; startup recovery calls it
for each turn a restart cut short. ``core.continuation`` decides; this queues the linked turn (``continues``) on
the same agent, which resumes the same session, and wakes the dispatcher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from app.ids import new_id
from core.continuation import MAX_ATTEMPTS, Interruption, continuation_of
from core.model import ChatStatus, Task
from core.ports.clock import Clock
from core.ports.store import ChatStore, TaskQueue

log = logging.getLogger(__name__)


@dataclass
class Continuations:
    chats: ChatStore
    queue: TaskQueue
    clock: Clock
    wake: Callable[[], None]

    async def after(self, task: Task, cause: Interruption) -> Task | None:
        """Queue the turn that continues ``task`` when its chat asks for one; None when none is due."""
        if task.chat_id is None:
            return None
        chat = await self.chats.get_chat(task.chat_id)
        if chat is None or chat.status is not ChatStatus.OPEN:
            return None
        chain = {task.id: task}
        current = task
        for _ in range(MAX_ATTEMPTS + 1):  # the turns it continues, to count the attempts so far
            if current.continues is None or (parent := await self.queue.get_task(current.continues)) is None:
                break
            chain[parent.id] = current = parent
        prompt = continuation_of(task, chat.on_interrupt, cause, chain)
        if prompt is None:
            return None
        follow = Task(
            id=new_id("turn"),
            chat_id=task.chat_id,
            agent=task.agent,
            origin=task.origin,
            prompt=prompt,
            model=task.model,
            created_at=self.clock.now(),
            continues=task.id,
        )
        await self.queue.enqueue_task(follow)
        log.warning("turn %s was interrupted (%s); continuing it in turn %s", task.id, cause.value, follow.id)
        self.wake()
        return follow
