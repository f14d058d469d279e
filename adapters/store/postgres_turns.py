"""Turns on PostgreSQL: the task queue (queued, claimed by one node, finished once) and the journal of their events.

Claims take the head of a chat's queue with ``FOR UPDATE SKIP LOCKED`` (``postgres_nodes.claim``); a finish locks
its task row first, so its usage reaches the agent session once however many finishers race.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from adapters.store import rows
from adapters.store.postgres_conn import ACQUIRE_TIMEOUT_S, Conn, GuardedPool, advisory_key
from adapters.store.postgres_nodes import LeaseTaken, claim, claim_task
from adapters.store.postgres_pending import reconcile_in
from adapters.store.postgres_sql import SQL
from core.events import AgentEvent, dump_event, parse_event
from core.model import StoredEvent, Task, TaskStatus, Usage
from core.ports.store import Claimed, ClaimFor
from core.ports.turns import ReconcilePending

_utc = rows.time_or_none


def _without_nul(value: Any) -> Any:
    """jsonb refuses U+0000 (raw tool output may hold one): it becomes U+FFFD instead of failing the turn."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


class PostgresTurns:
    """The task queue and the journal of ``core.ports.store.Store``, for ``PostgresStore``."""

    _pool: GuardedPool
    where: str

    async def _fault_point(self, conn: Conn, name: str) -> None:
        """Awaited between the statements of multi-statement transactions; tests override it to crash there."""

    # tasks
    async def enqueue_task(self, task: Task, claim: ClaimFor | None = None) -> Task:
        t = task
        values = (
            t.id,
            t.chat_id,
            t.agent,
            t.origin.value,
            t.status.value,
            t.prompt,
            t.model,
            t.error,
            *rows.usage_values(t.usage),
            _utc(t.created_at),
            _utc(t.started_at),
            _utc(t.finished_at),
            t.node_id,
            t.continues,
        )
        if claim is None:
            await self._pool.execute(SQL.insert_task, *values)
            return task
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            await conn.execute(SQL.insert_task, *values)
            try:
                async with conn.transaction():  # a savepoint: a lost race undoes the claim, never the enqueue
                    row = await claim_task(conn, task.id, claim.node_id, claim.at, claim.lease_until)
            except (asyncpg.UniqueViolationError, LeaseTaken):
                # a racing claimer started a task of the chat first, or another node leased it after this
                # statement's snapshot: the task stays queued for the dispatchers
                row = None
        return task if row is None else rows.task_from(row)

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._pool.fetchrow("SELECT * FROM tasks WHERE id = $1", task_id)
        return None if row is None else rows.task_from(row)

    async def list_tasks(self, chat_id: str, limit: int = 200) -> list[Task]:
        """The newest ``limit`` tasks of the chat, oldest first."""
        return [rows.task_from(row) for row in await self._pool.fetch(SQL.list_tasks, chat_id, limit)]

    async def claim_next_task(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Task | None:
        return (await self.claim_next_runnable(node_id, at, skip_chats, lease_until)).task

    async def claim_next_runnable(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Claimed:
        for _attempt in range(3):
            try:
                async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
                    row = await claim(conn, node_id, at, skip_chats, lease_until)
                    if row is None:
                        return Claimed(None)
                    more = await conn.fetchval(SQL.any_runnable, list(skip_chats), _utc(at), node_id)
            except (asyncpg.UniqueViolationError, LeaseTaken):
                # a racing claimer started the same chat first (tasks_one_running_per_chat), or another node
                # leased the chat after this claim's snapshot: rolled back, look again
                continue
            return Claimed(rows.task_from(row), bool(more))
        return Claimed(None)  # lost every race: the winners run those turns; the next wake-up or poll looks again

    async def finish_task(
        self,
        task_id: str,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None = None,
    ) -> Task:
        rows.need_terminal(status)
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            row, _ = await self._finish(conn, task_id, status, error, usage, at, reply)
            return rows.task_from(row)

    async def _finish(
        self,
        conn: Conn,
        task_id: str,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None,
    ) -> tuple[asyncpg.Record, bool]:
        """The task's row after finishing it, and whether this call finished it."""
        current = await conn.fetchrow(SQL.lock_task, task_id)
        if current is None:
            raise LookupError(f"finish_task: no task {task_id!r} in {self.where}")
        if TaskStatus(current["status"]).is_terminal:
            return current, False  # finished already: never count its usage twice
        usage_values = rows.usage_values(usage)
        finished = await conn.fetchrow(SQL.finish_task, task_id, status.value, error, _utc(at), *usage_values, reply)
        assert finished is not None  # the row is locked by this transaction
        await self._fault_point(conn, "finish_task")
        if rows.ran_on_the_chat_session(current):
            await conn.execute(SQL.add_session_usage, current["chat_id"], current["agent"], *usage_values, _utc(at))
        return finished, True

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
        rows.need_terminal(status)
        bodies = [_without_nul(dump_event(event)) for event in last_events]
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            if reconcile is not None and chat_id is not None:
                await reconcile_in(conn, chat_id, reconcile, self._fault_point)
            if chat_id is not None:  # the journal's per-chat order, as append_events takes it (before the task row)
                await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(f"hearth:journal:{chat_id}"))
            row, finished_now = await self._finish(conn, task_id, status, error, usage, at, reply)
            stored = await self._insert_events(conn, task_id, chat_id, bodies) if finished_now else []
            return rows.task_from(row), stored

    async def cancel_queued_task(self, task_id: str, at: datetime) -> Task | None:
        row = await self._pool.fetchrow(SQL.cancel_queued, task_id, _utc(at))
        return None if row is None else rows.task_from(row)

    async def fail_running_tasks(self, reason: str, at: datetime, node_id: str | None = None) -> list[Task]:
        found = await self._pool.fetch(SQL.fail_running, reason, _utc(at), node_id)
        return rows.oldest_first(rows.task_from(row) for row in found)

    async def count_tasks_by_status(self) -> dict[TaskStatus, int]:
        found = await self._pool.fetch("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status")
        return rows.status_counts(found)

    # the turn journal
    async def append_events(self, task_id: str, chat_id: str | None, events: Sequence[AgentEvent]) -> list[StoredEvent]:
        bodies = [_without_nul(dump_event(event)) for event in events]
        stored: list[StoredEvent] = []
        if not bodies:
            return stored
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            if chat_id is not None:
                # one appender per chat at a time, so a chat's rows commit in seq order: a chat stream reads
                # "seq > last seen" and would skip for good a lower seq that committed after a higher one
                await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(f"hearth:journal:{chat_id}"))
            return await self._insert_events(conn, task_id, chat_id, bodies)

    async def _insert_events(
        self, conn: Conn, task_id: str, chat_id: str | None, bodies: list[Any]
    ) -> list[StoredEvent]:
        stored: list[StoredEvent] = []
        at = datetime.now(UTC)  # the server's time, read under the chat's journal lock: in seq order
        for index, body in enumerate(bodies):
            if index:
                await self._fault_point(conn, "append_events")
            seq = await conn.fetchval(SQL.insert_event, task_id, chat_id, body, at)
            event = parse_event(body)
            stored.append(StoredEvent(seq=seq, task_id=task_id, chat_id=chat_id, event=event, journaled_at=at))
        return stored
