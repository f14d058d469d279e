"""Diffs answered without git work: a worktree in which nothing has happened since its last diff still has the
deltas that diff found.

"Nothing has happened" is what the kernel says. Every directory of a diffed worktree is watched through inotify
(``adapters.git.inotify``, one descriptor for all of them), so any file created, written, deleted, moved or
chmod'ed in it, by whatever process and from inside a sandbox too, queues an event. A worktree with no event since
its last diff, the same row (base commit, path), the same directory at that path and the same settings files (the
config, attribute and ignore files that decide how its files are compared, and the admin files that say which
repository it belongs to) is answered with that diff's deltas, on the event loop, with no thread and no ``lstat``
of its files. Its ``.git`` file is one of the files watched.

Order matters: the watches are in place before the diff reads anything, so a change lands either in that diff or
in an event that makes the next one run. A directory created since gets its watches before the next diff reads it.
Whatever the watch cannot vouch for is diffed as before: a lost event (queue overflow), a worktree with more
directories than ``max_dirs``, no watches left, settings files changed within the settle time, a worktree on a
filesystem other machines may write (NFS, SMB, FUSE: only ``inotify.LOCAL_FILESYSTEMS`` are watched), another OS. As
for git's fsmonitor, two kinds of write raise no event on the worktree's directories: through a shared memory
mapping, and through a hard link from outside the worktree; agents write files with write(2), inside it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pygit2
from pygit2.enums import ConfigLevel

from adapters.git import fingerprint
from adapters.git.fingerprint import SETTLE_NS, Stat
from adapters.git.inotify import (
    IN_CREATE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
    Event,
    Inotify,
    local_filesystem,
)
from adapters.git.statcache_dir import common_dir
from core.model import FileDiff, Worktree

log = logging.getLogger(__name__)

# 32 worktrees of at most 4,096 directories each stay within the kernel's fs.inotify.max_user_watches (sized from
# memory, commonly 100,000 or more); running out only means diffing in full
MAX_DIRS = 4096
KEPT_WORKTREES = 32
KEPT_DIFF_CHARS = 4 * 1024 * 1024  # per worktree: larger pending diffs are computed again, not held in memory


@dataclass(frozen=True)
class _Answer:
    worktree: Worktree
    root: Stat  # the identity of the directory the watches are on
    settings: tuple[str, ...]
    settings_stamp: tuple[Stat, ...]
    diffs: tuple[FileDiff, ...]


@dataclass(eq=False)
class _Watched:
    root: str
    dirs: dict[int, str] = field(default_factory=dict)  # watch descriptor -> directory
    quiet: bool = False  # no event since the watches were last brought up to date
    rewalk: bool = True  # directories moved or events lost: the paths above may be stale
    new_dirs: list[str] = field(default_factory=list)  # created since: their subtrees need watches
    unwatchable: bool = False
    settings: tuple[str, ...] | None = None  # the settings files the last diff's repository reads
    answer: _Answer | None = None


@dataclass(frozen=True)
class Armed:
    """Taken in the diff's thread before it reads the worktree."""

    entry: _Watched
    root: Stat
    settings: tuple[str, ...] | None  # the files the previous diff's repository read, stamped here
    settings_stamp: tuple[Stat, ...] | None
    taken_ns: int


