"""Chat leases (``LeaseStore``): a chat's live agents belong to one node at a time, and claims respect that."""

from __future__ import annotations

import asyncio

from core.model import TaskStatus
from core.ports.store import Store
from tests.integration.store.records import at, chats, task

ABANDONED = "node {node} stopped renewing its lease"


async def test_a_claim_leases_the_chat_and_other_nodes_pass_it_over_until_it_expires(store: Store) -> None:
    await chats(store, "a", "b")
    for task_id, chat_id in [("a1", "a"), ("a2", "a"), ("b1", "b")]:
        await store.enqueue_task(task(task_id, chat_id))

    first = await store.claim_next_task("n1", at(0), lease_until=at(30))
    assert first is not None
    assert first.id == "a1"
    await store.finish_task("a1", TaskStatus.SUCCEEDED, None, first.usage, at(1))

    # a2 is the head of chat a now, but n1 holds a's lease: n2 takes b instead
    other = await store.claim_next_task("n2", at(2), lease_until=at(32))
    assert other is not None
    assert other.id == "b1"
    assert await store.claim_next_task("n2", at(3), lease_until=at(33)) is None
    mine = await store.claim_next_task("n1", at(3), lease_until=at(33))
    assert mine is not None
    assert (mine.id, mine.node_id) == ("a2", "n1")


async def test_an_expired_lease_lets_any_node_claim_the_chat(store: Store) -> None:
    await chats(store, "a")
    await store.enqueue_task(task("a1", "a"))
    await store.enqueue_task(task("a2", "a"))
    claimed = await store.claim_next_task("n1", at(0), lease_until=at(30))
    assert claimed is not None
    await store.finish_task("a1", TaskStatus.SUCCEEDED, None, claimed.usage, at(1))

    assert await store.claim_next_task("n2", at(29), lease_until=at(59)) is None
    taken = await store.claim_next_task("n2", at(30), lease_until=at(60))
    assert taken is not None
    assert (taken.id, taken.node_id) == ("a2", "n2")
    # n2 holds it now: n1 can no longer renew it
    assert await store.renew_chat_leases("n1", ["a"], at(31), at(61)) == ["a"]


async def test_two_nodes_claiming_one_chat_at_once_never_both_get_it(store: Store) -> None:
    await chats(store, *(f"c{n}" for n in range(6)))
    for n in range(6):
        for k in range(3):
            await store.enqueue_task(task(f"c{n}-{k}", f"c{n}"))

    async def drain(node: str) -> list[str]:
        got: list[str] = []
        while (claimed := await store.claim_next_task(node, at(0), lease_until=at(300))) is not None:
            got.append(claimed.id)
            await store.finish_task(claimed.id, TaskStatus.SUCCEEDED, None, claimed.usage, at(1))
        return got

    n1, n2 = await asyncio.gather(drain("n1"), drain("n2"))
    assert sorted(n1 + n2) == sorted(f"c{n}-{k}" for n in range(6) for k in range(3))
    owners = {chat_id: {t.node_id for t in await store.list_tasks(chat_id)} for chat_id in (f"c{n}" for n in range(6))}
    assert all(len(nodes) == 1 for nodes in owners.values()), owners  # every chat stayed with one node


async def test_a_closed_chat_is_no_longer_renewed_but_its_queued_turn_can_still_be_claimed(store: Store) -> None:
    """Renewal reports a closed chat lost (its node lets go of the agents there); a turn queued before the close
    is still claimed, so the runner can end it saying the chat is closed."""
    await chats(store, "a")
    await store.enqueue_task(task("a1", "a"))
    assert await store.renew_chat_leases("n1", ["a"], at(0), at(30)) == []
    await store.close_chat("a", at(1))
    assert await store.renew_chat_leases("n1", ["a"], at(2), at(32)) == ["a"]
    claimed = await store.claim_next_task("n1", at(3), lease_until=at(33))
    assert claimed is not None
    assert claimed.id == "a1"


