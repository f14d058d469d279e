"""A turn submitted to a node that admits it, on a chat free here, is queued and claimed in one store write and starts
at once; the dispatcher puts no store write in front of it (no claim that finds nothing, no poll of relayed requests
on a local wake-up); and a submission racing a shutdown never leaves its turn claimed but not run.

Counted, never timed: the node runs on the real SQLite store wrapped to count its calls, and the scripted LLM holds
``HOLD`` requests until the test releases them, so "the turn reached its agent" is an event, not a delay.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from app.bootstrap.adapters import open_store
from app.bootstrap.node import Node
from app.bootstrap.service import run_service
from app.settings import Settings
from core.model import Task, TaskStatus
from core.ports.store import ClaimFor, Store
from scripted_llm.llm import ScriptedLLM
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

NO_POLL = 300.0  # the dispatcher never polls during a test: every claim and relay poll below has a cause
WAIT_S = 60.0


class CountingStore:
    """The real store, unchanged, counting the calls of each of its methods; the answer to a claim at submission
    can be held back after its write committed (``claims_open`` cleared) to line a submission up with a shutdown."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()
        self.claims_open = asyncio.Event()
        self.claims_open.set()
        self.claim_waiting = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name.startswith("_") or not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return found(*args, **kwargs)

        return counted

    async def enqueue_task(self, task: Task, claim: ClaimFor | None = None) -> Task:
        self.calls["enqueue_task"] += 1
        stored = await self._inner.enqueue_task(task, claim)
        if claim is not None:  # committed: the answer is held back, as a slow connection would
            self.claim_waiting.set()
            async with asyncio.timeout(WAIT_S):
                await self.claims_open.wait()
        return stored


@asynccontextmanager
async def counted_hearth(settings: Settings, store: list[CountingStore]) -> AsyncIterator[Any]:
    async def opener(opened: Settings) -> Store:
        store.append(CountingStore(await open_store(opened)))
        return cast(Store, store[-1])

    def open_service(opened: Settings) -> Any:
        return run_service(opened, opener=opener)

    async with serve_hearth(settings, open_service=open_service) as hearth:
        yield hearth


async def _until(check: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_S):
            while not check():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


def _claims(store: CountingStore) -> int:
    return store.calls["claim_next_runnable"] + store.calls["claim_next_task"]


async def test_a_warm_turn_is_queued_and_claimed_in_one_write_with_no_other_write_before_it_starts(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    settings = hearth_settings.model_copy(update={"dispatch_poll_s": NO_POLL})
    stores: list[CountingStore] = []
    async with counted_hearth(settings, stores) as hearth:
        store = stores[0]
        await _until(lambda: _claims(store) == 1, "the dispatcher's first poll looked for queued turns")
        chat = (await hearth.create_chat(git_repo))["id"]
        first = await hearth.run_turn(chat, "native", "warm up")
        assert first["status"] == "succeeded"
        # its end woke the dispatcher once, to claim the chat's next turn: there is none, and the store says so
        await _until(lambda: _claims(store) == 2, "the end of the first turn looked for the chat's next turn")

        store.calls.clear()
        submitted = await hearth.submit(chat, "native", "HOLD the warm turn")
        assert (submitted["status"], submitted["node_id"]) == ("running", hearth.settings.node_id)
        await _until(lambda: llm.in_flight() == 1, "the warm turn reached the LLM")
        before_start = dict(store.calls)
        llm.release_held()
        done = await hearth.wait_turn(chat, submitted["id"])

    assert done["status"] == "succeeded"
    assert before_start["enqueue_task"] == 1  # queued and claimed in one write
    assert "claim_next_runnable" not in before_start
    assert "claim_next_task" not in before_start
    assert "take_turn_requests" not in before_start  # a local submission is no reason to poll relayed requests


async def test_a_turn_submitted_while_its_chat_runs_one_is_queued_and_claimed_when_that_one_ends(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    settings = hearth_settings.model_copy(update={"dispatch_poll_s": NO_POLL})
    stores: list[CountingStore] = []
    async with counted_hearth(settings, stores) as hearth:
        store = stores[0]
        chat = (await hearth.create_chat(git_repo))["id"]
        held = await hearth.submit(chat, "native", "HOLD the first")
        await _until(lambda: llm.in_flight() == 1, "the first turn reached the LLM")
        behind = await hearth.submit(chat, "native", "the second")
        assert (held["status"], behind["status"]) == ("running", "queued")
        claims = _claims(store)
        llm.release_held()
        done = [await hearth.wait_turn(chat, turn["id"]) for turn in (held, behind)]

    assert [turn["status"] for turn in done] == ["succeeded", "succeeded"]
    assert done[1]["started_at"] >= done[0]["finished_at"]
    # the second turn was claimed by the first one's end (it said nothing more was runnable), then the second's
    # end looked once more and found nothing: no claim beyond those two
    assert _claims(store) - claims == 2


async def test_a_submission_claiming_while_hearth_shuts_down_runs_its_turn(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    settings = hearth_settings.model_copy(update={"dispatch_poll_s": NO_POLL})
    stores: list[CountingStore] = []
    async with counted_hearth(settings, stores) as hearth:
        store = stores[0]
        node: Node = hearth.node
        chat = (await hearth.create_chat(git_repo))["id"]
        store.claims_open.clear()
        posting = asyncio.create_task(
            hearth.client.post(f"/api/chats/{chat}/turns", json={"agent": "native", "prompt": "late"})
        )
        await _until(store.claim_waiting.is_set, "the submission is claiming")
        stopping = asyncio.create_task(_stop_soon(node, store))
        # leaving the block shuts hearth down: the open request is cancelled while its claim is committed already
        posting.cancel()
    await stopping

    reopened = await open_store(settings)
    try:
        turns = await reopened.list_tasks(chat)
    finally:
        await reopened.close()
    assert [turn.status for turn in turns] == [TaskStatus.SUCCEEDED]
    assert turns[0].node_id == settings.node_id


async def _stop_soon(node: Node, store: CountingStore) -> None:
    """Lets the held claim through once the dispatcher stopped accepting turns."""
    await _until(lambda: not node.dispatcher.accepting, "hearth is shutting down")
    store.claims_open.set()
