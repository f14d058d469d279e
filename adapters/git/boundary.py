"""What stands between a chat's pending changes and the user's checkout (read only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pygit2

from adapters.git.naming import relative_path
from adapters.git.repos import commit_at, open_main, open_worktree
from core.boundary import StagingBoundary, diverged_paths
from core.model import Worktree


def boundary(worktrees_dir: Path, worktree: Worktree, pending: Sequence[str]) -> StagingBoundary:
    root, wrepo = open_worktree(worktrees_dir, worktree)
    main = open_main(worktree)
    base = commit_at(wrepo, worktree.base_commit, "base commit").tree
    at_base = {path: str(base[path].id) if path in base else None for path in pending}
    in_checkout = {path: _blob_id(Path(main.workdir), path) for path in pending}
    head = None if main.head_is_unborn else str(main.head.target)
    return StagingBoundary(
        checkout=str(main.workdir).rstrip("/"),
        worktree=str(root),
        base_commit=worktree.base_commit,
        checkout_head=head,
        diverged=diverged_paths(pending, at_base, in_checkout),
    )


def _blob_id(workdir: Path, path: str) -> str | None:
    """The id git would give the checkout's file as it is on disk (a symlink: its target), None when absent."""
    target = workdir / relative_path(path)
    if target.is_symlink():
        return str(pygit2.hash(str(target.readlink()).encode()))  # a link's blob is its target text
    if not target.is_file():
        return None
    return str(pygit2.hashfile(str(target)))
