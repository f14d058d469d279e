"""Soft delete (snapshot, then remove everything), restore from the newest snapshot, snapshot expiry."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pygit2
from pygit2.enums import CheckoutStrategy, RepositoryOpenFlag

from adapters.git import statcache
from adapters.git.create import add_worktree, remove_dir
from adapters.git.naming import chat_key, confined_worktree_dir, snapshot_prefix
from adapters.git.refusal import Refused, refuse
from adapters.git.repos import checkout, commit_at, head_commit, open_main, open_worktree, signature
from adapters.git.statcache import Kept
from adapters.git.state import workdir_state
from core.errors import Conflict, NotFound
from core.model import Worktree, WorktreeStatus
from core.reaper import SNAPSHOT_PREFIX, expired_snapshots, latest_snapshot, snapshot_ref


def soft_delete(worktrees_dir: Path, worktree: Worktree, at: datetime) -> Worktree:
    """Snapshot to a protected ref, then remove directory, admin entry and branch. Safe to re-run after a
    crash at any step: a missing directory means an earlier run already took the snapshot."""
    if worktree.status is WorktreeStatus.ARCHIVED:
        return worktree
    path = confined_worktree_dir(worktrees_dir, worktree)
    main = open_main(worktree)
    ref = _snapshot(main, worktrees_dir, worktree, path, at)
    # Move the directory aside first: a crash half-way through rmtree must not leave a partial
    # directory that a re-run would mistake for the worktree and snapshot again.
    doomed = path.with_name(f".{path.name}.deleting")
    if path.exists() or path.is_symlink():
        remove_dir(doomed)
        path.rename(doomed)
    remove_dir(doomed)
    statcache.drop(statcache.caches_of(worktrees_dir, path))
    _remove_admin_entry(main, path.name)
    if main.branches.local.get(worktree.branch) is not None:
        main.branches.local.delete(worktree.branch)
    _verify_gone(main, path, worktree.branch)
    return worktree.model_copy(update={"status": WorktreeStatus.ARCHIVED, "archived_at": at, "snapshot_ref": ref})


def _snapshot(main: pygit2.Repository, worktrees_dir: Path, worktree: Worktree, path: Path, at: datetime) -> str | None:
    chat = chat_key(worktree)
    message = f"hearth snapshot of chat {chat}\n\nHearth-Base: {worktree.base_commit}\n"
    if path.is_dir():
        _, wrepo = open_worktree(worktrees_dir, worktree)  # unreadable -> refused: never delete blind
        head = head_commit(wrepo)
        base = commit_at(wrepo, worktree.base_commit, "base commit").tree
        tree = workdir_state(wrepo, base, Kept.at(worktrees_dir, path)).write_tree(wrepo)
        parents = [head.id]
        staged = wrepo.index.write_tree()
        if staged not in (head.tree.id, tree):  # staged content that is neither committed nor in the files
            parents.append(wrepo.create_commit(None, signature(at), signature(at), "staged", staged, [head.id]))
        commit = wrepo.create_commit(None, signature(at), signature(at), message, tree, parents)
        return _store(main, snapshot_ref(chat, at), commit)
    newest = newest_snapshot(main, chat)
    branch = main.branches.local.get(worktree.branch)
    if branch is not None:
        tip = branch.peel(pygit2.Commit)
        if newest is None or not _contains(main, newest, tip.id):
            commit = main.create_commit(None, signature(at), signature(at), message, tip.tree.id, [tip.id])
            return _store(main, snapshot_ref(chat, at), commit)
    return newest


def _store(main: pygit2.Repository, ref: str, commit: pygit2.Oid) -> str:
    main.references.create(ref, commit, force=True)
    return ref


def _contains(main: pygit2.Repository, ref: str, commit: pygit2.Oid) -> bool:
    snapshot = main.references[ref].target
    return snapshot == commit or main.descendant_of(snapshot, commit)


def _remove_admin_entry(main: pygit2.Repository, name: str) -> None:
    if name in main.list_worktrees():
        main.lookup_worktree(name).prune(True)
    admin = Path(main.path) / "worktrees" / name
    if admin.is_dir() and not admin.is_symlink():
        shutil.rmtree(admin)  # prune may leave a locked entry behind


def _verify_gone(main: pygit2.Repository, path: Path, branch: str) -> None:
    leftovers = []
    for directory in (path, path.with_name(f".{path.name}.deleting")):
        if directory.exists() or directory.is_symlink():
            leftovers.append(f"directory {directory}")
    if path.name in main.list_worktrees() or (Path(main.path) / "worktrees" / path.name).exists():
        leftovers.append(f"worktree admin entry {path.name}")
    if branch in main.listall_branches():
        leftovers.append(f"branch {branch}")
    if leftovers:
        refuse(f"soft delete left {', '.join(leftovers)} behind; run it again or remove them by hand", field="path")


def snapshots(main: pygit2.Repository, chat: str | None = None) -> list[str]:
    """Snapshot ref names, oldest first (the timestamp format sorts as text)."""
    prefix = snapshot_prefix(chat) if chat is not None else SNAPSHOT_PREFIX
    return sorted(name for name in main.references if name.startswith(prefix))


def newest_snapshot(main: pygit2.Repository, chat: str) -> str | None:
    return latest_snapshot(snapshots(main, chat), chat)


def restore(worktrees_dir: Path, worktree: Worktree, at: datetime) -> Worktree:
    """The newest snapshot back as the chat's worktree, on a fresh branch, files as they were."""
    chat = chat_key(worktree)
    path = confined_worktree_dir(worktrees_dir, worktree)
    if worktree.status is WorktreeStatus.ACTIVE and path.is_dir():
        raise Refused(Conflict(detail=f"the worktree of chat {chat} is active at {path}; nothing to restore"))
    main = open_main(worktree)
    ref = newest_snapshot(main, chat)
    if ref is None:
        raise Refused(NotFound(detail=f"no snapshot of chat {chat} in {worktree.repo_path} (expired?)", field="chat"))
    snapshot = main.references[ref].peel(pygit2.Commit)
    head = snapshot.parents[0] if snapshot.parents else snapshot
    if main.branches.local.get(worktree.branch) is not None:
        refuse(
            f"branch {worktree.branch} already exists in {worktree.repo_path}; "
            f"delete it (`git branch -D {worktree.branch}`) or move it away, then retry",
            field="branch",
        )
    add_worktree(main, path, path.name, worktree.branch, head, worktrees_dir)
    wrepo = pygit2.Repository(str(path), RepositoryOpenFlag.NO_SEARCH)  # trees must come from this object
    checkout(wrepo, wrepo[snapshot.tree_id].peel(pygit2.Tree), CheckoutStrategy.FORCE)
    staged = snapshot.parents[1] if len(snapshot.parents) > 1 else head
    index = wrepo.index
    index.read_tree(wrepo[staged.tree_id].peel(pygit2.Tree))
    index.write()
    base = worktree.base_commit if main.get(worktree.base_commit) is not None else str(head.id)
    return worktree.model_copy(
        update={"status": WorktreeStatus.ACTIVE, "archived_at": None, "snapshot_ref": ref, "base_commit": base}
    )


def expire_snapshots(repo_path: str, older_than: datetime) -> list[str]:
    """Delete snapshot refs taken before ``older_than``; names hearth did not write are left alone."""
    try:
        main = pygit2.Repository(repo_path, RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        refuse(f"cannot open repository {repo_path}: {exc}", field="repo_path")
    expired = expired_snapshots(snapshots(main), older_than, retention=timedelta(0))
    for name in expired:
        main.references.delete(name)
    return expired
