"""Chats: open one on a repository, read them, close or delete one without losing work.

Every guard runs before anything is written, so a refused request changes nothing.
"""

from __future__ import annotations

from returns.result import Success

from app.ids import new_id
from app.pool import AgentPool
from app.turns.journal import dequeue
from app.upkeep.reaping import risk_of, soft_delete
from app.usecases.errors import Refused, WorkAtRisk, ok
from core.changes import WorktreeRisk
from core.errors import Conflict, NotFound
from core.model import Chat, ChatStatus, OnInterrupt, TaskStatus, Worktree, WorktreeStatus
from core.ports.bus import EventBus
from core.ports.clock import Clock
from core.ports.store import ChatStore, Journal, PendingChangeStore, TaskQueue, WorktreeStore
from core.ports.worktrees import Worktrees


class Chats:
    def __init__(
        self,
        *,
        chats: ChatStore,
        worktree_rows: WorktreeStore,
        queue: TaskQueue,
        journal: Journal,
        pending: PendingChangeStore,
        bus: EventBus,
        worktrees: Worktrees,
        pool: AgentPool,
        clock: Clock,
    ) -> None:
        self._chats = chats
        self._rows = worktree_rows
        self._queue = queue
        self._journal = journal
        self._pending = pending
        self._bus = bus
        self._worktrees = worktrees
        self._pool = pool
        self._clock = clock

    async def create(
        self, repo_path: str, ref: str | None, title: str | None, on_interrupt: OnInterrupt = OnInterrupt.STOP
    ) -> Chat:
        """The chat with its worktree ready: a bad ``ref`` or a git failure refuses it before any row is written."""
        resolved = ok(await self._worktrees.validate_repo(repo_path))
        now = self._clock.now()
        chat = Chat(
            id=new_id("chat"), repo_path=resolved, ref=ref, title=title, created_at=now, on_interrupt=on_interrupt
        )
        worktree = ok(await self._worktrees.ensure(chat.id, resolved, ref, None, chat.created_at))
        created = await self._chats.create_chat(chat)
        await self._rows.upsert_worktree(worktree)
        return created

    async def set_on_interrupt(self, chat_id: str, on_interrupt: OnInterrupt) -> Chat:
        """What follows the chat's interrupted turns from now on (ADR 0015)."""
        await self.get(chat_id)
        chat = await self._chats.set_on_interrupt(chat_id, on_interrupt)
        if chat is None:
            raise Refused(NotFound(detail=f"chat {chat_id} does not exist", field="chat_id"))
        return chat

    async def all(self) -> list[Chat]:
        return await self._chats.list_chats()

    async def find(self, chat_id: str) -> Chat | None:
        return await self._chats.get_chat(chat_id)

    async def get(self, chat_id: str) -> Chat:
        chat = await self._chats.get_chat(chat_id)
        if chat is None:
            raise Refused(NotFound(detail=f"chat {chat_id} does not exist", field="chat_id"))
        return chat

    async def get_open(self, chat_id: str) -> Chat:
        chat = await self.get(chat_id)
        if chat.status is not ChatStatus.OPEN:
            raise Refused(Conflict(detail=f"chat {chat_id} is closed; open a new chat", field="chat.status"))
        return chat

    async def worktree(self, chat_id: str) -> Worktree | None:
        await self.get(chat_id)
        return await self._rows.get_worktree(chat_id)

    async def risk(self, chat_id: str) -> WorktreeRisk:
        """What deleting the chat's worktree would lose."""
        return await risk_of(self._pending, self._worktrees, await self.worktree(chat_id), chat_id)

    async def guard_idle(self, chat_id: str) -> None:
        """Refuse while a turn of the chat runs (its worktree is in use)."""
        running = next((t for t in await self._queue.list_tasks(chat_id) if t.status is TaskStatus.RUNNING), None)
        if running is not None:
            detail = f"turn {running.id} is running in this chat; cancel it or wait for it to finish"
            raise Refused(Conflict(detail=detail, field="turn.status"))

    async def close(self, chat_id: str, force: bool) -> Chat:
        """Close hook: evict the chat's handles, archive and remove its worktree, unless work would be lost."""
        chat = await self.get(chat_id)
        await self.guard_idle(chat_id)
        worktree = await self._rows.get_worktree(chat_id)
        risk = await risk_of(self._pending, self._worktrees, worktree, chat_id)
        if not risk.safe and not force:
            detail = "closing would lose work: " + "; ".join(risk.reasons) + ". Apply or discard it, or pass force=true"
            raise WorkAtRisk(detail, risk)
        await self._pool.close_chat(chat_id)
        for task in await self._queue.list_tasks(chat_id):
            if task.status is TaskStatus.QUEUED:
                await dequeue(self._queue, self._journal, self._bus, task, self._clock.now())
        closed = await self._chats.close_chat(chat_id, self._clock.now()) or chat
        if worktree is not None and worktree.status is WorktreeStatus.ACTIVE:
            removed = await soft_delete(self._rows, self._worktrees, worktree, self._clock.now())
            if not isinstance(removed, Success):
                detail = f"chat closed, but removing its worktree failed: {removed.failure().detail}"
                raise Refused(Conflict(detail=detail, field="worktree"))
        return closed

    async def delete(self, chat_id: str, force: bool) -> None:
        chat = await self.get(chat_id)
        if chat.status is ChatStatus.OPEN:
            await self.close(chat_id, force)
        await self._chats.delete_chat(chat_id)
