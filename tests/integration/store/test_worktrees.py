"""Worktree rows (``WorktreeStore``): keyed by path, at most one per chat."""

from __future__ import annotations

from core.model import WorktreeStatus
from core.ports.store import Store
from tests.integration.store.records import at, chat, worktree


async def test_worktree_upsert_get_and_filter(store: Store) -> None:
    await store.create_chat(chat())
    await store.create_chat(chat("c2"))
    await store.upsert_worktree(worktree())
    await store.upsert_worktree(worktree("c2", "/wt/c2", created_at=at(1)))
    archived = worktree(status=WorktreeStatus.ARCHIVED, archived_at=at(5), snapshot_ref="refs/hearth/snapshots/c1/x")
    await store.upsert_worktree(archived)
    assert await store.get_worktree("c1") == archived
    assert await store.get_worktree("nope") is None
    assert [w.path for w in await store.list_worktrees()] == ["/wt/c1", "/wt/c2"]
    assert [w.path for w in await store.list_worktrees(WorktreeStatus.ACTIVE)] == ["/wt/c2"]
    # a chat has at most one worktree: recreating it elsewhere replaces the row
    moved = worktree(path="/wt/c1-again")
    await store.upsert_worktree(moved)
    assert await store.get_worktree("c1") == moved
    assert sorted(w.path for w in await store.list_worktrees()) == ["/wt/c1-again", "/wt/c2"]
