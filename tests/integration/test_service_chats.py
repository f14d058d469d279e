"""A chat's worktree from its creation, and a closed chat brought back by ``hearth worktrees restore``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pygit2
import pytest

from app.cli.main import main
from app.settings import Settings
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents


async def test_a_chat_has_its_worktree_from_creation(hearth: Hearth, git_repo: Path) -> None:
    created = await hearth.create_chat(git_repo)
    worktree = created["worktree"]
    assert worktree is not None, created
    assert worktree["status"] == "active"
    assert worktree["branch"] == f"hearth/chat-{created['id']}"
    assert Path(worktree["path"]).is_dir()
    assert (await hearth.client.get(f"/api/chats/{created['id']}")).json()["worktree"] == worktree


async def test_a_chat_whose_worktree_cannot_be_made_is_refused_and_leaves_nothing(
    hearth: Hearth, git_repo: Path
) -> None:
    branches = set(pygit2.Repository(str(git_repo)).branches.local)
    response = await hearth.client.post("/api/chats", json={"repo_path": str(git_repo), "ref": "no-such-branch"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == "ref"
    assert "no-such-branch" in problem["detail"]
    assert (await hearth.client.get("/api/chats")).json() == []
    worktrees = hearth.settings.data_dir / "worktrees"
    assert not worktrees.exists() or not any(worktrees.iterdir())
    assert set(pygit2.Repository(str(git_repo)).branches.local) == branches


async def test_a_restored_chat_is_open_again_and_takes_turns(
    hearth_settings: Settings, git_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serve_hearth(hearth_settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(chat, "native", "WRITE draft.txt keep me"))["status"] == "succeeded"
        worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
        closed = await hearth.client.post(f"/api/chats/{chat}/close", json={"force": True})
        assert closed.status_code == 200, closed.text
        assert not worktree.exists()

    monkeypatch.setenv("HEARTH_DATA_DIR", str(hearth_settings.data_dir))
    monkeypatch.setenv("HEARTH_REPO_ROOTS", json.dumps([str(root) for root in hearth_settings.repo_roots]))
    monkeypatch.delenv("HEARTH_DATABASE_URL", raising=False)
    monkeypatch.delenv("HEARTH_WORKTREES_DIR", raising=False)
    assert await asyncio.to_thread(main, ["worktrees", "restore", chat]) == 0
    assert f"chat {chat} is open again" in capsys.readouterr().out
    assert (worktree / "draft.txt").read_text() == "keep me\n"

    async with serve_hearth(hearth_settings) as hearth:
        assert (await hearth.client.get(f"/api/chats/{chat}")).json()["status"] == "open"
        after = await hearth.run_turn(chat, "native", "WRITE more.txt after the restore")
        assert after["status"] == "succeeded", after
        assert (worktree / "more.txt").is_file()
        assert (worktree / "draft.txt").read_text() == "keep me\n"
