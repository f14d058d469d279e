"""Pending changes on SQLite, statement by statement inside a caller's transaction: the chat's rows, and an update
that upserts some and removes others. ``SqliteStore`` runs each in a transaction of its own; the end of a turn runs
both in the transaction that finishes the turn (``SqliteTurns.finish_turn``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence

from adapters.store import rows
from adapters.store.sqlite_sql import SQL
from core.changes import PendingUpdate
from core.model import PendingChange, PendingChangeStatus

_LIST = "SELECT * FROM pending_changes WHERE chat_id = ? AND (? IS NULL OR status = ?) ORDER BY path"


def pending_rows(conn: sqlite3.Connection, chat_id: str, status: PendingChangeStatus | None) -> list[PendingChange]:
    value = None if status is None else status.value
    return [rows.pending_from(row) for row in conn.execute(_LIST, (chat_id, value, value)).fetchall()]


def upsert_params(chat_id: str, upserts: Sequence[PendingChange]) -> list[dict[str, object]]:
    """The rows as statement parameters; refuses a change of another chat before anything is written."""
    rows.check_same_chat(chat_id, upserts)
    return [
        {
            **change.model_dump(),
            "contributors": json.dumps(change.contributors),
            "updated_at": rows.time_text(change.updated_at),
        }
        for change in upserts
    ]


def write_pending(
    conn: sqlite3.Connection,
    chat_id: str,
    params: Sequence[dict[str, object]],
    removed_paths: Sequence[str],
    fault_point: Callable[[str], None],
) -> None:
    for index, change in enumerate(params):
        if index:
            fault_point("replace_pending_changes")
        conn.execute(SQL.upsert_pending, change)
    removed = [(chat_id, path) for path in removed_paths]
    conn.executemany("DELETE FROM pending_changes WHERE chat_id = ? AND path = ?", removed)


def reconcile_in(
    conn: sqlite3.Connection,
    chat_id: str,
    reconcile: Callable[[Sequence[PendingChange]], PendingUpdate],
    fault_point: Callable[[str], None],
) -> None:
    """The chat's pending rows brought up to date by ``reconcile`` (a pure decision), read and written at once."""
    update = reconcile(pending_rows(conn, chat_id, PendingChangeStatus.PENDING))
    if update.upserts or update.removed_paths:
        write_pending(conn, chat_id, upsert_params(chat_id, update.upserts), update.removed_paths, fault_point)
