"""Turns on SQLite: the task queue (queued, claimed by one node, finished once) and the journal of their events.

Every method is one transaction on the store's connection (``adapters.store.sqlite_conn``); claims and finishes
are ``BEGIN IMMEDIATE`` writes, so no two of them interleave.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from adapters.store import rows
from adapters.store.sqlite_conn import SqliteConnection
from adapters.store.sqlite_nodes import take_lease
from adapters.store.sqlite_pending import reconcile_in
from adapters.store.sqlite_sql import SQL
from core.events import AgentEvent, dump_event, parse_event
from core.model import StoredEvent, Task, TaskStatus, Usage
from core.ports.store import Claimed, ClaimFor
from core.ports.turns import ReconcilePending

_t = rows.time_text


def _finish_params(
    task_id: str, status: TaskStatus, error: str | None, usage: Usage | None, at: datetime, reply: str | None
) -> dict[str, object]:
    rows.need_terminal(status)
    return {
        "id": task_id,
        "status": status.value,
        "error": error,
        "at": _t(at),
        "reply": reply,
        **rows.usage_params(usage),
    }


class SqliteTurns:
    """The task queue and the journal of ``core.ports.store.Store``, for ``SqliteStore``."""

    _db: SqliteConnection
    path: Path

    def _fault_point(self, name: str) -> None:
        """Called between the statements of multi-statement transactions; tests override it to crash there."""

    # tasks
    async def enqueue_task(self, task: Task, claim: ClaimFor | None = None) -> Task:
        params = {**task.model_dump(exclude={"usage"}), **rows.usage_params(task.usage)}
        for column in ("created_at", "started_at", "finished_at"):
            params[column] = _t(params[column])

        def work(conn: sqlite3.Connection) -> sqlite3.Row | None:
            conn.execute(SQL.insert_task, params)
            if claim is None:
                return None
            at = {"id": task.id, "node_id": claim.node_id, "at": _t(claim.at)}
            if conn.execute(SQL.runnable, at).fetchone() is None:
                return None
            return self._start(conn, task.id, claim.node_id, claim.at, claim.lease_until)

        row = await self._db.write(work, inline=True)
        return task if row is None else rows.task_from(row)

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._db.one("SELECT * FROM tasks WHERE id = ?", (task_id,), inline=True)
        return None if row is None else rows.task_from(row)

    async def list_tasks(self, chat_id: str, limit: int = 200) -> list[Task]:
        """The newest ``limit`` tasks of the chat, oldest first."""
        return [rows.task_from(row) for row in await self._db.all(SQL.list_tasks, (chat_id, limit))]

    async def claim_next_task(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Task | None:
        return (await self.claim_next_runnable(node_id, at, skip_chats, lease_until)).task

    async def claim_next_runnable(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Claimed:
        params = {"skip": json.dumps(list(skip_chats)), "node_id": node_id, "at": _t(at)}

        def work(conn: sqlite3.Connection) -> tuple[sqlite3.Row | None, bool]:
            head = conn.execute(SQL.next_runnable, params).fetchone()
            if head is None:
                return None, False
            row = self._start(conn, head["id"], node_id, at, lease_until)
            # the claimed chat now runs, so the same query finds the next chat's head, if any
            return row, conn.execute(SQL.next_runnable, params).fetchone() is not None

        row, more = await self._db.write(work, inline=True)
        return Claimed(None if row is None else rows.task_from(row), more)

    def _start(
        self, conn: sqlite3.Connection, task_id: str, node_id: str, at: datetime, lease_until: datetime | None
    ) -> sqlite3.Row:
        """Move a runnable queued task to running, leasing its chat; inside the caller's write transaction."""
        row: sqlite3.Row = conn.execute(SQL.start_task, {"id": task_id, "node_id": node_id, "at": _t(at)}).fetchone()
        if lease_until is not None and row["chat_id"] is not None:
            # the runnable check passed over chats leased to others: inside this transaction the lease is free
            take_lease(conn, row["chat_id"], node_id, at, lease_until)
        return row

    async def finish_task(
        self,
        task_id: str,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None = None,
    ) -> Task:
        params = _finish_params(task_id, status, error, usage, at, reply)
        return rows.task_from(await self._db.write(lambda conn: self._finish(conn, params)[0], inline=True))

    def _finish(self, conn: sqlite3.Connection, params: dict[str, object]) -> tuple[sqlite3.Row, bool]:
        """The task's row after finishing it, and whether this call finished it."""
        current: sqlite3.Row | None = conn.execute("SELECT * FROM tasks WHERE id = :id", params).fetchone()
        if current is None:
            raise LookupError(f"finish_task: no task {params['id']!r} in {self.path}")
        if TaskStatus(current["status"]).is_terminal:
            return current, False  # finished already: never count its usage twice
        finished: sqlite3.Row = conn.execute(SQL.finish_task, params).fetchone()
        self._fault_point("finish_task")
        if rows.ran_on_the_chat_session(current):
            conn.execute(SQL.add_session_usage, {**params, "chat_id": current["chat_id"], "agent": current["agent"]})
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
        params = _finish_params(task_id, status, error, usage, at, reply)
        bodies = [json.dumps(dump_event(event)) for event in last_events]

        def work(conn: sqlite3.Connection) -> tuple[sqlite3.Row, list[StoredEvent]]:
            if reconcile is not None and chat_id is not None:
                reconcile_in(conn, chat_id, reconcile, self._fault_point)
            row, finished_now = self._finish(conn, params)
            return row, self._insert_events(conn, task_id, chat_id, bodies) if finished_now else []

        row, stored = await self._db.write(work, inline=True)
        return rows.task_from(row), stored

    async def cancel_queued_task(self, task_id: str, at: datetime) -> Task | None:
        params = {"id": task_id, "at": _t(at)}
        row = await self._db.write(lambda conn: conn.execute(SQL.cancel_queued, params).fetchone())
        return None if row is None else rows.task_from(row)

    async def fail_running_tasks(self, reason: str, at: datetime, node_id: str | None = None) -> list[Task]:
        params = {"error": reason, "at": _t(at), "node_id": node_id}
        found = await self._db.write(lambda conn: conn.execute(SQL.fail_running, params).fetchall())
        return rows.oldest_first(rows.task_from(row) for row in found)

    async def count_tasks_by_status(self) -> dict[TaskStatus, int]:
        found = await self._db.all("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status")
        return rows.status_counts(found)

    # the turn journal
    async def append_events(self, task_id: str, chat_id: str | None, events: Sequence[AgentEvent]) -> list[StoredEvent]:
        bodies = [json.dumps(dump_event(event)) for event in events]

        if not bodies:
            return []
        return await self._db.write(lambda conn: self._insert_events(conn, task_id, chat_id, bodies), inline=True)

    def _insert_events(
        self, conn: sqlite3.Connection, task_id: str, chat_id: str | None, bodies: list[str]
    ) -> list[StoredEvent]:
        stored = []
        at = rows.as_utc(datetime.now(UTC))  # the server's time, read inside the write lock: seq order
        for index, body in enumerate(bodies):
            if index:
                self._fault_point("append_events")
            seq = conn.execute(SQL.insert_event, (task_id, chat_id, body, _t(at))).fetchone()[0]
            stored.append(
                StoredEvent(seq=seq, task_id=task_id, chat_id=chat_id, event=parse_event(body), journaled_at=at)
            )
        return stored
