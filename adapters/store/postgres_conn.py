"""Opening the PostgreSQL store's pool: codecs, schema, migrations under an advisory lock, clear errors."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from adapters.store.schema import VERSION_TABLE, StoreUnavailableError, pending_versions, split_statements

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
COMMAND_TIMEOUT_S = 30.0
ACQUIRE_TIMEOUT_S = 30.0  # waiting for a free pooled connection
CONNECT_TIMEOUT_S = 10.0


def advisory_key(name: str) -> int:
    """A stable signed 64-bit lock key for a name (Python's hash() changes per process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


MIGRATION_LOCK = advisory_key("hearth:migrations")


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    scheme, sep, rest = dsn.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return dsn
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def quote_ident(name: str) -> str:
    """A safely quoted SQL identifier (schema or database name)."""
    return '"' + name.replace('"', '""') + '"'


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _migrate(conn: Conn, where: str) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)  # one migrator per database
        await conn.execute(VERSION_TABLE["postgres"])
        current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        for version, script in pending_versions("postgres", int(current), where):
            for statement in split_statements(script):
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version VALUES ($1, $2)", version, datetime.now(UTC))


async def open_pool(dsn: str, schema: str | None, max_connections: int) -> tuple[asyncpg.Pool, str]:
    """A migrated pool and a password-free description of where it points, for messages."""
    where = redact(dsn) + (f" schema {schema}" if schema else "")
    try:
        if schema:
            first = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
            try:
                await first.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            finally:
                await first.close()
        pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=max_connections,
            init=_init_connection,
            command_timeout=COMMAND_TIMEOUT_S,
            timeout=CONNECT_TIMEOUT_S,
            server_settings={"search_path": quote_ident(schema)} if schema else {},
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise StoreUnavailableError(
            f"cannot reach PostgreSQL at {where} ({type(error).__name__}: {error}): check that the server is up "
            "and that HEARTH_DATABASE_URL names a database this user may use"
        ) from error
    try:
        async with pool.acquire(timeout=CONNECT_TIMEOUT_S) as conn:
            await _migrate(conn, where)
    except BaseException:
        pool.terminate()
        raise
    return pool, where
