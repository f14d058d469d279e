"""The task queue (``TaskQueue``): which turn is claimed next, and what finishing one records.

Claims that lease the chat, and what a lease keeps other nodes from, are in ``test_leases``."""

from __future__ import annotations

import pytest

from core.model import AgentSessionStatus, TaskOrigin, TaskStatus, Usage
from core.ports.store import Store
from tests.integration.store.records import REFUSED, at, chat, session, task


async def test_tasks_enqueue_get_list_oldest_first(store: Store) -> None:
    await store.create_chat(chat())
    queued = await store.enqueue_task(task("t1", model="m", origin=TaskOrigin.ARENA))
    assert await store.get_task("t1") == queued
    assert await store.get_task("nope") is None
    for n in range(2, 6):
        await store.enqueue_task(task(f"t{n}"))
    assert [t.id for t in await store.list_tasks("c1")] == ["t1", "t2", "t3", "t4", "t5"]
    assert [t.id for t in await store.list_tasks("c1", limit=2)] == ["t4", "t5"]  # the newest, oldest first


async def test_claim_takes_chat_heads_in_order_and_one_per_chat(store: Store) -> None:
    await store.create_chat(chat("a"))
    await store.create_chat(chat("b"))
    for task_id, chat_id in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("x1", None), ("x2", None)]:
        await store.enqueue_task(task(task_id, chat_id))

    claimed = await store.claim_next_task("n1", at(1))
    assert claimed is not None
    assert (claimed.id, claimed.status, claimed.node_id, claimed.started_at) == ("a1", TaskStatus.RUNNING, "n1", at(1))
    following = [await store.claim_next_task("n1", at(2)) for _ in range(4)]
    # a2 waits for a1; chat-less tasks are always runnable
    assert [t.id if t else None for t in following] == ["b1", "x1", "x2", None]

    await store.finish_task("a1", TaskStatus.SUCCEEDED, None, Usage(), at(3))
    assert await store.claim_next_task("n1", at(4), skip_chats=["a"]) is None
    next_of_a = await store.claim_next_task("n1", at(4))
    assert next_of_a is not None
    assert next_of_a.id == "a2"