class QuietWorktrees:
    """Thread-safe: ``answer`` runs on the event loop, ``arm``/``remember`` in the diff's worker thread, always under
    the worktree's repository lock, so one worktree's entry is never armed twice at once."""

    def __init__(
        self,
        limit: int = KEPT_WORKTREES,
        max_dirs: int = MAX_DIRS,
        settle_ns: int = SETTLE_NS,
        local: Callable[[str], bool] = local_filesystem,
        max_chars: int = KEPT_DIFF_CHARS,
    ) -> None:
        """``local``: whether a worktree's filesystem reports every change to this kernel's inotify; ``max_chars``:
        the most diff text kept for one worktree."""
        self._local = local
        self._max_chars = max_chars
        self._limit = limit
        self._max_dirs = max_dirs
        self._settle_ns = settle_ns
        self._guard = threading.Lock()
        self._inotify: Inotify | None = None
        self._opened = False
        self._watched: OrderedDict[str, _Watched] = OrderedDict()
        self._owner: dict[int, _Watched] = {}
        self.answered = 0  # diffs answered from a quiet worktree

    def answer(self, worktree: Worktree) -> list[FileDiff] | None:
        """The last diff's deltas, when nothing could have changed them since; None: diff it."""
        with self._guard:
            self._absorb()
            entry = self._watched.get(worktree.path)
            if entry is None or not entry.quiet or entry.answer is None or entry.answer.worktree != worktree:
                return None
            self._watched.move_to_end(worktree.path)
            known = entry.answer
        if _identity(worktree.path) != known.root or _stamp(known.settings) != known.settings_stamp:
            return None
        self.answered += 1
        return list(known.diffs)

    def arm(self, worktree: Worktree, now_ns: int) -> Armed | None:
        """Bring the worktree's watches up to date before its diff reads anything (None: this diff is on its own).
        ``now_ns`` is the OS clock, compared with the settings files' timestamps."""
        with self._guard:
            inotify = self._instance()
            if inotify is None:
                return None
            self._absorb()
            entry = self._entry(worktree.path)
            if entry.unwatchable:
                return None
            if not entry.dirs and not self._local(entry.root):
                log.info("%s: not on a local filesystem (others may write it unseen); each diff reads it", entry.root)
                entry.unwatchable = True
                return None
            if not os.path.isdir(entry.root):  # gone (its removal was an event): watched again once it is back
                entry.quiet, entry.answer, entry.rewalk = False, None, True
                return None
            entry.answer = None
            entry.quiet = True  # from here on, an event says otherwise
            if not self._catch_up(inotify, entry):
                if os.path.isdir(entry.root):
                    self._give_up(inotify, entry)
                else:  # removed while it was walked: watched again once it is back
                    entry.quiet, entry.rewalk = False, True
                return None
            settings = entry.settings
            root = _identity(entry.root)  # the directory the watches were just brought up to date on
        stamp = _stamp(settings) if settings is not None else None
        return Armed(entry, root, settings, stamp, now_ns - self._settle_ns)

    def remember(self, armed: Armed, worktree: Worktree, repo: pygit2.Repository, diffs: list[FileDiff]) -> None:
        """Keep ``diffs`` as the answer while the worktree stays quiet, if what was stamped before the diff still
        stands for what the diff's repository read."""
        settings = settings_files(repo)
        entry = armed.entry
        with self._guard:
            entry.settings = settings  # what the next diff stamps before it reads
            self._absorb()
            if not entry.quiet or self._watched.get(worktree.path) is not entry:
                return  # something changed while it was diffed, or the entry went
            stamp = armed.settings_stamp
            if armed.root is None or stamp is None or armed.settings != settings:
                return  # nothing stamped yet, or not what this repository reads: the next diff stamps it
            if not fingerprint.settled(stamp, armed.taken_ns):
                return  # changed within the settle time: a later change could keep these timestamps
            if sum(len(diff.diff) for diff in diffs) > self._max_chars:
                return
            entry.answer = _Answer(worktree, armed.root, settings, stamp, tuple(diffs))

    def close(self) -> None:
        with self._guard:
            if self._inotify is not None:
                self._inotify.close()
            self._inotify, self._watched, self._owner = None, OrderedDict(), {}

    def _instance(self) -> Inotify | None:
        if not self._opened:
            self._opened = True
            self._inotify = Inotify.open()
        return self._inotify

    def _entry(self, root: str) -> _Watched:
        entry = self._watched.pop(root, None) or _Watched(root)
        self._watched[root] = entry
        while len(self._watched) > self._limit:
            _, evicted = self._watched.popitem(last=False)
            if self._inotify is not None:
                self._unwatch(self._inotify, evicted, evicted.dirs)
        return entry

    def _absorb(self) -> None:
        """Read the queue and mark every worktree an event touched."""
        if self._inotify is None:
            return
        for event in self._inotify.drain():
            if event.mask & IN_Q_OVERFLOW:
                for every in self._watched.values():
                    every.quiet, every.rewalk = False, True
                continue
            touched = self._owner.get(event.wd)
            if touched is not None:
                touched.quiet = False
                _note(touched, event, self._owner)

    def _catch_up(self, inotify: Inotify, entry: _Watched) -> bool:
        """Watches on every directory of the worktree (all of them anew after a move or a lost event, else only
        those created since); False when the worktree has more than ``max_dirs`` or no watch could be added."""
        if entry.rewalk:
            entry.rewalk, entry.new_dirs = False, []
            found = self._walk(inotify, entry, [entry.root])
            if found is None:
                return False
            self._unwatch(inotify, entry, {wd: path for wd, path in entry.dirs.items() if wd not in found})
            entry.dirs = found
            return entry.root in found.values()
        tops, entry.new_dirs = entry.new_dirs, []
        found = self._walk(inotify, entry, tops, already=len(entry.dirs))
        if found is None:
            return False
        entry.dirs.update(found)
        return True

    def _walk(self, inotify: Inotify, entry: _Watched, tops: Iterable[str], already: int = 0) -> dict[int, str] | None:
        found: dict[int, str] = {}
        for top in tops:
            for directory, subdirs, _ in os.walk(top, followlinks=False):
                subdirs[:] = [name for name in subdirs if name != ".git"]  # a nested repository's own git data
                wd = inotify.watch(directory)
                if wd is None:
                    if not os.path.isdir(directory):
                        continue  # removed meanwhile: its removal was an event in a watched parent
                    return None
                found[wd] = directory
                self._owner[wd] = entry
                if already + len(found) > self._max_dirs:
                    return None
        return found

    def _give_up(self, inotify: Inotify, entry: _Watched) -> None:
        log.info("%s: too many directories to watch, or no watches left; each diff reads it", entry.root)
        entry.unwatchable, entry.quiet, entry.answer = True, False, None
        self._unwatch(inotify, entry, {wd: "" for wd, owner in self._owner.items() if owner is entry})
        entry.dirs = {}

    def _unwatch(self, inotify: Inotify, entry: _Watched, dirs: dict[int, str]) -> None:
        for wd in dirs:
            if self._owner.get(wd) is entry:
                del self._owner[wd]
                inotify.unwatch(wd)


