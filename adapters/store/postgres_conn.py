"""Opening the PostgreSQL store's pool: codecs, schema, migrations under an advisory lock, clear errors.

``GuardedPool`` is the pool the store works through: a refused or lost connection, a pool that hands out none in
time, a server shutting down or out of resources raise ``StoreUnavailable`` naming the cause; asyncpg replaces
dead connections by itself, so the store works again as soon as the server takes connections.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from adapters.store.schema import VERSION_TABLE, StoreUnavailableError, pending_versions, split_statements
from core.ports.store import StoreUnavailable

log = logging.getLogger(__name__)

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
COMMAND_TIMEOUT_S = 30.0
ACQUIRE_TIMEOUT_S = 30.0  # waiting for a free pooled connection
CONNECT_TIMEOUT_S = 10.0
# getting a connection fails for these when the server is down, refuses connections or is not accepting them; and
# InternalClientError ("another operation is in progress") when the pool resets a connection the server terminated
_CONNECT_FAULTS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
# a query fails for these when its connection was lost, or the server is shutting down or out of resources
_SERVER_FAULTS = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InsufficientResourcesError,
)


def _lost(error: BaseException) -> bool:
    if isinstance(error, _SERVER_FAULTS):
        return True
    if isinstance(error, asyncpg.InternalClientError):
        # "another operation is in progress": the server's FATAL on a terminated idle connection left its protocol
        # mid-error before asyncpg noticed the socket close; the pool drops it at release
        return True
    return isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error)


class GuardedPool:
    """The store's asyncpg pool, raising ``StoreUnavailable`` when the database is out of reach."""

    def __init__(self, pool: asyncpg.Pool, where: str) -> None:
        self.raw = pool
        self._where = where

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        return StoreUnavailable(
            f"PostgreSQL at {self._where} is out of reach ({type(error).__name__}: {error}); check that the server "
            "is up and accepts connections"
        )

    @asynccontextmanager
    async def acquire(self, timeout: float = ACQUIRE_TIMEOUT_S) -> AsyncIterator[Conn]:  # noqa: ASYNC109 as asyncpg's
        """A pooled connection; only asyncpg's own faults of the block are translated (it may run a caller's code)."""
        try:
            conn = await self.raw.acquire(timeout=timeout)
        except _CONNECT_FAULTS as error:
            raise self._unavailable(error) from error
        try:
            yield conn
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError) as error:
            if _lost(error):
                raise self._unavailable(error) from error
            raise
        finally:
            try:
                await self.raw.release(conn)
            except _CONNECT_FAULTS:  # it died after its work was done: the pool already dropped it
                log.warning("a PostgreSQL connection failed on its way back to the pool", exc_info=True)

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        try:
            async with self.acquire() as conn:
                return await getattr(conn, method)(query, *args)
        except TimeoutError as error:  # COMMAND_TIMEOUT_S passed without an answer
            raise self._unavailable(error) from error

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self._run("execute", query, *args)
        return status

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        found: list[asyncpg.Record] = await self._run("fetch", query, *args)
        return found

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run("fetchrow", query, *args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run("fetchval", query, *args)


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
