"""Records for the role suites: one fixed instant and builders that fill in what a test does not care about."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import asyncpg

from adapters.store.memory_tables import MemoryIntegrityError
from core.events import TextDelta
from core.model import AgentSession, BackendKind, Chat, PendingChange, Task, Worktree
from core.ports.store import Store

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
# what each store raises for a row its constraints refuse (a missing chat or task, a duplicate id)
REFUSED = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError, MemoryIntegrityError)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def chat(chat_id: str = "c1", **fields: object) -> Chat:
    return Chat.model_validate({"id": chat_id, "repo_path": "/repos/app", "created_at": T0, **fields})


async def chats(store: Store, *ids: str) -> None:
    for chat_id in ids:
        await store.create_chat(chat(chat_id))


def task(task_id: str, chat_id: str | None = "c1", agent: str = "opencode", **fields: object) -> Task:
    return Task.model_validate(
        {"id": task_id, "chat_id": chat_id, "agent": agent, "prompt": f"do {task_id}", "created_at": T0, **fields}
    )


def session(chat_id: str = "c1", agent: str = "opencode", **fields: object) -> AgentSession:
    return AgentSession.model_validate(
        {"chat_id": chat_id, "agent": agent, "backend": BackendKind.OPENCODE_SERVER, "last_used_at": T0, **fields}
    )


def worktree(chat_id: str | None = "c1", path: str = "/wt/c1", **fields: object) -> Worktree:
    return Worktree.model_validate(
        {
            "chat_id": chat_id,
            "repo_path": "/repos/app",
            "path": path,
            "branch": f"hearth/chat-{chat_id}",
            "base_commit": "a" * 40,
            "created_at": T0,
            **fields,
        }
    )


def change(path: str, diff: str = "+x", chat_id: str = "c1", **fields: object) -> PendingChange:
    return PendingChange.model_validate(
        {"chat_id": chat_id, "path": path, "diff": diff, "agent": "opencode", "updated_at": T0, **fields}
    )


def delta(text: str, turn: str = "t1") -> TextDelta:
    return TextDelta(session_id="s1", turn_id=turn, part_id="p1", text=text)
