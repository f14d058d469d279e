"""Store outages for tests: the SQLite write lock held elsewhere, a PostgreSQL database refusing connections.

Both are faults from outside hearth that heal when the block ends. Making a SQLite file read-only is no outage for
an open connection (it keeps writing through its descriptor), so the SQLite one holds the write lock instead.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from adapters.store.postgres import quote_ident
from tests.plugins.postgres import admin_connection


@asynccontextmanager
async def sqlite_write_lock(path: Path) -> AsyncIterator[None]:
    """Another connection holds the write lock of ``path`` until the block ends."""
    holder = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(holder.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            await asyncio.to_thread(holder.execute, "ROLLBACK")
    finally:
        holder.close()


@asynccontextmanager
async def postgres_refusing(dsn: str) -> AsyncIterator[None]:
    """The database of ``dsn`` takes no connection and its open ones are cut until the block ends."""
    database = urlsplit(dsn).path.lstrip("/")
    admin = await admin_connection()
    try:
        await admin.execute(f"ALTER DATABASE {quote_ident(database)} ALLOW_CONNECTIONS false")
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
            yield
        finally:
            await admin.execute(f"ALTER DATABASE {quote_ident(database)} ALLOW_CONNECTIONS true")
    finally:
        await admin.close()


@contextmanager
def settle_log() -> Iterator[list[str]]:
    """The messages of ``app.turns.settle`` (the retried finish of a turn) while the block runs: how a caller
    knows a turn has met the fault before healing it."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("app.turns.settle")
    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
