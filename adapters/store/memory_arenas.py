"""The arena's rows in memory (``core.ports.arenas.ArenaStore``), with the SQL stores' keys and references."""

from __future__ import annotations

from datetime import datetime

from adapters.store.memory_tables import MemoryIntegrityError, MemoryTables, in_utc
from adapters.store.rows import as_utc
from core.arena import Arena, ArenaStatus, Contestant


class MemoryArenas:
    _tables: MemoryTables

    async def create_arena(self, arena: Arena) -> Arena:
        tables = self._tables
        if arena.id in tables.arenas:
            raise MemoryIntegrityError(f"arena {arena.id!r} exists")
        tables.need_chat(arena.chat_id)
        taken = {c.task_id for a in tables.arenas.values() for c in a.contestants}
        for contestant in arena.contestants:
            tables.need_task(contestant.task_id)
            if contestant.task_id in taken:
                raise MemoryIntegrityError(f"task {contestant.task_id!r} already contests")
        stored = in_utc(arena).model_copy(update={"contestants": tuple(in_utc(c) for c in arena.contestants)})
        tables.arenas[arena.id] = stored
        return arena

    async def get_arena(self, arena_id: str) -> Arena | None:
        return self._tables.arenas.get(arena_id)

    async def list_arenas(self, chat_id: str | None = None, status: ArenaStatus | None = None) -> list[Arena]:
        found = [
            a
            for a in self._tables.arenas.values()
            if (chat_id is None or a.chat_id == chat_id) and (status is None or a.status is status)
        ]
        return sorted(found, key=lambda a: (a.created_at, a.id))

    async def save_contestant(self, contestant: Contestant) -> None:
        arena = self._tables.arenas.get(contestant.arena_id)
        if arena is None:
            return
        replaced = tuple(in_utc(contestant) if c.task_id == contestant.task_id else c for c in arena.contestants)
        self._tables.arenas[arena.id] = arena.model_copy(update={"contestants": replaced})

    async def decide_arena(self, arena_id: str, status: ArenaStatus, winner: str | None, at: datetime) -> Arena | None:
        arena = self._tables.arenas.get(arena_id)
        if arena is None or arena.status is not ArenaStatus.OPEN:
            return None
        decided = arena.model_copy(update={"status": status, "winner": winner, "decided_at": as_utc(at)})
        self._tables.arenas[arena_id] = decided
        return decided
