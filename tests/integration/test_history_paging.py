"""Every turn and event of a 1,000-turn chat is reachable through the API's cursor paging, on SQLite and on
PostgreSQL; a bad paging parameter is a 422 naming it. The turns are written through the store (for speed), then
read back only through HTTP, following each page's ``Link``/``next``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.events import AgentEvent, TextDelta, TurnCompleted
from core.model import Task, TaskStatus
from tests.plugins.service import Hearth

TURNS = 1000
LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def _write_history(hearth: Hearth, chat_id: str) -> tuple[list[str], list[int]]:
    store = hearth.node.store
    ids, seqs = [], []
    for n in range(TURNS):
        task_id = f"turn_{n:05d}"
        done = Task(
            id=task_id, chat_id=chat_id, agent="native", prompt=f"p{n}", status=TaskStatus.SUCCEEDED,
            created_at=datetime.now(UTC),
        )  # fmt: skip
        await store.enqueue_task(done)
        events: list[AgentEvent] = [
            TextDelta(session_id="s", turn_id=task_id, part_id="p", text=f"r{n}"),
            TurnCompleted(session_id="s", turn_id=task_id),
        ]
        seqs += [row.seq for row in await store.append_events(task_id, chat_id, events)]
        ids.append(task_id)
    return ids, seqs


async def _follow(hearth: Hearth, url: str, items: str | None) -> tuple[list[list[Any]], int]:
    """Every page from ``url`` on, following the ``Link`` header (and, for JSON pages, checking ``next`` agrees)."""
    pages: list[list[Any]] = []
    requests = 0
    next_url: str | None = url
    while next_url is not None:
        response = await hearth.client.get(next_url)
        requests += 1
        assert response.status_code == 200, response.text
        body = response.json()
        link = response.headers.get("link")
        next_url = LINK.match(link).group("url") if link else None  # type: ignore[union-attr]
        if items is not None:
            assert body["next"] == next_url
            body = body[items]
        pages.append(body)
    return pages, requests


async def test_every_turn_and_event_of_a_long_chat_is_reachable_by_paging(
    hearth_any_store: Hearth, git_repo: Path
) -> None:
    hearth = hearth_any_store
    chat = (await hearth.create_chat(git_repo))["id"]
    ids, seqs = await _write_history(hearth, chat)
    base = f"/api/chats/{chat}"

    # turns: the newest page first, then back, each page oldest first
    pages, requests = await _follow(hearth, f"{base}/turns?limit=97", None)
    assert requests == 11  # ceil(1000 / 97): no empty page at the end
    walked = [turn["id"] for page in reversed(pages) for turn in page]
    assert walked == ids
    assert all(len(page) <= 97 for page in pages)
    # and forward from a turn
    pages, _ = await _follow(hearth, f"{base}/turns?after={ids[0]}&limit=500", None)
    assert [turn["id"] for page in pages for turn in page] == ids[1:]
    # without parameters: the newest 100
    assert [t["id"] for t in (await hearth.client.get(f"{base}/turns")).json()] == ids[-100:]

    # the chat's journal forward from the start, then back from past its end
    pages, requests = await _follow(hearth, f"{base}/journal?limit=333", "events")
    assert [event["seq"] for page in pages for event in page] == seqs
    assert requests == 7
    first = pages[0][0]
    assert first["type"] == "text_delta"
    assert first["journaled_at"] is not None
    pages, _ = await _follow(hearth, f"{base}/journal?before={seqs[-1] + 1}&limit=1000", "events")
    assert [event["seq"] for page in reversed(pages) for event in page] == seqs
    # one turn's journal
    pages, _ = await _follow(hearth, f"{base}/turns/{ids[500]}/journal?limit=1", "events")
    assert [event["seq"] for page in pages for event in page] == seqs[1000:1002]


async def test_bad_paging_parameters_are_refused_naming_the_field(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    other = (await hearth.create_chat(git_repo))["id"]
    foreign = await hearth.submit(other, "native", "hello")
    base = f"/api/chats/{chat}"
    for url, field in (
        (f"{base}/turns?limit=0", "limit"),
        (f"{base}/turns?limit=501", "limit"),
        (f"{base}/turns?limit=ten", "limit"),
        (f"{base}/turns?after=turn_nope", "after"),
        (f"{base}/turns?before={foreign['id']}", "before"),  # a turn of another chat
        (f"{base}/journal?after=-3", "after"),
        (f"{base}/journal?before=0", "before"),
        (f"{base}/journal?limit=1001", "limit"),
        (f"{base}/events?after=x", "after"),
    ):
        response = await hearth.client.get(url)
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["field"] == field, (url, problem)
        assert field in problem["detail"]
    assert (await hearth.client.get(f"/api/chats/{chat}/turns/{foreign['id']}/journal")).status_code == 404
