"""Opening repositories and worktrees, validating what a caller hands in, and small pygit2 helpers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pygit2
from pygit2.enums import CheckoutStrategy, RepositoryOpenFlag

from adapters.git.naming import confined_worktree_dir, is_inside
from adapters.git.refusal import refuse, refuse_input
from core.model import Worktree


def resolve_repo_path(repo_path: str) -> Path:
    """``repo_path`` as an absolute, resolved path; a path no filesystem can hold (a NUL byte), a ``~user`` with no
    such user, or one the OS cannot resolve is refused as invalid input naming ``repo_path``."""
    if "\x00" in repo_path:
        refuse_input(f"repository path {repo_path!r} contains a NUL byte; send the path without it", field="repo_path")
    try:
        path = Path(repo_path).expanduser()
    except RuntimeError as exc:  # "~someone" with no such user (or no home directory to expand "~")
        detail = f"repository path {repo_path!r} cannot be expanded ({exc}); send an absolute path"
        refuse_input(detail, field="repo_path")
    if not path.is_absolute():
        refuse_input(f"repository path {repo_path!r} must be absolute", field="repo_path")
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        refuse_input(f"repository path {repo_path!r} cannot be resolved: {exc}", field="repo_path")


def validate_repo(roots: Sequence[Path], worktrees_dir: Path, repo_path: str) -> Path:
    """The resolved top of a non-bare repository with commits inside one of ``roots``; refuses anything else,
    hearth's own worktrees included."""
    resolved = resolve_repo_path(repo_path)
    real_roots = [root.expanduser().resolve() for root in roots]
    if not any(is_inside(resolved, root) for root in real_roots):
        allowed = ", ".join(str(root) for root in real_roots) or "(none configured)"
        refuse(
            f"repository {resolved} is outside the configured repository roots ({allowed}); "
            "add its parent to HEARTH_REPO_ROOTS",
            field="repo_path",
        )
    if is_inside(resolved, worktrees_dir.expanduser().resolve()):
        refuse(f"{resolved} is one of hearth's chat worktrees; use the repository it was made from", field="repo_path")
    if not resolved.is_dir():
        refuse(f"repository path {resolved} does not exist or is not a directory", field="repo_path")
    try:
        repo = pygit2.Repository(str(resolved), RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError:
        around = pygit2.discover_repository(str(resolved))
        hint = f" (it is inside the repository at {Path(around).parent})" if around else " (run `git init` there)"
        refuse(f"{resolved} is not a git repository{hint}", field="repo_path")
    if repo.is_bare:
        refuse(f"{resolved} is a bare repository; hearth needs a repository with a working tree", field="repo_path")
    if repo.head_is_unborn:
        refuse(f"repository {resolved} has no commits yet; make a first commit, then retry", field="repo_path")
    workdir = Path(repo.workdir).resolve()
    if workdir != resolved:
        refuse(f"{resolved} is not the top of its repository ({workdir} is)", field="repo_path")
    return resolved


def open_main(worktree: Worktree) -> pygit2.Repository:
    try:
        return pygit2.Repository(worktree.repo_path, RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        refuse(f"cannot open repository {worktree.repo_path}: {exc}", field="repo_path")


def open_worktree(worktrees_dir: Path, worktree: Worktree) -> tuple[Path, pygit2.Repository]:
    """The worktree directory and its own Repository, refused when it is missing or not that worktree."""
    path = confined_worktree_dir(worktrees_dir, worktree)
    if not path.is_dir():
        refuse(f"worktree directory {path} is missing; ensure the chat's worktree again to recreate it", field="path")
    try:
        repo = pygit2.Repository(str(path), RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        refuse(f"worktree directory {path} is not a readable git worktree: {exc}", field="path")
    if repo.workdir is None or Path(repo.workdir).resolve() != path.resolve():
        refuse(f"worktree directory {path} is not a git worktree (its repository is {repo.path})", field="path")
    return path, repo


def commit_at(repo: pygit2.Repository, sha: str, what: str) -> pygit2.Commit:
    try:
        obj = repo.get(sha)
    except ValueError:
        obj = None
    if obj is None:
        refuse(f"{what} {sha} does not exist in repository {repo.path}", field="base_commit")
    return obj.peel(pygit2.Commit)


def resolve_ref(repo: pygit2.Repository, ref: str | None) -> pygit2.Commit:
    spec = ref or "HEAD"
    try:
        return repo.revparse_single(spec).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
        refuse(f"ref {spec!r} does not name a commit in {repo.workdir}: {exc}", field="ref")


def signature(at: datetime) -> pygit2.Signature:
    """hearth's own identity: commits must not depend on the user's git config being set."""
    return pygit2.Signature("hearth", "hearth@localhost", int(at.astimezone(UTC).timestamp()), 0)


def head_commit(repo: pygit2.Repository) -> pygit2.Commit:
    if repo.head_is_unborn:
        refuse(f"worktree {repo.workdir} has no HEAD commit", field="path")
    return repo.head.peel(pygit2.Commit)


def checkout(repo: pygit2.Repository, tree: pygit2.Tree, strategy: CheckoutStrategy) -> None:
    repo.checkout_tree(tree, strategy=strategy)  # type: ignore[no-untyped-call]  # pygit2 leaves it untyped
