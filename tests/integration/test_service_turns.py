"""Dispatching, streaming, cancelling and idempotency through real HTTP with the native agent."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from tests.plugins.service import Hearth

pytestmark = pytest.mark.agents


def _at(turn: dict[str, object], key: str) -> datetime:
    value = turn[key]
    assert isinstance(value, str)
    return datetime.fromisoformat(value)


async def test_one_chat_in_order_two_chats_in_parallel(hearth_any_store: Hearth, git_repo: Path) -> None:
    hearth = hearth_any_store
    chat_a = (await hearth.create_chat(git_repo))["id"]
    chat_b = (await hearth.create_chat(git_repo))["id"]
    a1 = await hearth.submit(chat_a, "native", "SLOW=0.05 first")
    a2 = await hearth.submit(chat_a, "native", "SLOW=0.05 second")
    b1 = await hearth.submit(chat_b, "native", "SLOW=0.05 other chat")
    done = {t["id"]: await hearth.wait_turn(c, t["id"]) for c, t in ((chat_a, a1), (chat_a, a2), (chat_b, b1))}
    assert all(t["status"] == "succeeded" for t in done.values()), done
    first, second, other = done[a1["id"]], done[a2["id"]], done[b1["id"]]
    assert _at(second, "started_at") >= _at(first, "finished_at")  # one chat: strictly one after another
    assert _at(other, "started_at") < _at(first, "finished_at")  # another chat: not held up by chat A
    listed = (await hearth.client.get(f"/api/chats/{chat_a}/turns")).json()
    assert [t["id"] for t in listed] == [a1["id"], a2["id"]]


async def test_sse_reconnect_with_last_event_id_loses_nothing(hearth_any_store: Hearth, git_repo: Path) -> None:
    hearth = hearth_any_store
    chat = (await hearth.create_chat(git_repo))["id"]
    turn = await hearth.submit(chat, "native", "SLOW=0.05 THINK stream me")
    head = await hearth.events(turn["events_url"], limit=3)  # disconnects mid-turn
    rest = await hearth.events(turn["events_url"], last_event_id=head[-1]["_id"])
    everything = await hearth.events(turn["events_url"])
    assert [e["_id"] for e in head + rest] == [e["_id"] for e in everything]
    assert everything[-1]["type"] == "turn_completed"
    text = "".join(e["text"] for e in head + rest if e["type"] == "text_delta")
    assert text == "".join(e["text"] for e in everything if e["type"] == "text_delta")
    assert "word19" in text


async def test_cancel_then_next_turn_completes_and_cancel_is_idempotent(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    turn = await hearth.submit(chat, "native", "SLOW=0.5 take your time")
    await hearth.events(turn["events_url"], limit=1)  # it is streaming
    url = f"/api/chats/{chat}/turns/{turn['id']}/cancel"
    first = await hearth.client.post(url, headers={"Idempotency-Key": "cancel-1"})
    again = await hearth.client.post(url, headers={"Idempotency-Key": "cancel-1"})
    assert first.status_code == 202, first.text
    assert again.json() == first.json()
    finished = await hearth.wait_turn(chat, turn["id"])
    assert finished["status"] == "cancelled"
    events = await hearth.events(turn["events_url"])
    assert [e["type"] for e in events].count("turn_cancelled") == 1
    after = await hearth.run_turn(chat, "native", "are you there")
    assert after["status"] == "succeeded"


async def test_cancel_of_a_queued_turn_dequeues_it(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    running = await hearth.submit(chat, "native", "SLOW=0.1 busy")
    queued = await hearth.submit(chat, "native", "never runs")
    response = await hearth.client.post(f"/api/chats/{chat}/turns/{queued['id']}/cancel")
    assert response.json()["cancel"] in {"dequeued", "interrupting"}
    assert (await hearth.wait_turn(chat, queued["id"]))["status"] == "cancelled"
    assert (await hearth.wait_turn(chat, running["id"]))["status"] == "succeeded"
    events = await hearth.events(queued["events_url"])
    assert events[-1]["type"] == "turn_cancelled"


async def test_idempotent_submit_runs_once(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    url = f"/api/chats/{chat}/turns"
    body = {"agent": "native", "prompt": "only once"}
    responses = await asyncio.gather(
        *(hearth.client.post(url, json=body, headers={"Idempotency-Key": "submit-1"}) for _ in range(3))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    await hearth.wait_turn(chat, responses[0].json()["id"])
    assert len((await hearth.client.get(url)).json()) == 1
    other = await hearth.client.post(url, json=body, headers={"Idempotency-Key": "submit-2"})
    assert other.json()["id"] != responses[0].json()["id"]


async def test_a_turn_read_on_its_terminal_event_is_finished(hearth_any_store: Hearth, git_repo: Path) -> None:
    """The turn's final state is stored before its terminal event goes out: reading the turn at once, many times."""
    hearth = hearth_any_store
    chat = (await hearth.create_chat(git_repo))["id"]
    for n in range(30):
        turn = await hearth.submit(chat, "native", f"turn {n}")
        terminal = await hearth.wait_event(turn["events_url"], "turn_completed")
        read = (await hearth.client.get(turn["url"])).json()  # at once, as a client reacting to the event does
        assert read["status"] == "succeeded", (n, terminal, read)
        assert read["finished_at"] is not None, (n, read)
        assert read["usage"]["input_tokens"] > 0, (n, read)
        assert read["usage"]["output_tokens"] > 0, (n, read)
