"""Replays of mutating requests: the first response to each ``Idempotency-Key``, remembered in the store."""

from __future__ import annotations

from core.ports.store import IdempotencyStore


class Replays:
    def __init__(self, *, store: IdempotencyStore) -> None:
        self._store = store

    async def recall(self, scope: str, key: str) -> dict[str, object] | None:
        return await self._store.recall_idempotent(scope, key)

    async def remember(self, scope: str, key: str, response: dict[str, object]) -> dict[str, object]:
        """Stores ``response`` unless one is stored already; returns whichever is stored (the first one wins)."""
        return await self._store.remember_idempotent(scope, key, response)
