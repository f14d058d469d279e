"""ensure of an existing worktree: answered from its on-disk fingerprint when this process verified it before and
nothing changed since; every change takes the full checks and refuses or recreates exactly as a fresh process would
(a fresh GitWorktrees on the same disk is the reference)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pygit2
import pytest
from returns.result import Failure

from adapters.git.quiet import QuietWorktrees
from adapters.git.worktrees import GitWorktrees
from core.errors import Conflict, GitError
from core.model import Worktree, WorktreeStatus
from tests.plugins.git_repos import AT, commit_all, failure, make_repo, unwrap


@pytest.fixture
def warm(tmp_path: Path, repo_root: Path) -> GitWorktrees:
    # settle 0: the files these tests write are milliseconds old, and the fingerprint is what is under test here;
    # no watches (``quiet``), which would answer a repeated diff before it reached the repositories kept for it
    no_watches = QuietWorktrees(max_dirs=0)
    return GitWorktrees([repo_root], tmp_path / "worktrees", settle=timedelta(0), quiet=no_watches)


async def _verified(worktrees: GitWorktrees, repo: Path, chat: str = "c1") -> Worktree:
    """A worktree created, then verified in full once (which fingerprints it), then answered from the fingerprint."""
    row = unwrap(await worktrees.ensure(chat, str(repo), None, None, AT))
    assert unwrap(await worktrees.ensure(chat, str(repo), None, row, AT)) == row
    before = worktrees.unchanged_ensures
    assert unwrap(await worktrees.ensure(chat, str(repo), None, row, AT)) == row
    assert worktrees.unchanged_ensures == before + 1
    return row


async def test_an_unchanged_worktree_is_answered_without_git_work(warm: GitWorktrees, git_repo: Path) -> None:
    row = await _verified(warm, git_repo)
    (Path(row.path) / "work.txt").write_text("an agent's work does not count as a change of the worktree\n")
    commit_all(Path(row.path), "agent commit")  # nor do its commits
    (git_repo / "README.md").write_text("nor the user's edits in the checkout\n")
    for _ in range(3):
        assert unwrap(await warm.ensure("c1", str(git_repo), None, row, AT)) == row
    assert warm.unchanged_ensures == 4


async def test_a_worktree_that_changed_too_recently_is_checked_in_full(repo_root: Path, tmp_path: Path) -> None:
    worktrees = GitWorktrees([repo_root], tmp_path / "worktrees", settle=timedelta(days=1))
    repo = make_repo(repo_root / "project")
    row = unwrap(await worktrees.ensure("c1", str(repo), None, None, AT))
    for _ in range(3):
        assert unwrap(await worktrees.ensure("c1", str(repo), None, row, AT)) == row
    assert worktrees.unchanged_ensures == 0


async def test_a_vanished_directory_is_recreated(warm: GitWorktrees, git_repo: Path) -> None:
    row = await _verified(warm, git_repo)
    path = Path(row.path)
    (path / "work.txt").write_text("committed\n")
    commit_all(path, "agent commit")
    shutil.rmtree(path)
    assert unwrap(await warm.ensure("c1", str(git_repo), None, row, AT)) == row
    assert warm.unchanged_ensures == 1  # not answered from the fingerprint
    assert (path / "work.txt").read_text() == "committed\n"
    assert pygit2.Repository(str(git_repo)).list_worktrees() == ["chat-c1"]


async def test_another_row_or_status_is_checked_in_full(warm: GitWorktrees, git_repo: Path) -> None:
    row = await _verified(warm, git_repo)
    archived = row.model_copy(update={"status": WorktreeStatus.ARCHIVED})
    assert isinstance(failure(await warm.ensure("c1", str(git_repo), None, archived, AT)), Conflict)
    moved_base = row.model_copy(update={"base_commit": "0" * 40})
    assert unwrap(await warm.ensure("c1", str(git_repo), None, moved_base, AT)) == moved_base
    other_path = row.model_copy(update={"path": "/etc"})
    assert failure(await warm.ensure("c1", str(git_repo), None, other_path, AT)).field == "path"
    assert warm.unchanged_ensures == 1


def _corrupt_dot_git(repo: Path, row: Worktree) -> None:
    (Path(row.path) / ".git").write_text("garbage\n")


def _foreign_directory(repo: Path, row: Worktree) -> None:
    path = Path(row.path)
    path.rename(path.with_name("aside"))
    path.mkdir()
    (path / "someone-elses.txt").write_text("keep me\n")


def _symlink_to_a_copy(repo: Path, row: Worktree) -> None:
    path = Path(row.path)
    outside = path.parent.parent.parent / "outside-copy"
    shutil.copytree(path, outside, symlinks=True)
    shutil.rmtree(path)
    path.symlink_to(outside)


def _admin_entry_removed(repo: Path, row: Worktree) -> None:
    shutil.rmtree(repo / ".git" / "worktrees" / Path(row.path).name)


def _admin_head_rewritten(repo: Path, row: Worktree) -> None:
    (repo / ".git" / "worktrees" / Path(row.path).name / "HEAD").write_text("nonsense\n")


def _repository_moved(repo: Path, row: Worktree) -> None:
    repo.rename(repo.with_name("moved"))


def _repository_replaced(repo: Path, row: Worktree) -> None:
    repo.rename(repo.with_name("old"))
    make_repo(repo)


def _head_unborn(repo: Path, row: Worktree) -> None:
    os.remove(repo / ".git" / "refs" / "heads" / "main")


def _made_bare(repo: Path, row: Worktree) -> None:
    pygit2.Repository(str(repo)).config["core.bare"] = True


def _git_dir_removed(repo: Path, row: Worktree) -> None:
    shutil.rmtree(repo / ".git")


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        (_corrupt_dot_git, True),
        (_foreign_directory, True),
        (_symlink_to_a_copy, True),
        (_admin_entry_removed, True),
        (_admin_head_rewritten, False),  # libgit2 opens it regardless; what matters is answering as before
        (_repository_moved, True),
        (_repository_replaced, True),
        (_head_unborn, True),
        (_made_bare, True),
        (_git_dir_removed, True),
    ],
)
async def test_a_changed_worktree_is_answered_as_a_fresh_process_answers(
    change: Callable[[Path, Worktree], None], refused: bool, warm: GitWorktrees, git_repo: Path, repo_root: Path
) -> None:
    row = await _verified(warm, git_repo)
    change(git_repo, row)
    fresh = GitWorktrees([repo_root], warm.worktrees_dir)
    expected = await fresh.ensure("c1", str(git_repo), None, row, AT)
    actual = await warm.ensure("c1", str(git_repo), None, row, AT)
    assert actual == expected
    assert warm.unchanged_ensures == 1  # the change was noticed: nothing answered from the fingerprint
    assert isinstance(actual, Failure) is refused


async def test_a_repointed_repository_symlink_is_checked_in_full(
    warm: GitWorktrees, git_repo: Path, repo_root: Path
) -> None:
    link = repo_root / "link"
    link.symlink_to(git_repo)
    row = await _verified(warm, link)
    other = make_repo(repo_root / "other")
    link.unlink()
    link.symlink_to(other)
    fresh = GitWorktrees([repo_root], warm.worktrees_dir)
    assert await warm.ensure("c1", str(link), None, row, AT) == await fresh.ensure("c1", str(link), None, row, AT)
    assert warm.unchanged_ensures == 1


# diff: the repositories the previous diff of a worktree opened -------------------------------------------


async def test_a_diff_reuses_what_the_previous_diff_opened(warm: GitWorktrees, git_repo: Path) -> None:
    row = await _verified(warm, git_repo)
    (Path(row.path) / "new.txt").write_text("new\n")
    for _ in range(3):
        assert [d.path for d in unwrap(await warm.diff(row))] == ["new.txt"]
    assert warm.reused_repositories == 2


async def test_a_reused_diff_sees_a_setting_changed_since(warm: GitWorktrees, git_repo: Path, repo_root: Path) -> None:
    row = await _verified(warm, git_repo)
    (Path(row.path) / "run.sh").chmod(0o755)
    assert [d.path for d in unwrap(await warm.diff(row))] == ["run.sh"]
    assert [d.path for d in unwrap(await warm.diff(row))] == ["run.sh"]
    assert warm.reused_repositories == 1
    pygit2.Repository(str(git_repo)).config["core.filemode"] = False  # a repository caches it once opened
    fresh = GitWorktrees([repo_root], warm.worktrees_dir)
    assert unwrap(await warm.diff(row)) == unwrap(await fresh.diff(row)) == []


async def test_a_reused_diff_notices_a_recreated_worktree(warm: GitWorktrees, git_repo: Path) -> None:
    row = await _verified(warm, git_repo)
    (Path(row.path) / "first.txt").write_text("first\n")
    assert [d.path for d in unwrap(await warm.diff(row))] == ["first.txt"]
    shutil.rmtree(row.path)
    assert isinstance(failure(await warm.diff(row)), GitError)  # refused as missing, as before
    unwrap(await warm.ensure("c1", str(git_repo), None, row, AT))
    (Path(row.path) / "second.txt").write_text("second\n")
    assert [d.path for d in unwrap(await warm.diff(row))] == ["second.txt"]


async def test_a_changed_file_rewritten_keeping_size_and_mtime_shows_its_new_content(
    warm: GitWorktrees, git_repo: Path
) -> None:
    row = await _verified(warm, git_repo)
    target = Path(row.path) / "notes.txt"
    target.write_text("first version\n")
    for _ in range(2):  # the second diff reuses the blob the first one stored
        assert "+first version" in unwrap(await warm.diff(row))[0].diff
    before = target.stat()
    target.write_text("later version\n")  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime: only ctime tells
    assert "+later version" in unwrap(await warm.diff(row))[0].diff
