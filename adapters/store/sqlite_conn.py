"""One SQLite connection, used by one transaction at a time: on its own thread, or briefly on the event loop.

Reads run in ``BEGIN``, writes in ``BEGIN IMMEDIATE`` (the write lock taken up front, so two writers wait
on the busy timeout instead of failing half-way). An asyncio.Lock queues callers in order; the single
thread keeps transactions apart even when a waiting caller is cancelled. A fault of the file (read-only, I/O
error, disk full, the write lock held elsewhere past the busy timeout) raises ``StoreUnavailable``; the
transaction is rolled back either way, so the connection works again as soon as the file does.

A transaction its caller marks ``inline`` (a turn's own bookkeeping: a few rows by key) runs on the event loop
instead, because the hop to the thread and back costs more than its statements do (about 0.2 ms each way on a
busy loop, several per turn). It never waits there: the connection's busy timeout is 0 on the loop, and a write
lock held by another process sends the transaction to the thread, which waits as every transaction does. The
connection does not checkpoint on commit (``wal_autocheckpoint=0``: a checkpoint writes and syncs the database
file); the thread checkpoints instead, once enough commits have gone by, before the next transaction it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from adapters.store.rows import time_text
from adapters.store.schema import VERSION_TABLE, StoreUnavailableError, pending_versions, split_statements
from core.ports.store import StoreUnavailable

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000
CHECKPOINT_EVERY = 500  # commits between checkpoints (SQLite's own default is a WAL of 1,000 pages)
Params = dict[str, Any] | Sequence[Any]
# primary result codes of a database that is there but cannot be used now: BUSY, LOCKED, NOMEM, READONLY, IOERR,
# FULL, CANTOPEN, PROTOCOL (a constraint or a syntax error stays a bug, not an outage)
_FAULT_CODES = {5, 6, 7, 8, 10, 13, 14, 15}


def unavailable(error: sqlite3.Error, path: Path) -> StoreUnavailable | None:
    """``StoreUnavailable`` naming the cause when ``error`` says the file cannot be used now, else None."""
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(error, sqlite3.OperationalError) or code is None or code & 0xFF not in _FAULT_CODES:
        return None
    name = getattr(error, "sqlite_errorname", str(code))
    return StoreUnavailable(
        f"the SQLite database {path} cannot be used now ({name}: {error}); check that its directory is writable, "
        "the disk has room and no other process holds its write lock"
    )


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on the thread (``SqliteConnection``)
        _migrate(conn, str(path))
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, where: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(VERSION_TABLE["sqlite"])
        current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
        for version, script in pending_versions("sqlite", int(current), where):
            for statement in split_statements(script):  # executescript() would COMMIT half-way
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time_text(datetime.now(UTC))))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _locked_elsewhere(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock this transaction needs."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (5, 6)


class _ProbeDone(Exception):
    """Ends a write probe with a rollback."""


class SqliteConnection:
    def __init__(self, path: Path, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.path = path
        self._conn = conn
        self._executor = executor
        self._lock = asyncio.Lock()
        self._closed = False
        self._commits = 0  # write transactions since the last checkpoint
        self._busy_timeout_ms = BUSY_TIMEOUT_MS  # as set on the connection: set again only when it must change
        self.inline_runs = 0  # transactions run on the event loop (the rest ran on the thread)

    @classmethod
    async def open(cls, path: Path) -> SqliteConnection:
        """Creates the parent directory and the file if needed and migrates it to the latest schema."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-sqlite")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        except (sqlite3.Error, OSError) as error:
            executor.shutdown(wait=False)
            raise StoreUnavailableError(
                f"cannot open the SQLite database {path} ({type(error).__name__}: {error}): check that the data "
                "directory is writable and the file is a hearth database (move a damaged file aside to start afresh)"
            ) from error
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, conn, executor)

    async def run(self, work: Callable[[sqlite3.Connection], T], begin: str | None, *, inline: bool = False) -> T:
        """``work`` in one transaction (``begin`` None: one statement, which SQLite runs as a transaction of its
        own); ``inline``: on the event loop unless the file is locked by another process (a caller vouches that
        ``work`` touches a few rows by key)."""
        if self._closed:
            raise RuntimeError(f"the SQLite store at {self.path} is closed")

        def transaction(conn: sqlite3.Connection) -> T:
            if begin is None:
                return work(conn)
            conn.execute(begin)
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back itself (I/O error, disk full); a COMMIT that failed leaves it open
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        async with self._lock:
            try:
                writes = begin is not None and begin != "BEGIN"
                if inline and self._commits < CHECKPOINT_EVERY:
                    try:
                        result = self._without_waiting(transaction)
                        self.inline_runs += 1
                        self._commits += writes
                        return result
                    except sqlite3.OperationalError as error:
                        if not _locked_elsewhere(error):
                            raise
                thread = functools.partial(self._on_thread, transaction, writes)
                return await asyncio.get_running_loop().run_in_executor(self._executor, thread)
            except sqlite3.Error as error:
                if (fault := unavailable(error, self.path)) is not None:
                    raise fault from error
                raise

    def _busy_timeout(self, milliseconds: int) -> None:
        """The connection's busy timeout; it stays until the next call that changes it (each statement saved
        counts: most transactions run inline, one after the other)."""
        if self._busy_timeout_ms != milliseconds:
            self._conn.execute(f"PRAGMA busy_timeout={milliseconds}")
            self._busy_timeout_ms = milliseconds

    def _without_waiting(self, transaction: Callable[[sqlite3.Connection], T]) -> T:
        """On the event loop: a busy timeout of 0, so a lock held elsewhere fails at once instead of blocking."""
        self._busy_timeout(0)
        return transaction(self._conn)

    def _on_thread(self, transaction: Callable[[sqlite3.Connection], T], writes: bool) -> T:
        with contextlib.suppress(sqlite3.Error):  # a broken file: the transaction's own error is the one to tell
            self._busy_timeout(BUSY_TIMEOUT_MS)  # on the thread, waiting for another process's lock is the point
        if self._commits >= CHECKPOINT_EVERY:
            # PASSIVE: copies what no reader still needs into the database file, never waits for anyone
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._commits = 0
        result = transaction(self._conn)
        self._commits += writes
        return result

    async def write(self, work: Callable[[sqlite3.Connection], T], *, inline: bool = False) -> T:
        return await self.run(work, "BEGIN IMMEDIATE", inline=inline)

    async def read(self, work: Callable[[sqlite3.Connection], T], *, inline: bool = False) -> T:
        return await self.run(work, "BEGIN", inline=inline)

    async def all(self, sql: str, params: Params = (), *, inline: bool = False) -> list[sqlite3.Row]:
        """One read statement (a SELECT: a statement that writes needs ``write``)."""
        return await self.run(lambda conn: conn.execute(sql, params).fetchall(), None, inline=inline)

    async def one(self, sql: str, params: Params = (), *, inline: bool = False) -> sqlite3.Row | None:
        found = await self.all(sql, params, inline=inline)
        return found[0] if found else None

    async def probe_write(self) -> None:
        """Takes the write lock and starts a write, then rolls back: raises when a write could not be stored now.

        The update matches no row, so nothing reaches the file; it still needs the lock and a writable database.
        """

        def probe(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE schema_version SET version = version WHERE 0")
            raise _ProbeDone

        with contextlib.suppress(_ProbeDone):
            await self.run(probe, "BEGIN IMMEDIATE")

    async def close(self) -> None:
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        await asyncio.to_thread(self._executor.shutdown, True)
