"""A diff of a worktree in which nothing happened since its last diff is answered from that diff (inotify says
nothing happened); every kind of change since, by any process, in any directory (one made after the watches were
set up included), and every change of the settings that decide a diff, gives exactly the diff a fresh process
computes (``changes.diff`` with nothing kept is the reference)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.git import changes
from adapters.git.inotify import local_filesystem
from adapters.git.quiet import KEPT_DIFF_CHARS, MAX_DIRS, QuietWorktrees
from adapters.git.worktrees import GitWorktrees
from core.model import FileDiff, Worktree
from tests.integration.test_git_worktrees_statcache import CHANGES
from tests.plugins.git_repos import AT, commit_all, unwrap


def _watched(
    tmp_path: Path, repo_root: Path, max_dirs: int = MAX_DIRS, local: bool = True, max_chars: int = KEPT_DIFF_CHARS
) -> GitWorktrees:
    # settle 0: the settings files these tests write are milliseconds old, and the watch is what is under test
    local_fs: Callable[[str], bool] = lambda path: local and local_filesystem(path)  # noqa: E731
    quiet = QuietWorktrees(settle_ns=0, max_dirs=max_dirs, local=local_fs, max_chars=max_chars)
    return GitWorktrees([repo_root], tmp_path / "worktrees", settle=timedelta(0), quiet=quiet)


@pytest.fixture
def watched(tmp_path: Path, repo_root: Path) -> GitWorktrees:
    return _watched(tmp_path, repo_root)


def _fresh(worktrees: GitWorktrees, row: Worktree) -> list[FileDiff]:
    return changes.diff(worktrees.worktrees_dir, row)


async def _diff(worktrees: GitWorktrees, row: Worktree, *, quiet: bool) -> list[FileDiff]:
    """The adapter's diff, checked against a fresh one; ``quiet``: whether it was answered without git work."""
    before = worktrees.quiet_diffs
    found = unwrap(await worktrees.diff(row))
    assert worktrees.quiet_diffs == before + (1 if quiet else 0)
    assert found == _fresh(worktrees, row)
    return found


async def _quiet_row(worktrees: GitWorktrees, git_repo: Path) -> Worktree:
    """A worktree diffed until its diff is answered from the watch (the first diff learns which settings files
    to stamp, the second stamps them)."""
    row = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    await _diff(worktrees, row, quiet=False)
    await _diff(worktrees, row, quiet=False)
    await _diff(worktrees, row, quiet=True)
    return row


async def test_a_worktree_nothing_happened_in_is_answered_without_git_work(
    watched: GitWorktrees, git_repo: Path
) -> None:
    row = await _quiet_row(watched, git_repo)
    (Path(row.path) / "notes.txt").write_text("an agent's work\n")
    assert [d.path for d in await _diff(watched, row, quiet=False)] == ["notes.txt"]
    for _ in range(3):
        assert [d.path for d in await _diff(watched, row, quiet=True)] == ["notes.txt"]
    (Path(row.path) / "notes.txt").read_text()  # reading is no change
    os.listdir(row.path)
    await _diff(watched, row, quiet=True)


@pytest.mark.parametrize("change", CHANGES)
async def test_every_kind_of_change_is_seen(
    watched: GitWorktrees, git_repo: Path, change: Callable[[Path], None]
) -> None:
    row = await _quiet_row(watched, git_repo)
    change(Path(row.path))
    changed = await _diff(watched, row, quiet=False)
    assert await _diff(watched, row, quiet=True) == changed


async def test_a_file_in_a_directory_made_after_the_watches_is_seen(watched: GitWorktrees, git_repo: Path) -> None:
    row = await _quiet_row(watched, git_repo)
    root = Path(row.path)
    (root / "pkg/deep/er").mkdir(parents=True)  # empty directories: no change in the diff, but watched from now on
    await _diff(watched, row, quiet=False)
    await _diff(watched, row, quiet=True)
    (root / "pkg/deep/er/mod.py").write_text("x = 1\n")
    assert [d.path for d in await _diff(watched, row, quiet=False)] == ["pkg/deep/er/mod.py"]
    await _diff(watched, row, quiet=True)
    (root / "pkg/deep/er/mod.py").write_text("x = 2\n")
    assert [d.status for d in await _diff(watched, row, quiet=False)] == ["added"]


async def test_a_file_in_a_moved_directory_is_seen(watched: GitWorktrees, git_repo: Path) -> None:
    row = await _quiet_row(watched, git_repo)
    root = Path(row.path)
    (root / "src").rename(root / "lib")
    (root / "outside").mkdir()
    await _diff(watched, row, quiet=False)
    (root / "lib").rename(root / "outside/lib")  # moved again, deeper: its watch's path is stale twice over
    await _diff(watched, row, quiet=False)
    await _diff(watched, row, quiet=True)
    (root / "outside/lib/app.py").write_text("changed\n")
    assert "outside/lib/app.py" in [d.path for d in await _diff(watched, row, quiet=False)]


