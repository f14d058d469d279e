"""``fast_store``: the store of the fast test layer (unit tests of the shell)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.store.sqlite import SqliteStore
from core.ports.store import Store


@pytest.fixture
async def fast_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await SqliteStore.open(tmp_path / "fast.sqlite3")
    try:
        yield store
    finally:
        await store.close()
