"""Leadership (``Leadership``): single-leader sections."""

from __future__ import annotations

from core.ports.store import Store


async def test_exclusive_yields_a_verdict(store: Store) -> None:
    async with store.exclusive("reaper") as leader:
        assert leader is True
