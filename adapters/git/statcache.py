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
directory of its own (``gitdir`` naming the worktree's ``.git``, ``commondir`` the main repository's git
directory, an unborn ``HEAD``, and ``index``) at ``<worktrees dir>/<repository dir>/.hearth-stat/<worktree>/<base
tree id>/``: next to the worktree, not in its admin entry, because sandboxed agents may write the admin entry
(ADR 0009) and a forged index could hide changes from the diff. For the same reason a cache starts from stat
data only hearth wrote: the worktree's index right after hearth checked it out (``prepare``), or the cache of the
previous base. Removing the worktree removes its caches (``drop``). Anything unexpected (another process holding
the index lock) falls back to the plain tree diff: the cache only ever saves work.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import pygit2
from pygit2.enums import DiffOption, RepositoryOpenFlag

log = logging.getLogger(__name__)

CACHE_DIR = ".hearth-stat"
STALE_LOCK_SECONDS = 60


Deltas = list[pygit2.DiffDelta]


def workdir_deltas(
    repo: pygit2.Repository, base: pygit2.Tree, flags: DiffOption, opened: dict[str, pygit2.Repository] | None = None
) -> tuple[Deltas, pygit2.Repository]:
    """``base.diff_to_workdir(flags).deltas`` of the worktree ``repo``, unchanged files answered from stat data;
    and the repository that read the working directory (same files, objects and config; its attribute and object
    caches already loaded, so hashing the changed files through it costs no second start-up). ``opened`` keeps
    the cache's repository, by base tree id, for the next call (the caller vouches that ``repo`` is unchanged)."""
    try:
        cached = _cached_deltas(repo, base, flags, {} if opened is None else opened)
    except (pygit2.GitError, OSError) as exc:
        log.debug("stat cache of %s not used: %s", repo.workdir, exc)
        cached = None
        if opened is not None:
            opened.clear()
    if cached is not None:
        return cached
    return plain_deltas(base, flags), repo


def plain_deltas(base: pygit2.Tree, flags: DiffOption) -> Deltas:
    """What the cache stands in for: libgit2 reads and hashes every file of the working directory."""
    # Positional flags: pygit2 silently ignores ``flags=`` given by keyword on these methods.
    return list(base.diff_to_workdir(flags).deltas)


def _cached_deltas(
    repo: pygit2.Repository, base: pygit2.Tree, flags: DiffOption, opened: dict[str, pygit2.Repository]
) -> tuple[Deltas, pygit2.Repository] | None:
    admin = Path(repo.path)
    if repo.workdir is None or not (admin / "commondir").is_file():
        return None  # not a linked worktree
    if (admin / "config.worktree").exists():
        return None  # per-worktree settings (core.filemode, ...) the cache's own git dir would not see
    tree = str(base.id)
    shadow = caches_of(Path(repo.workdir)) / tree
    if not (shadow / "index").is_file():
        opened.clear()
        _build(repo, shadow, base, from_worktree_index=False)
    cache = opened.get(tree)
    if cache is None:
        cache = pygit2.Repository(str(shadow), RepositoryOpenFlag.NO_SEARCH)
        if cache.workdir is None or Path(cache.workdir).resolve() != Path(repo.workdir).resolve():
            return None
        opened.clear()
        opened[tree] = cache
    _clear_stale_lock(shadow / "index.lock")
    index = cache.index
    index.read(False)  # only when another process wrote it since
    return list(index.diff_to_workdir(flags | DiffOption.UPDATE_INDEX).deltas), cache


def caches_of(workdir: Path) -> Path:
    """Where the caches of the worktree at ``workdir`` live (hearth's worktrees sit two levels below its worktrees
    dir, so this stays inside it)."""
    workdir = Path(os.path.normpath(workdir))
    return workdir.parent / CACHE_DIR / workdir.name


def prepare(workdir: Path, base: pygit2.Tree) -> None:
    """Build the cache of a worktree hearth has just checked out, from the stat data that checkout recorded in the
    worktree's index (nothing else has written it yet), so even its first diff reads no unchanged file."""
    try:
        drop(workdir)  # an earlier worktree's at this path
        repo = pygit2.Repository(str(workdir), RepositoryOpenFlag.NO_SEARCH)
        _build(repo, caches_of(workdir) / str(base.id), base, from_worktree_index=True)
    except (pygit2.GitError, OSError) as exc:
        log.debug("stat cache of %s not prepared: %s", workdir, exc)


def drop(workdir: Path) -> None:
    shutil.rmtree(caches_of(workdir), ignore_errors=True)


def _clear_stale_lock(lock: Path) -> None:
    """A lock file left by a process that died mid-write would make every later write fail (and every diff fall
    back to reading every file); libgit2 holds it for milliseconds."""
    try:
        if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
            lock.unlink()
    except FileNotFoundError:
        pass


def _build(repo: pygit2.Repository, shadow: Path, base: pygit2.Tree, *, from_worktree_index: bool) -> None:
    """Make the cache for ``base`` under a temporary name, then rename it into place (another process may win)."""
    admin = Path(repo.path)
    common = Path(os.path.realpath(admin / (admin / "commondir").read_text().strip()))
    building = shadow.parent / f".building-{uuid.uuid4().hex}"
    building.mkdir(parents=True)
    try:
        (building / "gitdir").write_text(f"{Path(repo.workdir).resolve() / '.git'}\n")
        (building / "commondir").write_text(f"{common}\n")
        (building / "HEAD").write_text("ref: refs/heads/hearth-stat-cache-unborn\n")
        seeds = [admin / "index"] if from_worktree_index else _earlier(shadow.parent)
        index = _seeded_index(building, seeds)
        index.read_tree(base)  # keeps the stat data of entries whose id and mode stay the same
        index.write()  # smudges racily clean entries that no longer match, as git does
        try:
            building.rename(shadow)
        except OSError:
            if not (shadow / "index").is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    for stale in shadow.parent.iterdir():
        if stale != shadow and not stale.name.startswith(".building-"):
            shutil.rmtree(stale, ignore_errors=True)  # the cache of an earlier base


def _earlier(caches: Path) -> list[Path]:
    return [entry / "index" for entry in caches.iterdir() if not entry.name.startswith(".")]


def _seeded_index(building: Path, seeds: list[Path]) -> pygit2.Index:
    """Start from stat data already known. ``copy2`` keeps the mtime, and with it git's racy-clean judgement of
    the entries. An index libgit2 cannot read (a split index, say) is no seed: the cache then starts empty."""
    for source in seeds:
        try:
            shutil.copy2(source, building / "index")
            return _index_of(building)
        except (OSError, pygit2.GitError):
            (building / "index").unlink(missing_ok=True)
    return _index_of(building)


def _index_of(git_dir: Path) -> pygit2.Index:
    index: pygit2.Index = pygit2.Repository(str(git_dir), RepositoryOpenFlag.NO_SEARCH).index  # loads it now
    return index
