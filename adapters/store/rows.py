"""Row <-> record mapping shared by both stores.

SQLite hands back text for times and JSON; asyncpg hands back ``datetime`` and decoded JSON (jsonb codec).
The readers accept either, so both stores build their records with the same functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from core.events import TextDelta, parse_event
from core.model import (
    AgentSession,
    AgentSessionStatus,
    BackendKind,
    Chat,
    ChatStatus,
    OnInterrupt,
    PendingChange,
    PendingChangeStatus,
    ProcessRecord,
    StoredEvent,
    Task,
    TaskOrigin,
    TaskStatus,
    TranscriptEntry,
    TurnHistory,
    Usage,
    Worktree,
    WorktreeStatus,
)


class Row(Protocol):
    """sqlite3.Row and asyncpg.Record both index by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC (the domain hands out aware ones; this keeps both stores equal)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def time_text(moment: datetime | None) -> str | None:
    """Fixed-width UTC ISO text, so SQLite's text comparison orders times correctly."""
    if moment is None:
        return None
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def time_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def read_time(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        return as_utc(datetime.fromisoformat(value))
    raise TypeError(f"unexpected time value in the store: {value!r}")


def need_time(value: object) -> datetime:
    moment = read_time(value)
    if moment is None:
        raise ValueError("a NOT NULL time column came back NULL")
    return moment


def read_json(value: object) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def chat_from(row: Row) -> Chat:
    return Chat(
        id=row["id"],
        repo_path=row["repo_path"],
        ref=row["ref"],
        title=row["title"],
        status=ChatStatus(row["status"]),
        created_at=need_time(row["created_at"]),
        closed_at=read_time(row["closed_at"]),
        on_interrupt=OnInterrupt(row["on_interrupt"]),
    )


def worktree_from(row: Row) -> Worktree:
    return Worktree(
        chat_id=row["chat_id"],
        repo_path=row["repo_path"],
        path=row["path"],
        branch=row["branch"],
        base_commit=row["base_commit"],
        status=WorktreeStatus(row["status"]),
        created_at=need_time(row["created_at"]),
        archived_at=read_time(row["archived_at"]),
        snapshot_ref=row["snapshot_ref"],
    )


def usage_from(row: Row) -> Usage | None:
    """The numeric columns are NOT NULL (schema v1); the v3 flags say whether they mean anything."""
    if not row["usage_known"]:
        return None
    return Usage(
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        reasoning_tokens=int(row["reasoning_tokens"]),
        cost_usd=float(row["cost_usd"]) if row["cost_known"] else None,
    )


USAGE_COLUMNS = ("input_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "usage_known", "cost_known")


def usage_values(usage: Usage | None) -> tuple[int, int, int, float, bool, bool]:
    """Values for USAGE_COLUMNS, in that order: unknown is stored as 0 with its flag false."""
    if usage is None:
        return 0, 0, 0, 0.0, False, False
    cost = usage.cost_usd
    return usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, cost or 0.0, True, cost is not None


def usage_params(usage: Usage | None) -> dict[str, object]:
    """USAGE_COLUMNS as named parameters (SQLite)."""
    return dict(zip(USAGE_COLUMNS, usage_values(usage), strict=True))


def session_from(row: Row) -> AgentSession:
    return AgentSession(
        chat_id=row["chat_id"],
        agent=row["agent"],
        backend=BackendKind(row["backend"]),
        backend_session_id=row["backend_session_id"],
        status=AgentSessionStatus(row["status"]),
        turns=int(row["turns"]),
        usage=usage_from(row),
        last_used_at=need_time(row["last_used_at"]),
        node_id=row["node_id"],
    )


def task_from(row: Row) -> Task:
    return Task(
        id=row["id"],
        chat_id=row["chat_id"],
        agent=row["agent"],
        origin=TaskOrigin(row["origin"]),
        status=TaskStatus(row["status"]),
        prompt=row["prompt"],
        model=row["model"],
        error=row["error"],
        usage=usage_from(row),
        created_at=need_time(row["created_at"]),
        started_at=read_time(row["started_at"]),
        finished_at=read_time(row["finished_at"]),
        node_id=row["node_id"],
        continues=row["continues"],
    )


def event_from(row: Row) -> StoredEvent:
    return StoredEvent(
        seq=int(row["seq"]),
        task_id=row["task_id"],
        chat_id=row["chat_id"],
        event=parse_event(read_json(row["event"])),
        journaled_at=read_time(row["journaled_at"]),
    )


FINISHED = ("succeeded", "failed", "cancelled")  # TaskStatus.is_terminal, as SQL literals
NO_END = 2**62  # a queue_seq or seq past any real one: "no upper bound" in a range


def reply_text(events: Iterable[Row]) -> dict[str, str]:
    """The visible text per turn from (task_id, event) rows in seq order: a turn finished before schema v4."""
    parts: dict[str, list[str]] = {}
    for row in events:
        event = parse_event(read_json(row["event"]))
        if isinstance(event, TextDelta):
            parts.setdefault(row["task_id"], []).append(event.text)
    return {task_id: "".join(texts) for task_id, texts in parts.items()}


def history_from(
    newest_first: list[Row], earlier: int, files: Iterable[Row], legacy_replies: dict[str, str]
) -> TurnHistory:
    """A ``TurnHistory`` from the window's task rows (newest first), pending-change (task_id, path) rows, and the
    replies of turns finished before schema v4."""
    touched: dict[str, list[str]] = {}
    for row in files:
        touched.setdefault(row["task_id"], []).append(row["path"])
    entries = tuple(
        TranscriptEntry(
            task_id=row["id"],
            agent=row["agent"],
            prompt=row["prompt"],
            reply=row["reply"] if row["reply"] is not None else legacy_replies.get(row["id"], ""),
            status=TaskStatus(row["status"]),
            files=tuple(sorted(touched.get(row["id"], []))),
        )
        for row in reversed(newest_first)
    )
    return TurnHistory(entries=entries, earlier=earlier)


def pending_from(row: Row) -> PendingChange:
    return PendingChange(
        chat_id=row["chat_id"],
        path=row["path"],
        diff=row["diff"],
        agent=row["agent"],
        contributors=tuple(read_json(row["contributors"])),
        status=PendingChangeStatus(row["status"]),
        task_id=row["task_id"],
        updated_at=need_time(row["updated_at"]),
    )


def process_from(row: Row) -> ProcessRecord:
    return ProcessRecord(
        key=row["key"],
        pid=int(row["pid"]),
        port=row["port"],
        started_at=need_time(row["started_at"]),
        node_id=row["node_id"],
        command=row["command"],
    )


def need_terminal(status: TaskStatus) -> None:
    """finish_task's one precondition: a finished task has a terminal status."""
    if not status.is_terminal:
        raise ValueError(f"finish_task needs a terminal status, got {status.value!r}")


def status_counts(found: Iterable[Row]) -> dict[TaskStatus, int]:
    """Rows of (status, n) as count_tasks_by_status reports them: every status a key, 0 where no row has it."""
    counts = dict.fromkeys(TaskStatus, 0)
    counts.update((TaskStatus(row["status"]), int(row["n"])) for row in found)
    return counts


def oldest_first(tasks: Iterable[Task]) -> list[Task]:
    """Tasks changed by one statement, in the order they were submitted (a statement's own order is undefined)."""
    return sorted(tasks, key=lambda task: (task.created_at, task.id))


def check_same_chat(chat_id: str, changes: Any) -> None:
    for change in changes:
        if change.chat_id != chat_id:
            raise ValueError(f"pending change for {change.path!r} belongs to chat {change.chat_id}, not {chat_id}")


def ran_on_the_chat_session(current: Row) -> bool:
    """A chat turn ran on the (chat, agent) session; a task of another origin ran one-shot and leaves it alone."""
    ran = current["chat_id"] is not None and current["status"] == TaskStatus.RUNNING.value
    return ran and current["origin"] == TaskOrigin.CHAT.value
