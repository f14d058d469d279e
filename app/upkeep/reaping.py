"""Worktree removal: the close/delete hook and the orphan reaper, both deciding through ``core.reaper``/``changes``.

Soft delete is two-phase so a crash in between is finished later: the row is marked ``deleting`` first, the
worktree port snapshots and removes it (idempotent), then the row becomes ``archived``. The reaper re-runs
``deleting`` rows it finds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from returns.result import Result, Success

from app.upkeep.arena_reaping import reap_arenas
from core.changes import WorktreeRisk, worktree_risk
from core.errors import DomainError
from core.model import Preflight, Worktree, WorktreeStatus
from core.ports.arenas import ArenaStore
from core.ports.clock import Clock
from core.ports.store import AgentSessionStore, ChatStore, Leadership, PendingChangeStore, TaskQueue, WorktreeStore
from core.ports.worktrees import Worktrees
from core.reaper import ChatPresence, ReapAction, ReapVerdict, keep_reason, reap_verdict

log = logging.getLogger(__name__)


async def risk_of(
    pending_changes: PendingChangeStore, worktrees: Worktrees, worktree: Worktree | None, chat_id: str
) -> WorktreeRisk:
    """What deleting the chat's worktree would lose (nothing when it has none)."""
    pending = len(await pending_changes.list_pending_changes(chat_id))
    if worktree is None or worktree.status is not WorktreeStatus.ACTIVE:
        return worktree_risk(Preflight(), pending)
    return worktree_risk(await worktrees.preflight(worktree, pending), pending)


async def soft_delete(
    rows: WorktreeStore, worktrees: Worktrees, worktree: Worktree, at: datetime
) -> Result[Worktree, DomainError]:
    """Mark deleting, remove (snapshot kept), mark archived."""
    deleting = worktree.model_copy(update={"status": WorktreeStatus.DELETING})
    await rows.upsert_worktree(deleting)
    removed = await worktrees.soft_delete(deleting, at)
    if not isinstance(removed, Success):
        log.error("soft delete of worktree %s failed: %s", worktree.path, removed.failure().detail)
        return removed
    await rows.upsert_worktree(removed.unwrap())
    return removed


@dataclass
class Reaper:
    chats: ChatStore
    rows: WorktreeStore
    sessions: AgentSessionStore
    pending: PendingChangeStore
    leadership: Leadership
    worktrees: Worktrees
    clock: Clock
    grace_s: float
    missing_since: dict[str, datetime] = field(default_factory=dict)  # worktree path -> first seen chat-less
    last_unsafe: list[ReapVerdict] = field(default_factory=list)
    last_deleted: list[str] = field(default_factory=list)
    arenas: ArenaStore | None = None  # with ``queue``: arena worktrees are reaped too (``app.upkeep.arena_reaping``)
    queue: TaskQueue | None = None

    async def run_once(self) -> list[ReapVerdict]:
        """One pass; on PostgreSQL only one node at a time gets past ``exclusive``."""
        async with self.leadership.exclusive("reaper") as leader:
            if not leader:
                return []
            verdicts = [await self._judge(wt) for wt in await self.rows.list_worktrees()]
            if self.arenas is not None and self.queue is not None:
                verdicts += await reap_arenas(
                    self.arenas, self.chats, self.queue, self.worktrees, self.clock, self.grace_s, self.missing_since
                )
        self.last_unsafe = [v for v in verdicts if v.action is ReapAction.UNSAFE]
        for verdict in self.last_unsafe:
            log.warning("reaper: keeping orphaned worktree %s: %s", verdict.path, "; ".join(verdict.reasons))
        return verdicts

    async def _judge(self, worktree: Worktree) -> ReapVerdict:
        now = self.clock.now()
        if worktree.status is WorktreeStatus.DELETING:  # a soft delete interrupted by a crash: finish it
            await soft_delete(self.rows, self.worktrees, worktree, now)
            return ReapVerdict(path=worktree.path, chat_id=worktree.chat_id, action=ReapAction.SOFT_DELETE)
        chat = await self.chats.get_chat(worktree.chat_id) if worktree.chat_id is not None else None
        missing = self.missing_since.setdefault(worktree.path, now) if chat is None else None
        presence = ChatPresence.of(chat, missing)
        sessions = await self.sessions.list_agent_sessions(worktree.chat_id) if worktree.chat_id is not None else []
        if keep_reason(worktree, presence, sessions, now, self.grace_s) is not None:
            return reap_verdict(worktree, presence, sessions, None, now, self.grace_s)
        pending = len(await self.pending.list_pending_changes(worktree.chat_id)) if worktree.chat_id else 0
        try:
            preflight = await self.worktrees.preflight(worktree, pending)
        except Exception:
            log.exception("reaper: preflight of %s failed", worktree.path)
            preflight = None
        verdict = reap_verdict(worktree, presence, sessions, preflight, now, self.grace_s)
        deleted = verdict.action is ReapAction.SOFT_DELETE and isinstance(
            await soft_delete(self.rows, self.worktrees, worktree, now), Success
        )
        if deleted:
            self.last_deleted.append(worktree.path)
            self.missing_since.pop(worktree.path, None)
        return verdict
