"""A chat's history in memory, with the rules of the SQL stores' bounded reads (``sqlite_history``)."""

from __future__ import annotations

from typing import TypeVar

from adapters.store.memory_tables import MemoryTables
from core.events import TextDelta
from core.model import StoredEvent, Task, TranscriptEntry, TurnHistory

T = TypeVar("T")


def _page(items: list[T], *, forward: bool, limit: int | None) -> list[T]:
    if limit is None:
        return items
    return items[:limit] if forward else items[max(0, len(items) - limit) :]


class MemoryHistory:
    """Paged reads and the handoff window of ``core.ports.store.Store``, for ``MemoryStore``."""

    _tables: MemoryTables

    def _chat_tasks(self, chat_id: str) -> list[Task]:
        return [task for task in self._tables.tasks.values() if task.chat_id == chat_id]

    def _position(self, task_id: str | None, default: int) -> int:
        """A turn's place in queue order (the SQL stores' ``queue_seq``)."""
        for index, key in enumerate(self._tables.tasks):
            if key == task_id:
                return index
        return default

    async def page_tasks(
        self, chat_id: str, *, after: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[Task]:
        end = len(self._tables.tasks)
        lo, hi = self._position(after, end) if after is not None else -1, self._position(before, end)
        order = {key: index for index, key in enumerate(self._tables.tasks)}
        inside = [task for task in self._chat_tasks(chat_id) if lo < order[task.id] < hi]
        return _page(inside, forward=after is not None, limit=limit)

    def _events(
        self, key: str, value: str, after_seq: int, before_seq: int | None, limit: int | None
    ) -> list[StoredEvent]:
        hi = before_seq or float("inf")
        inside = [
            row.stored() for row in self._tables.journal if getattr(row, key) == value and after_seq < row.seq < hi
        ]
        return _page(inside, forward=not (after_seq == 0 and before_seq is not None), limit=limit)

    async def list_events(
        self, task_id: str, after_seq: int = 0, *, before_seq: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        return self._events("task_id", task_id, after_seq, before_seq, limit)

    async def list_chat_events(
        self, chat_id: str, after_seq: int = 0, *, before_seq: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        return self._events("chat_id", chat_id, after_seq, before_seq, limit)

    def _reply(self, task_id: str) -> str:
        if (kept := self._tables.replies.get(task_id)) is not None:
            return kept
        texts = [row.stored().event for row in self._tables.journal if row.task_id == task_id]
        return "".join(event.text for event in texts if isinstance(event, TextDelta))

    async def turn_history(
        self, chat_id: str, *, before: str | None, limit: int, since_agent: str | None = None
    ) -> TurnHistory:
        order = {key: index for index, key in enumerate(self._tables.tasks)}
        hi = len(order) if before is None else order.get(before, -1)
        finished = [t for t in self._chat_tasks(chat_id) if t.status.is_terminal and order[t.id] < hi]
        if since_agent is not None:
            own = [index for index, task in enumerate(finished) if task.agent == since_agent]
            finished = finished[own[-1] + 1 :] if own else finished
        window = finished[max(0, len(finished) - limit) :] if limit > 0 else []
        files: dict[str, list[str]] = {}
        for (chat, path), change in sorted(self._tables.pending.items()):
            if chat == chat_id and change.task_id is not None:
                files.setdefault(change.task_id, []).append(path)
        entries = tuple(
            TranscriptEntry(
                task_id=task.id,
                agent=task.agent,
                prompt=task.prompt,
                reply=self._reply(task.id),
                status=task.status,
                files=tuple(sorted(files.get(task.id, []))),
            )
            for task in window
        )
        return TurnHistory(entries=entries, earlier=len(finished) - len(window))

    async def agents_with_finished_turns(self, chat_id: str) -> set[str]:
        return {task.agent for task in self._chat_tasks(chat_id) if task.status.is_terminal}
