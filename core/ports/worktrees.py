"""One git worktree per chat, shared by every agent and turn of the chat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from returns.result import Result

from core.boundary import StagingBoundary
from core.errors import DomainError
from core.model import FileDiff, Preflight, Worktree


class Worktrees(Protocol):
    """One git worktree per chat, on branch ``hearth/chat-<id>``. Blocking git work runs off the loop."""

    async def validate_repo(self, repo_path: str) -> Result[str, DomainError]:
        """Resolved absolute path of a usable repository inside the configured roots, or why not."""
        ...

    async def ensure(
        self, chat_id: str, repo_path: str, ref: str | None, existing: Worktree | None, at: datetime
    ) -> Result[Worktree, DomainError]:
        """Create once (recording base_commit), reuse after, recreate from the branch if the dir vanished."""
        ...

    async def diff(self, worktree: Worktree) -> Result[list[FileDiff], DomainError]: ...
    async def apply(self, worktree: Worktree, paths: Sequence[str] | None) -> Result[Worktree, DomainError]:
        """All or nothing into the repo's own checkout, then re-baseline: the returned row has the new base."""
        ...

    async def discard(self, worktree: Worktree, paths: Sequence[str] | None) -> Result[Worktree, DomainError]: ...
    async def write_file(self, worktree: Worktree, path: str, content: str) -> Result[None, DomainError]: ...
    async def preflight(self, worktree: Worktree, unapplied_changes: int) -> Preflight: ...
    async def boundary(self, worktree: Worktree, pending: Sequence[str]) -> Result[StagingBoundary, DomainError]:
        """The base against the checkout's HEAD, and which ``pending`` files the checkout changed since the base."""
        ...

    def close(self) -> None:
        """Let go of what the adapter holds between calls (file watches); called once, at shutdown."""
        ...

    async def soft_delete(self, worktree: Worktree, at: datetime) -> Result[Worktree, DomainError]:
        """Snapshot to refs/hearth/snapshots/<chat>/<ts>, then remove dir, admin entry, branch. Idempotent."""
        ...

    async def restore(self, worktree: Worktree, at: datetime) -> Result[Worktree, DomainError]: ...
    async def expire_snapshots(self, repo_path: str, older_than: datetime) -> list[str]: ...
    async def fork(self, source: Worktree, key: str, at: datetime) -> Result[Worktree, DomainError]:
        """A new worktree named ``key`` whose base is a commit of ``source``'s files as they are now (the arena)."""
        ...

    async def copy_changes(
        self, source: Worktree, target: Worktree, files: Sequence[FileDiff]
    ) -> Result[None, DomainError]:
        """Each of ``files`` in ``target`` becomes what it is in ``source`` (an arena winner's adoption)."""
        ...
