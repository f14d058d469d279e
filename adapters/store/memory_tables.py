"""The in-memory store's state: one dict or list per SQL table, and the rules several roles share.

Records are kept as the frozen model values and replaced, never mutated, so a value handed to a caller can never
change under it. What a foreign key or a primary key refuses in the SQL stores is refused here too, with
``MemoryIntegrityError``, so a test that passes on this store does not lean on a row the databases would reject.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from adapters.store.rows import as_utc, check_same_chat
from core.arena import Arena
from core.events import parse_event
from core.model import (
    AgentSession,
    Chat,
    ChatStatus,
    Frozen,
    PendingChange,
    PendingChangeStatus,
    ProcessRecord,
    StoredEvent,
    Task,
    TurnRequest,
    Worktree,
)

R = TypeVar("R", bound=Frozen)


class MemoryIntegrityError(ValueError):
    """A write the SQL stores' constraints would refuse (a missing chat or task, a duplicate id)."""


def in_utc(record: R) -> R:
    """The record with every time in UTC, as the SQL stores hand times back whatever offset went in."""
    times = {name: as_utc(value) for name, value in record if isinstance(value, datetime)}
    return record.model_copy(update=times)


@dataclass(frozen=True)
class Lease:
    node_id: str
    expires_at: datetime


@dataclass(frozen=True)
class JournalRow:
    """One journaled event in its JSON form, parsed afresh on every read (as a database row would be), so no
    reader shares a mutable part of an event (a tool call's input) with another."""

    seq: int
    task_id: str
    chat_id: str | None
    body: str
    journaled_at: datetime

    def stored(self) -> StoredEvent:
        event = parse_event(self.body)
        return StoredEvent(
            seq=self.seq, task_id=self.task_id, chat_id=self.chat_id, event=event, journaled_at=self.journaled_at
        )


@dataclass
class MemoryTables:
    chats: dict[str, Chat] = field(default_factory=dict)
    worktrees: dict[str, Worktree] = field(default_factory=dict)  # by path
    sessions: dict[tuple[str, str], AgentSession] = field(default_factory=dict)  # by (chat_id, agent)
    tasks: dict[str, Task] = field(default_factory=dict)  # insertion order is queue order
    journal: list[JournalRow] = field(default_factory=list)  # seq order
    last_seq: int = 0
    replies: dict[str, str] = field(default_factory=dict)  # a finished turn's visible text, by task id
    pending: dict[tuple[str, str], PendingChange] = field(default_factory=dict)  # by (chat_id, path)
    leases: dict[str, Lease] = field(default_factory=dict)  # by chat_id
    turn_requests: list[TurnRequest] = field(default_factory=list)  # oldest first
    idempotent: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, key) -> JSON response
    processes: dict[tuple[str, str, int], ProcessRecord] = field(default_factory=dict)  # by (node_id, key, pid)
    creators: dict[str, str] = field(default_factory=dict)  # creator key -> chat_id
    arenas: dict[str, Arena] = field(default_factory=dict)  # insertion order is creation order

    def need_chat(self, chat_id: str | None) -> None:
        if chat_id is not None and chat_id not in self.chats:
            raise MemoryIntegrityError(f"no chat {chat_id!r}")

    def need_task(self, task_id: str | None) -> None:
        if task_id is not None and task_id not in self.tasks:
            raise MemoryIntegrityError(f"no task {task_id!r}")

    def pending_of(self, chat_id: str, status: PendingChangeStatus | None) -> list[PendingChange]:
        found = [
            change
            for (chat, _), change in self.pending.items()
            if chat == chat_id and (status is None or change.status == status)
        ]
        return sorted(found, key=lambda change: change.path)

    def replace_pending(self, chat_id: str, upserts: Sequence[PendingChange], removed_paths: Sequence[str]) -> None:
        check_same_chat(chat_id, upserts)
        self.need_chat(chat_id)
        for change in upserts:
            self.need_task(change.task_id)
        self.pending.update(((chat_id, change.path), in_utc(change)) for change in upserts)
        for path in removed_paths:
            self.pending.pop((chat_id, path), None)

    def leased_elsewhere(self, chat_id: str, node_id: str, at: datetime) -> bool:
        held = self.leases.get(chat_id)
        return held is not None and held.node_id != node_id and held.expires_at > at

    def take_lease(self, chat_id: str, node_id: str, at: datetime, until: datetime, *, open_only: bool = False) -> bool:
        """Lease an existing (with ``open_only``, open) chat to ``node_id`` unless another node holds it at ``at``."""
        chat = self.chats.get(chat_id)
        if chat is None or (open_only and chat.status != ChatStatus.OPEN):
            return False
        if self.leased_elsewhere(chat_id, node_id, at):
            return False
        self.leases[chat_id] = Lease(node_id, as_utc(until))
        return True

    def append_event(self, task_id: str, chat_id: str | None, body: dict[str, object]) -> JournalRow:
        self.last_seq += 1
        row = JournalRow(self.last_seq, task_id, chat_id, json.dumps(body), datetime.now(UTC))
        self.journal.append(row)
        return row

    def forget_chat(self, chat_id: str) -> None:
        """What ON DELETE does in the SQL stores: history keeps its rows with chat_id None, the chat's own state
        (agent sessions, pending changes, its lease) goes with it."""
        self.tasks = {
            key: task.model_copy(update={"chat_id": None}) if task.chat_id == chat_id else task
            for key, task in self.tasks.items()
        }
        self.journal = [
            JournalRow(row.seq, row.task_id, None, row.body, row.journaled_at) if row.chat_id == chat_id else row
            for row in self.journal
        ]
        self.worktrees = {
            path: tree.model_copy(update={"chat_id": None}) if tree.chat_id == chat_id else tree
            for path, tree in self.worktrees.items()
        }
        self.sessions = {key: value for key, value in self.sessions.items() if key[0] != chat_id}
        self.pending = {key: value for key, value in self.pending.items() if key[0] != chat_id}
        self.leases.pop(chat_id, None)
        self.creators = {key: value for key, value in self.creators.items() if value != chat_id}
        self.arenas = {
            key: arena.model_copy(update={"chat_id": None}) if arena.chat_id == chat_id else arena
            for key, arena in self.arenas.items()
        }
