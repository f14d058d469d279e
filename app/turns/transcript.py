"""A chat's finished turns as ``TranscriptEntry`` values: native agent history and handoff preamble input."""

from __future__ import annotations

from collections import defaultdict

from core.events import TextDelta
from core.model import StoredEvent, Task, TranscriptEntry
from core.ports.store import Journal, PendingChangeStore, TaskQueue


def replies_by_task(events: list[StoredEvent]) -> dict[str, str]:
    """The agent's visible text per turn, deltas concatenated in journal order."""
    parts: dict[str, list[str]] = defaultdict(list)
    for stored in events:
        if isinstance(stored.event, TextDelta):
            parts[stored.task_id].append(stored.event.text)
    return {task_id: "".join(texts) for task_id, texts in parts.items()}


async def load_transcript(
    queue: TaskQueue, journal: Journal, pending: PendingChangeStore, chat_id: str, before: Task | None
) -> tuple[TranscriptEntry, ...]:
    """Every finished turn of the chat (submitted before ``before`` when given), oldest first."""
    tasks = [
        t
        for t in await queue.list_tasks(chat_id)
        if t.status.is_terminal and (before is None or (t.id != before.id and t.created_at <= before.created_at))
    ]
    if not tasks:
        return ()
    replies = replies_by_task(await journal.list_chat_events(chat_id))
    files: dict[str, list[str]] = defaultdict(list)
    for change in await pending.list_pending_changes(chat_id, status=None):
        if change.task_id is not None:
            files[change.task_id].append(change.path)
    return tuple(
        TranscriptEntry(
            task_id=t.id,
            agent=t.agent,
            prompt=t.prompt,
            reply=replies.get(t.id, ""),
            status=t.status,
            files=tuple(sorted(files.get(t.id, []))),
        )
        for t in tasks
    )
