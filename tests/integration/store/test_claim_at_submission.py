"""Claiming a task in the write that queues it (``enqueue_task`` with a ``ClaimFor``), and a claim that says whether
more is runnable (``claim_next_runnable``): the same rules as ``claim_next_task``, one transaction fewer."""

from __future__ import annotations

import asyncio

from core.model import TaskStatus
from core.ports.store import ClaimFor, Store
from tests.integration.store.records import at, chats, task


def claim_for(node_id: str, seconds: float = 0) -> ClaimFor:
    return ClaimFor(node_id=node_id, at=at(seconds), lease_until=at(seconds + 30))


async def test_a_task_at_the_head_of_a_free_chat_is_claimed_as_it_is_queued_and_the_chat_leased(store: Store) -> None:
    await chats(store, "a")
    claimed = await store.enqueue_task(task("a1", "a"), claim_for("n1"))

    assert (claimed.status, claimed.node_id, claimed.started_at) == (TaskStatus.RUNNING, "n1", at(0))
    assert await store.get_task("a1") == claimed
    # the lease is n1's until at(30): another node passes the chat over, n1 itself does not
    await store.finish_task("a1", TaskStatus.SUCCEEDED, None, None, at(1))
    await store.enqueue_task(task("a2", "a"))
    assert await store.claim_next_task("n2", at(2), lease_until=at(32)) is None
    assert await store.renew_chat_leases("n2", ["a"], at(2), at(32)) == ["a"]
    mine = await store.claim_next_task("n1", at(2), lease_until=at(32))
    assert mine is not None
    assert mine.id == "a2"


async def test_a_task_stays_queued_while_its_chat_runs_a_turn(store: Store) -> None:
    await chats(store, "a")
    await store.enqueue_task(task("a1", "a"), claim_for("n1"))

    second = await store.enqueue_task(task("a2", "a"), claim_for("n1"))

    assert (second.status, second.node_id, second.started_at) == (TaskStatus.QUEUED, None, None)
    stored = await store.get_task("a2")
    assert stored is not None
    assert stored.status is TaskStatus.QUEUED


async def test_a_task_stays_queued_behind_an_earlier_queued_task_of_its_chat(store: Store) -> None:
    await chats(store, "a")
    await store.enqueue_task(task("a1", "a"))

    second = await store.enqueue_task(task("a2", "a"), claim_for("n1"))

    assert second.status is TaskStatus.QUEUED
    # the chat's queue keeps its order: the dispatcher's claim takes a1 first
    first = await store.claim_next_task("n1", at(1), lease_until=at(31))
    assert first is not None
    assert first.id == "a1"


async def test_a_task_stays_queued_while_another_node_holds_a_live_lease_on_its_chat(store: Store) -> None:
    await chats(store, "a")
    assert await store.renew_chat_leases("n2", ["a"], at(0), at(30)) == []

    queued = await store.enqueue_task(task("a1", "a"), claim_for("n1", 10))

    assert queued.status is TaskStatus.QUEUED
    assert await store.claim_next_task("n1", at(10), lease_until=at(40)) is None
    # once that lease expired, a task queued with a claim is claimed like any other head
    await store.enqueue_task(task("a1x", "a"))
    assert (await store.cancel_queued_task("a1", at(31))) is not None
    assert (await store.cancel_queued_task("a1x", at(31))) is not None
    taken = await store.enqueue_task(task("a2", "a"), claim_for("n1", 31))
    assert (taken.status, taken.node_id) == (TaskStatus.RUNNING, "n1")


async def test_a_claim_at_submission_keeps_the_other_chats_queue_untouched(store: Store) -> None:
    await chats(store, "a", "b")
    await store.enqueue_task(task("b1", "b"))

    claimed = await store.enqueue_task(task("a1", "a"), claim_for("n1"))

    assert claimed.status is TaskStatus.RUNNING
    other = await store.get_task("b1")
    assert other is not None
    assert other.status is TaskStatus.QUEUED


async def test_a_claim_says_whether_more_is_runnable_for_the_node(store: Store) -> None:
    await chats(store, "a", "b", "c", "d")
    for task_id, chat_id in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("c1", "c"), ("d1", "d")]:
        await store.enqueue_task(task(task_id, chat_id))
    assert await store.renew_chat_leases("n2", ["c"], at(0), at(30)) == []

    first = await store.claim_next_runnable("n1", at(0), skip_chats=["d"], lease_until=at(30))
    assert first.task is not None
    assert (first.task.id, first.more) == ("a1", True)  # b1 is runnable; a2 waits behind a1
    second = await store.claim_next_runnable("n1", at(0), skip_chats=["d"], lease_until=at(30))
    assert second.task is not None
    assert (second.task.id, second.more) == ("b1", False)  # c is n2's, d is skipped, a runs
    nothing = await store.claim_next_runnable("n1", at(0), skip_chats=["d"], lease_until=at(30))
    assert (nothing.task, nothing.more) == (None, False)


async def test_submissions_on_two_nodes_racing_the_claims_never_run_one_chat_twice(store: Store) -> None:
    await chats(store, "a", "b")

    async def submit_and_drain(node: str) -> None:
        for k in range(4):
            for chat_id in ("a", "b"):
                await store.enqueue_task(task(f"{chat_id}-{node}-{k}", chat_id), claim_for(node))
            while (claimed := await store.claim_next_task(node, at(0), lease_until=at(30))) is not None:
                await store.finish_task(claimed.id, TaskStatus.SUCCEEDED, None, None, at(1))
            for chat_id in ("a", "b"):
                running = [t for t in await store.list_tasks(chat_id) if t.status is TaskStatus.RUNNING]
                assert len(running) <= 1, running
                for started in running:
                    await store.finish_task(started.id, TaskStatus.SUCCEEDED, None, None, at(1))

    await asyncio.gather(submit_and_drain("n1"), submit_and_drain("n2"))
    for chat_id in ("a", "b"):
        owners = {t.node_id for t in await store.list_tasks(chat_id) if t.node_id is not None}
        assert len(owners) == 1, owners  # the lease kept every turn of the chat on one node
