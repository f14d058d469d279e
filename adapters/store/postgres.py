"""The Store for teams and several nodes: PostgreSQL through an asyncpg pool.

Turns are claimed with ``FOR UPDATE SKIP LOCKED``; single-leader sections take
``pg_try_advisory_xact_lock`` inside a transaction held for the whole block. With ``schema`` every
connection works inside that schema (created if missing), so several hearths can share one database. The task
queue and the journal live in ``postgres_turns``, what several nodes coordinate through in ``postgres_nodes``;
this module holds the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Self

import asyncpg

from adapters.store import rows
from adapters.store.postgres_arenas import PostgresArenas
from adapters.store.postgres_conn import ACQUIRE_TIMEOUT_S, Conn, GuardedPool, open_pool, quote_ident, redact
from adapters.store.postgres_creators import PostgresCreators
from adapters.store.postgres_history import PostgresHistory
from adapters.store.postgres_nodes import PostgresNodes
from adapters.store.postgres_pending import pending_rows, write_pending
from adapters.store.postgres_sql import SQL
from adapters.store.postgres_turns import PostgresTurns
from core.model import (
    AgentSession,
    AgentSessionStatus,
    Chat,
    ChatStatus,
    OnInterrupt,
    PendingChange,
    PendingChangeStatus,
    Worktree,
    WorktreeStatus,
)

__all__ = ["Conn", "PostgresStore", "quote_ident", "redact"]
_utc = rows.time_or_none
CLOSE_TIMEOUT_S = 10.0


class PostgresStore(PostgresTurns, PostgresHistory, PostgresNodes, PostgresCreators, PostgresArenas):
    """Implements every role of ``core.ports.store.Store`` on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool, where: str) -> None:
        self._pool = GuardedPool(pool, where)
        self.where = where

    @classmethod
    async def open(cls, dsn: str, schema: str | None = None, *, max_connections: int = 10) -> Self:
        """Connects and migrates; with ``schema`` everything lives in that schema (created if missing).

        Raises ``StoreUnavailableError`` (unreachable) or ``SchemaTooNewError`` (migrated by a newer hearth).
        """
        pool, where = await open_pool(dsn, schema, max_connections)
        return cls(pool, where)

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def close(self) -> None:
        """Waits for borrowed connections (e.g. an ``exclusive`` block) a while, then cuts them."""
        try:
            await asyncio.wait_for(self._pool.raw.close(), timeout=CLOSE_TIMEOUT_S)
        except TimeoutError:
            self._pool.raw.terminate()

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
            chat.on_interrupt.value,
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

    async def set_on_interrupt(self, chat_id: str, on_interrupt: OnInterrupt) -> Chat | None:
        row = await self._pool.fetchrow(SQL.set_on_interrupt, on_interrupt.value, chat_id)
        return None if row is None else rows.chat_from(row)

    async def reopen_chat(self, chat_id: str) -> Chat | None:
        row = await self._pool.fetchrow(SQL.reopen_chat, ChatStatus.OPEN.value, chat_id)
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

    async def get_chat_and_worktree(self, chat_id: str) -> tuple[Chat | None, Worktree | None]:
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction(isolation="repeatable_read"):
            chat = await conn.fetchrow("SELECT * FROM chats WHERE id = $1", chat_id)
            tree = await conn.fetchrow("SELECT * FROM worktrees WHERE chat_id = $1", chat_id)
        return (None if chat is None else rows.chat_from(chat)), (None if tree is None else rows.worktree_from(tree))

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
        s = session
        await self._pool.execute(
            SQL.upsert_session,
            s.chat_id,
            s.agent,
            s.backend.value,
            s.backend_session_id,
            s.status.value,
            s.turns,
            *rows.usage_values(s.usage),
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

    # pending changes
    async def replace_pending_changes(
        self, chat_id: str, upserts: Sequence[PendingChange], removed_paths: Sequence[str]
    ) -> None:
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            await write_pending(conn, chat_id, upserts, removed_paths, self._fault_point)

    async def list_pending_changes(
        self, chat_id: str, status: PendingChangeStatus | None = PendingChangeStatus.PENDING
    ) -> list[PendingChange]:
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
            return await pending_rows(conn, chat_id, status)

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
