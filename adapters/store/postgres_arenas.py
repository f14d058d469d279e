"""The arena's rows on PostgreSQL (``core.ports.arenas.ArenaStore``)."""

from __future__ import annotations

from datetime import datetime

from adapters.store import rows
from adapters.store.arena_rows import arena_body, arena_from, contestant_body, decided
from adapters.store.postgres_conn import ACQUIRE_TIMEOUT_S, Conn, GuardedPool
from adapters.store.rows import Row
from core.arena import Arena, ArenaStatus, Contestant

INSERT_ARENA = "INSERT INTO arenas (id, chat_id, status, created_at, body) VALUES ($1, $2, $3, $4, $5)"
INSERT_CONTESTANT = "INSERT INTO arena_contestants (task_id, arena_id, position, body) VALUES ($1, $2, $3, $4)"
CONTESTANTS = "SELECT * FROM arena_contestants WHERE arena_id = $1 ORDER BY position, task_id"
LIST = """
    SELECT * FROM arenas WHERE ($1::text IS NULL OR chat_id = $1) AND ($2::text IS NULL OR status = $2)
    ORDER BY created_at, id"""


class PostgresArenas:
    _pool: GuardedPool

    async def _read(self, conn: Conn, row: Row) -> Arena:
        return arena_from(row, await conn.fetch(CONTESTANTS, row["id"]))

    async def create_arena(self, arena: Arena) -> Arena:
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            created = rows.time_or_none(arena.created_at)
            await conn.execute(INSERT_ARENA, arena.id, arena.chat_id, arena.status.value, created, arena_body(arena))
            for c in arena.contestants:
                await conn.execute(INSERT_CONTESTANT, c.task_id, arena.id, c.position, contestant_body(c))
        return arena

    async def get_arena(self, arena_id: str) -> Arena | None:
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM arenas WHERE id = $1", arena_id)
            return None if row is None else await self._read(conn, row)

    async def list_arenas(self, chat_id: str | None = None, status: ArenaStatus | None = None) -> list[Arena]:
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            found = await conn.fetch(LIST, chat_id, status.value if status is not None else None)
            return [await self._read(conn, row) for row in found]

    async def save_contestant(self, contestant: Contestant) -> None:
        await self._pool.execute(
            "UPDATE arena_contestants SET body = $1 WHERE task_id = $2 AND arena_id = $3",
            contestant_body(contestant),
            contestant.task_id,
            contestant.arena_id,
        )

    async def decide_arena(self, arena_id: str, status: ArenaStatus, winner: str | None, at: datetime) -> Arena | None:
        async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM arenas WHERE id = $1 FOR UPDATE", arena_id)
            if row is None or row["status"] != ArenaStatus.OPEN.value:
                return None
            arena = decided(await self._read(conn, row), status, winner, rows.as_utc(at))
            await conn.execute(
                "UPDATE arenas SET status = $1, body = $2 WHERE id = $3", status.value, arena_body(arena), arena_id
            )
            return arena
