"""The turn-request relay (``TurnRequestRelay``): cancels and permission answers reach the node running the turn."""

from __future__ import annotations

from core.model import TaskStatus, TurnRequest, TurnRequestKind, Usage
from core.ports.store import Store
from tests.integration.store.records import at, chats, task


async def test_turn_requests_reach_the_node_running_the_turn_once_in_order(store: Store) -> None:
    await chats(store, "a", "b")
    for task_id, chat_id in [("a1", "a"), ("b1", "b"), ("a2", "a")]:
        await store.enqueue_task(task(task_id, chat_id))
    await store.claim_next_task("n1", at(0), lease_until=at(30))  # a1
    await store.claim_next_task("n2", at(0), lease_until=at(30))  # b1
    answer = TurnRequest(task_id="a1", kind=TurnRequestKind.PERMISSION, request_id="perm-1", option_id="allow")
    cancel_a1 = TurnRequest(task_id="a1", kind=TurnRequestKind.CANCEL)

    assert await store.relay_turn_request(answer, at(1)) == "n1"
    assert await store.relay_turn_request(cancel_a1, at(2)) == "n1"
    assert await store.relay_turn_request(TurnRequest(task_id="b1", kind=TurnRequestKind.CANCEL), at(2)) == "n2"
    assert await store.relay_turn_request(TurnRequest(task_id="a2", kind=TurnRequestKind.CANCEL), at(2)) is None
    assert await store.relay_turn_request(TurnRequest(task_id="nope", kind=TurnRequestKind.CANCEL), at(2)) is None

    assert await store.take_turn_requests("n1") == [answer, cancel_a1]
    assert await store.take_turn_requests("n1") == []  # taken once
    await store.finish_task("b1", TaskStatus.CANCELLED, "cancelled", Usage(), at(3))
    assert await store.take_turn_requests("n2") == []  # b1 is over: its request is dropped, not delivered
