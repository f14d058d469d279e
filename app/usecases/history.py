"""A chat's history page by page: its turns and its journal, with the cursor of the next page (``core.paging``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from app.usecases.chats import Chats
from app.usecases.errors import Refused, ok
from core.errors import InvalidInput, NotFound
from core.model import StoredEvent, Task
from core.paging import MAX_EVENTS_PAGE, MAX_TURNS_PAGE, next_cursor, page_of, read_limit, read_seq
from core.ports.store import Journal, TaskQueue

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True)
class Page(Generic[T, C]):
    items: list[T]
    next: C | None  # the cursor of the following page in the same direction; None: this is the last
    forward: bool  # paging forward (``after``) or back (``before``, or the newest page)
    limit: int


class History:
    def __init__(self, *, chats: Chats, queue: TaskQueue, journal: Journal) -> None:
        self._chats = chats
        self._queue = queue
        self._journal = journal

    async def _turn_cursor(self, chat_id: str, turn_id: str | None, field: str) -> None:
        if turn_id is None:
            return
        task = await self._queue.get_task(turn_id)
        if task is None or task.chat_id != chat_id:
            detail = f"{field} must be the id of a turn of chat {chat_id}; {turn_id!r} is not one"
            raise Refused(InvalidInput(detail=detail, field=field))

    async def turns(self, chat_id: str, after: str | None, before: str | None, limit: str | None) -> Page[Task, str]:
        """One page of the chat's turns, oldest first: the newest ones unless ``after`` pages forward."""
        size = ok(read_limit(limit, MAX_TURNS_PAGE))
        await self._chats.get(chat_id)
        await self._turn_cursor(chat_id, after, "after")
        await self._turn_cursor(chat_id, before, "before")
        forward = after is not None
        fetched = await self._queue.page_tasks(chat_id, after=after, before=before, limit=size + 1)
        items, more = page_of(fetched, size, forward)
        cursor = next_cursor(items, more, forward)
        return Page(items, cursor.id if cursor is not None else None, forward, size)

    async def events(
        self, chat_id: str, turn_id: str | None, after: str | None, before: str | None, limit: str | None
    ) -> Page[StoredEvent, int]:
        """One page of the chat's (or one turn's) journal, oldest first: from the start unless ``before`` alone
        pages back from there."""
        size = ok(read_limit(limit, MAX_EVENTS_PAGE))
        after_seq, before_seq = ok(read_seq(after, "after")), ok(read_seq(before, "before"))
        await self._chats.get(chat_id)
        if turn_id is not None:
            task = await self._queue.get_task(turn_id)
            if task is None or task.chat_id != chat_id:
                detail = f"turn {turn_id} does not exist in chat {chat_id}"
                raise Refused(NotFound(detail=detail, field="turn_id"))
        forward = not (after_seq is None and before_seq is not None)
        if turn_id is not None:
            fetched = await self._journal.list_events(turn_id, after_seq or 0, before_seq=before_seq, limit=size + 1)
        else:
            fetched = await self._journal.list_chat_events(
                chat_id, after_seq or 0, before_seq=before_seq, limit=size + 1
            )
        items, more = page_of(fetched, size, forward)
        cursor = next_cursor(items, more, forward)
        return Page(items, cursor.seq if cursor is not None else None, forward, size)
