"""Arena worktrees: a contestant's worktree forked from the chat's current state, and its winning files copied back.

A fork commits the chat worktree's files as they are (its HEAD plus the pending changes) on the contestant's own
branch, and checks that commit out as a new worktree whose base is the fork: the contestant's diff is then exactly
what the contestant did. Adopting copies the winner's changed files into the chat's worktree (never a patch: the
arena refused the adoption already if the chat changed one of those files since the fork).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath

import pygit2

from adapters.git.create import add_worktree
from adapters.git.naming import branch_name, check_chat_id, is_inside, relative_path, worktree_name, worktree_path
from adapters.git.refusal import refuse
from adapters.git.repos import commit_at, head_commit, open_main, open_worktree, signature
from adapters.git.statcache import Kept
from adapters.git.state import workdir_state
from core.model import FileDiff, Worktree


def fork(worktrees_dir: Path, source: Worktree, key: str, at: datetime) -> Worktree:
    check_chat_id(key)
    source_path, chat_repo = open_worktree(worktrees_dir, source)
    base = commit_at(chat_repo, source.base_commit, "base commit").tree
    tree = workdir_state(chat_repo, base, Kept.at(worktrees_dir, source_path)).write_tree(chat_repo)
    message = f"hearth arena fork {key}\n\nHearth-Base: {source.base_commit}\n"
    head = head_commit(chat_repo)
    commit = chat_repo.create_commit(None, signature(at), signature(at), message, tree, [head.id])
    main = open_main(source)
    path = worktree_path(worktrees_dir, Path(source.repo_path), key)
    add_worktree(main, path, worktree_name(key), branch_name(key), main[commit].peel(pygit2.Commit), worktrees_dir)
    return Worktree(
        chat_id=key,
        repo_path=source.repo_path,
        path=str(path),
        branch=branch_name(key),
        base_commit=str(commit),
        created_at=at,
    )


def _inside(root: Path, path: str) -> Path:
    """``path`` under ``root`` without following the file itself (it may be a symlink the agent made)."""
    rel = relative_path(path)
    target = root.joinpath(*PurePosixPath(rel).parts)
    if not is_inside(target.parent.resolve(), root.resolve()):
        refuse(f"{path!r} leads outside the worktree {root} through a symlinked directory; refused", field="path")
    return target


def _remove(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        refuse(f"{target} is a directory where the winner has a file; move it away and adopt again", field="path")


def copy_changes(worktrees_dir: Path, source: Worktree, target: Worktree, files: Sequence[FileDiff]) -> None:
    """Make each file of ``files`` in ``target`` what it is in ``source`` (deleted ones deleted)."""
    source_root, _ = open_worktree(worktrees_dir, source)
    target_root, _ = open_worktree(worktrees_dir, target)
    for file in files:
        if file.old_path is not None and file.old_path != file.path:
            _remove(_inside(target_root, file.old_path))
        destination = _inside(target_root, file.path)
        _remove(destination)
        if file.status == "deleted":
            continue
        origin = _inside(source_root, file.path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            os.symlink(os.readlink(origin), destination)
        else:
            shutil.copy2(origin, destination)  # keeps the executable bit
