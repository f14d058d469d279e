"""Tasks from outside a chat through a real hearth: the creator key finds or opens the chat, a real qwen runs the
task one-shot (no pooled handle, no agent session row), and its change is pending, stamped with its agent."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from app.cli.task import run_task
from app.settings import Settings
from core.agents import BUILTIN_AGENTS, ProviderConfig
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.git_repos import make_repo
from tests.plugins.service import Hearth, make_settings

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")


async def post_task(hearth: Hearth, repo: Path, prompt: str, **extra: Any) -> dict[str, Any]:
    body = {"repo_path": str(repo), "agent": "qwen", "prompt": prompt, "origin": "new_task", **extra}
    response = await hearth.client.post("/api/tasks", json=body)
    assert response.status_code == 202, response.text
    submitted: dict[str, Any] = response.json()
    return submitted


async def test_tasks_find_or_open_their_chat_and_run_one_shot(hearth_any_store: Hearth, git_repo: Path) -> None:
    require_agent(QWEN)
    hearth = hearth_any_store
    keyless = await post_task(hearth, git_repo, "BASH echo from-a-task > keyless.txt")
    assert keyless["chat_created"] is True
    assert keyless["task"]["origin"] == "new_task"
    chat = keyless["chat"]["id"]
    done = await hearth.wait_turn(chat, keyless["task"]["id"])
    assert done["status"] == "succeeded", done

    assert hearth.node.pool.find(chat, "qwen") is None  # one-shot: nothing kept warm
    sessions = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    assert sessions == []
    (change,) = (await hearth.client.get(f"/api/chats/{chat}/changes")).json()["changes"]
    assert (change["path"], change["agent"], change["task_id"]) == ("keyless.txt", "qwen", done["id"])
    events = await hearth.events(done["events_url"])  # the usual SSE endpoint
    assert events[-1]["type"] == "turn_completed"

    first = await post_task(hearth, git_repo, "hello", creator="client-7", origin="mcp")
    again = await post_task(hearth, git_repo, "hello again", creator="client-7", origin="mcp")
    assert first["chat_created"] is True
    assert again["chat_created"] is False
    assert again["chat"]["id"] == first["chat"]["id"] != chat
    into_own_chat = await post_task(hearth, git_repo, "hello", creator=chat)
    assert (into_own_chat["chat"]["id"], into_own_chat["chat_created"]) == (chat, False)

    before = len((await hearth.client.get("/api/chats")).json())
    raced = await asyncio.gather(*(post_task(hearth, git_repo, f"race {n}", creator="raced") for n in range(3)))
    assert len({r["chat"]["id"] for r in raced}) == 1
    assert sum(r["chat_created"] for r in raced) == 1
    assert len((await hearth.client.get("/api/chats")).json()) == before + 1
    for submitted in [first, again, into_own_chat, *raced]:
        finished = await hearth.wait_turn(submitted["chat"]["id"], submitted["task"]["id"])
        assert finished["status"] == "succeeded", finished


async def test_a_refused_task_changes_nothing(hearth: Hearth, git_repo: Path, tmp_path: Path) -> None:
    cases = [
        ({"agent": "nobody"}, 422, "agent"),
        ({"origin": "chat"}, 400, None),
        ({"prompt": "   "}, 422, "prompt"),
        ({"creator": ""}, 400, None),
        ({"repo_path": str(tmp_path / "not-a-repo")}, 422, "repo_path"),
    ]
    for change, status, field in cases:
        body = {"repo_path": str(git_repo), "agent": "qwen", "prompt": "x", "origin": "mcp", **change}
        response = await hearth.client.post("/api/tasks", json=body)
        assert response.status_code == status, (change, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if field is not None:
            assert response.json()["field"] == field, response.json()
    assert (await hearth.client.get("/api/chats")).json() == []

    other = make_repo(git_repo.parent / "other")
    first = await post_task(hearth, git_repo, "hello", creator="k")
    wrong_repo = await hearth.client.post(
        "/api/tasks",
        json={"repo_path": str(other), "agent": "qwen", "prompt": "x", "origin": "mcp", "creator": "k"},
    )
    assert wrong_repo.status_code == 409, wrong_repo.text
    assert wrong_repo.json()["field"] == "repo_path"
    assert [c["id"] for c in (await hearth.client.get("/api/chats")).json()] == [first["chat"]["id"]]


async def test_hearth_task_follows_a_task_to_its_end(hearth: Hearth, git_repo: Path) -> None:
    out = io.StringIO()
    body = {
        "repo_path": str(git_repo),
        "agent": "native",
        "prompt": "WRITE cli-task.txt from the cli",
        "creator": "cli",
    }
    assert await run_task(hearth.base_url, None, body, out) == 0
    printed = out.getvalue()
    assert "in a new chat" in printed
    assert "task succeeded" in printed
    assert await run_task(hearth.base_url, None, {**body, "agent": "nobody"}, io.StringIO()) == 1
    again = io.StringIO()
    assert await run_task(hearth.base_url, None, {**body, "prompt": "hello"}, again) == 0
    assert "in chat" in again.getvalue()  # the key's chat, reused


@pytest.fixture
def hearth_settings(tmp_path: Path, repo_root: Path, provider_config: ProviderConfig) -> Settings:
    """The agents from the shared cache that ``hearth agents install`` fills."""
    return make_settings(tmp_path / "data", repo_root, provider_config, cache_dir=AGENTS_DIR.parent)
