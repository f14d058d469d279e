"""Creator keys (``ChatCreators``): a creator resolves to its open chat or creates it, once, even when raced."""

from __future__ import annotations

import asyncio

import pytest

from core.model import ChatStatus, TaskOrigin, TaskStatus, Usage
from core.ports.store import Store
from tests.integration.store.records import REFUSED, at, chat, session, task


async def test_the_first_call_creates_the_chat_and_later_ones_resolve_it(store: Store) -> None:
    created, was_created = await store.resolve_creator_chat("mcp:client-1", chat("c1", title="tasks"))
    assert was_created is True
    assert created == chat("c1", title="tasks")
    assert await store.get_chat("c1") == created

    again, was_created = await store.resolve_creator_chat("mcp:client-1", chat("c2"))
    assert (again, was_created) == (created, False)
    assert await store.get_chat("c2") is None  # the unused candidate is never stored


async def test_each_creator_has_its_own_chat(store: Store) -> None:
    first, _ = await store.resolve_creator_chat("a", chat("c1"))
    second, was_created = await store.resolve_creator_chat("b", chat("c2"))
    assert was_created is True
    assert (first.id, second.id) == ("c1", "c2")


async def test_a_closed_or_deleted_chat_is_replaced_by_a_new_one(store: Store) -> None:
    await store.resolve_creator_chat("a", chat("c1"))
    await store.close_chat("c1", at(5))
    reopened_by_key, was_created = await store.resolve_creator_chat("a", chat("c2", created_at=at(6)))
    assert (reopened_by_key.id, was_created) == ("c2", True)
    assert await store.delete_chat("c2") is True
    third, was_created = await store.resolve_creator_chat("a", chat("c3", created_at=at(7)))
    assert (third.id, was_created) == ("c3", True)
    closed = await store.get_chat("c1")
    assert closed is not None
    assert closed.status is ChatStatus.CLOSED


async def test_a_candidate_colliding_with_an_existing_chat_is_refused(store: Store) -> None:
    await store.create_chat(chat("c1"))
    with pytest.raises(REFUSED):
        await store.resolve_creator_chat("a", chat("c1"))
    # nothing was mapped: the next call with a fresh candidate creates it
    created, was_created = await store.resolve_creator_chat("a", chat("c2"))
    assert (created.id, was_created) == ("c2", True)


@pytest.mark.parametrize("callers", [2, 8])
async def test_concurrent_first_calls_create_exactly_one_chat(store: Store, callers: int) -> None:
    answers = await asyncio.gather(
        *(store.resolve_creator_chat("raced", chat(f"c{n}", created_at=at(n))) for n in range(callers))
    )
    assert len({found.id for found, _ in answers}) == 1
    assert sum(was_created for _, was_created in answers) == 1
    assert len(await store.list_chats()) == 1


async def test_a_finished_task_of_another_origin_leaves_the_chat_session_alone(store: Store) -> None:
    """A task (new_task, mcp, arena) ran one-shot: the warm (chat, agent) session neither counts nor changes."""
    await store.create_chat(chat("c1"))
    await store.upsert_agent_session(session("c1", "qwen"))
    usage = Usage(input_tokens=5, output_tokens=7)
    for number, origin in enumerate((TaskOrigin.NEW_TASK, TaskOrigin.CHAT)):
        await store.enqueue_task(task(f"t{number}", agent="qwen", origin=origin))
        claimed = await store.claim_next_task("n1", at(number))
        assert claimed is not None
        await store.finish_task(claimed.id, TaskStatus.SUCCEEDED, None, usage, at(number))
        counted = await store.get_agent_session("c1", "qwen")
        assert counted is not None
        assert counted.turns == number  # the new_task one did not count, the chat turn did


async def test_a_task_holds_its_chat_lease_and_is_recovered_like_a_turn(store: Store) -> None:
    """Claimed with the chat's lease (a chat turn waits behind it), failed by a take-over or a restart."""
    created, _ = await store.resolve_creator_chat("mcp:client", chat("c1"))
    await store.enqueue_task(task("t1", created.id, agent="qwen", origin=TaskOrigin.MCP))
    await store.enqueue_task(task("t2", created.id))  # a chat turn of the same chat
    claimed = await store.claim_next_task("n1", at(0), lease_until=at(30))
    assert claimed is not None
    assert (claimed.id, claimed.status) == ("t1", TaskStatus.RUNNING)
    assert await store.claim_next_task("n2", at(1), lease_until=at(31)) is None  # leased to n1, one turn at a time
    failed = await store.take_over_abandoned_chats("n2", "node {node} stopped", at(30), at(60))
    assert [(t.id, t.status, t.error) for t in failed] == [("t1", TaskStatus.FAILED, "node n1 stopped")]
    after = await store.claim_next_task("n2", at(31), lease_until=at(61))
    assert after is not None
    assert after.id == "t2"
    assert [t.id for t in await store.fail_running_tasks("restarted", at(32), node_id="n2")] == ["t2"]
