"""What several nodes coordinate through, on SQLite (chat leases, relayed turn requests, each node's agent
processes, single-leader sections): the same rules as PostgreSQL, though one file rarely serves more than one node.

Every statement runs inside the caller's ``BEGIN IMMEDIATE`` transaction, so the read-then-write steps below are
never interleaved with another writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from adapters.store import rows
from adapters.store.sqlite_conn import SqliteConnection
from adapters.store.sqlite_sql import SQL
from core.model import ProcessRecord, Task, TurnRequest

_t = rows.time_text

# Lease a chat that exists (and with :open_only, is open) to :node_id unless another node holds an unexpired
# lease on it (then no row returns).
TAKE_LEASE = """
    INSERT INTO chat_leases (chat_id, node_id, expires_at)
    SELECT id, :node_id, :until FROM chats WHERE id = :chat_id AND (NOT :open_only OR status = 'open')
    ON CONFLICT (chat_id) DO UPDATE SET node_id = excluded.node_id, expires_at = excluded.expires_at
    WHERE chat_leases.node_id = excluded.node_id OR chat_leases.expires_at <= :at
    RETURNING chat_id"""
STALE_LEASES = "SELECT chat_id, node_id FROM chat_leases WHERE node_id <> :node_id AND expires_at <= :at"
FAIL_ABANDONED = """
    UPDATE tasks SET status = 'failed', error = replace(:reason, '{node}', node_id), finished_at = :at
    WHERE status = 'running' AND chat_id = :chat_id AND node_id = :old_node RETURNING *"""
MOVE_LEASE = "UPDATE chat_leases SET node_id = :node_id, expires_at = :until WHERE chat_id = :chat_id"
RELAY = """
    INSERT INTO turn_requests (task_id, request, created_at)
    SELECT id, :request, :at FROM tasks WHERE id = :task_id AND status = 'running' RETURNING
        (SELECT node_id FROM tasks WHERE id = :task_id) AS node_id"""
TAKE_REQUESTS = """
    DELETE FROM turn_requests WHERE task_id IN (SELECT id FROM tasks WHERE status = 'running' AND node_id = ?)
    RETURNING id, request"""
DROP_FINISHED = "DELETE FROM turn_requests WHERE task_id IN (SELECT id FROM tasks WHERE status <> 'running')"


def take_lease(
    conn: sqlite3.Connection, chat_id: str, node_id: str, at: datetime, until: datetime, *, open_only: bool = False
) -> bool:
    params = {"chat_id": chat_id, "node_id": node_id, "at": _t(at), "until": _t(until), "open_only": open_only}
    return conn.execute(TAKE_LEASE, params).fetchone() is not None


class SqliteNodes:
    """What several nodes coordinate through, of ``core.ports.store.Store`` for ``SqliteStore``."""

    _db: SqliteConnection

    async def renew_chat_leases(
        self, node_id: str, chat_ids: Sequence[str], at: datetime, until: datetime
    ) -> list[str]:
        def work(conn: sqlite3.Connection) -> list[str]:
            wanted = sorted(set(chat_ids))
            return [chat for chat in wanted if not take_lease(conn, chat, node_id, at, until, open_only=True)]

        return await self._db.write(work)

    async def release_chat_leases(self, node_id: str) -> None:
        await self._db.write(lambda conn: conn.execute("DELETE FROM chat_leases WHERE node_id = ?", (node_id,)))

    async def take_over_abandoned_chats(self, node_id: str, reason: str, at: datetime, until: datetime) -> list[Task]:
        params = {"node_id": node_id, "reason": reason, "at": _t(at), "until": _t(until)}

        def work(conn: sqlite3.Connection) -> list[Task]:
            failed: list[Task] = []
            for stale in conn.execute(STALE_LEASES, params).fetchall():
                chat = {**params, "chat_id": stale["chat_id"], "old_node": stale["node_id"]}
                found = [rows.task_from(row) for row in conn.execute(FAIL_ABANDONED, chat).fetchall()]
                if found:
                    conn.execute(MOVE_LEASE, chat)
                    failed += found
            return rows.oldest_first(failed)

        return await self._db.write(work)

    async def relay_turn_request(self, request: TurnRequest, at: datetime) -> str | None:
        params = {"task_id": request.task_id, "request": request.model_dump_json(), "at": _t(at)}
        row = await self._db.write(lambda conn: conn.execute(RELAY, params).fetchone())
        return None if row is None else str(row["node_id"])

    async def take_turn_requests(self, node_id: str) -> list[TurnRequest]:
        def work(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            conn.execute(DROP_FINISHED)
            return conn.execute(TAKE_REQUESTS, (node_id,)).fetchall()

        taken = sorted(await self._db.write(work), key=lambda row: int(row["id"]))
        return [TurnRequest.model_validate_json(row["request"]) for row in taken]

    # processes
    async def record_process(self, record: ProcessRecord) -> None:
        params = {**record.model_dump(), "started_at": _t(record.started_at)}
        await self._db.write(lambda conn: conn.execute(SQL.upsert_process, params))

    async def list_processes(self, node_id: str) -> list[ProcessRecord]:
        found = await self._db.all("SELECT * FROM processes WHERE node_id = ? ORDER BY started_at, key", (node_id,))
        return [rows.process_from(row) for row in found]

    async def forget_process(self, key: str, pid: int) -> None:
        await self._db.write(lambda conn: conn.execute("DELETE FROM processes WHERE key = ? AND pid = ?", (key, pid)))

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """An embedded store has one node: the caller always leads."""
        yield True
