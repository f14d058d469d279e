"""pygit2 worktrees, one per chat on branch ``hearth/chat-<id>``: the ``Worktrees`` port.

The git work itself lives in ``adapters.git`` as plain synchronous functions. This class runs each of
them in a worker thread (libgit2 blocks on disk) under one asyncio.Lock per repository, so two
operations never race on the repository's index, refs or worktree admin entries.

Every turn calls ``ensure`` before the agent and ``diff`` after it, so both keep what they learnt: ``ensure`` of a
worktree this process verified before, unchanged on disk since (``fingerprint``), answers on the event loop with no
git work; ``diff`` of a worktree in which the kernel saw nothing happen since its last diff (``quiet``) answers
the same way, and any other reuses the repositories the worktree's previous diff opened (``opened``) and reads
unchanged files through a stat cache (``statcache``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pygit2
from returns.result import Failure, Result, Success

from adapters.git import arena, boundary, changes, create, safety, snapshots
from adapters.git.fingerprint import SETTLE_NS, VerifiedWorktrees
from adapters.git.opened import OpenedWorktrees
from adapters.git.quiet import QuietWorktrees
from adapters.git.refusal import Refused
from adapters.git.repos import validate_repo
from core.boundary import StagingBoundary
from core.errors import DomainError, GitError
from core.model import FileDiff, Preflight, Worktree
from core.ports.clock import Clock

T = TypeVar("T")
log = logging.getLogger(__name__)


class GitWorktrees:
    def __init__(
        self,
        repo_roots: Sequence[Path],
        worktrees_dir: Path,
        clock: Clock | None = None,
        *,
        settle: timedelta = timedelta(microseconds=SETTLE_NS // 1000),
        quiet: QuietWorktrees | None = None,
    ) -> None:
        """``settle``: how long after its last change a file's stat data counts as settled, so that it may vouch for
        the file (a coarse filesystem clock gives two changes one timestamp): for ``ensure``'s fingerprint of the
        worktree, the repositories a diff keeps, and the blobs it stored for changed files. ``quiet``: the watches
        that answer a diff of a worktree in which nothing happened (a test's own limits)."""
        self._roots = tuple(Path(root) for root in repo_roots)
        self._dir = Path(worktrees_dir)
        self._clock = clock  # only dates hearth's own commits (re-baseline after apply)
        self._locks: dict[str, asyncio.Lock] = {}
        settle_ns = int(settle.total_seconds() * 1e9)
        self._verified = VerifiedWorktrees(settle_ns=settle_ns)
        self._opened = OpenedWorktrees(settle_ns=settle_ns)
        self._quiet = quiet if quiet is not None else QuietWorktrees(settle_ns=settle_ns)
        self.unchanged_ensures = 0  # ensures answered from the fingerprint, with no git work and no thread

    @property
    def reused_repositories(self) -> int:
        """Diffs that reused the repositories the worktree's previous diff opened."""
        return self._opened.reused

    @property
    def quiet_diffs(self) -> int:
        """Diffs answered without git work: nothing happened in the worktree since its last diff."""
        return self._quiet.answered

    @property
    def worktrees_dir(self) -> Path:
        return self._dir

    def _lock(self, repo_path: str) -> asyncio.Lock:
        """One lock per repository, whichever path names it (``resolve_repo_path`` resolves the same way; plain
        ``os.path`` here, as every turn takes it twice)."""
        try:
            key = os.path.realpath(os.path.expanduser(repo_path))
        except (ValueError, OSError, RuntimeError):  # an unusable path: the work itself refuses it, naming repo_path
            key = repo_path
        return self._locks.setdefault(key, asyncio.Lock())

    async def _run(self, repo_path: str, what: str, work: Callable[[], T]) -> Result[T, DomainError]:
        async with self._lock(repo_path):
            return await self._in_thread(repo_path, what, work)

    @staticmethod
    async def _in_thread(repo_path: str, what: str, work: Callable[[], T]) -> Result[T, DomainError]:
        try:
            return Success(await asyncio.to_thread(work))
        except Refused as refused:
            return Failure(refused.error)
        except (pygit2.GitError, OSError, KeyError, ValueError) as exc:  # libgit2 said no mid-way
            return Failure(
                GitError(detail=f"{what} failed in {repo_path}: {type(exc).__name__}: {exc}", field="repo_path")
            )

    async def validate_repo(self, repo_path: str) -> Result[str, DomainError]:
        return await self._run(
            repo_path, "validating the repository", lambda: str(validate_repo(self._roots, self._dir, repo_path))
        )

    async def ensure(
        self, chat_id: str, repo_path: str, ref: str | None, existing: Worktree | None, at: datetime
    ) -> Result[Worktree, DomainError]:
        """An existing worktree this process verified before, unchanged on disk since (its fingerprint), is
        returned at once; anything else takes the full checks, which recreate or refuse it as before."""
        async with self._lock(repo_path):
            if existing is not None and self._verified.unchanged(chat_id, repo_path, existing):
                self.unchanged_ensures += 1
                return Success(existing)
            self._verified.forget(chat_id)
            taken_ns = self._verified.settle_before()
            ensured = await self._in_thread(
                repo_path,
                "creating the chat worktree",
                lambda: create.ensure(self._roots, self._dir, chat_id, repo_path, ref, existing, at),
            )
            if not isinstance(ensured, Success):
                return Failure(ensured.failure())
            done = ensured.unwrap()
            if done.verified is not None:
                where, fingerprint = done.verified
                self._verified.remember(chat_id, done.worktree, where, fingerprint, taken_ns)
            return Success(done.worktree)

    async def diff(self, worktree: Worktree) -> Result[list[FileDiff], DomainError]:
        """A worktree in which nothing happened since its last diff (``quiet``) is answered on the event loop."""
        async with self._lock(worktree.repo_path):
            known = self._quiet.answer(worktree)
            if known is not None:
                return Success(known)
            return await self._in_thread(worktree.repo_path, "diffing the worktree", lambda: self._diff(worktree))

    def _diff(self, worktree: Worktree) -> list[FileDiff]:
        armed = self._quiet.arm(worktree, time.time_ns())  # watching before anything is read
        diffs, repo = changes.diff_and_repository(self._dir, worktree, self._opened)
        if armed is not None:
            self._quiet.remember(armed, worktree, repo, diffs)
        return diffs

    def close(self) -> None:
        """Let go of the worktrees' watches."""
        self._quiet.close()

    async def apply(self, worktree: Worktree, paths: Sequence[str] | None) -> Result[Worktree, DomainError]:
        at = self._clock.now() if self._clock is not None else datetime.now(UTC)
        return await self._run(
            worktree.repo_path, "applying changes", lambda: changes.apply(self._dir, worktree, paths, at)
        )

    async def discard(self, worktree: Worktree, paths: Sequence[str] | None) -> Result[Worktree, DomainError]:
        return await self._run(
            worktree.repo_path, "discarding changes", lambda: changes.discard(self._dir, worktree, paths)
        )

    async def write_file(self, worktree: Worktree, path: str, content: str) -> Result[None, DomainError]:
        return await self._run(
            worktree.repo_path, "writing a file", lambda: changes.write_file(self._dir, worktree, path, content)
        )

    async def preflight(self, worktree: Worktree, unapplied_changes: int) -> Preflight:
        async with self._lock(worktree.repo_path):
            return await asyncio.to_thread(safety.preflight, self._dir, worktree, unapplied_changes)

    async def boundary(self, worktree: Worktree, pending: Sequence[str]) -> Result[StagingBoundary, DomainError]:
        return await self._run(
            worktree.repo_path,
            "reading the staging boundary",
            lambda: boundary.boundary(self._dir, worktree, pending),
        )

    async def soft_delete(self, worktree: Worktree, at: datetime) -> Result[Worktree, DomainError]:
        return await self._run(
            worktree.repo_path, "soft-deleting the worktree", lambda: snapshots.soft_delete(self._dir, worktree, at)
        )

    async def restore(self, worktree: Worktree, at: datetime) -> Result[Worktree, DomainError]:
        return await self._run(
            worktree.repo_path, "restoring the worktree", lambda: snapshots.restore(self._dir, worktree, at)
        )

    async def fork(self, source: Worktree, key: str, at: datetime) -> Result[Worktree, DomainError]:
        return await self._run(
            source.repo_path, "forking the chat worktree", lambda: arena.fork(self._dir, source, key, at)
        )

    async def copy_changes(
        self, source: Worktree, target: Worktree, files: Sequence[FileDiff]
    ) -> Result[None, DomainError]:
        return await self._run(
            target.repo_path, "adopting changes", lambda: arena.copy_changes(self._dir, source, target, files)
        )

    async def expire_snapshots(self, repo_path: str, older_than: datetime) -> list[str]:
        """A repository that is gone or unreadable expires nothing (logged), so one bad row cannot stop the
        job for every other repository."""
        async with self._lock(repo_path):
            try:
                return await asyncio.to_thread(snapshots.expire_snapshots, repo_path, older_than)
            except (Refused, pygit2.GitError, OSError) as exc:
                log.warning("snapshot expiry skipped %s: %s", repo_path, exc)
                return []
