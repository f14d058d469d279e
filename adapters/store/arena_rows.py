"""The arena's rows as JSON text, shared by the SQL stores: one encoding, so both dialects read alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapters.store.rows import Row
from core.arena import Arena, ArenaStatus, Contestant

_ARENA_KEYS = {"contestants"}


def arena_body(arena: Arena) -> str:
    return arena.model_dump_json(exclude=_ARENA_KEYS)


def contestant_body(contestant: Contestant) -> str:
    return contestant.model_dump_json()


def arena_from(row: Row, contestants: Sequence[Row]) -> Arena:
    """The row's columns win over its body: the chat may be deleted (NULL) and the status moves on its own."""
    arena = Arena.model_validate_json(row["body"])
    return arena.model_copy(
        update={
            "chat_id": row["chat_id"],
            "status": ArenaStatus(row["status"]),
            "contestants": tuple(Contestant.model_validate_json(c["body"]) for c in contestants),
        }
    )


def decided(arena: Arena, status: ArenaStatus, winner: str | None, at: datetime) -> Arena:
    return arena.model_copy(update={"status": status, "winner": winner, "decided_at": at})
