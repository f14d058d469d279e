"""Hand a worktree's changes over to the repository's own checkout, throw them away, or edit a file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath

import pygit2
from pygit2.enums import ApplyLocation, CheckoutStrategy, DeltaStatus, FileMode, ResetMode

from adapters.git.naming import confined_file, relative_path
from adapters.git.opened import OpenedWorktrees
from adapters.git.refusal import refuse, refuse_input
from adapters.git.repos import checkout, commit_at, head_commit, open_main, open_worktree, signature
from adapters.git.statcache import Kept
from adapters.git.state import base_diff, file_diffs, patch_path, patches, select, touched_paths, workdir_state
from core.model import FileDiff, Worktree


def diff(worktrees_dir: Path, worktree: Worktree, kept: OpenedWorktrees | None = None) -> list[FileDiff]:
    """Per-file unified diffs of the worktree's files against base_commit (every turn asks: ``kept`` reuses the
    repositories the last diff of this worktree opened)."""
    return diff_and_repository(worktrees_dir, worktree, kept)[0]


def diff_and_repository(
    worktrees_dir: Path, worktree: Worktree, kept: OpenedWorktrees | None = None
) -> tuple[list[FileDiff], pygit2.Repository]:
    """``diff``, and the worktree's repository it read through (its settings say which files decided the diff)."""
    if kept is None:
        path, wrepo = open_worktree(worktrees_dir, worktree)
        kept_stat = Kept.at(worktrees_dir, path)
    else:
        found = kept.open(worktrees_dir, worktree)
        wrepo, kept_stat = found.repo, found.stat
    base = commit_at(wrepo, worktree.base_commit, "base commit").tree
    return file_diffs(base_diff(base, workdir_state(wrepo, base, kept_stat), for_apply=False)), wrepo


def apply(worktrees_dir: Path, worktree: Worktree, paths: Sequence[str] | None, at: datetime) -> Worktree:
    """All chosen files land in the checkout or none do; then the base moves past them."""
    path, wrepo = open_worktree(worktrees_dir, worktree)
    main = open_main(worktree)
    base = commit_at(wrepo, worktree.base_commit, "base commit").tree
    state = workdir_state(wrepo, base, Kept.at(worktrees_dir, path))
    chosen, unknown = select(list(patches(base_diff(base, state, for_apply=True))), paths)
    if unknown:
        refuse_input(f"no pending change for {', '.join(unknown)} in this worktree; nothing was applied", field="paths")
    if not chosen:
        return worktree
    conflicts = sorted({path for unit in _units(chosen) if not _applies(main, unit) for path in _names(unit)})
    if conflicts:
        refuse(
            f"{', '.join(conflicts)} would not apply cleanly to the checkout at {main.workdir} (it has diverged "
            "there); nothing was applied. Commit or revert those files in the checkout, or discard them here.",
            paths=tuple(conflicts),
        )
    combined = pygit2.Diff.parse_diff("".join(patch.text or "" for patch in chosen))
    if not main.applies(combined, ApplyLocation.WORKDIR):
        names = tuple(sorted(_names(chosen)))
        refuse(f"the changes to {', '.join(names)} do not apply together; nothing was applied", paths=names)
    main.apply(combined, ApplyLocation.WORKDIR)
    return _rebaseline(wrepo, worktree, base, state, {p for patch in chosen for p in touched_paths(patch)}, at)


def _units(chosen: Sequence[pygit2.Patch]) -> list[list[pygit2.Patch]]:
    """Patches dry-run together: a type change comes as a deletion plus an addition of one path."""
    units: dict[str, list[pygit2.Patch]] = {}
    for patch in chosen:
        units.setdefault(patch_path(patch), []).append(patch)
    return list(units.values())


def _applies(repo: pygit2.Repository, unit: Sequence[pygit2.Patch]) -> bool:
    """Dry run of one file. libgit2's dry run misses a new file landing on one the checkout already has
    (the real apply then fails as a whole), so that case is checked here."""
    removed = {patch.delta.old_file.path for patch in unit if patch.delta.status == DeltaStatus.DELETED}
    for patch in unit:
        delta = patch.delta
        if delta.status in (DeltaStatus.ADDED, DeltaStatus.RENAMED) and delta.new_file.path not in removed:
            target = Path(repo.workdir) / delta.new_file.path
            if target.exists() or target.is_symlink():
                return False
    try:
        return repo.applies(pygit2.Diff.parse_diff("".join(patch.text or "" for patch in unit)), ApplyLocation.WORKDIR)
    except pygit2.GitError:
        return False


