"""Which orphaned worktrees to keep, soft-delete or report as unsafe, and which snapshot refs expire.

Fail closed everywhere: a worktree is soft-deleted only when its chat has been closed, deleted or missing
for longer than the grace, no live or resumable agent session refers to it, and a preflight proved it
holds nothing that would be lost. A preflight that could not be read (or was not run) is unsafe:
unknown is not clean. Unsafe worktrees are reported, never deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from returns.result import Failure, Result, Success

from core.changes import worktree_risk
from core.errors import InvalidInput
from core.model import AgentSession, AgentSessionStatus, Chat, ChatStatus, Frozen, Preflight, Worktree, WorktreeStatus

DEFAULT_GRACE_S = 3600.0
DEFAULT_SNAPSHOT_RETENTION = timedelta(days=14)
SNAPSHOT_PREFIX = "refs/hearth/snapshots/"
SNAPSHOT_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


class ChatState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    GONE = "gone"  # deleted, or the worktree row names no chat / a chat that no longer exists


class ChatPresence(Frozen):
    state: ChatState
    since: datetime | None = None  # when it was closed or first seen gone; None for an open chat

    @classmethod
    def of(cls, chat: Chat | None, missing_since: datetime | None) -> ChatPresence:
        """From the chat row (None when deleted or missing) and when the shell first noticed it missing."""
        if chat is None:
            return cls(state=ChatState.GONE, since=missing_since)
        if chat.status is ChatStatus.OPEN:
            return cls(state=ChatState.OPEN)
        return cls(state=ChatState.CLOSED, since=chat.closed_at)


class ReapAction(StrEnum):
    KEEP = "keep"
    SOFT_DELETE = "soft_delete"
    UNSAFE = "unsafe"  # orphaned, but deleting it would lose work (or we cannot tell): report it


class ReapVerdict(Frozen):
    path: str
    chat_id: str | None
    action: ReapAction
    reasons: tuple[str, ...] = ()


def protecting_sessions(worktree: Worktree, sessions: Sequence[AgentSession]) -> list[AgentSession]:
    """The live or resumable agent sessions of the worktree's chat (every status but closed)."""
    if worktree.chat_id is None:
        return []
    return [s for s in sessions if s.chat_id == worktree.chat_id and s.status is not AgentSessionStatus.CLOSED]


def keep_reason(
    worktree: Worktree,
    chat: ChatPresence,
    sessions: Sequence[AgentSession],
    now: datetime,
    grace_s: float = DEFAULT_GRACE_S,
) -> str | None:
    """Why the worktree stays without even inspecting it; None means it is orphaned: preflight it."""
    if worktree.status is WorktreeStatus.ARCHIVED:
        return "already archived"
    if worktree.status is WorktreeStatus.DELETING:
        return "a soft delete is in progress; the reconciler finishes it"
    if chat.state is ChatState.OPEN:
        return "its chat is open"
    protecting = protecting_sessions(worktree, sessions)
    if protecting:
        names = ", ".join(f"{s.agent} ({s.status.value})" for s in protecting)
        return f"referenced by live or resumable agent sessions: {names}"
    if chat.since is None:
        return f"its chat is {chat.state.value} but since when is unknown, so the grace cannot have passed"
    orphaned_for = now - chat.since
    if orphaned_for < timedelta(seconds=grace_s):
        seconds = orphaned_for.total_seconds()
        return f"its chat is {chat.state.value} for {seconds:.0f} s, within the {grace_s:.0f} s grace"
    return None


def reap_verdict(
    worktree: Worktree,
    chat: ChatPresence,
    sessions: Sequence[AgentSession],
    preflight: Preflight | None,
    now: datetime,
    grace_s: float = DEFAULT_GRACE_S,
) -> ReapVerdict:
    """Keep, soft-delete or report one worktree. ``preflight`` None means it was not (or could not be) read."""

    def verdict(action: ReapAction, reasons: Sequence[str]) -> ReapVerdict:
        return ReapVerdict(path=worktree.path, chat_id=worktree.chat_id, action=action, reasons=tuple(reasons))

    reason = keep_reason(worktree, chat, sessions, now, grace_s)
    if reason is not None:
        return verdict(ReapAction.KEEP, [reason])
    if preflight is None:
        return verdict(ReapAction.UNSAFE, ["the worktree was not inspected (unknown is not clean)"])
    risk = worktree_risk(preflight)
    if not risk.safe:
        return verdict(ReapAction.UNSAFE, risk.reasons)
    return verdict(ReapAction.SOFT_DELETE, [f"its chat is {chat.state.value} past the grace and nothing would be lost"])


# Snapshots: soft delete keeps the branch tip as refs/hearth/snapshots/<chat>/<UTC time> for restore.


class SnapshotRef(Frozen):
    chat_id: str
    taken_at: datetime

    @property
    def ref(self) -> str:
        return snapshot_ref(self.chat_id, self.taken_at)


def format_snapshot_time(at: datetime) -> str:
    """UTC, whole seconds, sortable as text. A naive datetime is taken as UTC."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.strftime(SNAPSHOT_TIME_FORMAT)


def parse_snapshot_time(text: str) -> Result[datetime, InvalidInput]:
    try:
        parsed: datetime | None = datetime.strptime(text, SNAPSHOT_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        parsed = None
    if parsed is None or format_snapshot_time(parsed) != text:  # strptime also takes unpadded fields: refuse
        return Failure(InvalidInput(detail=f"{text!r} is not a snapshot time like 20260101T120000Z"))
    return Success(parsed)


def snapshot_ref(chat_id: str, at: datetime) -> str:
    return f"{SNAPSHOT_PREFIX}{chat_id}/{format_snapshot_time(at)}"


def parse_snapshot_ref(ref: str) -> Result[SnapshotRef, InvalidInput]:
    chat_id, _, stamp = ref.removeprefix(SNAPSHOT_PREFIX).rpartition("/")
    if not ref.startswith(SNAPSHOT_PREFIX) or not chat_id or "/" in chat_id:
        return Failure(InvalidInput(detail=f"{ref!r} is not a snapshot ref like {SNAPSHOT_PREFIX}<chat>/<time>"))
    return parse_snapshot_time(stamp).map(lambda taken_at: SnapshotRef(chat_id=chat_id, taken_at=taken_at))


def expired_snapshots(
    refs: Sequence[str], now: datetime, retention: timedelta = DEFAULT_SNAPSHOT_RETENTION
) -> list[str]:
    """The snapshot refs older than the retention. A ref whose name cannot be parsed is kept (fail closed)."""
    expired: list[str] = []
    for ref in refs:
        parsed = parse_snapshot_ref(ref)
        if isinstance(parsed, Success) and now - parsed.unwrap().taken_at > retention:
            expired.append(ref)
    return expired


def latest_snapshot(refs: Sequence[str], chat_id: str) -> str | None:
    """The newest snapshot of a chat: what ``restore`` brings back."""
    own: list[tuple[datetime, str]] = []
    for ref in refs:
        parsed = parse_snapshot_ref(ref)
        if isinstance(parsed, Success) and parsed.unwrap().chat_id == chat_id:
            own.append((parsed.unwrap().taken_at, ref))
    return max(own)[1] if own else None
