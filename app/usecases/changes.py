"""Pending changes: what the agents changed in the chat's worktree, applied to the user's checkout or discarded,
and manual edits (stamped with no agent)."""

from __future__ import annotations

from collections.abc import Sequence

from app.usecases.chats import Chats
from app.usecases.errors import Refused, ok
from core.boundary import StagingBoundary
from core.changes import attribution_stamp, reconcile_pending
from core.errors import NotFound
from core.model import PendingChange, PendingChangeStatus, Worktree, WorktreeStatus
from core.ports.clock import Clock
from core.ports.store import PendingChangeStore, WorktreeStore
from core.ports.worktrees import Worktrees


class Changes:
    def __init__(
        self,
        *,
        chats: Chats,
        worktree_rows: WorktreeStore,
        pending: PendingChangeStore,
        worktrees: Worktrees,
        clock: Clock,
    ) -> None:
        self._chats = chats
        self._rows = worktree_rows
        self._pending = pending
        self._worktrees = worktrees
        self._clock = clock

    async def pending(self, chat_id: str) -> list[PendingChange]:
        await self._chats.get(chat_id)
        return await self._pending.list_pending_changes(chat_id)

    async def boundary(self, chat_id: str) -> StagingBoundary:
        """Where the pending changes live against the checkout they would be applied to (read only)."""
        await self._chats.get(chat_id)
        worktree = await self._rows.get_worktree(chat_id)
        if worktree is None or worktree.status is not WorktreeStatus.ACTIVE:
            raise Refused(NotFound(detail=f"chat {chat_id} has no active worktree (no turn ran yet)", field="worktree"))
        paths = [change.path for change in await self._pending.list_pending_changes(chat_id)]
        return ok(await self._worktrees.boundary(worktree, paths))

    async def _worktree_of(self, chat_id: str) -> Worktree:
        """The open, idle chat's active worktree: changes are only touched between turns."""
        await self._chats.get_open(chat_id)
        await self._chats.guard_idle(chat_id)
        worktree = await self._rows.get_worktree(chat_id)
        if worktree is None or worktree.status is not WorktreeStatus.ACTIVE:
            raise Refused(NotFound(detail=f"chat {chat_id} has no worktree yet (no turn ran)", field="worktree"))
        return worktree

    async def apply(self, chat_id: str, paths: Sequence[str] | None) -> Worktree:
        """All or nothing into the user's checkout, then re-baselined: the returned worktree has the new base."""
        applied = ok(await self._worktrees.apply(await self._worktree_of(chat_id), paths))
        await self._rows.upsert_worktree(applied)
        await self._pending.set_pending_status(chat_id, paths, PendingChangeStatus.APPLIED, self._clock.now())
        return applied

    async def discard(self, chat_id: str, paths: Sequence[str] | None) -> Worktree:
        discarded = ok(await self._worktrees.discard(await self._worktree_of(chat_id), paths))
        await self._rows.upsert_worktree(discarded)
        await self._pending.set_pending_status(chat_id, paths, PendingChangeStatus.DISCARDED, self._clock.now())
        return discarded

    async def edit_file(self, chat_id: str, path: str, content: str) -> list[PendingChange]:
        """A manual edit through the API: written into the worktree, the pending change stamps no agent."""
        worktree = await self._worktree_of(chat_id)
        ok(await self._worktrees.write_file(worktree, path, content))
        diffs = ok(await self._worktrees.diff(worktree))
        current = await self._pending.list_pending_changes(chat_id)
        update = reconcile_pending(chat_id, current, diffs, attribution_stamp(None, None), None, self._clock.now())
        await self._pending.replace_pending_changes(chat_id, update.upserts, update.removed_paths)
        return await self._pending.list_pending_changes(chat_id)
