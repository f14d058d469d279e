"""The schema's upgrades on both SQL stores: idempotent, in place from version 1, and a newer schema refused."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime

import asyncpg
import pytest

from adapters.store.migrations import MIGRATIONS, Dialect
from adapters.store.schema import LATEST_VERSION, VERSION_TABLE, SchemaTooNewError, split_statements
from core.model import Chat
from tests.plugins.stores import open_sql_store as open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_migrations_are_idempotent_and_keep_data(locations: tuple[str, str]) -> None:
    kind, where = locations
    first = await open_store(kind, where)
    await first.create_chat(Chat(id="c1", repo_path="/r", created_at=T0))
    await first.close()
    for _ in range(2):
        again = await open_store(kind, where)
        try:
            assert [c.id for c in await again.list_chats()] == ["c1"]
        finally:
            await again.close()
    assert await schema_versions(kind, where) == sorted(MIGRATIONS[dialect_of(kind)])


async def test_a_version_1_database_is_upgraded_in_place(locations: tuple[str, str]) -> None:
    """A database the first release wrote (no chat_leases) gains the lease table and keeps its rows."""
    kind, where = locations
    dialect: Dialect = "sqlite" if kind == "sqlite" else "postgres"
    version_1 = [VERSION_TABLE[dialect], *split_statements(MIGRATIONS[dialect][1])]
    version_1.append("INSERT INTO schema_version (version, applied_at) VALUES (1, CURRENT_TIMESTAMP)")
    version_1.append(
        "INSERT INTO chats (id, repo_path, status, created_at) "
        "VALUES ('old', '/r', 'open', '2026-01-02T03:04:05.678901+00:00')"
    )
    for statement in version_1:
        await run_sql(kind, where, statement, fetch=False)

    store = await open_store(kind, where)
    try:
        assert [c.id for c in await store.list_chats()] == ["old"]
        assert await store.renew_chat_leases("n1", ["old"], T0, T0) == []
    finally:
        await store.close()
    assert await schema_versions(kind, where) == sorted(MIGRATIONS[dialect_of(kind)])


async def test_a_newer_schema_is_refused_with_a_clear_error(locations: tuple[str, str]) -> None:
    kind, where = locations
    await (await open_store(kind, where)).close()
    newer = LATEST_VERSION + 1
    bump = (
        "INSERT INTO schema_version (version, applied_at) "
        "SELECT MAX(version) + 1, CURRENT_TIMESTAMP FROM schema_version"
    )
    await run_sql(kind, where, bump)
    with pytest.raises(
        SchemaTooNewError, match=rf"schema is version {newer}, this hearth knows up to {LATEST_VERSION}"
    ):
        await open_store(kind, where)
    assert await schema_versions(kind, where) == [*sorted(MIGRATIONS[dialect_of(kind)]), newer]  # nothing touched


async def schema_versions(kind: str, where: str) -> list[int]:
    return await run_sql(kind, where, "SELECT version FROM schema_version ORDER BY version")


async def run_sql(kind: str, where: str, sql: str, *, fetch: bool = True) -> list[int]:
    if kind == "sqlite":
        with closing(sqlite3.connect(where)) as lite, lite:
            found = lite.execute(sql).fetchall()
            return [int(row[0]) for row in found] if fetch else []
    conn = await asyncpg.connect(where)
    try:
        if not fetch:
            await conn.execute(sql)
            return []
        return [int(row[0]) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


def dialect_of(kind: str) -> Dialect:
    """The known versions may have gaps while parallel branches each hold their own number."""
    return "sqlite" if kind == "sqlite" else "postgres"
