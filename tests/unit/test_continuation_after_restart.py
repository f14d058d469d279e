"""A restart cuts a turn short: startup recovery fails it and, in a chat that asked to continue, queues the
linked continuation turn (at most three in a row); a chat that did not ask gets none."""

from __future__ import annotations

from adapters.bus.memory import InMemoryEventBus
from adapters.procfs import ProcFs
from app.turns.continuation import Continuations
from app.upkeep.recovery import LostTurns, recover
from core.continuation import MAX_ATTEMPTS
from core.model import Chat, OnInterrupt, Task, TaskStatus
from core.ports.store import Store
from tests.plugins.backends import SystemClock

NODE = "node-a"


async def _restart(store: Store, woken: list[int]) -> list[Task]:
    """What a start after a crash does: recovery, with continuations; returns the chat's turns after it."""
    clock = SystemClock()
    continuations = Continuations(chats=store, queue=store, clock=clock, wake=lambda: woken.append(1))
    lost = LostTurns(journal=store, sessions=store, bus=InMemoryEventBus())
    await recover(store, store, ProcFs(), lost, clock, NODE, continuations)
    return await store.list_tasks("c1")


async def _running(store: Store, task: Task) -> None:
    await store.enqueue_task(task)
    claimed = await store.claim_next_task(NODE, SystemClock().now())
    assert claimed is not None
    assert claimed.id == task.id


async def test_a_turn_cut_short_by_a_restart_is_continued_up_to_three_times(fast_store: Store) -> None:
    now = SystemClock().now()
    await fast_store.create_chat(Chat(id="c1", repo_path="/r", created_at=now, on_interrupt=OnInterrupt.CONTINUE))
    woken: list[int] = []
    await _running(fast_store, Task(id="t0", chat_id="c1", agent="qwen", prompt="build it", created_at=now))
    for attempt in range(1, MAX_ATTEMPTS + 2):
        tasks = await _restart(fast_store, woken)
        follow = [t for t in tasks if t.status is TaskStatus.QUEUED]
        if attempt > MAX_ATTEMPTS:
            assert follow == []  # the fourth interruption in a row stays failed
            break
        (queued,) = follow
        assert queued.continues == tasks[-2].id
        assert f"continuation {attempt} of {MAX_ATTEMPTS}" in queued.prompt
        assert tasks[-2].status is TaskStatus.FAILED
        claimed = await fast_store.claim_next_task(NODE, SystemClock().now())  # it runs, and is cut short again
        assert claimed is not None
    assert len(woken) == MAX_ATTEMPTS


async def test_a_chat_that_did_not_ask_gets_no_continuation(fast_store: Store) -> None:
    now = SystemClock().now()
    await fast_store.create_chat(Chat(id="c1", repo_path="/r", created_at=now))
    await _running(fast_store, Task(id="t0", chat_id="c1", agent="qwen", prompt="build it", created_at=now))
    tasks = await _restart(fast_store, [])
    assert [(t.id, t.status) for t in tasks] == [("t0", TaskStatus.FAILED)]
