"""``fast_store``: the store of the fast test layer (unit tests of the shell): the in-memory adapter, which passes the
same contract suites as SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from adapters.store.memory import MemoryStore
from core.ports.store import Store


@pytest.fixture
def fast_store() -> Store:
    return MemoryStore()
