"""The arena: one prompt to several agents, each in its own worktree forked from the chat, then one adopted.

Pure decisions only: which contestants a request names, what state a contestant is in, whether adopting a winner
clashes with the chat's pending work, and which worktrees an adoption or a discard removes (after a snapshot).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum

from returns.result import Failure, Result, Success

from core.errors import Conflict, DomainError, InvalidInput
from core.model import FileDiff, Frozen, TaskStatus, Worktree, WorktreeStatus

WORKTREE_KEY_PREFIX = "arena-"  # a contestant's worktree is named like a chat's, under this key


class ArenaStatus(StrEnum):
    OPEN = "open"  # contestants run or wait for a decision
    ADOPTED = "adopted"  # one contestant's diff became the chat's pending changes
    DISCARDED = "discarded"  # nobody won


class ContestantState(StrEnum):
    PREPARING = "preparing"  # its worktree is being forked
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ADOPTED = "adopted"  # the winner
    DISCARDED = "discarded"  # a loser, or every contestant of a discarded arena


class ContestantSpec(Frozen):
    agent: str
    model: str | None = None


class Contestant(Frozen):
    """One agent's run in an arena. Its status, error and usage live on its task (``task_id``)."""

    arena_id: str
    task_id: str
    position: int
    agent: str
    model: str | None = None
    worktree: Worktree | None = None  # None until forked (or when forking failed)
    files: tuple[FileDiff, ...] = ()  # its diff against the fork, recorded when it finished
    wall_s: float | None = None  # from the fork to its last event; None while it runs


class Arena(Frozen):
    id: str
    chat_id: str | None  # None once the chat row is deleted
    prompt: str
    status: ArenaStatus = ArenaStatus.OPEN
    winner: str | None = None  # the adopted contestant's task id
    forked_pending: tuple[FileDiff, ...] = ()  # the chat worktree's diff at the fork
    created_at: datetime
    decided_at: datetime | None = None
    contestants: tuple[Contestant, ...] = ()

    def contestant(self, task_id: str) -> Contestant | None:
        return next((c for c in self.contestants if c.task_id == task_id), None)


def worktree_key(task_id: str) -> str:
    """The name a contestant's worktree, branch and snapshot refs carry (``hearth/chat-arena-<task>``)."""
    return f"{WORKTREE_KEY_PREFIX}{task_id}"


def check_contestants(
    contestants: Sequence[ContestantSpec], configured: Collection[str], limit: int
) -> Result[tuple[ContestantSpec, ...], DomainError]:
    """At least one, at most ``limit``, every agent configured; the error names the field at fault."""
    if not contestants:
        return Failure(InvalidInput(detail="an arena needs at least one contestant", field="contestants"))
    if len(contestants) > limit:
        detail = f"an arena takes at most {limit} contestants (HEARTH_ARENA_MAX_CONTESTANTS), got {len(contestants)}"
        return Failure(InvalidInput(detail=detail, field="contestants"))
    for index, spec in enumerate(contestants):
        if spec.agent not in configured:
            known = ", ".join(sorted(configured)) or "none"
            detail = f"agent {spec.agent!r} is not configured (configured: {known})"
            return Failure(InvalidInput(detail=detail, field=f"contestants[{index}].agent"))
    return Success(tuple(contestants))


def contestant_state(arena: Arena, contestant: Contestant, task_status: TaskStatus | None) -> ContestantState:
    """The arena's decision wins over the run's outcome; before it, the task says (None: no task yet)."""
    if arena.status is ArenaStatus.ADOPTED:
        return ContestantState.ADOPTED if arena.winner == contestant.task_id else ContestantState.DISCARDED
    if arena.status is ArenaStatus.DISCARDED:
        return ContestantState.DISCARDED
    if task_status is None or task_status is TaskStatus.QUEUED:
        return ContestantState.PREPARING
    if task_status is TaskStatus.RUNNING:
        return ContestantState.PREPARING if contestant.worktree is None else ContestantState.RUNNING
    return ContestantState(task_status.value)


def _paths(files: Sequence[FileDiff]) -> set[str]:
    return {p for f in files for p in (f.path, f.old_path) if p is not None}


