"""The worktree's files as a tree: the one picture diff, apply, preflight and snapshots all share.

libgit2 leaves untracked files out of a plain diff and cannot find renames between a tree and a
working directory, so the working directory is copied into a temporary in-memory index built on the
base tree (a diff of a tree against the working directory misses untracked files and renames) and every
diff is tree -> that index. Which files differ from the base is read through a stat cache (``statcache``): an
unchanged file costs a stat, not a read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pygit2
from pygit2.enums import DeltaStatus, DiffFind, DiffOption, FileMode

from adapters.git.fingerprint import Stat
from adapters.git.statcache import Kept, workdir_deltas
from core.model import FileDiff

WORKDIR_FLAGS = DiffOption.INCLUDE_UNTRACKED | DiffOption.RECURSE_UNTRACKED_DIRS | DiffOption.INCLUDE_TYPECHANGE
_FILE_MODES = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE, FileMode.LINK)
_STATUS = {
    DeltaStatus.ADDED: "added",
    DeltaStatus.UNTRACKED: "added",
    DeltaStatus.DELETED: "deleted",
    DeltaStatus.MODIFIED: "modified",
    DeltaStatus.RENAMED: "renamed",
    DeltaStatus.COPIED: "added",
    DeltaStatus.TYPECHANGE: "typechange",
}


def workdir_state(repo: pygit2.Repository, base: pygit2.Tree, kept: Kept | None = None) -> pygit2.Index:
    """An in-memory index holding exactly the worktree's files (tracked or not, ignored excluded).

    Symlinks are stored as links (their target text), never followed, so a link to /etc/passwd shows
    up as the string "/etc/passwd" and nothing outside the worktree is read.
    """
    return workdir_state_and_skipped(repo, base, kept)[0]


def workdir_state_and_skipped(
    repo: pygit2.Repository, base: pygit2.Tree, kept: Kept | None = None
) -> tuple[pygit2.Index, list[str]]:
    """``workdir_state`` plus what it had to leave out: nested repositories an agent created (their
    content cannot go into a snapshot, so preflight reports them as work that would be lost)."""
    index = pygit2.Index()
    index.read_tree(base)
    skipped: list[str] = []
    deltas, reader = workdir_deltas(repo, base, WORKDIR_FLAGS, kept)
    seen: dict[str, tuple[Stat, pygit2.Oid]] = {}
    # Removals first: a file replaced by a directory (or the reverse) must not clash inside the index.
    for delta in deltas:
        if delta.status in (DeltaStatus.DELETED, DeltaStatus.TYPECHANGE) and delta.old_file.mode in _FILE_MODES:
            index.remove(delta.old_file.path)
    for delta in deltas:
        new = delta.new_file
        if delta.status == DeltaStatus.DELETED:
            continue
        if new.mode not in _FILE_MODES:
            skipped.append(new.path)
            continue
        blob = reader.create_blob_fromworkdir(new.path) if kept is None else kept.blob(reader, new.path, seen)
        index.add(pygit2.IndexEntry(new.path, blob, new.mode))
    if kept is not None:
        kept.blobs = seen  # only the files changed now: the table never outgrows the worktree's changes
    return index, skipped


def base_diff(base: pygit2.Tree, state: pygit2.Index, *, for_apply: bool) -> pygit2.Diff:
    """Base tree -> worktree state with renames found. ``for_apply`` embeds binary data and splits type
    changes into delete + add, which is what libgit2's patch parser and apply understand."""
    flags = DiffOption.SHOW_BINARY if for_apply else DiffOption.INCLUDE_TYPECHANGE
    diff = base.diff_to_index(state, flags)
    diff.find_similar(DiffFind.FIND_RENAMES)
    return diff


def patches(diff: pygit2.Diff) -> Iterator[pygit2.Patch]:
    for patch in diff:
        if patch is not None:
            yield patch


def patch_path(patch: pygit2.Patch) -> str:
    delta = patch.delta
    return delta.old_file.path if delta.status == DeltaStatus.DELETED else delta.new_file.path


def touched_paths(patch: pygit2.Patch) -> set[str]:
    return {patch.delta.old_file.path, patch.delta.new_file.path}


def file_diffs(diff: pygit2.Diff) -> list[FileDiff]:
    result: list[FileDiff] = []
    for patch in patches(diff):
        delta = patch.delta
        renamed = delta.status == DeltaStatus.RENAMED
        result.append(
            FileDiff(
                path=patch_path(patch),
                diff=patch.text or "",
                status=_STATUS.get(delta.status, "modified"),
                old_path=delta.old_file.path if renamed else None,
                binary=delta.is_binary,
            )
        )
    return result


def select(found: Sequence[pygit2.Patch], paths: Sequence[str] | None) -> tuple[list[pygit2.Patch], list[str]]:
    """The patches a caller chose (by new or old path), plus the chosen paths with no change at all."""
    if paths is None:
        return list(found), []
    wanted = set(paths)
    chosen = [patch for patch in found if touched_paths(patch) & wanted]
    known = set().union(*(touched_paths(patch) for patch in found)) if found else set()
    return chosen, sorted(wanted - known)
