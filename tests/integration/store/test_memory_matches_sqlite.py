"""The in-memory store answers as SQLite does to any sequence of queue, lease and relay calls.

The role suites check chosen cases on every store; this drives both with random sequences (several nodes, chats
created, closed, deleted and re-created, leases expiring at random times) and compares every answer and the
state left behind, so a rule the memory store gets subtly wrong shows up as a short counterexample.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.store.memory import MemoryStore
from adapters.store.sqlite import SqliteStore
from core.model import StoredEvent, TaskStatus, TurnRequest, TurnRequestKind, Usage
from core.ports.store import Store
from tests.integration.store.records import at, chat, delta, task

CHATS = ["a", "b", "c"]
NODES = ["n1", "n2"]
TASK_NUMBERS = st.integers(0, 8)
TIMES = st.integers(0, 45)  # leases last 30: a later call often meets one still held


@dataclass(frozen=True)
class Step:
    """One call, made the same way on each store; its repr is what a failing example prints."""

    name: str
    run: Callable[[Store], Awaitable[object]]

    def __repr__(self) -> str:
        return self.name


async def task_count(store: Store) -> int:
    return sum((await store.count_tasks_by_status()).values())


def create(chat_id: str) -> Step:
    async def run(store: Store) -> object:
        return None if await store.get_chat(chat_id) else await store.create_chat(chat(chat_id))

    return Step(f"create({chat_id})", run)


def enqueue(chat_id: str | None) -> Step:
    async def run(store: Store) -> object:
        if chat_id is not None and await store.get_chat(chat_id) is None:
            return None
        return await store.enqueue_task(task(f"t{await task_count(store)}", chat_id))

    return Step(f"enqueue({chat_id})", run)


def claim(node: str, t: int, skip: Sequence[str], lease: bool) -> Step:
    async def run(store: Store) -> object:
        return await store.claim_next_task(node, at(t), skip, at(t + 30) if lease else None)

    return Step(f"claim({node}, {t}, skip={list(skip)}, lease={lease})", run)


def on_task(number: int, call: Callable[[Store, str], Awaitable[object]], name: str) -> Step:
    async def run(store: Store) -> object:
        return None if await store.get_task(f"t{number}") is None else await call(store, f"t{number}")

    return Step(f"{name}(t{number})", run)


def finish(number: int, status: TaskStatus, t: int) -> Step:
    async def call(store: Store, task_id: str) -> object:
        return await store.finish_task(task_id, status, None, Usage(output_tokens=t), at(t))

    return on_task(number, call, f"finish[{status.value}, {t}]")


def cancel(number: int, t: int) -> Step:
    return on_task(number, lambda store, task_id: store.cancel_queued_task(task_id, at(t)), f"cancel[{t}]")


def journal(number: int) -> Step:
    async def call(store: Store, task_id: str) -> object:
        found = await store.get_task(task_id)
        return await store.append_events(task_id, found.chat_id if found else None, [delta(task_id, task_id)])

    return on_task(number, call, "journal")


def relay(number: int, kind: TurnRequestKind) -> Step:
    async def run(store: Store) -> object:
        return await store.relay_turn_request(TurnRequest(task_id=f"t{number}", kind=kind), at(0))

    return Step(f"relay(t{number}, {kind.value})", run)


def renew(node: str, chats: list[str], t: int) -> Step:
    return Step(f"renew({node}, {chats}, {t})", lambda s: s.renew_chat_leases(node, chats, at(t), at(t + 30)))


def release(node: str) -> Step:
    return Step(f"release({node})", lambda s: s.release_chat_leases(node))


def take_over(node: str, t: int) -> Step:
    return Step(
        f"take_over({node}, {t})", lambda s: s.take_over_abandoned_chats(node, "lost {node}", at(t), at(t + 30))
    )


def take_requests(node: str) -> Step:
    return Step(f"take_requests({node})", lambda s: s.take_turn_requests(node))


def fail_running(node: str | None, t: int) -> Step:
    return Step(f"fail_running({node}, {t})", lambda s: s.fail_running_tasks("restart", at(t), node))


def close(chat_id: str, t: int) -> Step:
    return Step(f"close({chat_id}, {t})", lambda s: s.close_chat(chat_id, at(t)))


def delete(chat_id: str) -> Step:
    return Step(f"delete({chat_id})", lambda s: s.delete_chat(chat_id))


enqueues = st.builds(enqueue, st.sampled_from([*CHATS, None]))
claims = st.builds(claim, st.sampled_from(NODES), TIMES, st.lists(st.sampled_from(CHATS), max_size=1), st.booleans())
steps = st.one_of(
    enqueues,
    enqueues,  # listed twice and thrice: queued work and claims make most sequences reach the rules under test
    claims,
    claims,
    claims,
    st.builds(create, st.sampled_from(CHATS)),
    st.builds(finish, TASK_NUMBERS, st.sampled_from([TaskStatus.SUCCEEDED, TaskStatus.FAILED]), TIMES),
    st.builds(cancel, TASK_NUMBERS, TIMES),
    st.builds(journal, TASK_NUMBERS),
    st.builds(relay, TASK_NUMBERS, st.sampled_from(TurnRequestKind)),
    st.builds(renew, st.sampled_from(NODES), st.lists(st.sampled_from([*CHATS, "gone"]), max_size=3), TIMES),
    st.builds(release, st.sampled_from(NODES)),
    st.builds(take_over, st.sampled_from(NODES), TIMES),
    st.builds(take_requests, st.sampled_from(NODES)),
    st.builds(fail_running, st.sampled_from([*NODES, None]), TIMES),
    st.builds(close, st.sampled_from(CHATS), TIMES),
    st.builds(delete, st.sampled_from(CHATS)),
)


async def state(store: Store) -> object:
    """All that the calls above can change, read through the ports."""
    tasks = [await store.get_task(f"t{n}") for n in range(await task_count(store))]
    chats = {c: (await store.get_chat(c), await store.list_tasks(c), await store.list_chat_events(c)) for c in CHATS}
    events = [await store.list_events(f"t{n}") for n in range(len(tasks))]
    return tasks, chats, events, await store.count_tasks_by_status()


def timeless(value: object) -> object:
    """``value`` with each journaled event's server time cleared: each store reads its own clock when it journals."""
    if isinstance(value, StoredEvent):
        return value.model_copy(update={"journaled_at": None})
    if isinstance(value, list | tuple):
        return [timeless(item) for item in value]
    if isinstance(value, dict):
        return {key: timeless(item) for key, item in value.items()}
    return value


async def compare(sequence: list[Step]) -> None:
    memory = MemoryStore()
    with tempfile.TemporaryDirectory() as folder:
        sqlite = await SqliteStore.open(Path(folder) / "hearth.db")
        try:
            for number, step in enumerate([create(chat_id) for chat_id in CHATS] + sequence):
                expected = timeless(await step.run(sqlite))
                assert timeless(await step.run(memory)) == expected, f"step {number}: {step}"
            assert timeless(await state(memory)) == timeless(await state(sqlite))
        finally:
            await sqlite.close()


@settings(max_examples=150)
@given(st.lists(steps, max_size=40))
def test_memory_answers_every_sequence_as_sqlite_does(sequence: list[Step]) -> None:
    asyncio.run(compare(sequence))