def _note(entry: _Watched, event: Event, owner: dict[int, _Watched]) -> None:
    """What an event means for the worktree's watches (it is no longer quiet either way)."""
    mask = event.mask
    moved_dir = mask & IN_ISDIR and mask & (IN_MOVED_FROM | IN_MOVED_TO)
    if mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_UNMOUNT) or moved_dir:
        entry.rewalk = True  # a directory moved: the paths known for its watches no longer hold
    elif mask & IN_IGNORED:
        owner.pop(event.wd, None)
        if entry.dirs.pop(event.wd, None) == entry.root:
            entry.rewalk = True
    elif mask & IN_CREATE and mask & IN_ISDIR:
        parent = entry.dirs.get(event.wd)
        if parent is None:
            entry.rewalk = True
        else:
            entry.new_dirs.append(os.path.join(parent, event.name))


def settings_files(repo: pygit2.Repository) -> tuple[str, ...]:
    """Besides the working files, what a diff of the worktree reads that could change its answer: the config,
    attribute and ignore files of the repository and of the user, and the worktree's admin files that name its
    repository."""
    common = common_dir(repo)
    paths = [os.path.join(repo.path, name) for name in ("config.worktree", "commondir", "gitdir")]
    paths += [str(common / name) for name in ("config", "info/attributes", "info/exclude")]
    paths += fingerprint.user_configs()
    for folder in str(pygit2.settings.search_path[ConfigLevel.XDG]).split(os.pathsep):
        if folder:
            paths += [os.path.join(folder, "attributes"), os.path.join(folder, "ignore")]
    for key in ("core.attributesFile", "core.excludesFile"):
        paths += [os.path.expanduser(value) for value in repo.config.get_multivar(key) if value]
    return tuple(paths)


def _stamp(paths: Iterable[str]) -> tuple[Stat, ...]:
    return tuple(fingerprint.full_stat(path) for path in paths)


def _identity(path: str) -> Stat:
    """Which directory is at ``path`` now (a path that leads elsewhere, through any of its parents, reads
    differently)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mode, 0, 0, 0)
