"""Arenas (``ArenaStore``): an arena with its contestants, contestants saved one by one, one decision only."""

from __future__ import annotations

import asyncio

import pytest

from core.arena import Arena, ArenaStatus, Contestant
from core.model import FileDiff, TaskStatus, Worktree
from core.ports.store import Store
from tests.integration.store.records import REFUSED, T0, at, chat, task


def arena(arena_id: str = "a1", chat_id: str = "c1", tasks: tuple[str, ...] = ("k1", "k2")) -> Arena:
    contestants = tuple(
        Contestant(arena_id=arena_id, task_id=t, position=n, agent=("qwen", "opencode")[n % 2])
        for n, t in enumerate(tasks)
    )
    forked = (FileDiff(path="p.txt", diff="+p", status="added"),)
    return Arena(
        id=arena_id, chat_id=chat_id, prompt="race", created_at=T0, forked_pending=forked, contestants=contestants
    )


async def seeded(store: Store, *task_ids: str, chat_id: str = "c1") -> None:
    await store.create_chat(chat(chat_id))
    for task_id in task_ids:
        await store.enqueue_task(task(task_id, chat_id=None, status=TaskStatus.RUNNING, origin="arena"))


async def test_an_arena_reads_back_whole_with_its_contestants_in_order(store: Store) -> None:
    await seeded(store, "k1", "k2")
    stored = arena()
    await store.create_arena(stored)
    assert await store.get_arena("a1") == stored
    assert await store.get_arena("nope") is None
    assert await store.list_arenas("c1") == [stored]
    assert await store.list_arenas("other") == []
    assert await store.list_arenas(status=ArenaStatus.ADOPTED) == []


async def test_a_contestant_is_saved_alone_and_others_are_untouched(store: Store) -> None:
    await seeded(store, "k1", "k2")
    await store.create_arena(arena())
    worktree = Worktree(
        chat_id="arena-k1", repo_path="/r", path="/w/k1", branch="b", base_commit="abc", created_at=at(1)
    )
    files = (FileDiff(path="a.txt", diff="+a", status="added"),)
    one = arena().contestants[0].model_copy(update={"worktree": worktree, "files": files, "wall_s": 1.5})
    await store.save_contestant(one)
    again = await store.get_arena("a1")
    assert again is not None
    assert again.contestants == (one, arena().contestants[1])


async def test_only_one_decision_wins(store: Store) -> None:
    await seeded(store, "k1", "k2")
    await store.create_arena(arena())
    outcomes = await asyncio.gather(
        store.decide_arena("a1", ArenaStatus.ADOPTED, "k1", at(3)),
        store.decide_arena("a1", ArenaStatus.DISCARDED, None, at(3)),
    )
    winners = [o for o in outcomes if o is not None]
    assert len(winners) == 1
    assert await store.get_arena("a1") == winners[0]
    assert winners[0].decided_at == at(3)
    assert await store.decide_arena("a1", ArenaStatus.DISCARDED, None, at(4)) is None
    assert await store.decide_arena("missing", ArenaStatus.DISCARDED, None, at(4)) is None
    assert await store.list_arenas(status=winners[0].status) == [winners[0]]


async def test_a_deleted_chat_keeps_its_arenas_chatless(store: Store) -> None:
    await seeded(store, "k1", "k2")
    await store.create_arena(arena())
    await store.delete_chat("c1")
    kept = await store.get_arena("a1")
    assert kept is not None
    assert kept.chat_id is None
    assert [a.id for a in await store.list_arenas()] == ["a1"]


async def test_contestants_need_their_tasks_and_the_arena_its_chat(store: Store) -> None:
    await seeded(store, "k1")
    with pytest.raises(REFUSED):
        await store.create_arena(arena(tasks=("k1", "missing")))
    with pytest.raises(REFUSED):
        await store.create_arena(arena("a2", chat_id="no-chat", tasks=("k1",)))
