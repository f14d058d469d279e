"""The arena's rows on SQLite (``core.ports.arenas.ArenaStore``)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from adapters.store import rows
from adapters.store.arena_rows import arena_body, arena_from, contestant_body, decided
from adapters.store.sqlite_conn import SqliteConnection
from core.arena import Arena, ArenaStatus, Contestant

INSERT_ARENA = "INSERT INTO arenas (id, chat_id, status, created_at, body) VALUES (?, ?, ?, ?, ?)"
INSERT_CONTESTANT = "INSERT INTO arena_contestants (task_id, arena_id, position, body) VALUES (?, ?, ?, ?)"
LIST = """
    SELECT * FROM arenas WHERE (:chat IS NULL OR chat_id = :chat) AND (:status IS NULL OR status = :status)
    ORDER BY created_at, id"""
CONTESTANTS = "SELECT * FROM arena_contestants WHERE arena_id = ? ORDER BY position, task_id"


def _read(conn: sqlite3.Connection, row: sqlite3.Row) -> Arena:
    return arena_from(row, conn.execute(CONTESTANTS, (row["id"],)).fetchall())


class SqliteArenas:
    _db: SqliteConnection

    async def create_arena(self, arena: Arena) -> Arena:
        def work(conn: sqlite3.Connection) -> None:
            created = rows.time_text(arena.created_at)
            conn.execute(INSERT_ARENA, (arena.id, arena.chat_id, arena.status.value, created, arena_body(arena)))
            for c in arena.contestants:
                conn.execute(INSERT_CONTESTANT, (c.task_id, arena.id, c.position, contestant_body(c)))

        await self._db.write(work)
        return arena

    async def get_arena(self, arena_id: str) -> Arena | None:
        def work(conn: sqlite3.Connection) -> Arena | None:
            row = conn.execute("SELECT * FROM arenas WHERE id = ?", (arena_id,)).fetchone()
            return None if row is None else _read(conn, row)

        return await self._db.read(work)

    async def list_arenas(self, chat_id: str | None = None, status: ArenaStatus | None = None) -> list[Arena]:
        def work(conn: sqlite3.Connection) -> list[Arena]:
            found = conn.execute(
                LIST,
                {"chat": chat_id, "status": status.value if status is not None else None},
            ).fetchall()
            return [_read(conn, row) for row in found]

        return await self._db.read(work)

    async def save_contestant(self, contestant: Contestant) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE arena_contestants SET body = ? WHERE task_id = ? AND arena_id = ?",
                (contestant_body(contestant), contestant.task_id, contestant.arena_id),
            )

        await self._db.write(work)

    async def decide_arena(self, arena_id: str, status: ArenaStatus, winner: str | None, at: datetime) -> Arena | None:
        def work(conn: sqlite3.Connection) -> Arena | None:
            row = conn.execute("SELECT * FROM arenas WHERE id = ?", (arena_id,)).fetchone()
            if row is None or row["status"] != ArenaStatus.OPEN.value:
                return None
            arena = decided(_read(conn, row), status, winner, rows.as_utc(at))
            conn.execute(
                "UPDATE arenas SET status = ?, body = ? WHERE id = ?", (status.value, arena_body(arena), arena_id)
            )
            return arena

        return await self._db.write(work)
