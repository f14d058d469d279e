"""Preflight: what removing a worktree would lose. Fails closed: what it cannot inspect is an error."""

from __future__ import annotations

from pathlib import Path

import pygit2

from adapters.git.refusal import Refused, refuse
from adapters.git.repos import commit_at, open_main, open_worktree
from adapters.git.statcache import Kept
from adapters.git.state import base_diff, patches, touched_paths, workdir_state_and_skipped
from core.model import Preflight, Worktree


def preflight(worktrees_dir: Path, worktree: Worktree, unapplied_changes: int) -> Preflight:
    errors: list[str] = []
    dirty: list[str] = []
    unpushed = 0
    try:
        dirty = dirty_files(worktrees_dir, worktree)
    except Refused as refused:
        errors.append(f"cannot inspect the worktree's files: {refused.error.detail}")
    except Exception as exc:  # anything unexpected is unknown, and unknown is not clean
        errors.append(f"cannot inspect the worktree's files at {worktree.path}: {type(exc).__name__}: {exc}")
    try:
        unpushed = unpushed_commits(worktree)
    except Refused as refused:
        errors.append(f"cannot count unpushed commits: {refused.error.detail}")
    except Exception as exc:
        errors.append(f"cannot count unpushed commits on {worktree.branch}: {type(exc).__name__}: {exc}")
    return Preflight(
        dirty_files=tuple(dirty),
        unpushed_commits=unpushed,
        unapplied_changes=unapplied_changes,
        errors=tuple(errors),
    )


def dirty_files(worktrees_dir: Path, worktree: Worktree) -> list[str]:
    """Files differing from base_commit, plus files whose staged content differs from the working copy
    (that staged version exists nowhere else)."""
    path, wrepo = open_worktree(worktrees_dir, worktree)
    base = commit_at(wrepo, worktree.base_commit, "base commit").tree
    state, skipped = workdir_state_and_skipped(wrepo, base, Kept.at(worktrees_dir, path))
    dirty: set[str] = set(skipped)
    for patch in patches(base_diff(base, state, for_apply=False)):
        dirty |= touched_paths(patch)
    index = wrepo.index
    index.read()
    if index.conflicts is not None:
        dirty |= {entry.path for trio in index.conflicts for entry in trio if entry is not None}
    for entry in index:
        if entry.path not in state or state[entry.path].id != entry.id:
            dirty.add(entry.path)
    return sorted(dirty)


def unpushed_commits(worktree: Worktree) -> int:
    """Commits on the chat's branch not on its upstream; without an upstream, commits beyond the base."""
    repo = open_main(worktree)
    branch = repo.branches.local.get(worktree.branch)
    if branch is None:
        refuse(f"branch {worktree.branch} is missing from {worktree.repo_path}", field="branch")
    walker = repo.walk(branch.target)
    upstream: pygit2.Branch | None = branch.upstream  # None without one (the stub says otherwise)
    if upstream is not None:
        walker.hide(upstream.target)
    else:
        walker.hide(commit_at(repo, worktree.base_commit, "base commit").id)
    return sum(1 for _ in walker)
