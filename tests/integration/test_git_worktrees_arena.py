"""Arena worktrees on real git: a fork carries the chat's pending work as its base; adoption copies files exactly."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pygit2

from adapters.git.worktrees import GitWorktrees
from core.model import Worktree
from tests.plugins.git_repos import AT, INITIAL_FILES, failure, unwrap


async def _chat_with_pending_work(worktrees: GitWorktrees, repo: Path) -> Worktree:
    chat = unwrap(await worktrees.ensure("c1", str(repo), None, None, AT))
    root = Path(chat.path)
    (root / "README.md").write_text("edited in the chat\n")
    (root / "new.txt").write_text("new in the chat\n")
    (root / "src/util.py").unlink()
    return chat


async def test_a_fork_starts_from_the_chats_files_and_diffs_only_its_own_work(
    worktrees: GitWorktrees, git_repo: Path
) -> None:
    chat = await _chat_with_pending_work(worktrees, git_repo)
    fork = unwrap(await worktrees.fork(chat, "arena-k1", AT))
    root = Path(fork.path)
    assert (root / "README.md").read_text() == "edited in the chat\n"
    assert (root / "new.txt").read_text() == "new in the chat\n"
    assert not (root / "src/util.py").exists()
    assert (root / "data.bin").read_bytes() == INITIAL_FILES["data.bin"]
    assert unwrap(await worktrees.diff(fork)) == []  # its base is the fork: nothing of its own yet
    repo = pygit2.Repository(str(git_repo))
    assert repo[fork.base_commit].peel(pygit2.Commit).parents[0].id == repo.head.target  # on top of the chat's HEAD
    assert fork.branch == "hearth/chat-arena-k1"

    (root / "mine.txt").write_text("contestant\n")
    assert [d.path for d in unwrap(await worktrees.diff(fork))] == ["mine.txt"]
    assert not (Path(chat.path) / "mine.txt").exists()
    assert len(unwrap(await worktrees.diff(chat))) == 3  # the chat's own pending work is untouched


async def test_copying_changes_makes_the_chat_match_the_winner_file_by_file(
    worktrees: GitWorktrees, git_repo: Path
) -> None:
    chat = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    fork = unwrap(await worktrees.fork(chat, "arena-k1", AT))
    root = Path(fork.path)
    (root / "added/deep.txt").parent.mkdir()
    (root / "added/deep.txt").write_text("deep\n")
    (root / "src/app.py").write_text("changed\n")
    (root / "README.md").unlink()
    (root / "run.sh").write_text("#!/bin/sh\necho winner\n")
    os.chmod(root / "run.sh", (root / "run.sh").stat().st_mode | stat.S_IXUSR)
    os.symlink("src/app.py", root / "link")
    files = unwrap(await worktrees.diff(fork))
    unwrap(await worktrees.copy_changes(fork, chat, files))
    target = Path(chat.path)
    assert (target / "added/deep.txt").read_text() == "deep\n"
    assert (target / "src/app.py").read_text() == "changed\n"
    assert not (target / "README.md").exists()
    assert os.access(target / "run.sh", os.X_OK)
    assert os.readlink(target / "link") == "src/app.py"
    assert [(d.path, d.diff) for d in unwrap(await worktrees.diff(chat))] == [(d.path, d.diff) for d in files]


async def test_a_winner_path_through_a_symlinked_directory_is_refused(
    worktrees: GitWorktrees, git_repo: Path, tmp_path: Path
) -> None:
    chat = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    fork = unwrap(await worktrees.fork(chat, "arena-k1", AT))
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, Path(chat.path) / "escape")
    (Path(fork.path) / "escape").mkdir()
    (Path(fork.path) / "escape/file.txt").write_text("x\n")
    files = unwrap(await worktrees.diff(fork))
    error = failure(await worktrees.copy_changes(fork, chat, files))
    assert error.field == "path"
    assert not (outside / "file.txt").exists()
