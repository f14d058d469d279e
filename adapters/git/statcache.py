"""The base tree -> working directory deltas with a stat cache, so an unchanged file costs a stat, not a read.

libgit2's tree -> working directory diff has no stat data to go on, so it reads and hashes every file on every
diff. Its index -> working directory diff trusts an index entry whose stat data still matches the file (and
follows git's racy-clean rules for files changed within a tick of the index being written), and with
``UPDATE_INDEX`` records the stat data of the files it had to hash and found unchanged.

So each worktree gets a private index holding exactly the base tree (same paths, ids and modes, plus stat data).
Diffing it against the working directory gives the same deltas as diffing the base tree: untracked means "not in
the base" in both, so ignore rules, untracked files, deletions, type changes, symlinks (hashed as their target
text, never followed) and nested repositories (not descended into) come out alike. The worktree's own index and
HEAD are never read or written: what the agent staged or committed does not enter into it.

libgit2 only refreshes and writes the index a repository owns, so the private index belongs to a minimal git
directory of its own (``statcache_dir``), under hearth's worktrees dir rather than in the worktree's admin entry:
sandboxed agents may write the admin entry (ADR 0009), and a forged index could hide changes from the diff. For the
same reason a cache starts from stat data only hearth wrote: the worktree's index right after hearth checked it out
(``prepare``), or the cache of the previous base. Removing the worktree removes its caches (``drop``).

Stat data vouches for a file's hash only under the attributes and settings it was recorded under: a change of the
repository's or the user's config or attribute files discards the cache, and while a ``.gitattributes`` of the
worktree differs from the base, every file is hashed (the plain diff). Anything unexpected (another process
holding the index lock) also falls back to the plain diff: the cache only ever saves work.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pygit2
from pygit2.enums import DiffOption, RepositoryOpenFlag

from adapters.git import statcache_dir
from adapters.git.fingerprint import SETTLE_NS, Stat, full_stat
from adapters.git.statcache_dir import caches_of, drop

__all__ = ["Kept", "caches_of", "drop", "plain_deltas", "prepare", "workdir_deltas"]

log = logging.getLogger(__name__)

Deltas = list[pygit2.DiffDelta]


@dataclass
class Kept:
    """What one worktree's diffs keep between calls: the cache's opened repository for one base tree, whether
    that base's attributes were found changed in the worktree (so the cache is not used), and the blobs stored for
    changed files with the stat data they had (a file an agent changed stays changed, turn after turn, until it is
    applied: storing its blob again costs an object write each time)."""

    caches: Path | None = None  # this worktree's cache dirs (``caches_of``); None: no cache, the plain diff
    tree: str | None = None
    repo: pygit2.Repository | None = None
    attributes_differ: bool = False
    blobs: dict[str, tuple[Stat, pygit2.Oid]] = field(default_factory=dict)
    settle_ns: int = SETTLE_NS
    trusted: bool = False  # the last deltas came from the cache: attributes and settings as recorded

    @classmethod
    def at(cls, worktrees_dir: Path, workdir: Path, settle_ns: int = SETTLE_NS) -> Kept:
        """For the worktree at ``workdir`` under hearth's ``worktrees_dir``."""
        return cls(caches=caches_of(worktrees_dir, workdir), settle_ns=settle_ns)

    def reset(self, tree: str) -> None:
        self.tree, self.repo, self.attributes_differ, self.blobs, self.trusted = tree, None, False, {}, False

    def blob(self, reader: pygit2.Repository, path: str, seen: dict[str, tuple[Stat, pygit2.Oid]]) -> pygit2.Oid:
        """The blob of the changed file ``path``, stored; the one stored before when its stat data (not followed
        through a symlink) is unchanged and was settled then. ``seen`` collects what the next call may reuse."""
        if not self.trusted:  # the file's blob may hash differently under the attributes in force now
            return reader.create_blob_fromworkdir(path)
        full = os.path.join(reader.workdir, path)
        before = full_stat(full)
        known = self.blobs.get(path)
        if before is not None and known is not None and known[0] == before and known[1] in reader:
            seen[path] = known
            return known[1]
        blob = reader.create_blob_fromworkdir(path)
        settled = time.time_ns() - self.settle_ns
        if before is not None and before[4] < settled and before[5] < settled and full_stat(full) == before:
            seen[path] = (before, blob)
        return blob