def _names(unit: Sequence[pygit2.Patch]) -> set[str]:
    return {path for patch in unit for path in touched_paths(patch)}


def _rebaseline(
    wrepo: pygit2.Repository,
    worktree: Worktree,
    base: pygit2.Tree,
    state: pygit2.Index,
    applied: set[str],
    at: datetime,
) -> Worktree:
    """Commit base + the applied files on the chat's branch: later diffs show only work not yet applied."""
    index = pygit2.Index()
    index.read_tree(base)
    for path in sorted(applied):
        if path in index:
            index.remove(path)
    for path in sorted(applied):
        if path in state:
            index.add(state[path])
    tree = index.write_tree(wrepo)
    parent = head_commit(wrepo)
    message = f"hearth: applied {len(applied)} path(s) to the repository checkout\n\nHearth-Previous-Base: {base.id}\n"
    commit = wrepo.create_commit("HEAD", signature(at), signature(at), message, tree, [parent.id])
    real = wrepo.index
    real.read()
    for path in sorted(applied):  # keep the worktree's own staging of everything else
        if path in real:
            real.remove(path)
        if path in state:
            real.add(state[path])
    real.write()
    return worktree.model_copy(update={"base_commit": str(commit)})


def discard(worktrees_dir: Path, worktree: Worktree, paths: Sequence[str] | None) -> Worktree:
    """Back to base_commit: everything (branch reset, untracked files removed) or just the given paths."""
    root, wrepo = open_worktree(worktrees_dir, worktree)
    base = commit_at(wrepo, worktree.base_commit, "base commit")
    if paths is None:
        checkout(wrepo, base.tree, CheckoutStrategy.FORCE | CheckoutStrategy.REMOVE_UNTRACKED)
        wrepo.reset(base.id, ResetMode.HARD)
        return worktree
    state = workdir_state(wrepo, base.tree, Kept.at(worktrees_dir, root))
    chosen, unknown = select(list(patches(base_diff(base.tree, state, for_apply=False))), paths)
    if unknown:
        refuse_input(
            f"no pending change for {', '.join(unknown)} in this worktree; nothing was discarded", field="paths"
        )
    # Removals first: a directory the agent made where the base has a file must go before the file returns.
    targets = sorted({path for patch in chosen for path in touched_paths(patch)}, key=lambda p: (p in base.tree, p))
    real = wrepo.index
    real.read()
    for path in targets:
        _restore_file(wrepo, root, base.tree, path)
        if path in real:
            real.remove(path)
        if path in base.tree:
            entry = base.tree[path]
            real.add(pygit2.IndexEntry(path, entry.id, FileMode(entry.filemode)))
    real.write()
    return worktree


def _restore_file(repo: pygit2.Repository, root: Path, base: pygit2.Tree, path: str) -> None:
    """Put one path back as the base has it (or remove it), never writing through a symlink."""
    rel = relative_path(path)
    target = _real_parent(root, rel) / rel.name
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        refuse(f"{path} is a directory in the worktree; discard its files instead", paths=(path,))
    if path not in base:
        _prune_empty_dirs(root, target.parent)
        return
    entry = base[path]
    data = repo[entry.id].peel(pygit2.Blob).data
    if entry.filemode == FileMode.LINK:
        os.symlink(data.decode(errors="surrogateescape"), target)
        return
    target.write_bytes(data)
    target.chmod(0o755 if entry.filemode == FileMode.BLOB_EXECUTABLE else 0o644)


def _real_parent(root: Path, rel: PurePosixPath) -> Path:
    """Make the path's directories real directories inside the worktree: a symlink or file standing in
    for one of them is part of the work being discarded, so it is removed rather than written through."""
    current = root
    for part in rel.parts[:-1]:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            current.unlink()
        current.mkdir(exist_ok=True)
    return current


def _prune_empty_dirs(root: Path, directory: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def write_file(worktrees_dir: Path, worktree: Worktree, path: str, content: str) -> None:
    """A manual edit through the API: confined to the worktree, symlinks that lead out refused."""
    root, _ = open_worktree(worktrees_dir, worktree)
    target = confined_file(root, path)
    if target.is_dir():
        refuse_input(f"{path!r} is a directory in the worktree", field="path")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
