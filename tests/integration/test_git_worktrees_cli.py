"""``hearth worktrees list`` / ``restore CHAT`` end to end: real SQLite store in the data dir, real git."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from adapters.store.sqlite import SqliteStore
from app.bootstrap.adapters import open_worktrees
from app.cli.main import main
from app.settings import Settings
from core.model import Chat, Worktree, WorktreeStatus
from tests.plugins.git_repos import AT, unwrap


@pytest.fixture
def settings(tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEARTH_REPO_ROOTS", json.dumps([str(repo_root)]))
    monkeypatch.delenv("HEARTH_DATABASE_URL", raising=False)
    settings = Settings()
    settings.data_dir.mkdir(parents=True)
    return settings


async def _archived_chat(settings: Settings, repo: Path) -> Worktree:
    store = await SqliteStore.open(settings.sqlite_path)
    try:
        await store.create_chat(Chat(id="c1", repo_path=str(repo), created_at=AT))
        worktrees = open_worktrees(settings)
        worktree = unwrap(await worktrees.ensure("c1", str(repo), None, None, AT))
        (Path(worktree.path) / "work.txt").write_text("keep me\n")
        archived = unwrap(await worktrees.soft_delete(worktree, AT))
        await store.upsert_worktree(archived)
        return archived
    finally:
        await store.close()


async def _row(settings: Settings) -> Worktree | None:
    store = await SqliteStore.open(settings.sqlite_path)
    try:
        return await store.get_worktree("c1")
    finally:
        await store.close()


def test_list_and_restore(settings: Settings, git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archived = asyncio.run(_archived_chat(settings, git_repo))
    assert not Path(archived.path).exists()
    assert main(["worktrees", "list"]) == 0
    listed = capsys.readouterr().out
    assert "c1  archived" in listed
    assert str(archived.snapshot_ref) in listed
    assert main(["worktrees", "restore", "c1"]) == 0
    assert (Path(archived.path) / "work.txt").read_text() == "keep me\n"
    row = asyncio.run(_row(settings))
    assert row is not None
    assert row.status is WorktreeStatus.ACTIVE
    assert main(["worktrees", "restore", "c1"]) == 0  # already active: says so, changes nothing
    assert "already active" in capsys.readouterr().out


def test_restore_of_an_unknown_chat(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worktrees", "restore", "nope"]) == 1
    assert "no worktree" in capsys.readouterr().err