async def test_a_skipped_or_cancelled_head_never_lets_the_next_jump_the_queue(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.enqueue_task(task("t2"))
    assert await store.claim_next_task("n", at(1), skip_chats=["c1"]) is None
    cancelled = await store.cancel_queued_task("t1", at(2))
    assert cancelled is not None
    assert (cancelled.status, cancelled.finished_at) == (TaskStatus.CANCELLED, at(2))
    assert await store.cancel_queued_task("t1", at(2)) is None  # no longer queued
    claimed = await store.claim_next_task("n", at(3))
    assert claimed is not None
    assert claimed.id == "t2"
    assert await store.cancel_queued_task("t2", at(4)) is None  # running: not cancellable here


async def test_usage_nobody_reported_stays_unknown_in_the_task_and_the_session(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_agent_session(session(status=AgentSessionStatus.BUSY))
    queued = await store.enqueue_task(task("t1"))
    assert queued.usage is None  # not finished: nothing to know yet
    await store.claim_next_task("n", at(1))
    done = await store.finish_task("t1", TaskStatus.SUCCEEDED, None, None, at(2))
    stored = await store.get_agent_session("c1", "opencode")
    assert stored is not None
    assert (done.usage, stored.turns, stored.usage) == (None, 1, None)

    await store.enqueue_task(task("t2"))
    await store.claim_next_task("n", at(3))
    await store.finish_task("t2", TaskStatus.SUCCEEDED, None, Usage(output_tokens=4), at(4))  # tokens, no cost
    stored = await store.get_agent_session("c1", "opencode")
    assert stored is not None
    assert (stored.turns, stored.usage) == (2, Usage(output_tokens=4, cost_usd=None))
    reread = await store.get_task("t2")
    assert reread is not None
    assert reread.usage == Usage(output_tokens=4, cost_usd=None)


async def test_finish_task_adds_usage_and_a_turn_to_the_session(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_agent_session(session(status=AgentSessionStatus.BUSY, turns=2, usage=Usage(input_tokens=10)))
    await store.enqueue_task(task("t1"))
    await store.claim_next_task("n", at(1))
    usage = Usage(input_tokens=5, output_tokens=6, reasoning_tokens=7, cost_usd=0.25)

    finished = await store.finish_task("t1", TaskStatus.FAILED, "boom", usage, at(9))
    assert (finished.status, finished.error, finished.usage, finished.finished_at) == (
        TaskStatus.FAILED,
        "boom",
        usage,
        at(9),
    )
    assert await store.get_task("t1") == finished
    stored = await store.get_agent_session("c1", "opencode")
    assert stored is not None
    assert (stored.status, stored.turns, stored.last_used_at) == (AgentSessionStatus.IDLE, 3, at(9))
    assert stored.usage == Usage(input_tokens=15, output_tokens=6, reasoning_tokens=7, cost_usd=0.25)

    again = await store.finish_task("t1", TaskStatus.SUCCEEDED, None, usage, at(10))
    assert again == finished  # finishing twice never counts twice
    assert (await store.get_agent_session("c1", "opencode")) == stored


async def test_finish_task_without_a_session_or_chat_just_finishes(store: Store) -> None:
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    await store.enqueue_task(task("solo", None))
    for task_id in ("t1", "solo"):
        done = await store.finish_task(task_id, TaskStatus.SUCCEEDED, None, Usage(output_tokens=1), at(1))
        assert done.status is TaskStatus.SUCCEEDED
    assert await store.list_agent_sessions("c1") == []
    with pytest.raises(LookupError):
        await store.finish_task("missing", TaskStatus.SUCCEEDED, None, Usage(), at(1))
    with pytest.raises(ValueError, match="terminal"):
        await store.finish_task("t1", TaskStatus.RUNNING, None, Usage(), at(1))


async def test_finishing_a_task_that_never_ran_counts_no_turn(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_agent_session(session())
    await store.enqueue_task(task("t1"))
    done = await store.finish_task("t1", TaskStatus.CANCELLED, "cancelled before it started", Usage(), at(1))
    assert done.status is TaskStatus.CANCELLED
    assert await store.get_agent_session("c1", "opencode") == session()


async def test_finish_keeps_a_crashed_session_crashed(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_agent_session(session(status=AgentSessionStatus.CRASHED))
    await store.enqueue_task(task("t1"))
    await store.claim_next_task("n", at(0))
    await store.finish_task("t1", TaskStatus.FAILED, "agent died", Usage(), at(1))
    stored = await store.get_agent_session("c1", "opencode")
    assert stored is not None
    assert (stored.status, stored.turns) == (AgentSessionStatus.CRASHED, 1)


async def test_fail_running_tasks_by_node_or_all(store: Store) -> None:
    for chat_id in ("a", "b", "c"):
        await store.create_chat(chat(chat_id))
        await store.enqueue_task(task(f"{chat_id}1", chat_id))
    await store.claim_next_task("n1", at(1))
    await store.claim_next_task("n2", at(1))
    mine = await store.fail_running_tasks("interrupted by restart", at(2), node_id="n1")
    assert [(t.id, t.status, t.error) for t in mine] == [("a1", TaskStatus.FAILED, "interrupted by restart")]
    await store.claim_next_task("n3", at(3))
    everyone = await store.fail_running_tasks("interrupted by restart", at(4))
    assert sorted(t.id for t in everyone) == ["b1", "c1"]
    assert await store.fail_running_tasks("again", at(5)) == []


async def test_count_tasks_by_status_covers_every_status_and_every_chat(store: Store) -> None:
    assert await store.count_tasks_by_status() == dict.fromkeys(TaskStatus, 0)
    for chat_id in ("a", "b", "gone"):
        await store.create_chat(chat(chat_id))
    for task_id, owner in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("g1", "gone"), ("solo", None), ("q", "b")]:
        await store.enqueue_task(task(task_id, owner))
    await store.claim_next_task("n", at(1))  # a1 runs
    await store.finish_task("g1", TaskStatus.SUCCEEDED, None, Usage(), at(2))
    await store.finish_task("solo", TaskStatus.FAILED, "boom", Usage(), at(2))
    await store.cancel_queued_task("q", at(2))
    await store.delete_chat("gone")  # its task keeps counting, with chat_id NULL

    assert await store.count_tasks_by_status() == {
        TaskStatus.QUEUED: 2,  # a2, b1
        TaskStatus.RUNNING: 1,
        TaskStatus.SUCCEEDED: 1,
        TaskStatus.FAILED: 1,
        TaskStatus.CANCELLED: 1,
    }


async def test_a_task_of_a_missing_chat_or_with_a_taken_id_is_refused(store: Store) -> None:
    with pytest.raises(REFUSED):
        await store.enqueue_task(task("t1", "missing"))
    await store.create_chat(chat())
    await store.enqueue_task(task("t1"))
    with pytest.raises(REFUSED):
        await store.enqueue_task(task("t1", None, prompt="another"))
    assert [t.prompt for t in await store.list_tasks("c1")] == ["do t1"]


async def test_the_running_turn_of_a_deleted_chat_finishes_without_a_session(store: Store) -> None:
    await store.create_chat(chat())
    await store.upsert_agent_session(session(status=AgentSessionStatus.BUSY))
    await store.enqueue_task(task("t1"))
    await store.claim_next_task("n", at(1))
    await store.delete_chat("c1")
    done = await store.finish_task("t1", TaskStatus.SUCCEEDED, None, Usage(output_tokens=3), at(2))
    assert (done.chat_id, done.status, done.usage) == (None, TaskStatus.SUCCEEDED, Usage(output_tokens=3))
    assert await store.get_agent_session("c1", "opencode") is None
