"""What a chat's worktree looks like on disk, in a few ``os.lstat`` calls: enough to tell that nothing ``ensure``
checks has changed since this process last verified it in full.

Opening a repository reads the worktree's ``.git`` file, its admin directory in the main repository (``HEAD``,
``commondir``, ``gitdir``, ``config.worktree``) and the main repository's git directory (``HEAD``, the branch it
names, ``config``, ``objects``, ``refs``), and settings from the user's and the system's git config; ``ensure``
also resolves both paths. The fingerprint holds the resolved paths and the stat identity (device, inode, mode,
size, mtime, ctime) of each of those, so a file deleted, replaced (git writes through a lock file and a rename: a
new inode), edited, or a directory moved or swapped for a symlink reads differently. Directories are compared by
identity only: their mtime moves with every file an agent creates.

A file changed twice within one tick of the filesystem clock keeps its mtime; git calls this "racily clean". A
fingerprint is therefore only kept when everything it covers last changed at least ``settle`` before it was taken.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import pygit2
from pygit2.enums import ConfigLevel

from core.model import Worktree

# A file's stat data vouches for its content once it last changed this long ago. Linux stamps files with the
# kernel's coarse clock (a tick of at most 10 ms), network filesystems with whole seconds at worst: a second is
# wide of both. (FAT's 2 s stamps would need more; worktrees do not live there.)
SETTLE_NS = 1_000_000_000

Stat = tuple[int, int, int, int, int, int] | None
Fingerprint = tuple[object, ...]

_REF_PREFIX = b"ref: "


@dataclass(frozen=True)
class Layout:
    """Where a worktree's fingerprint is read: found once (reading the ``.git`` file and HEAD), then only stat'ed."""

    repo_path: str
    worktree_path: str
    full: tuple[str, ...]  # files: identity, size and times
    identity: tuple[str, ...]  # directories: identity only
    git_dir: str
    admin: str


def full_stat(path: str) -> Stat:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _identity(path: str) -> Stat:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mode, 0, 0, 0)


def _admin_dir(dot_git: str) -> str | None:
    """The admin directory a worktree's ``.git`` file names (``gitdir: <path>``), resolved as git does."""
    with open(dot_git, "rb") as file:
        text = file.read()
    if not text.startswith(b"gitdir: "):
        return None
    named = os.fsdecode(text[len(b"gitdir: ") :].strip())
    return os.path.realpath(os.path.join(os.path.dirname(dot_git), named))


def _head_ref(git_dir: str) -> str | None:
    """The loose ref file HEAD points at (a branch deleted under a checkout leaves it unborn), None if detached."""
    with open(os.path.join(git_dir, "HEAD"), "rb") as file:
        head = file.read()
    if not head.startswith(_REF_PREFIX):
        return None
    return os.path.join(git_dir, os.fsdecode(head[len(_REF_PREFIX) :].strip()))


@functools.cache
def user_configs() -> tuple[str, ...]:
    """The system, XDG and global config files libgit2 reads (a repository caches settings such as core.filemode
    once opened, so a reused one must notice when they change)."""
    names = {ConfigLevel.SYSTEM: "gitconfig", ConfigLevel.XDG: "config", ConfigLevel.GLOBAL: ".gitconfig"}
    paths = []
    for level, name in names.items():
        for folder in str(pygit2.settings.search_path[level]).split(os.pathsep):
            if folder:
                paths.append(os.path.join(folder, name))
    return tuple(paths)


def _resolved(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def layout(repo_path: str, worktree_path: str) -> Layout | None:
    """The plain layout (the main repository's ``.git`` a directory, the worktree's ``.git`` a gitdir file), or
    None for anything else or a path that cannot be resolved at all (the full checks then say why)."""
    try:
        root, tree = _resolved(repo_path), _resolved(worktree_path)
        git_dir = os.path.join(root, ".git")
        admin = _admin_dir(os.path.join(tree, ".git"))
        ref = _head_ref(git_dir)
    except (OSError, ValueError, RuntimeError):  # missing, a NUL byte, a symlink loop
        return None
    if admin is None or not os.path.isdir(git_dir):
        return None
    full = [os.path.join(git_dir, name) for name in ("HEAD", "packed-refs", "config")]
    full += [os.path.join(tree, ".git")]
    full += [os.path.join(admin, name) for name in ("HEAD", "commondir", "gitdir", "config.worktree")]
    full += user_configs()
    if ref is not None:
        full.append(ref)
    identity = (git_dir, os.path.join(git_dir, "objects"), os.path.join(git_dir, "refs"), tree, admin)
    return Layout(repo_path, worktree_path, tuple(full), identity, git_dir, admin)


def read(where: Layout) -> Fingerprint | None:
    try:
        resolved = (_resolved(where.repo_path), _resolved(where.worktree_path))
    except (OSError, ValueError, RuntimeError):
        return None
    return resolved + tuple(full_stat(path) for path in where.full) + tuple(_identity(path) for path in where.identity)


def settled(fingerprint: Fingerprint, before_ns: int) -> bool:
    """Everything covered last changed before ``before_ns``: a later change gets a later timestamp."""
    stats = [part for part in fingerprint if isinstance(part, tuple)]
    return all(part[4] < before_ns and part[5] < before_ns for part in stats)


@dataclass(frozen=True)
class _Verified:
    worktree: Worktree
    layout: Layout
    fingerprint: Fingerprint


class VerifiedWorktrees:
    """Per chat, the worktree row this process last verified in full and its fingerprint then (bounded, LRU)."""

    def __init__(self, limit: int = 1024, settle_ns: int = SETTLE_NS) -> None:
        self._limit = limit
        self._settle_ns = settle_ns
        self._entries: OrderedDict[str, _Verified] = OrderedDict()
        self._guard = threading.Lock()  # remembered from worker threads, checked on the event loop

    def unchanged(self, chat_id: str, repo_path: str, worktree: Worktree) -> bool:
        with self._guard:
            entry = self._entries.get(chat_id)
            if entry is not None:
                self._entries.move_to_end(chat_id)
        if entry is None or entry.layout.repo_path != repo_path or entry.worktree != worktree:
            return False
        return read(entry.layout) == entry.fingerprint

    def forget(self, chat_id: str) -> None:
        with self._guard:
            self._entries.pop(chat_id, None)

    def settle_before(self) -> int:
        """Read before taking a fingerprint: what changed after this instant may not show in it yet. The OS clock,
        not an injected one: it is compared with the filesystem's timestamps."""
        return time.time_ns() - self._settle_ns

    def remember(
        self, chat_id: str, worktree: Worktree, where: Layout, fingerprint: Fingerprint, taken_ns: int
    ) -> None:
        """``taken_ns`` is ``settle_before()`` read before the fingerprint was taken."""
        if not settled(fingerprint, taken_ns):
            return
        with self._guard:
            self._entries[chat_id] = _Verified(worktree, where, fingerprint)
            self._entries.move_to_end(chat_id)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)