async def test_a_directory_moved_out_and_back_in_is_watched_again(
    watched: GitWorktrees, git_repo: Path, tmp_path: Path
) -> None:
    row = await _quiet_row(watched, git_repo)
    root = Path(row.path)
    (root / "src").rename(tmp_path / "parked")
    await _diff(watched, row, quiet=False)
    await _diff(watched, row, quiet=True)
    (tmp_path / "parked/app.py").write_text("written while outside\n")  # not the worktree's business
    await _diff(watched, row, quiet=True)
    (tmp_path / "parked").rename(root / "src")
    await _diff(watched, row, quiet=False)
    await _diff(watched, row, quiet=True)
    (root / "src/util.py").write_text("written once back\n")
    assert {d.path for d in await _diff(watched, row, quiet=False)} == {"src/app.py", "src/util.py"}


async def test_a_change_of_the_ignore_rules_outside_the_worktree_is_seen(watched: GitWorktrees, git_repo: Path) -> None:
    row = await _quiet_row(watched, git_repo)
    (Path(row.path) / "scratch.log").write_text("noise\n")
    await _diff(watched, row, quiet=False)
    assert [d.path for d in await _diff(watched, row, quiet=True)] == ["scratch.log"]
    exclude = git_repo / ".git/info/exclude"
    exclude.parent.mkdir(exist_ok=True)
    exclude.write_text("*.log\n")  # the repository's own ignore file: no event in the worktree
    assert await _diff(watched, row, quiet=False) == []


async def test_another_base_is_diffed(watched: GitWorktrees, git_repo: Path) -> None:
    row = await _quiet_row(watched, git_repo)
    (Path(row.path) / "README.md").write_text("edited\n")
    await _diff(watched, row, quiet=False)
    await _diff(watched, row, quiet=True)
    moved = row.model_copy(update={"base_commit": commit_all(Path(row.path), "agent commit")})
    assert await _diff(watched, moved, quiet=False) == []


async def test_a_removed_and_recreated_worktree_is_watched_afresh(watched: GitWorktrees, git_repo: Path) -> None:
    row = await _quiet_row(watched, git_repo)
    shutil.rmtree(row.path)
    assert unwrap(await watched.ensure("c1", str(git_repo), None, row, AT)) == row
    await _diff(watched, row, quiet=False)
    await _diff(watched, row, quiet=True)
    (Path(row.path) / "src/new.py").write_text("after the rebirth\n")
    assert [d.path for d in await _diff(watched, row, quiet=False)] == ["src/new.py"]


async def test_lost_events_mean_a_full_diff(watched: GitWorktrees, git_repo: Path) -> None:
    row = await _quiet_row(watched, git_repo)
    blip = Path(row.path) / "src/blip"
    for _ in range(int(Path("/proc/sys/fs/inotify/max_queued_events").read_text()) // 2 + 100):
        blip.touch()  # two events a round: more than the kernel queues, so it reports an overflow
        blip.unlink()
    (Path(row.path) / "src/late").mkdir()
    assert await _diff(watched, row, quiet=False) == []
    await _diff(watched, row, quiet=True)
    (Path(row.path) / "src/late/file.py").write_text("in a directory made while events were lost\n")
    assert "src/late/file.py" in [d.path for d in await _diff(watched, row, quiet=False)]


async def test_a_worktree_with_too_many_directories_is_always_diffed(
    tmp_path: Path, repo_root: Path, git_repo: Path
) -> None:
    worktrees = _watched(tmp_path, repo_root, max_dirs=2)  # the worktree has three: its root, src and docs
    row = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    (Path(row.path) / "docs").mkdir()
    for _ in range(3):
        await _diff(worktrees, row, quiet=False)
    (Path(row.path) / "docs/guide.md").write_text("seen all the same\n")
    assert [d.path for d in await _diff(worktrees, row, quiet=False)] == ["docs/guide.md"]


async def test_closed_watches_diff_in_full(watched: GitWorktrees, git_repo: Path) -> None:
    row = await _quiet_row(watched, git_repo)
    watched.close()
    (Path(row.path) / "after.txt").write_text("written after the watches went\n")
    assert [d.path for d in await _diff(watched, row, quiet=False)] == ["after.txt"]
    await _diff(watched, row, quiet=False)


async def test_a_worktree_others_may_write_unseen_is_always_diffed(
    tmp_path: Path, repo_root: Path, git_repo: Path
) -> None:
    worktrees = _watched(tmp_path, repo_root, local=False)  # as on NFS: another machine's writes raise no event here
    row = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    for _ in range(3):
        await _diff(worktrees, row, quiet=False)


def test_only_filesystems_this_kernel_sees_every_change_of_count_as_local(tmp_path: Path) -> None:
    assert local_filesystem(str(tmp_path))
    assert not local_filesystem("/proc")  # procfs: not a place worktrees are, nor one whose changes are events
    assert not local_filesystem(str(tmp_path / "missing"))


async def test_a_large_pending_diff_is_computed_again_not_kept(tmp_path: Path, repo_root: Path, git_repo: Path) -> None:
    worktrees = _watched(tmp_path, repo_root, max_chars=100)
    row = await _quiet_row(worktrees, git_repo)
    (Path(row.path) / "big.txt").write_text("a line of an agent's large change\n" * 10)
    for _ in range(3):
        assert [d.path for d in await _diff(worktrees, row, quiet=False)] == ["big.txt"]
    (Path(row.path) / "big.txt").unlink()
    await _diff(worktrees, row, quiet=False)
    await _diff(worktrees, row, quiet=True)  # small again: kept
