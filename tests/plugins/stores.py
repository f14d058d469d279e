"""``store``: an opened, migrated, empty store of each kind (``sqlite`` on a temp file, ``postgres`` on a fresh
database, ``memory``), closed after the test; the role suites in tests/integration/store run on it.

``store[memory]`` is the in-memory store of the fast tests: passing those suites beside the SQL stores is what
makes it a faithful stand-in for them.
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
