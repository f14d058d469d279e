"""Turns in memory: the task queue (queued, claimed by one node, finished once) and the journal of their events,
with the rules of the SQL stores' statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapters.store.memory_tables import MemoryIntegrityError, MemoryTables, in_utc
from adapters.store.rows import as_utc, need_terminal, oldest_first
from core.events import AgentEvent, dump_event
from core.model import (
    AgentSessionStatus,
    PendingChangeStatus,
    StoredEvent,
    Task,
    TaskOrigin,
    TaskStatus,
    Usage,
)
from core.ports.store import Claimed, ClaimFor
from core.ports.turns import ReconcilePending
from core.usage import combine


class MemoryTurns:
    """The task queue and the journal of ``core.ports.store.Store``, for ``MemoryStore``."""

    _tables: MemoryTables

    # tasks
    async def enqueue_task(self, task: Task, claim: ClaimFor | None = None) -> Task:
        if task.id in self._tables.tasks:
            raise MemoryIntegrityError(f"task {task.id!r} exists already")
        self._tables.need_chat(task.chat_id)
        self._tables.tasks[task.id] = stored = in_utc(task)
        if claim is None or not self._runnable(stored, claim.node_id, as_utc(claim.at)):
            return task
        return self._start(stored, claim.node_id, as_utc(claim.at), claim.lease_until)

    async def get_task(self, task_id: str) -> Task | None:
        return self._tables.tasks.get(task_id)

    async def list_tasks(self, chat_id: str, limit: int = 200) -> list[Task]:
        """The newest ``limit`` tasks of the chat, oldest first."""
        newest_first = [task for task in reversed(self._tables.tasks.values()) if task.chat_id == chat_id]
        return newest_first[:limit][::-1]

    async def claim_next_task(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Task | None:
        return (await self.claim_next_runnable(node_id, at, skip_chats, lease_until)).task

    async def claim_next_runnable(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Claimed:
        at = as_utc(at)
        head = self._next_runnable(node_id, at, skip_chats)
        if head is None:
            return Claimed(None)
        started = self._start(head, node_id, at, lease_until)
        return Claimed(started, self._next_runnable(node_id, at, skip_chats) is not None)

    def _next_runnable(self, node_id: str, at: datetime, skip_chats: Sequence[str]) -> Task | None:
        # in queue order, the first queued task of a chat is its head; every reason to pass a chat over holds for
        # the whole chat, so a later task of a passed-over chat is passed over too and never jumps the queue
        busy = {task.chat_id for task in self._tables.tasks.values() if task.status == TaskStatus.RUNNING}
        for task in self._tables.tasks.values():
            if task.status != TaskStatus.QUEUED:
                continue
            chat_id = task.chat_id
            if chat_id is None or not (
                chat_id in busy or chat_id in skip_chats or self._tables.leased_elsewhere(chat_id, node_id, at)
            ):
                return task
            busy.add(chat_id)  # its later tasks wait behind this head
        return None

    def _runnable(self, task: Task, node_id: str, at: datetime) -> bool:
        """The task is queued and the head of its chat's queue, nothing of its chat runs, no other node leases it."""
        if task.status != TaskStatus.QUEUED:
            return False
        if task.chat_id is None:
            return True
        for other in self._tables.tasks.values():
            if other.id == task.id:
                break
            if other.chat_id == task.chat_id and other.status == TaskStatus.QUEUED:
                return False  # an earlier queued task of the chat
        running = any(t.chat_id == task.chat_id and t.status == TaskStatus.RUNNING for t in self._tables.tasks.values())
        return not running and not self._tables.leased_elsewhere(task.chat_id, node_id, at)

    def _start(self, task: Task, node_id: str, at: datetime, lease_until: datetime | None) -> Task:
        started = task.model_copy(update={"status": TaskStatus.RUNNING, "started_at": at, "node_id": node_id})
        self._tables.tasks[task.id] = started
        if task.chat_id is not None and lease_until is not None:
            self._tables.take_lease(task.chat_id, node_id, at, lease_until)
        return started

    async def finish_task(
        self,
        task_id: str,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None = None,
    ) -> Task:
        need_terminal(status)
        current = self._tables.tasks.get(task_id)
        if current is None:
            raise LookupError(f"finish_task: no task {task_id!r} in memory")
        if current.status.is_terminal:
            return current  # finished already: never count its usage twice
        at = as_utc(at)
        finished = current.model_copy(update={"status": status, "error": error, "finished_at": at, "usage": usage})
        self._tables.tasks[task_id] = finished
        if reply is not None:
            self._tables.replies[task_id] = reply
        # a chat turn ran on the (chat, agent) session; a task of another origin ran one-shot and leaves it alone
        if current.chat_id is not None and current.status == TaskStatus.RUNNING and current.origin is TaskOrigin.CHAT:
            self._count_turn(current.chat_id, current.agent, usage, at)
        return finished

    async def finish_turn(
        self,
        task_id: str,
        chat_id: str | None,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None,
        last_events: Sequence[AgentEvent],
        reconcile: ReconcilePending | None = None,
    ) -> tuple[Task, list[StoredEvent]]:
        if reconcile is not None and chat_id is not None:
            update = reconcile(self._tables.pending_of(chat_id, PendingChangeStatus.PENDING))
            self._tables.replace_pending(chat_id, update.upserts, update.removed_paths)
        current = self._tables.tasks.get(task_id)
        finishing = current is not None and not current.status.is_terminal
        finished = await self.finish_task(task_id, status, error, usage, at, reply)
        return finished, await self.append_events(task_id, chat_id, last_events) if finishing else []

    def _count_turn(self, chat_id: str, agent: str, usage: Usage | None, at: datetime) -> None:
        session = self._tables.sessions.get((chat_id, agent))
        if session is None:
            return
        idle = session.status in (AgentSessionStatus.BUSY, AgentSessionStatus.IDLE)  # crashed or closed stays so
        self._tables.sessions[(chat_id, agent)] = session.model_copy(
            update={
                "turns": session.turns + 1,
                "usage": combine(session.usage, usage),
                "status": AgentSessionStatus.IDLE if idle else session.status,
                "last_used_at": at,
            }
        )

    async def cancel_queued_task(self, task_id: str, at: datetime) -> Task | None:
        task = self._tables.tasks.get(task_id)
        if task is None or task.status != TaskStatus.QUEUED:
            return None
        cancelled = task.model_copy(update={"status": TaskStatus.CANCELLED, "finished_at": as_utc(at)})
        self._tables.tasks[task_id] = cancelled
        return cancelled

    async def fail_running_tasks(self, reason: str, at: datetime, node_id: str | None = None) -> list[Task]:
        update = {"status": TaskStatus.FAILED, "error": reason, "finished_at": as_utc(at)}
        failed = [
            task.model_copy(update=update)
            for task in self._tables.tasks.values()
            if task.status == TaskStatus.RUNNING and (node_id is None or task.node_id == node_id)
        ]
        self._tables.tasks.update((task.id, task) for task in failed)
        return oldest_first(failed)

    async def count_tasks_by_status(self) -> dict[TaskStatus, int]:
        counts = dict.fromkeys(TaskStatus, 0)
        for task in self._tables.tasks.values():
            counts[task.status] += 1
        return counts

    # the turn journal
    async def append_events(self, task_id: str, chat_id: str | None, events: Sequence[AgentEvent]) -> list[StoredEvent]:
        self._tables.need_task(task_id)
        self._tables.need_chat(chat_id)
        bodies = [dump_event(event) for event in events]
        return [self._tables.append_event(task_id, chat_id, body).stored() for body in bodies]
