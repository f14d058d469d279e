"""The Store for teams and several nodes: PostgreSQL through an asyncpg pool.

Turns are claimed with ``FOR UPDATE SKIP LOCKED``; single-leader sections take
``pg_try_advisory_xact_lock`` inside a transaction held for the whole block. With ``schema`` every
connection works inside that schema (created if missing), so several hearths can share one database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Self

import asyncpg

from adapters.store import rows
from adapters.store.postgres_conn import ACQUIRE_TIMEOUT_S, Conn, advisory_key, open_pool, quote_ident, redact
from adapters.store.postgres_nodes import LeaseTaken, PostgresNodes, claim
from adapters.store.postgres_sql import SQL
from core.events import AgentEvent, dump_event, parse_event
from core.model import (
    AgentSession,
    AgentSessionStatus,
    Chat,
    ChatStatus,
    PendingChange,
    PendingChangeStatus,
    StoredEvent,
    Task,
    TaskStatus,
    Usage,
    Worktree,
    WorktreeStatus,
)

__all__ = ["Conn", "PostgresStore", "quote_ident", "redact"]
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


CLOSE_TIMEOUT_S = 10.0


class PostgresStore(PostgresNodes):
    """Implements ``core.ports.Store`` (and so ``ProcessRegistry``) on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool, where: str) -> None:
        self._pool = pool
        self.where = where

    @classmethod
    async def open(cls, dsn: str, schema: str | None = None, *, max_connections: int = 10) -> Self:
        """Connects and migrates; with ``schema`` everything lives in that schema (created if missing).

        Raises ``StoreUnavailableError`` (unreachable) or ``SchemaTooNewError`` (migrated by a newer hearth).
        """
        pool, where = await open_pool(dsn, schema, max_connections)
        return cls(pool, where)

    async def _fault_point(self, conn: Conn, name: str) -> None:
        """Awaited between the statements of multi-statement transactions; tests override it to crash there."""

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def close(self) -> None:
        """Waits for borrowed connections (e.g. an ``exclusive`` block) a while, then cuts them."""
        try:
            await asyncio.wait_for(self._pool.close(), timeout=CLOSE_TIMEOUT_S)
        except TimeoutError:
            self._pool.terminate()

    # chats
    async def create_chat(self, chat: Chat) -> Chat:
        await self._pool.execute(
            SQL.insert_chat,
            chat.id,
            chat.repo_path,
            chat.ref,
            chat.title,
            chat.status.value,
            _utc(chat.created_at),
            _utc(chat.closed_at),
        )
        return chat

    async def get_chat(self, chat_id: str) -> Chat | None:
        row = await self._pool.fetchrow("SELECT * FROM chats WHERE id = $1", chat_id)
        return None if row is None else rows.chat_from(row)

    async def list_chats(self) -> list[Chat]:
        return [rows.chat_from(row) for row in await self._pool.fetch("SELECT * FROM chats ORDER BY created_at, id")]

    async def close_chat(self, chat_id: str, at: datetime) -> Chat | None:
        row = await self._pool.fetchrow(SQL.close_chat, ChatStatus.CLOSED.value, _utc(at), chat_id)
        return None if row is None else rows.chat_from(row)

    async def delete_chat(self, chat_id: str) -> bool:
        tag = await self._pool.execute("DELETE FROM chats WHERE id = $1", chat_id)
        return tag != "DELETE 0"

    # worktrees
    async def upsert_worktree(self, worktree: Worktree) -> None:
        w = worktree
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            # at most one row per chat: a chat's worktree recreated at another path replaces the old row
            await conn.execute(SQL.drop_other_worktree, w.chat_id, w.path)
            await conn.execute(
                SQL.upsert_worktree,
                w.path,
                w.chat_id,
                w.repo_path,
                w.branch,
                w.base_commit,
                w.status.value,
                _utc(w.created_at),
                _utc(w.archived_at),
                w.snapshot_ref,
            )

    async def get_worktree(self, chat_id: str) -> Worktree | None:
        row = await self._pool.fetchrow("SELECT * FROM worktrees WHERE chat_id = $1", chat_id)
        return None if row is None else rows.worktree_from(row)

    async def list_worktrees(self, status: WorktreeStatus | None = None) -> list[Worktree]:
        sql = "SELECT * FROM worktrees WHERE $1::text IS NULL OR status = $1 ORDER BY created_at, path"
        found = await self._pool.fetch(sql, None if status is None else status.value)
        return [rows.worktree_from(row) for row in found]

    # agent sessions
    async def get_agent_session(self, chat_id: str, agent: str) -> AgentSession | None:
        sql = "SELECT * FROM agent_sessions WHERE chat_id = $1 AND agent = $2"
        row = await self._pool.fetchrow(sql, chat_id, agent)
        return None if row is None else rows.session_from(row)

    async def upsert_agent_session(self, session: AgentSession) -> None:
        s, u = session, session.usage
        await self._pool.execute(
            SQL.upsert_session,
            s.chat_id,
            s.agent,
            s.backend.value,
            s.backend_session_id,
            s.status.value,
            s.turns,
            u.input_tokens,
            u.output_tokens,
            u.reasoning_tokens,
            u.cost_usd,
            _utc(s.last_used_at),
            s.node_id,
        )

    async def list_agent_sessions(self, chat_id: str) -> list[AgentSession]:
        found = await self._pool.fetch("SELECT * FROM agent_sessions WHERE chat_id = $1 ORDER BY agent", chat_id)
        return [rows.session_from(row) for row in found]

    async def set_agent_session_status(
        self, chat_id: str, agent: str, status: AgentSessionStatus, at: datetime
    ) -> None:
        await self._pool.execute(SQL.set_session_status, status.value, _utc(at), chat_id, agent)

    # tasks
    async def enqueue_task(self, task: Task) -> Task:
        t, u = task, task.usage
        await self._pool.execute(
            SQL.insert_task,
            t.id,
            t.chat_id,
            t.agent,
            t.origin.value,
            t.status.value,
            t.prompt,
            t.model,
            t.error,
            u.input_tokens,
            u.output_tokens,
            u.reasoning_tokens,
            u.cost_usd,
            _utc(t.created_at),
            _utc(t.started_at),
            _utc(t.finished_at),
            t.node_id,
        )
        return task

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._pool.fetchrow("SELECT * FROM tasks WHERE id = $1", task_id)
        return None if row is None else rows.task_from(row)

    async def list_tasks(self, chat_id: str, limit: int = 200) -> list[Task]:
        """The newest ``limit`` tasks of the chat, oldest first."""
        return [rows.task_from(row) for row in await self._pool.fetch(SQL.list_tasks, chat_id, limit)]

    async def claim_next_task(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Task | None:
        for _attempt in range(3):
            try:
                async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
                    row = await claim(conn, node_id, at, skip_chats, lease_until)
            except (asyncpg.UniqueViolationError, LeaseTaken):
                # a racing claimer started the same chat first (tasks_one_running_per_chat), or another node
                # leased the chat after this claim's snapshot: rolled back, look again
                continue
            return None if row is None else rows.task_from(row)
        return None

    async def finish_task(
        self, task_id: str, status: TaskStatus, error: str | None, usage: Usage, at: datetime
    ) -> Task:
        if not status.is_terminal:
            raise ValueError(f"finish_task needs a terminal status, got {status.value!r}")
        u = usage
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            current = await conn.fetchrow(SQL.lock_task, task_id)
            if current is None:
                raise LookupError(f"finish_task: no task {task_id!r} in {self.where}")
            if TaskStatus(current["status"]).is_terminal:
                return rows.task_from(current)  # finished already: never count its usage twice
            usage_values = (u.input_tokens, u.output_tokens, u.reasoning_tokens, u.cost_usd)
            finished = await conn.fetchrow(SQL.finish_task, task_id, status.value, error, _utc(at), *usage_values)
            assert finished is not None  # the row is locked by this transaction
            await self._fault_point(conn, "finish_task")
            if current["chat_id"] is not None and current["status"] == TaskStatus.RUNNING.value:  # a turn ran
                await conn.execute(SQL.add_session_usage, current["chat_id"], current["agent"], *usage_values, _utc(at))
            return rows.task_from(finished)

    async def cancel_queued_task(self, task_id: str, at: datetime) -> Task | None:
        row = await self._pool.fetchrow(SQL.cancel_queued, task_id, _utc(at))
        return None if row is None else rows.task_from(row)

    async def fail_running_tasks(self, reason: str, at: datetime, node_id: str | None = None) -> list[Task]:
        found = await self._pool.fetch(SQL.fail_running, reason, _utc(at), node_id)
        return sorted((rows.task_from(row) for row in found), key=lambda task: (task.created_at, task.id))

    async def count_tasks_by_status(self) -> dict[TaskStatus, int]:
        found = await self._pool.fetch("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status")
        counts = dict.fromkeys(TaskStatus, 0)
        counts.update((TaskStatus(row["status"]), int(row["n"])) for row in found)
        return counts

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
            for index, body in enumerate(bodies):
                if index:
                    await self._fault_point(conn, "append_events")
                seq = await conn.fetchval(SQL.insert_event, task_id, chat_id, body)
                stored.append(StoredEvent(seq=seq, task_id=task_id, chat_id=chat_id, event=parse_event(body)))
        return stored

    async def list_events(self, task_id: str, after_seq: int = 0) -> list[StoredEvent]:
        sql = "SELECT * FROM turn_events WHERE task_id = $1 AND seq > $2 ORDER BY seq"
        return [rows.event_from(row) for row in await self._pool.fetch(sql, task_id, after_seq)]

    async def list_chat_events(self, chat_id: str, after_seq: int = 0) -> list[StoredEvent]:
        sql = "SELECT * FROM turn_events WHERE chat_id = $1 AND seq > $2 ORDER BY seq"
        return [rows.event_from(row) for row in await self._pool.fetch(sql, chat_id, after_seq)]

    # pending changes
    async def replace_pending_changes(
        self, chat_id: str, upserts: Sequence[PendingChange], removed_paths: Sequence[str]
    ) -> None:
        rows.check_same_chat(chat_id, upserts)
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            for index, c in enumerate(upserts):
                if index:
                    await self._fault_point(conn, "replace_pending_changes")
                values: tuple[Any, ...] = (c.chat_id, c.path, c.diff, c.agent, list(c.contributors), c.status.value)
                await conn.execute(SQL.upsert_pending, *values, c.task_id, _utc(c.updated_at))
            if removed_paths:
                await conn.execute(SQL.delete_pending, chat_id, list(removed_paths))

    async def list_pending_changes(
        self, chat_id: str, status: PendingChangeStatus | None = PendingChangeStatus.PENDING
    ) -> list[PendingChange]:
        found = await self._pool.fetch(SQL.list_pending, chat_id, None if status is None else status.value)
        return [rows.pending_from(row) for row in found]

    async def set_pending_status(
        self, chat_id: str, paths: Sequence[str] | None, status: PendingChangeStatus, at: datetime
    ) -> None:
        """Only rows still pending change status; ``paths`` None means all of the chat's pending rows."""
        chosen = None if paths is None else list(paths)
        await self._pool.execute(SQL.set_pending_status, chat_id, status.value, _utc(at), chosen)

    # idempotency
    async def recall_idempotent(self, scope: str, key: str) -> dict[str, object] | None:
        sql = "SELECT response FROM idempotency WHERE scope = $1 AND key = $2"
        found = await self._pool.fetchval(sql, scope, key)
        return None if found is None else dict(found)

    async def remember_idempotent(self, scope: str, key: str, response: dict[str, object]) -> dict[str, object]:
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            await conn.execute(SQL.insert_idempotent, scope, key, response)
            stored = await conn.fetchval("SELECT response FROM idempotency WHERE scope = $1 AND key = $2", scope, key)
        return dict(stored)
