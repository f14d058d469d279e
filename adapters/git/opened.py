"""Repository objects a worktree diff opened, kept for the next diff of the same worktree.

Opening a worktree's repository (and its stat cache's) costs more than diffing a small worktree. A kept one is
used again only while the worktree's fingerprint (``fingerprint``: the files opening reads, the git config files
whose settings a repository caches once opened) reads as it did when it was opened, and only under the adapter's
per-repository lock, so never from two threads at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pygit2

from adapters.git import fingerprint
from adapters.git.fingerprint import SETTLE_NS, Fingerprint, Layout
from adapters.git.repos import open_worktree
from adapters.git.statcache import Kept
from core.model import Worktree


@dataclass
class Opened:
    path: Path
    repo: pygit2.Repository
    stat: Kept  # what the worktree's stat cache keeps between diffs


@dataclass(frozen=True)
class _Kept:
    worktree: Worktree
    layout: Layout
    fingerprint: Fingerprint
    opened: Opened


class OpenedWorktrees:
    """Bounded (least recently used go first); the lock only guards the table, from the worker threads."""

    def __init__(self, limit: int = 64, settle_ns: int = SETTLE_NS) -> None:
        self._limit = limit
        self._settle_ns = settle_ns
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._guard = threading.Lock()
        self.reused = 0  # opens answered by a kept repository

    def open(self, worktrees_dir: Path, worktree: Worktree) -> Opened:
        """As ``open_worktree`` (refusing what it refuses), reusing what this worktree's last diff opened."""
        key = worktree.path
        with self._guard:
            kept = self._kept.pop(key, None)
        if kept is not None and kept.worktree == worktree and fingerprint.read(kept.layout) == kept.fingerprint:
            self._keep(key, kept)
            self.reused += 1
            return kept.opened
        taken_ns = time.time_ns() - self._settle_ns
        where = fingerprint.layout(worktree.repo_path, worktree.path)
        before = fingerprint.read(where) if where is not None else None
        path, repo = open_worktree(worktrees_dir, worktree)
        opened = Opened(path, repo, Kept.at(worktrees_dir, path, self._settle_ns))
        if (
            where is not None
            and before is not None
            and fingerprint.settled(before, taken_ns)
            and Path(repo.path).resolve() == Path(where.admin)
        ):
            self._keep(key, _Kept(worktree, where, before, opened))
        return opened

    def _keep(self, key: str, kept: _Kept) -> None:
        with self._guard:
            self._kept[key] = kept
            while len(self._kept) > self._limit:
                self._kept.popitem(last=False)
