"""Preflight (fails closed), soft delete (snapshot, no leftovers, idempotent), restore and snapshot expiry."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pygit2

from adapters.git.worktrees import GitWorktrees
from core.model import Worktree, WorktreeStatus
from tests.plugins.git_repos import AT, INITIAL_FILES, commit_all, failure, unwrap


async def _ensure(worktrees: GitWorktrees, repo: Path, chat: str = "c1") -> Worktree:
    return unwrap(await worktrees.ensure(chat, str(repo), None, None, AT))


def _assert_gone(repo_path: Path, worktree: Worktree) -> None:
    repo = pygit2.Repository(str(repo_path))
    name = Path(worktree.path).name
    assert not Path(worktree.path).exists()
    assert not list(Path(worktree.path).parent.glob(f"*{name}*"))  # nor the aside-moved copy
    assert name not in repo.list_worktrees()
    assert not (repo_path / ".git" / "worktrees" / name).exists()
    assert worktree.branch not in repo.listall_branches()


# preflight -------------------------------------------------------------------------------------------------


async def test_preflight_of_a_clean_worktree(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    preflight = await worktrees.preflight(worktree, 3)
    assert preflight.dirty_files == ()
    assert preflight.unpushed_commits == 0
    assert preflight.unapplied_changes == 3
    assert preflight.errors == ()


async def test_preflight_reports_dirty_staged_and_unpushed_work(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "committed.txt").write_text("one\n")
    commit_all(root, "agent commit 1")
    (root / "committed2.txt").write_text("two\n")
    commit_all(root, "agent commit 2")
    (root / "untracked.txt").write_text("u\n")
    (root / "README.md").write_text("edited\n")
    wrepo = pygit2.Repository(str(root))  # stage a version, then change the file again: the staged one is work too
    (root / "src/app.py").write_text("staged\n")
    wrepo.index.add("src/app.py")
    wrepo.index.write()
    (root / "src/app.py").write_text(str(INITIAL_FILES["src/app.py"]))
    preflight = await worktrees.preflight(worktree, 0)
    assert set(preflight.dirty_files) == {"committed.txt", "committed2.txt", "untracked.txt", "README.md", "src/app.py"}
    assert preflight.unpushed_commits == 2
    assert preflight.errors == ()


async def test_preflight_counts_against_the_upstream(worktrees: GitWorktrees, git_repo: Path, tmp_path: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "a.txt").write_text("a\n")
    pushed = commit_all(root, "pushed")
    (root / "b.txt").write_text("b\n")
    commit_all(root, "not pushed")
    repo = pygit2.Repository(str(git_repo))
    repo.remotes.create("origin", str(tmp_path / "remote.git"))
    repo.references.create("refs/remotes/origin/hearth/chat-c1", pygit2.Oid(hex=pushed))
    repo.branches.local["hearth/chat-c1"].upstream = repo.branches.remote["origin/hearth/chat-c1"]
    assert (await worktrees.preflight(worktree, 0)).unpushed_commits == 1


async def test_preflight_fails_closed(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / ".git").write_text("gitdir: /nowhere/at/all\n")  # a corrupt worktree: cannot be inspected
    corrupt = await worktrees.preflight(worktree, 0)
    assert corrupt.errors
    assert "cannot inspect the worktree's files" in corrupt.errors[0]
    unknown_base = worktree.model_copy(update={"base_commit": "0" * 40})
    assert len((await worktrees.preflight(unknown_base, 0)).errors) == 2
    shutil.rmtree(root)
    assert (await worktrees.preflight(worktree, 0)).errors  # missing: nothing to say it is clean


# soft delete and restore -----------------------------------------------------------------------------------


async def test_soft_delete_snapshots_then_leaves_nothing(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "committed.txt").write_text("committed\n")
    commit_all(root, "agent commit")
    (root / "README.md").write_text("uncommitted edit\n")
    (root / "new/dir").mkdir(parents=True)
    (root / "new/dir/untracked.txt").write_text("untracked\n")
    (root / "src/app.py").unlink()
    deleting = worktree.model_copy(update={"status": WorktreeStatus.DELETING})
    archived = unwrap(await worktrees.soft_delete(deleting, AT))
    assert archived.status is WorktreeStatus.ARCHIVED
    assert archived.archived_at == AT
    assert archived.snapshot_ref == "refs/hearth/snapshots/c1/20260102T030405Z"
    _assert_gone(git_repo, worktree)
    repo = pygit2.Repository(str(git_repo))
    tree = repo.references[archived.snapshot_ref].peel(pygit2.Commit).tree
    assert tree["README.md"].peel(pygit2.Blob).data == b"uncommitted edit\n"
    assert tree["new/dir/untracked.txt"].peel(pygit2.Blob).data == b"untracked\n"
    assert tree["committed.txt"].peel(pygit2.Blob).data == b"committed\n"
    assert "src/app.py" not in tree
    # idempotent: again on the archived row, and again on the DELETING row (a reconciler after a crash)
    assert unwrap(await worktrees.soft_delete(archived, AT)) == archived
    again = unwrap(await worktrees.soft_delete(deleting, AT + timedelta(minutes=5)))
    assert again.snapshot_ref == archived.snapshot_ref
    _assert_gone(git_repo, worktree)


async def test_soft_delete_resumes_after_a_crash_midway(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "work.txt").write_text("precious\n")
    first = unwrap(await worktrees.soft_delete(worktree, AT))
    # simulate a crash after the snapshot and directory removal: the branch and admin entry were left
    repo = pygit2.Repository(str(git_repo))
    snapshot = repo.references[str(first.snapshot_ref)].peel(pygit2.Commit)
    repo.branches.local.create(worktree.branch, snapshot.parents[0])
    later = AT + timedelta(hours=1)
    resumed = unwrap(await worktrees.soft_delete(worktree, later))
    assert resumed.snapshot_ref == first.snapshot_ref  # the real snapshot is not shadowed by an emptier one
    _assert_gone(git_repo, worktree)


async def test_soft_delete_refuses_an_unreadable_worktree(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "work.txt").write_text("precious\n")
    (root / ".git").write_text("garbage")
    failure(await worktrees.soft_delete(worktree, AT))
    assert (root / "work.txt").read_text() == "precious\n"


async def test_soft_delete_refuses_paths_outside_the_worktrees_dir(
    worktrees: GitWorktrees, git_repo: Path, tmp_path: Path
) -> None:
    worktree = await _ensure(worktrees, git_repo)
    precious = tmp_path / "precious"
    precious.mkdir()
    error = failure(await worktrees.soft_delete(worktree.model_copy(update={"path": str(precious)}), AT))
    assert error.field == "path"
    assert precious.exists()


async def test_restore_round_trip(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "committed.txt").write_text("committed\n")
    commit_all(root, "agent commit")
    (root / "README.md").write_text("uncommitted edit\n")
    (root / "new/dir").mkdir(parents=True)
    (root / "new/dir/untracked.txt").write_text("untracked\n")
    (root / "src/app.py").unlink()
    before = sorted((d.path, d.diff) for d in unwrap(await worktrees.diff(worktree)))
    archived = unwrap(await worktrees.soft_delete(worktree, AT))
    restored = unwrap(await worktrees.restore(archived, AT + timedelta(days=1)))
    assert restored.status is WorktreeStatus.ACTIVE
    assert restored.archived_at is None
    assert restored.base_commit == worktree.base_commit
    assert restored.path == worktree.path
    assert (root / "README.md").read_text() == "uncommitted edit\n"
    assert (root / "new/dir/untracked.txt").read_text() == "untracked\n"
    assert not (root / "src/app.py").exists()
    assert pygit2.Repository(str(root)).head.shorthand == "hearth/chat-c1"
    assert sorted((d.path, d.diff) for d in unwrap(await worktrees.diff(restored))) == before
    preflight = await worktrees.preflight(restored, 0)
    assert preflight.unpushed_commits == 1
    assert "README.md" in preflight.dirty_files
    # restoring an active worktree is refused
    assert failure(await worktrees.restore(restored, AT)).kind == "conflict"


async def test_restore_without_a_snapshot(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    shutil.rmtree(worktree.path)
    assert failure(await worktrees.restore(worktree, AT)).kind == "not_found"


async def test_expire_snapshots_deletes_only_old_ones(worktrees: GitWorktrees, git_repo: Path) -> None:
    old = unwrap(await worktrees.soft_delete(await _ensure(worktrees, git_repo, "old"), AT))
    new = unwrap(await worktrees.soft_delete(await _ensure(worktrees, git_repo, "new"), AT + timedelta(days=20)))
    repo = pygit2.Repository(str(git_repo))
    repo.references.create("refs/hearth/snapshots/other/not-a-time", repo.head.target)
    expired = await worktrees.expire_snapshots(str(git_repo), AT + timedelta(days=14))
    assert expired == [old.snapshot_ref]
    names = [name for name in repo.references if name.startswith("refs/hearth/")]
    assert sorted(names) == sorted([str(new.snapshot_ref), "refs/hearth/snapshots/other/not-a-time"])


async def test_staged_content_survives_soft_delete_and_restore(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    root = Path(worktree.path)
    (root / "notes.txt").write_text("staged version\n")
    wrepo = pygit2.Repository(str(root))
    wrepo.index.add("notes.txt")
    wrepo.index.write()
    (root / "notes.txt").write_text("working version\n")
    archived = unwrap(await worktrees.soft_delete(worktree, AT))
    unwrap(await worktrees.restore(archived, AT + timedelta(seconds=1)))
    assert (root / "notes.txt").read_text() == "working version\n"
    restored = pygit2.Repository(str(root))
    assert restored[restored.index["notes.txt"].id].peel(pygit2.Blob).data == b"staged version\n"


async def test_expiry_skips_a_repository_that_is_gone(worktrees: GitWorktrees, tmp_path: Path) -> None:
    assert await worktrees.expire_snapshots(str(tmp_path / "gone"), AT) == []


async def test_preflight_reports_a_nested_repository_as_dirty(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = await _ensure(worktrees, git_repo)
    nested = Path(worktree.path) / "vendor/lib"
    pygit2.init_repository(str(nested))
    (nested / "code.py").write_text("x = 1\n")
    assert "vendor/lib/" in (await worktrees.preflight(worktree, 0)).dirty_files
