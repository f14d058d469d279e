"""``store``: an opened, migrated, empty store of each kind (``sqlite`` on a temp file, ``postgres`` on a fresh
database, ``memory``), closed after the test; the role suites in tests/integration/store run on it.

``store[memory]`` is the in-memory store of the fast tests: passing those suites beside the SQL stores is what
makes it a faithful stand-in for them.

``locations``: where to open a SQL store of each kind, ``(kind, where)``, for tests that open, close and reopen
the same database themselves; ``open_sql_store`` opens one there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.store.memory import MemoryStore
from adapters.store.postgres import PostgresStore
from adapters.store.sqlite import SqliteStore
from core.ports.store import Store
from tests.plugins.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "postgres":
        async with fresh_database() as dsn:
            opened = await PostgresStore.open(dsn)
            try:
                yield opened
            finally:
                await opened.close()
        return
    opened = await SqliteStore.open(tmp_path / "data" / "hearth.db") if request.param == "sqlite" else MemoryStore()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def locations(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(kind, where): a SQLite file path or a fresh PostgreSQL database DSN, to open stores on."""
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "hearth.db")
        return
    async with fresh_database() as dsn:
        yield "postgres", dsn


async def open_sql_store(kind: str, where: str) -> SqliteStore | PostgresStore:
    return await SqliteStore.open(Path(where)) if kind == "sqlite" else await PostgresStore.open(where)
