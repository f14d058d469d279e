"""Arena worktrees in the reaper: removed (snapshot kept) once their arena is decided, and otherwise judged like a
chat's worktree (its chat closed or gone past the grace, a preflight proving nothing would be lost)."""

from __future__ import annotations

import logging
from datetime import datetime

from returns.result import Failure, Result, Success

from core.arena import Contestant, ContestantReap, as_chat_worktree, contestant_reap
from core.errors import DomainError
from core.model import WorktreeStatus
from core.ports.arenas import ArenaStore
from core.ports.clock import Clock
from core.ports.store import ChatStore, TaskQueue
from core.ports.worktrees import Worktrees
from core.reaper import ChatPresence, ReapAction, ReapVerdict, keep_reason, reap_verdict

log = logging.getLogger(__name__)


async def soft_delete_contestant(
    arenas: ArenaStore, worktrees: Worktrees, contestant: Contestant, at: datetime
) -> Result[Contestant, DomainError]:
    """Mark deleting, snapshot and remove, mark archived: the two-phase soft delete of a chat's worktree."""
    assert contestant.worktree is not None
    deleting = contestant.worktree.model_copy(update={"status": WorktreeStatus.DELETING})
    await arenas.save_contestant(contestant.model_copy(update={"worktree": deleting}))
    removed = await worktrees.soft_delete(deleting, at)
    if not isinstance(removed, Success):
        log.error("removing arena worktree %s failed: %s", deleting.path, removed.failure().detail)
        return Failure(removed.failure())
    done = contestant.model_copy(update={"worktree": removed.unwrap()})
    await arenas.save_contestant(done)
    return Success(done)


async def reap_arenas(
    arenas: ArenaStore,
    chats: ChatStore,
    queue: TaskQueue,
    worktrees: Worktrees,
    clock: Clock,
    grace_s: float,
    missing_since: dict[str, datetime],
) -> list[ReapVerdict]:
    verdicts: list[ReapVerdict] = []
    for arena in await arenas.list_arenas():
        for contestant in arena.contestants:
            task = await queue.get_task(contestant.task_id)
            action, why = contestant_reap(arena, contestant, task.status if task is not None else None)
            if action is ContestantReap.KEEP or contestant.worktree is None:
                continue
            now = clock.now()
            worktree = as_chat_worktree(arena, contestant.worktree)
            if action is ContestantReap.REMOVE:
                await soft_delete_contestant(arenas, worktrees, contestant, now)
                verdicts.append(
                    ReapVerdict(
                        path=worktree.path, chat_id=arena.chat_id, action=ReapAction.SOFT_DELETE, reasons=(why,)
                    )
                )
                continue
            chat = await chats.get_chat(arena.chat_id) if arena.chat_id is not None else None
            presence = ChatPresence.of(chat, missing_since.setdefault(worktree.path, now) if chat is None else None)
            preflight = None
            if keep_reason(worktree, presence, [], now, grace_s) is None:
                try:
                    preflight = await worktrees.preflight(contestant.worktree, 0)
                except Exception:
                    log.exception("reaper: preflight of arena worktree %s failed", worktree.path)
            verdict = reap_verdict(worktree, presence, [], preflight, now, grace_s)
            if verdict.action is ReapAction.SOFT_DELETE:
                await soft_delete_contestant(arenas, worktrees, contestant, now)
                missing_since.pop(worktree.path, None)
            verdicts.append(verdict)
    return verdicts
