"""Database fixtures: ``pg_dsn`` and ``fresh_database()``, a fresh PostgreSQL database per test, dropped after (the
``store`` fixture of the role suites is in ``tests.plugins.stores``).

PostgreSQL comes from ``HEARTH_TEST_PG_DSN`` (default ``tests.plugins.environment.PG_DSN``); when it cannot
be reached the test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from adapters.store.postgres import quote_ident, redact
from tests.plugins.environment import PG_DSN, unavailable

CONNECT_TIMEOUT_S = 5.0


def dsn_for_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


async def admin_connection() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_DSN, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        unavailable(
            f"PostgreSQL not reachable at {redact(PG_DSN)} ({type(error).__name__}: {error}): start it with "
            "`service postgresql start` (Debian: apt-get install -y postgresql) or point HEARTH_TEST_PG_DSN at one"
        )


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A DSN of a brand-new, empty database; dropped (with any leftover connections) on exit."""
    database = f"hearth_test_{uuid.uuid4().hex[:16]}"
    admin = await admin_connection()
    try:
        await admin.execute(f"CREATE DATABASE {quote_ident(database)}")
    finally:
        await admin.close()
    try:
        yield dsn_for_database(PG_DSN, database)
    finally:
        admin = await admin_connection()
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")
        finally:
            await admin.close()


@pytest.fixture
async def pg_dsn() -> AsyncIterator[str]:
    """A DSN of a brand-new, empty database; dropped (with any leftover connections) after the test."""
    async with fresh_database() as dsn:
        yield dsn
