"""The embedded Store: one SQLite file in the data dir, no set-up.

One connection on one dedicated thread (``adapters.store.sqlite_conn``) runs every transaction start to
finish (reads ``BEGIN``, writes ``BEGIN IMMEDIATE``); the file is in WAL mode with a busy timeout, so a second
hearth process on the same file (e.g. the CLI) waits instead of failing. The task queue and the journal live in
``sqlite_turns``, what several nodes coordinate through in ``sqlite_nodes``; this module holds the rest.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Self

from adapters.store import rows
from adapters.store.sqlite_arenas import SqliteArenas
from adapters.store.sqlite_conn import SqliteConnection
from adapters.store.sqlite_creators import SqliteCreators
from adapters.store.sqlite_history import SqliteHistory
from adapters.store.sqlite_nodes import SqliteNodes
from adapters.store.sqlite_pending import pending_rows, upsert_params, write_pending
from adapters.store.sqlite_sql import SQL
from adapters.store.sqlite_turns import SqliteTurns
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

_t = rows.time_text


class SqliteStore(SqliteTurns, SqliteHistory, SqliteNodes, SqliteCreators, SqliteArenas):
    """Implements every role of ``core.ports.store.Store`` on a SQLite file."""

    def __init__(self, db: SqliteConnection) -> None:
        self.path = db.path
        self._db = db

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Creates the parent directory and the file if needed and migrates it to the latest schema.

        Raises ``StoreUnavailableError`` (unusable file) or ``SchemaTooNewError`` (written by a newer hearth).
        """
        return cls(await SqliteConnection.open(path))

    async def ping(self) -> None:
        """A write probe, not a read: in WAL mode reads go on while the file cannot take a write."""
        await self._db.probe_write()

    async def close(self) -> None:
        await self._db.close()

    # chats
    async def create_chat(self, chat: Chat) -> Chat:
        params = {**chat.model_dump(), "created_at": _t(chat.created_at), "closed_at": _t(chat.closed_at)}
        await self._db.write(lambda conn: conn.execute(SQL.insert_chat, params))
        return chat

    async def get_chat(self, chat_id: str) -> Chat | None:
        row = await self._db.one("SELECT * FROM chats WHERE id = ?", (chat_id,), inline=True)
        return None if row is None else rows.chat_from(row)

    async def list_chats(self) -> list[Chat]:
        return [rows.chat_from(row) for row in await self._db.all("SELECT * FROM chats ORDER BY created_at, id")]

    async def set_on_interrupt(self, chat_id: str, on_interrupt: OnInterrupt) -> Chat | None:
        params = (on_interrupt.value, chat_id)
        row = await self._db.write(lambda conn: conn.execute(SQL.set_on_interrupt, params).fetchone())
        return None if row is None else rows.chat_from(row)

    async def close_chat(self, chat_id: str, at: datetime) -> Chat | None:
        params = (ChatStatus.CLOSED.value, _t(at), chat_id)
        row = await self._db.write(lambda conn: conn.execute(SQL.close_chat, params).fetchone())
        return None if row is None else rows.chat_from(row)

    async def reopen_chat(self, chat_id: str) -> Chat | None:
        params = (ChatStatus.OPEN.value, chat_id)
        row = await self._db.write(lambda conn: conn.execute(SQL.reopen_chat, params).fetchone())
        return None if row is None else rows.chat_from(row)

    async def delete_chat(self, chat_id: str) -> bool:
        count = await self._db.write(lambda conn: conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,)).rowcount)
        return count > 0

    # worktrees
    async def upsert_worktree(self, worktree: Worktree) -> None:
        params = {
            **worktree.model_dump(),
            "created_at": _t(worktree.created_at),
            "archived_at": _t(worktree.archived_at),
        }

        def work(conn: sqlite3.Connection) -> None:
            # at most one row per chat: a chat's worktree recreated at another path replaces the old row
            conn.execute("DELETE FROM worktrees WHERE chat_id = :chat_id AND path <> :path", params)
            conn.execute(SQL.upsert_worktree, params)

        await self._db.write(work)

    async def get_worktree(self, chat_id: str) -> Worktree | None:
        row = await self._db.one("SELECT * FROM worktrees WHERE chat_id = ?", (chat_id,))
        return None if row is None else rows.worktree_from(row)

    async def get_chat_and_worktree(self, chat_id: str) -> tuple[Chat | None, Worktree | None]:
        def read(conn: sqlite3.Connection) -> tuple[sqlite3.Row | None, sqlite3.Row | None]:
            chat = conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
            tree = conn.execute("SELECT * FROM worktrees WHERE chat_id = ?", (chat_id,)).fetchone()
            return chat, tree

        chat, tree = await self._db.read(read, inline=True)
        return (None if chat is None else rows.chat_from(chat)), (None if tree is None else rows.worktree_from(tree))

    async def list_worktrees(self, status: WorktreeStatus | None = None) -> list[Worktree]:
        sql = "SELECT * FROM worktrees WHERE ? IS NULL OR status = ? ORDER BY created_at, path"
        value = None if status is None else status.value
        return [rows.worktree_from(row) for row in await self._db.all(sql, (value, value))]

    # agent sessions
    async def get_agent_session(self, chat_id: str, agent: str) -> AgentSession | None:
        sql = "SELECT * FROM agent_sessions WHERE chat_id = ? AND agent = ?"
        row = await self._db.one(sql, (chat_id, agent), inline=True)
        return None if row is None else rows.session_from(row)

    async def upsert_agent_session(self, session: AgentSession) -> None:
        params = {**session.model_dump(exclude={"usage"}), **rows.usage_params(session.usage)}
        params["last_used_at"] = _t(session.last_used_at)
        await self._db.write(lambda conn: conn.execute(SQL.upsert_session, params), inline=True)

    async def list_agent_sessions(self, chat_id: str) -> list[AgentSession]:
        found = await self._db.all("SELECT * FROM agent_sessions WHERE chat_id = ? ORDER BY agent", (chat_id,))
        return [rows.session_from(row) for row in found]

    async def set_agent_session_status(
        self, chat_id: str, agent: str, status: AgentSessionStatus, at: datetime
    ) -> None:
        params = (status.value, _t(at), chat_id, agent)
        await self._db.write(lambda conn: conn.execute(SQL.set_session_status, params), inline=True)

    # pending changes
    async def replace_pending_changes(
        self, chat_id: str, upserts: Sequence[PendingChange], removed_paths: Sequence[str]
    ) -> None:
        params = upsert_params(chat_id, upserts)
        await self._db.write(lambda conn: write_pending(conn, chat_id, params, removed_paths, self._fault_point))

    async def list_pending_changes(
        self, chat_id: str, status: PendingChangeStatus | None = PendingChangeStatus.PENDING
    ) -> list[PendingChange]:
        return await self._db.read(lambda conn: pending_rows(conn, chat_id, status))

    async def set_pending_status(
        self, chat_id: str, paths: Sequence[str] | None, status: PendingChangeStatus, at: datetime
    ) -> None:
        """Only rows still pending change status; ``paths`` None means all of the chat's pending rows."""
        params = {
            "chat_id": chat_id,
            "status": status.value,
            "at": _t(at),
            "all": paths is None,
            "paths": json.dumps(list(paths or ())),
        }
        await self._db.write(lambda conn: conn.execute(SQL.set_pending_status, params))

    # idempotency
    async def recall_idempotent(self, scope: str, key: str) -> dict[str, object] | None:
        row = await self._db.one("SELECT response FROM idempotency WHERE scope = ? AND key = ?", (scope, key))
        return None if row is None else dict(json.loads(row["response"]))

    async def remember_idempotent(self, scope: str, key: str, response: dict[str, object]) -> dict[str, object]:
        body = json.dumps(response)

        def work(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT INTO idempotency (scope, key, response) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (scope, key, body),
            )
            stored: str = conn.execute(
                "SELECT response FROM idempotency WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()[0]
            return stored

        return dict(json.loads(await self._db.write(work)))