def adopt_conflicts(
    winner_files: Sequence[FileDiff], forked_pending: Sequence[FileDiff], current: Sequence[FileDiff]
) -> tuple[str, ...]:
    """The winner's paths whose diff in the chat's worktree changed since the fork (sorted).

    The winner started from the chat's state at the fork, so its diff lands cleanly on every file the chat has
    not touched since; a file the chat changed meanwhile would lose one side's work.
    """
    then = {f.path: f.diff for f in forked_pending}
    now = {c.path: c.diff for c in current}
    return tuple(sorted(p for p in _paths(winner_files) if then.get(p) != now.get(p)))


def check_adoption(
    arena: Arena, task_id: str, statuses: Mapping[str, TaskStatus], current: Sequence[FileDiff]
) -> Result[Contestant, DomainError]:
    """Whether ``task_id`` may win: the arena still open, the contestant finished, no clash with pending work."""
    if arena.status is not ArenaStatus.OPEN:
        return Failure(Conflict(detail=f"arena {arena.id} is already {arena.status.value}", field="arena"))
    winner = arena.contestant(task_id)
    if winner is None:
        known = ", ".join(c.task_id for c in arena.contestants)
        detail = f"arena {arena.id} has no contestant {task_id!r} (its contestants: {known})"
        return Failure(InvalidInput(detail=detail, field="contestant"))
    status = statuses.get(task_id)
    if status is None or not status.is_terminal:
        detail = f"contestant {task_id} ({winner.agent}) is still running; adopt it once it has finished"
        return Failure(Conflict(detail=detail, field="contestant"))
    if winner.worktree is None or winner.worktree.status is not WorktreeStatus.ACTIVE:
        detail = f"contestant {task_id} ({winner.agent}) has no worktree left to adopt from"
        return Failure(Conflict(detail=detail, field="contestant"))
    if not winner.files:
        detail = f"contestant {task_id} ({winner.agent}) changed no file; nothing to adopt"
        return Failure(Conflict(detail=detail, field="contestant"))
    clashes = adopt_conflicts(winner.files, arena.forked_pending, current)
    if clashes:
        detail = (
            f"the chat's pending changes to {', '.join(clashes)} changed since the arena forked; adopting "
            f"{winner.agent}'s diff would overwrite them. Apply or discard them first, then adopt again"
        )
        return Failure(Conflict(detail=detail, field="contestant"))
    return Success(winner)


def to_remove(arena: Arena, statuses: Mapping[str, TaskStatus]) -> tuple[Contestant, ...]:
    """After a decision: every finished contestant whose worktree still exists (snapshot first, then removed).

    One still running keeps its worktree until it ends (its runner, or else the reaper, removes it then)."""
    if arena.status is ArenaStatus.OPEN:
        return ()
    return tuple(
        c
        for c in arena.contestants
        if c.worktree is not None
        and c.worktree.status is not WorktreeStatus.ARCHIVED
        and (status := statuses.get(c.task_id)) is not None
        and status.is_terminal
    )


class ContestantReap(StrEnum):
    KEEP = "keep"
    REMOVE = "remove"  # the arena was decided (or a removal was interrupted): snapshot and remove, as decided
    JUDGE = "judge"  # an open arena whose contestant ended: judged like a chat's worktree (grace, preflight)


def contestant_reap(arena: Arena, contestant: Contestant, task_status: TaskStatus | None) -> tuple[ContestantReap, str]:
    """What the reaper does with a contestant's worktree, and why."""
    worktree = contestant.worktree
    if worktree is None or worktree.status is WorktreeStatus.ARCHIVED:
        return ContestantReap.KEEP, "no worktree left"
    if worktree.status is WorktreeStatus.DELETING:
        return ContestantReap.REMOVE, "a removal was interrupted; finishing it"
    if task_status is None or not task_status.is_terminal:
        return ContestantReap.KEEP, "the contestant is still running"
    if arena.status is not ArenaStatus.OPEN:
        return ContestantReap.REMOVE, f"the arena was {arena.status.value}; its worktrees go (snapshot kept)"
    return ContestantReap.JUDGE, "the arena is undecided"


def as_chat_worktree(arena: Arena, worktree: Worktree) -> Worktree:
    """The worktree as the chat's reaper rules see it: it belongs to the arena's chat."""
    return worktree.model_copy(update={"chat_id": arena.chat_id})
