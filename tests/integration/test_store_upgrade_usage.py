"""Schema v3 upgrades a database in place: usage written before it is kept, and read as earlier hearth meant it.

Earlier hearth wrote 0 for usage nobody reported and a cost of 0 for tokens it had no price for; the upgrade keeps
every token and cost and turns only those zeros into unknown (null).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from adapters.store.migrations import MIGRATIONS, Dialect
from adapters.store.postgres import PostgresStore
from adapters.store.schema import VERSION_TABLE, split_statements
from adapters.store.sqlite import SqliteStore
from core.model import AgentSessionStatus, Task, TaskStatus, Usage
from tests.plugins.postgres import fresh_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AT = "2026-01-02T03:04:05.678901+00:00"
OLD_ROWS = """
INSERT INTO schema_version (version, applied_at) VALUES (1, :at), (2, :at);
INSERT INTO chats (id, repo_path, status, created_at) VALUES ('c1', '/r', 'open', :at);
INSERT INTO agent_sessions (chat_id, agent, backend, status, turns, input_tokens, output_tokens, reasoning_tokens,
    cost_usd, last_used_at) VALUES ('c1', 'qwen', 'warm-acp', 'idle', 3, 200, 40, 5, 0.25, :at);
INSERT INTO tasks (id, chat_id, agent, origin, status, prompt, input_tokens, output_tokens, reasoning_tokens, cost_usd,
    created_at, queue_seq) /*override*/ VALUES
    ('priced', 'c1', 'qwen', 'chat', 'succeeded', 'p', 100, 20, 5, 0.25, :at, 101),
    ('unpriced', 'c1', 'qwen', 'chat', 'succeeded', 'p', 100, 20, 0, 0, :at, 102),
    ('unreported', 'c1', 'qwen', 'chat', 'succeeded', 'p', 0, 0, 0, 0, :at, 103)
"""
TASK_IDS = ("priced", "unpriced", "unreported")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def version_2(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(kind, where) of a database at schema version 2 holding finished turns and their agent session."""
    kind: Dialect = request.param
    statements = [VERSION_TABLE[kind], *(s for v in (1, 2) for s in split_statements(MIGRATIONS[kind][v]))]
    # times as the store writes them; PostgreSQL's queue_seq is an identity column, given here all the same
    # (above the numbers it hands out next)
    override = "OVERRIDING SYSTEM VALUE" if kind == "postgres" else ""
    rows = [row.replace(":at", f"'{AT}'").replace("/*override*/", override) for row in split_statements(OLD_ROWS)]
    statements += rows
    if kind == "sqlite":
        where = str(tmp_path / "hearth.db")
        with closing(sqlite3.connect(where)) as lite, lite:
            for statement in statements:
                lite.execute(statement)
        yield kind, where
        return
    async with fresh_database() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()
        yield kind, dsn


async def test_upgrading_keeps_old_usage_and_reads_its_zeros_as_unknown(version_2: tuple[str, str]) -> None:
    kind, where = version_2
    store = await (SqliteStore.open(Path(where)) if kind == "sqlite" else PostgresStore.open(where))
    try:
        usages = {task_id: (await store.get_task(task_id)) for task_id in TASK_IDS}
        assert {task_id: task.usage if task else "missing" for task_id, task in usages.items()} == {
            "priced": Usage(input_tokens=100, output_tokens=20, reasoning_tokens=5, cost_usd=0.25),
            "unpriced": Usage(input_tokens=100, output_tokens=20, cost_usd=None),
            "unreported": None,
        }
        session = await store.get_agent_session("c1", "qwen")
        assert session is not None
        assert session.usage == Usage(input_tokens=200, output_tokens=40, reasoning_tokens=5, cost_usd=0.25)

        # and the upgraded rows keep counting: a new turn adds to the old session's usage
        await store.upsert_agent_session(session.model_copy(update={"status": AgentSessionStatus.BUSY}))
        await store.enqueue_task(Task(id="new", chat_id="c1", agent="qwen", prompt="p", created_at=T0))
        assert (await store.claim_next_task("n1", T0)) is not None
        done = await store.finish_task("new", TaskStatus.SUCCEEDED, None, Usage(input_tokens=1, cost_usd=0.5), T0)
        assert done.usage == Usage(input_tokens=1, cost_usd=0.5)
        after = await store.get_agent_session("c1", "qwen")
        assert after is not None
        assert (after.turns, after.usage) == (
            4,
            Usage(input_tokens=201, output_tokens=40, reasoning_tokens=5, cost_usd=0.75),
        )
    finally:
        await store.close()
