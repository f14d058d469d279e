"""A chat's history on PostgreSQL in bounded reads: pages of turns and events, and the window of finished turns a
turn hands its agent. Every range query walks an index from one end and stops at its limit, so its cost does not
grow with the chat."""

from __future__ import annotations

from adapters.store import rows
from adapters.store.postgres_conn import ACQUIRE_TIMEOUT_S, GuardedPool
from core.model import StoredEvent, Task, TurnHistory


class _HistorySQL:
    tasks_after = """
        SELECT * FROM tasks WHERE chat_id = $1 AND queue_seq > COALESCE((SELECT queue_seq FROM tasks WHERE id = $2), $4)
          AND queue_seq < COALESCE((SELECT queue_seq FROM tasks WHERE id = $3), $4)
        ORDER BY queue_seq LIMIT $5"""
    tasks_before = """
        SELECT * FROM (SELECT * FROM tasks WHERE chat_id = $1
                         AND queue_seq < COALESCE((SELECT queue_seq FROM tasks WHERE id = $3), $4)
                         AND $2::text IS NULL
                       ORDER BY queue_seq DESC LIMIT $5) AS newest ORDER BY queue_seq"""
    queue_seq = "SELECT queue_seq FROM tasks WHERE id = $1"
    agent_cursor = """
        SELECT queue_seq FROM tasks WHERE chat_id = $1 AND agent = $2 AND queue_seq < $3
          AND status IN ('succeeded', 'failed', 'cancelled')
        ORDER BY queue_seq DESC LIMIT 1"""
    window = """
        SELECT id, agent, prompt, reply, status, queue_seq FROM tasks
        WHERE chat_id = $1 AND queue_seq > $2 AND queue_seq < $3
          AND status IN ('succeeded', 'failed', 'cancelled')
        ORDER BY queue_seq DESC LIMIT $4"""
    count = """
        SELECT COUNT(*) FROM tasks WHERE chat_id = $1 AND queue_seq > $2 AND queue_seq < $3
          AND status IN ('succeeded', 'failed', 'cancelled')"""
    files = "SELECT task_id, path FROM pending_changes WHERE chat_id = $1 AND task_id = ANY($2::text[])"
    legacy_events = """
        SELECT task_id, event FROM turn_events WHERE task_id = ANY($1::text[]) AND event->>'type' = 'text_delta'
        ORDER BY seq"""
    # each distinct agent of the chat by an index seek (a loose index scan), then whether one of its turns ended
    finished_agents = """
        WITH RECURSIVE agents(name) AS (
            SELECT MIN(agent) FROM tasks WHERE chat_id = $1
            UNION ALL
            SELECT (SELECT MIN(agent) FROM tasks WHERE chat_id = $1 AND agent > agents.name)
            FROM agents WHERE agents.name IS NOT NULL)
        SELECT name FROM agents WHERE name IS NOT NULL
          AND EXISTS (SELECT 1 FROM tasks WHERE chat_id = $1 AND agent = agents.name
                        AND status IN ('succeeded', 'failed', 'cancelled'))"""
    # (column, paging back): a page of events; LIMIT NULL is no limit
    events = {
        ("task_id", False): """
        SELECT * FROM turn_events WHERE task_id = $1 AND seq > $2 AND seq < $3
        ORDER BY seq LIMIT $4""",
        ("task_id", True): """
        SELECT * FROM turn_events WHERE task_id = $1 AND seq > $2 AND seq < $3
        ORDER BY seq DESC LIMIT $4""",
        ("chat_id", False): """
        SELECT * FROM turn_events WHERE chat_id = $1 AND seq > $2 AND seq < $3
        ORDER BY seq LIMIT $4""",
        ("chat_id", True): """
        SELECT * FROM turn_events WHERE chat_id = $1 AND seq > $2 AND seq < $3
        ORDER BY seq DESC LIMIT $4""",
    }


class PostgresHistory:
    """Paged reads and the handoff window of ``core.ports.store.Store``, for ``PostgresStore``."""

    _pool: GuardedPool

    async def page_tasks(
        self, chat_id: str, *, after: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[Task]:
        sql = _HistorySQL.tasks_after if after is not None else _HistorySQL.tasks_before
        found = await self._pool.fetch(sql, chat_id, after, before, rows.NO_END, limit)
        return [rows.task_from(row) for row in found]

    async def _page_events(
        self, key: str, value: str, after_seq: int, before_seq: int | None, limit: int | None
    ) -> list[StoredEvent]:
        backwards = limit is not None and after_seq == 0 and before_seq is not None
        sql = _HistorySQL.events[key, backwards]
        found = [
            rows.event_from(row)
            for row in await self._pool.fetch(sql, value, after_seq, before_seq or rows.NO_END, limit)
        ]
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
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction(readonly=True):
            hi = rows.NO_END
            if before is not None:
                hi = await conn.fetchval(_HistorySQL.queue_seq, before) or 0
            lo = 0
            if since_agent is not None:
                lo = await conn.fetchval(_HistorySQL.agent_cursor, chat_id, since_agent, hi) or 0
            window = await conn.fetch(_HistorySQL.window, chat_id, lo, hi, limit)
            earlier = 0
            if len(window) >= limit:  # a full window: count what it leaves out (an index range, nothing read)
                oldest = window[-1]["queue_seq"] if window else hi
                earlier = await conn.fetchval(_HistorySQL.count, chat_id, lo, oldest)
            files = await conn.fetch(_HistorySQL.files, chat_id, [row["id"] for row in window])
            legacy = [row["id"] for row in window if row["reply"] is None]
            replies = rows.reply_text(await conn.fetch(_HistorySQL.legacy_events, legacy)) if legacy else {}
            return rows.history_from(list(window), earlier, files, replies)

    async def agents_with_finished_turns(self, chat_id: str) -> set[str]:
        return {row["name"] for row in await self._pool.fetch(_HistorySQL.finished_agents, chat_id)}