async def test_renew_extends_own_leases_and_reports_the_ones_lost(store: Store) -> None:
    await chats(store, "a", "b", "c")
    assert await store.renew_chat_leases("n1", ["a", "b"], at(0), at(30)) == []
    assert await store.renew_chat_leases("n2", ["b", "c"], at(10), at(40)) == ["b"]  # b is n1's until 30
    assert await store.renew_chat_leases("n1", ["a", "b", "gone"], at(20), at(50)) == ["gone"]  # no such chat
    # n1 renewed b until 50: at 45 n2 still cannot have it; at 50 it can
    assert await store.renew_chat_leases("n2", ["b"], at(45), at(75)) == ["b"]
    assert await store.renew_chat_leases("n2", ["b"], at(50), at(80)) == []
    assert await store.renew_chat_leases("n1", ["a", "b"], at(51), at(81)) == ["b"]


async def test_released_leases_free_the_chats_at_once(store: Store) -> None:
    await chats(store, "a", "b")
    await store.enqueue_task(task("b1", "b"))
    await store.renew_chat_leases("n1", ["a", "b"], at(0), at(300))
    await store.renew_chat_leases("n2", ["a"], at(0), at(300))  # lost to n1
    assert await store.claim_next_task("n2", at(1), lease_until=at(31)) is None

    await store.release_chat_leases("n1")
    claimed = await store.claim_next_task("n2", at(2), lease_until=at(32))
    assert claimed is not None
    assert claimed.id == "b1"
    assert await store.renew_chat_leases("n2", ["a", "b"], at(3), at(33)) == []


async def test_take_over_fails_the_turn_of_a_node_that_stopped_renewing(store: Store) -> None:
    await chats(store, "a", "b", "c")
    for task_id, chat_id in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("c1", "c")]:
        await store.enqueue_task(task(task_id, chat_id))
    for _ in range(2):
        assert await store.claim_next_task("dead", at(0), lease_until=at(30)) is not None  # a1, b1
    assert await store.renew_chat_leases("alive", ["c"], at(0), at(30)) == []
    assert await store.claim_next_task("alive", at(1), lease_until=at(45)) is not None  # c1

    assert await store.take_over_abandoned_chats("n2", ABANDONED, at(29), at(59)) == []  # not expired yet
    await store.renew_chat_leases("dead", ["b"], at(20), at(60))  # b's node still renews b

    failed = await store.take_over_abandoned_chats("n2", ABANDONED, at(30), at(60))
    assert [(t.id, t.status, t.error, t.finished_at) for t in failed] == [
        ("a1", TaskStatus.FAILED, "node dead stopped renewing its lease", at(30))
    ]
    assert await store.take_over_abandoned_chats("n3", ABANDONED, at(31), at(61)) == []  # n2 holds a now
    # the old node learns it lost the chat; the new holder runs its next turn
    assert await store.renew_chat_leases("dead", ["a", "b"], at(32), at(62)) == ["a"]
    next_of_a = await store.claim_next_task("n2", at(33), lease_until=at(63))
    assert next_of_a is not None
    assert (next_of_a.id, next_of_a.node_id) == ("a2", "n2")
    running = {t.id: t.status for t in await store.list_tasks("b")} | {
        t.id: t.status for t in await store.list_tasks("c")
    }
    assert running == {"b1": TaskStatus.RUNNING, "c1": TaskStatus.RUNNING}


async def test_an_expired_lease_without_a_running_turn_is_not_taken_over(store: Store) -> None:
    await chats(store, "a")
    await store.renew_chat_leases("n1", ["a"], at(0), at(30))
    assert await store.take_over_abandoned_chats("n2", ABANDONED, at(40), at(70)) == []
    assert await store.renew_chat_leases("n1", ["a"], at(41), at(71)) == []  # still free for its old holder


async def test_deleting_a_chat_drops_its_lease(store: Store) -> None:
    await chats(store, "a")
    await store.renew_chat_leases("n1", ["a"], at(0), at(300))
    await store.delete_chat("a")
    await chats(store, "a")  # the same id again: nobody holds it
    assert await store.renew_chat_leases("n2", ["a"], at(1), at(31)) == []
