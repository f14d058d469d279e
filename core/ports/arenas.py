"""The arena's rows: an arena of one chat and its contestants (each contestant's run is a chat-less task)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.arena import Arena, ArenaStatus, Contestant


class ArenaStore(Protocol):
    async def create_arena(self, arena: Arena) -> Arena:
        """Stores the arena with its contestants; each contestant's task must already be stored."""
        ...

    async def get_arena(self, arena_id: str) -> Arena | None: ...
    async def list_arenas(self, chat_id: str | None = None, status: ArenaStatus | None = None) -> list[Arena]:
        """Oldest first; every chat's (deleted chats' included) when ``chat_id`` is None."""
        ...

    async def save_contestant(self, contestant: Contestant) -> None:
        """Replaces the stored contestant (same arena and task) with this one: its worktree, files, wall time."""
        ...

    async def decide_arena(self, arena_id: str, status: ArenaStatus, winner: str | None, at: datetime) -> Arena | None:
        """open -> ``status`` (with the winner's task id) atomically; None when it was not open (or is missing)."""
        ...
