"""The staging boundary on real repositories: the base against the checkout's HEAD, and which pending files the
checkout itself changed since the base (where an apply would conflict)."""

from __future__ import annotations

from pathlib import Path

from adapters.git.worktrees import GitWorktrees
from tests.plugins.git_repos import AT, commit_all, failure, unwrap


async def test_a_checkout_untouched_since_the_base_diverges_nowhere(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    (Path(worktree.path) / "README.md").write_text("changed by an agent\n")
    (Path(worktree.path) / "new.txt").write_text("new\n")
    found = unwrap(await worktrees.boundary(worktree, ["README.md", "new.txt"]))
    assert found.diverged == ()
    assert found.base_commit == worktree.base_commit
    assert found.checkout_head == worktree.base_commit  # nothing committed in the checkout since the chat began
    assert Path(found.checkout) == git_repo.resolve()
    assert Path(found.worktree) == Path(worktree.path).resolve()


async def test_files_the_checkout_changed_since_the_base_are_named(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    root = Path(worktree.path)
    for name in ("README.md", "new.txt", "untouched.txt", "link"):
        (root / name).write_text(f"{name} by an agent\n")
    (git_repo / "README.md").write_text("the user's own edit\n")
    (git_repo / "new.txt").write_text("the user made it too\n")
    (git_repo / "link").symlink_to("README.md")
    pending = ["README.md", "new.txt", "untouched.txt", "link"]
    found = unwrap(await worktrees.boundary(worktree, pending))
    assert found.diverged == ("README.md", "link", "new.txt")
    assert "README.md" in str(failure(await worktrees.apply(worktree, ["README.md"])).detail)  # it does conflict

    commit_all(git_repo, "the user commits")
    committed = unwrap(await worktrees.boundary(worktree, pending))
    assert committed.checkout_head not in (None, worktree.base_commit)
    assert committed.diverged == found.diverged


async def test_after_an_apply_the_applied_files_no_longer_diverge(worktrees: GitWorktrees, git_repo: Path) -> None:
    worktree = unwrap(await worktrees.ensure("c1", str(git_repo), None, None, AT))
    (Path(worktree.path) / "one.txt").write_text("one\n")
    (Path(worktree.path) / "two.txt").write_text("two\n")
    applied = unwrap(await worktrees.apply(worktree, ["one.txt"]))
    found = unwrap(await worktrees.boundary(applied, ["two.txt"]))
    assert found.base_commit == applied.base_commit != worktree.base_commit
    assert found.diverged == ()
    assert unwrap(await worktrees.boundary(applied, ["one.txt"])).diverged == ()  # landed: checkout == new base
