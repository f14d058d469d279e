"""Create, reuse and recreate a chat's worktree on branch ``hearth/chat-<id>``."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pygit2
from pygit2.enums import RepositoryOpenFlag

from adapters.git import fingerprint, statcache
from adapters.git.fingerprint import Fingerprint, Layout
from adapters.git.naming import branch_name, check_chat_id, confined_worktree_dir, worktree_name, worktree_path
from adapters.git.refusal import Refused, refuse
from adapters.git.repos import commit_at, open_worktree, resolve_ref, validate_repo
from core.errors import Conflict
from core.model import Worktree, WorktreeStatus


@dataclass(frozen=True)
class Ensured:
    worktree: Worktree
    # an existing worktree verified as it stood: where its fingerprint is read, and what it read before the checks
    verified: tuple[Layout, Fingerprint] | None = None


def ensure(
    roots: Sequence[Path],
    worktrees_dir: Path,
    chat_id: str,
    repo_path: str,
    ref: str | None,
    existing: Worktree | None,
    at: datetime,
) -> Ensured:
    check_chat_id(chat_id)
    # Taken before the checks: whatever changes after them reads differently next time.
    where = fingerprint.layout(repo_path, existing.path) if existing is not None else None
    before = fingerprint.read(where) if where is not None else None
    root = validate_repo(roots, worktrees_dir, repo_path)
    repo = pygit2.Repository(str(root), RepositoryOpenFlag.NO_SEARCH)
    if existing is not None:
        wrepo = _reuse(repo, worktrees_dir, existing)
        if wrepo is None or where is None or before is None:
            return Ensured(existing)
        same = Path(repo.path).resolve() == Path(where.git_dir) and Path(wrepo.path).resolve() == Path(where.admin)
        return Ensured(existing, (where, before) if same else None)
    base = resolve_ref(repo, ref)
    path = worktree_path(worktrees_dir, root, chat_id)
    branch = branch_name(chat_id)
    add_worktree(repo, path, worktree_name(chat_id), branch, base, worktrees_dir)
    return Ensured(
        Worktree(
            chat_id=chat_id,
            repo_path=str(root),
            path=str(path),
            branch=branch,
            base_commit=str(base.id),
            created_at=at,
        )
    )


def _reuse(repo: pygit2.Repository, worktrees_dir: Path, existing: Worktree) -> pygit2.Repository | None:
    """The worktree's own repository when it is still there as it was; None when it had to be recreated."""
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
        # refuses, saying why, when it is no longer a usable worktree; else every later turn and agent shares it
        return open_worktree(worktrees_dir, existing)[1]
    base = commit_at(repo, existing.base_commit, "base commit")
    add_worktree(repo, path, path.name, existing.branch, base, worktrees_dir)  # the branch keeps committed work
    return None


def add_worktree(
    repo: pygit2.Repository, path: Path, name: str, branch: str, base: pygit2.Commit, worktrees_dir: Path
) -> None:
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
    statcache.prepare(worktrees_dir, path, base.tree)


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