def workdir_deltas(
    repo: pygit2.Repository, base: pygit2.Tree, flags: DiffOption, kept: Kept | None = None
) -> tuple[Deltas, pygit2.Repository]:
    """``base.diff_to_workdir(flags).deltas`` of the worktree ``repo``, unchanged files answered from stat data;
    and the repository that read the working directory (same files, objects and config; its attribute and object
    caches already loaded, so hashing the changed files through it costs no second start-up). ``kept`` carries
    state to the next call for the same worktree (the caller vouches that ``repo`` is unchanged)."""
    kept = Kept() if kept is None else kept
    tree = str(base.id)
    if kept.tree != tree:
        kept.reset(tree)
    kept.trusted = False
    if kept.attributes_differ:
        deltas = plain_deltas(base, flags)
        kept.attributes_differ = _touch_attributes(deltas)
        return deltas, repo
    try:
        cached = _cached_deltas(repo, base, flags, kept)
    except (pygit2.GitError, OSError) as exc:
        log.debug("stat cache of %s not used: %s", repo.workdir, exc)
        kept.reset(tree)
        cached = None
    if cached is None:
        return plain_deltas(base, flags), repo
    if _touch_attributes(cached[0]):
        # the stat data just recorded was judged under the worktree's attributes, not the base's: drop it
        shutil.rmtree(cached[1].path, ignore_errors=True)
        kept.reset(tree)
        kept.attributes_differ = True
        return plain_deltas(base, flags), repo
    kept.trusted = True
    return cached


def plain_deltas(base: pygit2.Tree, flags: DiffOption) -> Deltas:
    """What the cache stands in for: libgit2 reads and hashes every file of the working directory."""
    # Positional flags: pygit2 silently ignores ``flags=`` given by keyword on these methods.
    return list(base.diff_to_workdir(flags).deltas)


def prepare(worktrees_dir: Path, workdir: Path, base: pygit2.Tree) -> None:
    """Build the cache of a worktree hearth has just checked out, from the stat data that checkout recorded in the
    worktree's index (nothing else has written it yet), so even its first diff reads no unchanged file."""
    try:
        caches = caches_of(worktrees_dir, workdir)
        if caches is None:
            return
        drop(caches)  # an earlier worktree's at this path
        repo = pygit2.Repository(str(workdir), RepositoryOpenFlag.NO_SEARCH)
        statcache_dir.build(repo, caches / str(base.id), base, [Path(repo.path) / "index"])
    except (pygit2.GitError, OSError) as exc:
        log.debug("stat cache of %s not prepared: %s", workdir, exc)


def _touch_attributes(deltas: Deltas) -> bool:
    names = {PurePosixPath(path).name for d in deltas for path in (d.old_file.path, d.new_file.path)}
    return ".gitattributes" in names


def _cached_deltas(
    repo: pygit2.Repository, base: pygit2.Tree, flags: DiffOption, kept: Kept
) -> tuple[Deltas, pygit2.Repository] | None:
    admin = Path(repo.path)
    if kept.caches is None or repo.workdir is None or not (admin / "commondir").is_file():
        return None  # no place for a cache, or not a linked worktree
    if (admin / "config.worktree").exists():
        return None  # per-worktree settings (core.filemode, ...) the cache's own git dir would not see
    shadow = kept.caches / str(base.id)
    if not statcache_dir.current(shadow):
        shutil.rmtree(shadow, ignore_errors=True)  # missing, or recorded under other settings or attributes
        kept.reset(str(base.id))
        statcache_dir.build(repo, shadow, base, statcache_dir.earlier(shadow))
    if kept.repo is None:
        cache = pygit2.Repository(str(shadow), RepositoryOpenFlag.NO_SEARCH)
        if cache.workdir is None or Path(cache.workdir).resolve() != Path(repo.workdir).resolve():
            return None
        kept.repo = cache
    statcache_dir.clear_stale_lock(shadow / "index.lock")
    index = kept.repo.index
    index.read(False)  # only when another process wrote it since
    return list(index.diff_to_workdir(flags | DiffOption.UPDATE_INDEX).deltas), kept.repo
