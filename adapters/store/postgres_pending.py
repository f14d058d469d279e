"""Pending changes on PostgreSQL, statement by statement on a connection inside a caller's transaction: the chat's
rows, and an update that upserts some and removes others. ``PostgresStore`` runs each in a transaction of its own;
the end of a turn runs both in the transaction that finishes the turn (``PostgresTurns.finish_turn``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from adapters.store import rows
from adapters.store.postgres_conn import Conn
from adapters.store.postgres_sql import SQL
from core.changes import PendingUpdate
from core.model import PendingChange, PendingChangeStatus
from core.ports.turns import ReconcilePending

FaultPoint = Callable[[Conn, str], Awaitable[None]]


async def pending_rows(conn: Conn, chat_id: str, status: PendingChangeStatus | None) -> list[PendingChange]:
    found = await conn.fetch(SQL.list_pending, chat_id, None if status is None else status.value)
    return [rows.pending_from(row) for row in found]


async def write_pending(
    conn: Conn, chat_id: str, upserts: Sequence[PendingChange], removed_paths: Sequence[str], fault_point: FaultPoint
) -> None:
    rows.check_same_chat(chat_id, upserts)
    for index, change in enumerate(upserts):
        if index:
            await fault_point(conn, "replace_pending_changes")
        values: tuple[Any, ...] = (
            change.chat_id,
            change.path,
            change.diff,
            change.agent,
            list(change.contributors),
            change.status.value,
        )
        await conn.execute(SQL.upsert_pending, *values, change.task_id, rows.time_or_none(change.updated_at))
    if removed_paths:
        await conn.execute(SQL.delete_pending, chat_id, list(removed_paths))


async def reconcile_in(conn: Conn, chat_id: str, reconcile: ReconcilePending, fault_point: FaultPoint) -> None:
    """The chat's pending rows brought up to date by ``reconcile`` (a pure decision), read and written at once; the
    rows are locked first, so a concurrent apply or discard of the chat waits instead of being overwritten."""
    await conn.execute("SELECT 1 FROM pending_changes WHERE chat_id = $1 FOR UPDATE", chat_id)
    update: PendingUpdate = reconcile(await pending_rows(conn, chat_id, PendingChangeStatus.PENDING))
    if update.upserts or update.removed_paths:
        await write_pending(conn, chat_id, update.upserts, update.removed_paths, fault_point)
