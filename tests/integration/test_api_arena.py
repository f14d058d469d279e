"""The arena's HTTP edge: bad input is a problem naming the field and changes nothing; conflicts are 409s.

The native agent (talking to the scripted LLM) is the contestant here: it starts in milliseconds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from tests.plugins.service import TURN_TIMEOUT_S, Hearth, serve_hearth

pytestmark = pytest.mark.agents

WRITE_N = 'TOOL write {"path": "n.txt", "content": "from the arena\\n"}'


def _problem(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["field"] == field, problem
    return problem


async def _finished(hearth: Hearth, url: str) -> dict[str, Any]:
    async with asyncio.timeout(TURN_TIMEOUT_S):
        while True:
            arena: dict[str, Any] = (await hearth.client.get(url)).json()
            if all(c["state"] not in ("preparing", "running") for c in arena["contestants"]):
                return arena
            await asyncio.sleep(0.05)


async def test_bad_contestants_are_refused_naming_the_field(hearth: Hearth, git_repo: Path) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    url = f"/api/chats/{chat}/arena"
    unknown = await hearth.client.post(url, json={"prompt": "p", "contestants": [{"agent": "native"}, {"agent": "x"}]})
    assert "'x' is not configured" in _problem(unknown, 422, "contestants[1].agent")["detail"]
    _problem(await hearth.client.post(url, json={"prompt": "p", "contestants": []}), 422, "contestants")
    blank = await hearth.client.post(url, json={"prompt": "  ", "contestants": [{"agent": "native"}]})
    _problem(blank, 422, "prompt")
    missing = await hearth.client.post(
        "/api/chats/nope/arena", json={"prompt": "p", "contestants": [{"agent": "native"}]}
    )
    _problem(missing, 404, "chat_id")
    _problem(await hearth.client.get(f"{url}/arena-nope"), 404, "arena_id")
    chat_dir = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
    assert [p.name for p in chat_dir.parent.iterdir()] == [chat_dir.name]  # nothing was forked


async def test_adopt_refuses_an_unknown_contestant_and_a_clash_then_discard_removes_everything(
    hearth: Hearth, git_repo: Path
) -> None:
    chat = (await hearth.create_chat(git_repo))["id"]
    started = await hearth.client.post(
        f"/api/chats/{chat}/arena", json={"prompt": WRITE_N, "contestants": [{"agent": "native"}, {"agent": "native"}]}
    )
    assert started.status_code == 202, started.text
    arena = await _finished(hearth, started.json()["url"])
    assert [c["state"] for c in arena["contestants"]] == ["succeeded", "succeeded"]
    assert [[f["path"] for f in c["files"]] for c in arena["contestants"]] == [["n.txt"], ["n.txt"]]

    unknown = await hearth.client.post(f"{arena['url']}/adopt", json={"contestant": "nobody"})
    assert "no contestant 'nobody'" in _problem(unknown, 422, "contestant")["detail"]
    _problem(await hearth.client.post(f"{arena['url']}/adopt", json={}), 400, "contestant")

    edit = await hearth.client.put(f"/api/chats/{chat}/files", json={"path": "n.txt", "content": "mine\n"})
    assert edit.status_code == 200, edit.text
    winner = arena["contestants"][0]["id"]
    clash = await hearth.client.post(f"{arena['url']}/adopt", json={"contestant": winner})
    assert "n.txt" in _problem(clash, 409, "contestant")["detail"]
    changes = (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]
    assert [(c["path"], c["agent"]) for c in changes] == [("n.txt", None)]  # the manual edit stands

    discarded = await hearth.client.delete(arena["url"])
    assert discarded.status_code == 200, discarded.text
    body = discarded.json()
    assert body["status"] == "discarded"
    for contestant in body["contestants"]:
        assert contestant["state"] == "discarded"
        assert contestant["worktree_status"] == "archived"
        assert not Path(contestant["worktree"]).exists()
        assert contestant["snapshot_ref"].startswith("refs/hearth/snapshots/arena-")
    _problem(await hearth.client.post(f"{arena['url']}/discard"), 409, "arena")
    _problem(await hearth.client.post(f"{arena['url']}/adopt", json={"contestant": winner}), 409, "arena")


async def test_a_contestant_still_running_at_the_adoption_keeps_its_worktree_until_it_ends(
    hearth_settings: Settings, git_repo: Path
) -> None:
    """One contestant at a time, each slow: the first is adopted while the second is still at work."""
    prompt = 'SLOW=0.25 TOOL write {"path": "s.txt", "content": "slow\\n"}'
    async with serve_hearth(hearth_settings.model_copy(update={"arena_max_parallel": 1})) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        body = {"prompt": prompt, "contestants": [{"agent": "native"}, {"agent": "native"}]}
        started = (await hearth.client.post(f"/api/chats/{chat}/arena", json=body)).json()
        first, second = (c["id"] for c in started["contestants"])
        async with asyncio.timeout(TURN_TIMEOUT_S):
            while (await hearth.client.get(started["url"])).json()["contestants"][0]["state"] != "succeeded":
                await asyncio.sleep(0.05)
        adopted = await hearth.client.post(f"{started['url']}/adopt", json={"contestant": first})
        assert adopted.status_code == 200, adopted.text
        winner, runner_up = adopted.json()["contestants"]
        assert winner["worktree_status"] == "archived"
        assert runner_up["id"] == second
        assert runner_up["state"] == "discarded"
        assert runner_up["worktree_status"] == "active"  # never removed under a running agent
        assert Path(runner_up["worktree"]).is_dir()

        async with asyncio.timeout(TURN_TIMEOUT_S):
            while (await hearth.client.get(started["url"])).json()["contestants"][1]["worktree_status"] != "archived":
                await asyncio.sleep(0.05)
        assert not Path(runner_up["worktree"]).exists()  # removed once it ended, its snapshot kept
