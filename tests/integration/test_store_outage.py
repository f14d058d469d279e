"""A store out of reach raises ``StoreUnavailable`` (the one type the app answers 503 for), and works again once
the fault heals; a bug such as a constraint violation stays what it is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapters.store.postgres import PostgresStore
from adapters.store.sqlite import SqliteStore
from adapters.store.sqlite_conn import unavailable
from core.ports.store import StoreUnavailable
from tests.integration.store.records import chat
from tests.plugins.outages import postgres_refusing, sqlite_write_lock


async def test_sqlite_with_its_write_lock_held_elsewhere_is_unavailable_then_works_again(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "hearth.db")
    try:
        await store.create_chat(chat("c1"))
        async with sqlite_write_lock(store.path):
            with pytest.raises(StoreUnavailable, match=r"hearth\.db cannot be used now \(SQLITE_BUSY"):
                await store.ping()  # the health probe needs the write lock, as every write does
            assert await store.get_chat("c1") is not None  # reads go on in WAL mode
        await store.ping()
        await store.create_chat(chat("c2"))
        assert [c.id for c in await store.list_chats()] == ["c1", "c2"]
        with pytest.raises(sqlite3.IntegrityError):  # a bug, not an outage: no 503 and no retry
            await store.create_chat(chat("c2"))
    finally:
        await store.close()


def test_a_read_only_sqlite_database_is_an_outage(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            reader.execute("INSERT INTO t VALUES (1)")
    finally:
        reader.close()
    fault = unavailable(raised.value, path)
    assert fault is not None
    assert "SQLITE_READONLY" in str(fault)
    assert unavailable(sqlite3.OperationalError("no such table: x"), path) is None


@pytest.mark.postgres
async def test_postgres_refusing_connections_is_unavailable_then_works_again(pg_dsn: str) -> None:
    store = await PostgresStore.open(pg_dsn)
    try:
        await store.create_chat(chat("c1"))
        async with postgres_refusing(pg_dsn):
            with pytest.raises(StoreUnavailable, match="is out of reach"):
                await store.ping()
            with pytest.raises(StoreUnavailable, match="is out of reach"):
                await store.get_chat("c1")
            with pytest.raises(StoreUnavailable, match="is out of reach"):
                await store.create_chat(chat("c2"))
        await store.ping()
        await store.create_chat(chat("c2"))
        assert [c.id for c in await store.list_chats()] == ["c1", "c2"]
    finally:
        await store.close()
