"""What several nodes coordinate through, on PostgreSQL: chat leases (which node's live agents a chat belongs to,
and until when), turn requests relayed to the node running the turn, each node's agent processes, and
single-leader sections.

A lease is taken with a conditional upsert: the row is locked and the condition re-checked against its newest
version, so two nodes never both believe they hold one chat. Chats are leased in id order, so two nodes renewing
overlapping sets cannot deadlock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from adapters.store import rows
from adapters.store.postgres_conn import ACQUIRE_TIMEOUT_S, Conn, GuardedPool, advisory_key
from adapters.store.postgres_sql import SQL
from core.model import ProcessRecord, Task, TurnRequest

_utc = rows.time_or_none

# Lease the chats of $2 that exist (and with $5, are open) to $1 unless another node holds an unexpired lease at
# $3; returns those leased.
TAKE_LEASES = """
    INSERT INTO chat_leases (chat_id, node_id, expires_at)
    SELECT id, $1, $4 FROM chats WHERE id = ANY($2::text[]) AND (NOT $5 OR status = 'open') ORDER BY id
    ON CONFLICT (chat_id) DO UPDATE SET node_id = excluded.node_id, expires_at = excluded.expires_at
    WHERE chat_leases.node_id = excluded.node_id OR chat_leases.expires_at <= $3
    RETURNING chat_id"""
# Expired leases of other nodes that still have a turn running in the chat: fail it, move the lease to $1.
TAKE_OVER_ABANDONED = """
    WITH stale AS (
        SELECT chat_id, node_id FROM chat_leases WHERE node_id <> $1 AND expires_at <= $3
        ORDER BY chat_id FOR UPDATE SKIP LOCKED
    ), failed AS (
        UPDATE tasks AS t SET status = 'failed', error = replace($2, '{node}', t.node_id), finished_at = $3
        FROM stale WHERE t.chat_id = stale.chat_id AND t.node_id = stale.node_id AND t.status = 'running'
        RETURNING t.*
    ), moved AS (
        UPDATE chat_leases AS l SET node_id = $1, expires_at = $4 FROM failed WHERE l.chat_id = failed.chat_id
    )
    SELECT * FROM failed"""
RELAY = """
    INSERT INTO turn_requests (task_id, request, created_at)
    SELECT id, $2, $3 FROM tasks WHERE id = $1 AND status = 'running'
    RETURNING (SELECT node_id FROM tasks WHERE id = $1) AS node_id"""
TAKE_REQUESTS = """
    WITH finished AS (
        DELETE FROM turn_requests WHERE task_id IN (SELECT id FROM tasks WHERE status <> 'running')
    )
    DELETE FROM turn_requests WHERE task_id IN (SELECT id FROM tasks WHERE status = 'running' AND node_id = $1)
    RETURNING id, request"""


async def take_leases(
    conn: Conn, node_id: str, chat_ids: Sequence[str], at: datetime, until: datetime, *, open_only: bool = False
) -> set[str]:
    leased = await conn.fetch(TAKE_LEASES, node_id, sorted(set(chat_ids)), _utc(at), _utc(until), open_only)
    return {row["chat_id"] for row in leased}


class LeaseTaken(Exception):
    """Rolls a claim back: the chat's lease went to another node between the claim's read and its write."""


async def claim(
    conn: Conn, node_id: str, at: datetime, skip_chats: Sequence[str], lease_until: datetime | None
) -> asyncpg.Record | None:
    """The claim statement, then (with ``lease_until``) the chat's lease, in the caller's transaction."""
    row = await conn.fetchrow(SQL.claim_next, list(skip_chats), _utc(at), node_id)
    return await _leased(conn, row, node_id, at, lease_until)


async def claim_task(
    conn: Conn, task_id: str, node_id: str, at: datetime, lease_until: datetime
) -> asyncpg.Record | None:
    """``claim`` of one given task, when it is the head of its chat's queue, in the caller's transaction."""
    row = await conn.fetchrow(SQL.claim_task, task_id, _utc(at), node_id)
    return await _leased(conn, row, node_id, at, lease_until)


async def _leased(
    conn: Conn, row: asyncpg.Record | None, node_id: str, at: datetime, lease_until: datetime | None
) -> asyncpg.Record | None:
    if row is None or row["chat_id"] is None or lease_until is None:
        return row
    if not await take_leases(conn, node_id, [row["chat_id"]], at, lease_until):
        raise LeaseTaken
    return row


class PostgresNodes:
    """What several nodes coordinate through, of ``core.ports.store.Store`` for ``PostgresStore``."""

    _pool: GuardedPool

    async def renew_chat_leases(
        self, node_id: str, chat_ids: Sequence[str], at: datetime, until: datetime
    ) -> list[str]:
        async with self._pool.acquire() as conn:
            leased = await take_leases(conn, node_id, chat_ids, at, until, open_only=True)
        return sorted(set(chat_ids) - leased)

    async def release_chat_leases(self, node_id: str) -> None:
        await self._pool.execute("DELETE FROM chat_leases WHERE node_id = $1", node_id)

    async def take_over_abandoned_chats(self, node_id: str, reason: str, at: datetime, until: datetime) -> list[Task]:
        found = await self._pool.fetch(TAKE_OVER_ABANDONED, node_id, reason, _utc(at), _utc(until))
        return rows.oldest_first(rows.task_from(row) for row in found)

    async def relay_turn_request(self, request: TurnRequest, at: datetime) -> str | None:
        node = await self._pool.fetchval(RELAY, request.task_id, request.model_dump_json(), _utc(at))
        return None if node is None else str(node)

    async def take_turn_requests(self, node_id: str) -> list[TurnRequest]:
        taken = sorted(await self._pool.fetch(TAKE_REQUESTS, node_id), key=lambda row: int(row["id"]))
        return [TurnRequest.model_validate_json(row["request"]) for row in taken]

    # processes
    async def record_process(self, record: ProcessRecord) -> None:
        r = record
        await self._pool.execute(SQL.upsert_process, r.node_id, r.key, r.pid, r.port, _utc(r.started_at), r.command)

    async def list_processes(self, node_id: str) -> list[ProcessRecord]:
        sql = "SELECT * FROM processes WHERE node_id = $1 ORDER BY started_at, key"
        return [rows.process_from(row) for row in await self._pool.fetch(sql, node_id)]

    async def forget_process(self, key: str, pid: int) -> None:
        await self._pool.execute("DELETE FROM processes WHERE key = $1 AND pid = $2", key, pid)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """True for exactly one holder cluster-wide; the lock lives as long as this block's transaction."""
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            held = bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", advisory_key(name)))
            yield held
