"""The stat cache's directory for one worktree and base tree: built, checked, cleared and dropped.

``<worktrees dir>/.hearth-stat/<repository dir>/<worktree>/<base tree id>/`` is a minimal git directory: ``gitdir``
naming the worktree's ``.git`` (so its working directory is the worktree's), ``commondir`` the main repository's
git directory, an unborn ``HEAD``, the ``index`` (the base tree plus stat data) and ``inputs``: the stat identity
of what decides how a file is hashed besides the file itself (the repository's config and ``info/attributes``, the
user's and system's config and attributes). Stat data recorded under other inputs vouches for nothing, so a change
there throws the cache away.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pygit2
from pygit2.enums import ConfigLevel, RepositoryOpenFlag

from adapters.git import fingerprint

CACHE_DIR = ".hearth-stat"
STALE_LOCK_SECONDS = 60


def caches_of(worktrees_dir: Path, workdir: Path) -> Path | None:
    """Where the caches of the worktree at ``workdir`` live: under hearth's worktrees dir, beside the repositories'
    folders of worktrees rather than in one; None for a worktree that is not inside it (no cache then)."""
    try:
        inside = Path(os.path.realpath(workdir)).relative_to(os.path.realpath(worktrees_dir))
    except ValueError:
        return None
    return worktrees_dir / CACHE_DIR / inside if inside.parts else None


def drop(caches: Path | None) -> None:
    if caches is not None:
        shutil.rmtree(caches, ignore_errors=True)


def common_dir(repo: pygit2.Repository) -> Path:
    admin = Path(repo.path)
    return Path(os.path.realpath(admin / (admin / "commondir").read_text().strip()))


def inputs(repo: pygit2.Repository, common: Path) -> str:
    """Each input file's path and stat identity (``current`` re-reads the same paths)."""
    xdg = str(pygit2.settings.search_path[ConfigLevel.XDG]).split(os.pathsep)
    paths = [str(common / "config"), str(common / "info" / "attributes"), *fingerprint.user_configs()]
    paths += [os.path.join(folder, "attributes") for folder in xdg if folder]
    paths += [os.path.expanduser(value) for value in repo.config.get_multivar("core.attributesFile") if value]
    return _stamp(paths)


def _stamp(paths: list[str]) -> str:
    return json.dumps([[path, fingerprint.full_stat(path)] for path in paths])


def current(shadow: Path) -> bool:
    """The cache exists and was built under the inputs in force now (the same files, unchanged)."""
    try:
        recorded = (shadow / "inputs").read_text()
        paths = [str(path) for path, _ in json.loads(recorded)]
    except (FileNotFoundError, ValueError, TypeError):
        return False
    return _stamp(paths) == recorded


def clear_stale_lock(lock: Path) -> None:
    """A lock file left by a process that died mid-write would make every later write fail (and every diff fall
    back to reading every file); libgit2 holds it for milliseconds."""
    try:
        if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
            lock.unlink()
    except FileNotFoundError:
        pass


def earlier(shadow: Path) -> list[Path]:
    """The indexes of this worktree's other caches (an earlier base's) built under the same inputs."""
    if not shadow.parent.is_dir():
        return []
    found = [entry for entry in shadow.parent.iterdir() if entry != shadow and not entry.name.startswith(".")]
    return [entry / "index" for entry in found if current(entry)]


def build(repo: pygit2.Repository, shadow: Path, base: pygit2.Tree, seeds: list[Path]) -> None:
    """Make the cache for ``base`` under a temporary name, then rename it into place (another process may win);
    other caches of the worktree (earlier bases) go."""
    common = common_dir(repo)
    building = shadow.parent / f".building-{uuid.uuid4().hex}"
    building.mkdir(parents=True)
    try:
        (building / "gitdir").write_text(f"{Path(repo.workdir).resolve() / '.git'}\n")
        (building / "commondir").write_text(f"{common}\n")
        (building / "HEAD").write_text("ref: refs/heads/hearth-stat-cache-unborn\n")
        (building / "inputs").write_text(inputs(repo, common))  # before the index: a change after it shows as stale
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
        abandoned = stale.name.startswith(".building-") and time.time() - stale.stat().st_mtime > STALE_LOCK_SECONDS
        if stale != shadow and (abandoned or not stale.name.startswith(".building-")):
            shutil.rmtree(stale, ignore_errors=True)  # an earlier base's cache, or a build a dead process left


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
