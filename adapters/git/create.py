"""Create, reuse and recreate a chat's worktree on branch ``hearth/chat-<id>``."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pygit2
from pygit2.enums import RepositoryOpenFlag

from adapters.git.naming import branch_name, check_chat_id, confined_worktree_dir, worktree_name, worktree_path
from adapters.git.refusal import Refused, refuse
from adapters.git.repos import commit_at, open_worktree, resolve_ref, validate_repo
from core.errors import Conflict
from core.model import Worktree, WorktreeStatus


def ensure(
    roots: Sequence[Path],
    worktrees_dir: Path,
    chat_id: str,
    repo_path: str,
    ref: str | None,
    existing: Worktree | None,
    at: datetime,
) -> Worktree:
    check_chat_id(chat_id)
    root = validate_repo(roots, worktrees_dir, repo_path)
    repo = pygit2.Repository(str(root), RepositoryOpenFlag.NO_SEARCH)
    if existing is not None:
        return _reuse(repo, worktrees_dir, existing)
    base = resolve_ref(repo, ref)
    path = worktree_path(worktrees_dir, root, chat_id)
    branch = branch_name(chat_id)
    add_worktree(repo, path, worktree_name(chat_id), branch, base)
    return Worktree(
        chat_id=chat_id,
        repo_path=str(root),
        path=str(path),
        branch=branch,
        base_commit=str(base.id),
        created_at=at,
    )


def _reuse(repo: pygit2.Repository, worktrees_dir: Path, existing: Worktree) -> Worktree:
    if existing.status is not WorktreeStatus.ACTIVE:
        chat = existing.chat_id or existing.branch
        raise Refused(
            Conflict(
                detail=f"the worktree of chat {chat} is {existing.status.value}; "
                f"bring it back with `hearth worktrees restore {chat}`",
                field="worktree",
            )
        )
    path = confined_worktree_dir(worktrees_dir, existing)
    if path.is_dir() and any(path.iterdir()):
        open_worktree(worktrees_dir, existing)  # refuses, saying why, when it is no longer a usable worktree
        return existing  # still there: every later turn and agent shares it as it is
    base = commit_at(repo, existing.base_commit, "base commit")
    add_worktree(repo, path, path.name, existing.branch, base)  # the branch keeps committed work, if any
    return existing


def add_worktree(repo: pygit2.Repository, path: Path, name: str, branch: str, base: pygit2.Commit) -> None:
    """``git worktree add`` without libgit2's leaks: we create the branch (or reuse the chat's own) and
    delete a branch we created when the add fails; stale admin entries and empty leftovers are cleared."""
    _clear_stale(repo, path, name)
    reference = repo.branches.local.get(branch)
    created = reference is None
    if reference is None:
        reference = repo.branches.local.create(branch, base)
    elif reference.is_checked_out():
        refuse(
            f"branch {branch} is already checked out in another worktree of {repo.workdir}; "
            f"remove that worktree (`git worktree list`) and retry",
            field="branch",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        repo.add_worktree(name, str(path), reference)
    except (pygit2.GitError, pygit2.AlreadyExistsError, OSError) as exc:
        if created:
            repo.branches.local.delete(branch)
        refuse(f"could not create worktree {path} on branch {branch}: {exc}", field="path")


def _clear_stale(repo: pygit2.Repository, path: Path, name: str) -> None:
    if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
        path.rmdir()  # an empty leftover of an interrupted add
    if name in repo.list_worktrees():
        admin = repo.lookup_worktree(name)
        if path.exists() or Path(admin.path).resolve() != path.resolve():
            refuse(
                f"repository {repo.workdir} already has a worktree named {name} at {admin.path}; "
                f"remove it with `git worktree remove --force {admin.path}` and retry",
                field="path",
            )
        admin.prune(True)  # its directory vanished: only the admin entry is left
    if path.exists() or path.is_symlink():
        refuse(f"worktree path {path} already exists; move it away and retry", field="path")


def remove_dir(path: Path) -> None:
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
