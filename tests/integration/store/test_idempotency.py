"""Idempotency (``IdempotencyStore``): the first response stored for a key is the one every retry gets."""

from __future__ import annotations

from core.ports.store import Store


async def test_idempotency_first_response_wins(store: Store) -> None:
    assert await store.recall_idempotent("submit", "k1") is None
    first: dict[str, object] = {"task_id": "t1", "nested": {"n": [1, 2]}}
    assert await store.remember_idempotent("submit", "k1", first) == first
    assert await store.remember_idempotent("submit", "k1", {"task_id": "t2"}) == first
    assert await store.recall_idempotent("submit", "k1") == first
    assert await store.recall_idempotent("cancel", "k1") is None  # keys are per scope


async def test_a_response_handed_out_is_a_copy(store: Store) -> None:
    remembered = await store.remember_idempotent("submit", "k1", {"task_id": "t1", "nested": {"n": [1]}})
    remembered["task_id"] = "changed"
    recalled = await store.recall_idempotent("submit", "k1")
    assert recalled == {"task_id": "t1", "nested": {"n": [1]}}
    recalled["nested"] = {}
    assert await store.recall_idempotent("submit", "k1") == {"task_id": "t1", "nested": {"n": [1]}}
