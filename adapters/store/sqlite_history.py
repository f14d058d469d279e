"""A chat's history on SQLite in bounded reads: pages of turns and events, and the window of finished turns a
turn hands its agent. Every range query walks an index from one end and stops at its limit, so its cost does not
grow with the chat."""

from __future__ import annotations

import json
import sqlite3

from adapters.store import rows
from adapters.store.sqlite_conn import SqliteConnection
from core.model import StoredEvent, Task, TurnHistory


class _HistorySQL:
    tasks_after = """
        SELECT * FROM tasks WHERE chat_id = :chat
          AND queue_seq > COALESCE((SELECT queue_seq FROM tasks WHERE id = :after), :end)
          AND queue_seq < COALESCE((SELECT queue_seq FROM tasks WHERE id = :before), :end)
        ORDER BY queue_seq LIMIT :limit"""
    tasks_before = """
        SELECT * FROM (SELECT * FROM tasks WHERE chat_id = :chat
                         AND queue_seq < COALESCE((SELECT queue_seq FROM tasks WHERE id = :before), :end)
                       ORDER BY queue_seq DESC LIMIT :limit) ORDER BY queue_seq"""
    queue_seq = "SELECT queue_seq FROM tasks WHERE id = ?"
    agent_cursor = """
        SELECT queue_seq FROM tasks WHERE chat_id = :chat AND agent = :agent AND queue_seq < :hi
          AND status IN ('succeeded', 'failed', 'cancelled')
        ORDER BY queue_seq DESC LIMIT 1"""
    window = """
        SELECT id, agent, prompt, reply, status, queue_seq FROM tasks
        WHERE chat_id = :chat AND queue_seq > :lo AND queue_seq < :hi
          AND status IN ('succeeded', 'failed', 'cancelled')
        ORDER BY queue_seq DESC LIMIT :limit"""
    count = """
        SELECT COUNT(*) FROM tasks WHERE chat_id = :chat AND queue_seq > :lo AND queue_seq < :hi
          AND status IN ('succeeded', 'failed', 'cancelled')"""
    files = """
        SELECT task_id, path FROM pending_changes
        WHERE chat_id = :chat AND task_id IN (SELECT value FROM json_each(:ids))"""
    legacy_events = """
        SELECT task_id, event FROM turn_events WHERE task_id IN (SELECT value FROM json_each(:ids))
          AND json_extract(event, '$.type') = 'text_delta' ORDER BY seq"""
    # each distinct agent of the chat by an index seek (a loose index scan), then whether one of its turns ended
    finished_agents = """
        WITH RECURSIVE agents(name) AS (
            SELECT MIN(agent) FROM tasks WHERE chat_id = :chat
            UNION ALL
            SELECT (SELECT MIN(agent) FROM tasks WHERE chat_id = :chat AND agent > agents.name)
            FROM agents WHERE agents.name IS NOT NULL)
        SELECT name FROM agents WHERE name IS NOT NULL
          AND EXISTS (SELECT 1 FROM tasks WHERE chat_id = :chat AND agent = agents.name
                        AND status IN ('succeeded', 'failed', 'cancelled'))"""
    # (column, paging back): a page of events; LIMIT -1 is no limit
    events = {
        ("task_id", False): """
        SELECT * FROM turn_events WHERE task_id = :key AND seq > :after AND seq < :before
        ORDER BY seq LIMIT :limit""",
        ("task_id", True): """
        SELECT * FROM turn_events WHERE task_id = :key AND seq > :after AND seq < :before
        ORDER BY seq DESC LIMIT :limit""",
        ("chat_id", False): """
        SELECT * FROM turn_events WHERE chat_id = :key AND seq > :after AND seq < :before
        ORDER BY seq LIMIT :limit""",
        ("chat_id", True): """
        SELECT * FROM turn_events WHERE chat_id = :key AND seq > :after AND seq < :before
        ORDER BY seq DESC LIMIT :limit""",
    }


class SqliteHistory:
    """Paged reads and the handoff window of ``core.ports.store.Store``, for ``SqliteStore``."""

    _db: SqliteConnection

    async def page_tasks(
        self, chat_id: str, *, after: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[Task]:
        params = {"chat": chat_id, "after": after, "before": before, "limit": limit, "end": rows.NO_END}
        sql = _HistorySQL.tasks_after if after is not None else _HistorySQL.tasks_before
        return [rows.task_from(row) for row in await self._db.all(sql, params)]

    async def _page_events(
        self, key: str, value: str, after_seq: int, before_seq: int | None, limit: int | None
    ) -> list[StoredEvent]:
        backwards = limit is not None and after_seq == 0 and before_seq is not None
        params = {"key": value, "after": after_seq, "before": before_seq or rows.NO_END, "limit": limit or -1}
        found = [rows.event_from(row) for row in await self._db.all(_HistorySQL.events[key, backwards], params)]
        return found[::-1] if backwards else found

    async def list_events(
        self, task_id: str, after_seq: int = 0, *, before_seq: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        return await self._page_events("task_id", task_id, after_seq, before_seq, limit)

    async def list_chat_events(
        self, chat_id: str, after_seq: int = 0, *, before_seq: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        return await self._page_events("chat_id", chat_id, after_seq, before_seq, limit)

    async def turn_history(
        self, chat_id: str, *, before: str | None, limit: int, since_agent: str | None = None
    ) -> TurnHistory:
        def work(conn: sqlite3.Connection) -> TurnHistory:
            hi = rows.NO_END
            if before is not None:
                found = conn.execute(_HistorySQL.queue_seq, (before,)).fetchone()
                hi = found[0] if found is not None else 0
            lo = 0
            if since_agent is not None:
                cursor = conn.execute(_HistorySQL.agent_cursor, {"chat": chat_id, "agent": since_agent, "hi": hi})
                own_last = cursor.fetchone()
                lo = own_last[0] if own_last is not None else 0
            params = {"chat": chat_id, "lo": lo, "hi": hi, "limit": limit}
            window = conn.execute(_HistorySQL.window, params).fetchall()
            earlier = 0
            if len(window) >= limit:  # a full window: count what it leaves out (an index range, nothing read)
                oldest = window[-1]["queue_seq"] if window else hi
                earlier = conn.execute(_HistorySQL.count, {**params, "hi": oldest}).fetchone()[0]
            if not window:  # nothing since the agent's own last turn: the usual warm turn
                return rows.history_from(window, earlier, [], {})
            ids = json.dumps([row["id"] for row in window])
            files = conn.execute(_HistorySQL.files, {"chat": chat_id, "ids": ids}).fetchall()
            legacy = [row["id"] for row in window if row["reply"] is None]
            found = conn.execute(_HistorySQL.legacy_events, {"ids": json.dumps(legacy)}).fetchall() if legacy else []
            return rows.history_from(window, earlier, files, rows.reply_text(found))

        return await self._db.read(work, inline=True)  # a bounded window, by index

    async def agents_with_finished_turns(self, chat_id: str) -> set[str]:
        return {row["name"] for row in await self._db.all(_HistorySQL.finished_agents, {"chat": chat_id})}
