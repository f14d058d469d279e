"""The Store in this process's memory, for tests that must run in milliseconds: no file, no server, no thread.

It keeps the SQL stores' rules (the contract suites under tests/integration/store run it beside them): a
store-wide journal ``seq``, one running turn per chat, chat leases, history kept with chat_id None when a chat is
deleted. No method awaits anything, so each one runs to its end before any other coroutine does: that is its
transaction, and no lock is needed. The task queue and the journal live in ``memory_turns``, what several nodes
coordinate through in ``memory_nodes``, the tables in ``memory_tables``; this module holds the rest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from adapters.store.memory_arenas import MemoryArenas
from adapters.store.memory_creators import MemoryCreators
from adapters.store.memory_history import MemoryHistory
from adapters.store.memory_nodes import MemoryNodes
from adapters.store.memory_tables import MemoryIntegrityError, MemoryTables, in_utc
from adapters.store.memory_turns import MemoryTurns
from adapters.store.rows import as_utc
from core.model import (
    AgentSession,
    AgentSessionStatus,
    Chat,
    ChatStatus,
    OnInterrupt,
    PendingChange,
    PendingChangeStatus,
    Worktree,
    WorktreeStatus,
)


class MemoryStore(MemoryTurns, MemoryHistory, MemoryNodes, MemoryCreators, MemoryArenas):
    """Implements ``core.ports.store.Store`` in memory; everything is gone when the object is."""

    def __init__(self) -> None:
        self._tables = MemoryTables()
        self._closed = False

    async def ping(self) -> None:
        if self._closed:
            raise RuntimeError("the in-memory store is closed")

    async def close(self) -> None:
        self._closed = True

    # chats
    async def create_chat(self, chat: Chat) -> Chat:
        if chat.id in self._tables.chats:
            raise MemoryIntegrityError(f"chat {chat.id!r} exists already")
        self._tables.chats[chat.id] = in_utc(chat)
        return chat

    async def get_chat(self, chat_id: str) -> Chat | None:
        return self._tables.chats.get(chat_id)

    async def list_chats(self) -> list[Chat]:
        return sorted(self._tables.chats.values(), key=lambda chat: (chat.created_at, chat.id))

    async def close_chat(self, chat_id: str, at: datetime) -> Chat | None:
        chat = self._tables.chats.get(chat_id)
        if chat is None:
            return None
        closed = chat.model_copy(update={"status": ChatStatus.CLOSED, "closed_at": as_utc(at)})
        self._tables.chats[chat_id] = closed
        return closed

    async def set_on_interrupt(self, chat_id: str, on_interrupt: OnInterrupt) -> Chat | None:
        chat = self._tables.chats.get(chat_id)
        if chat is None:
            return None
        changed = chat.model_copy(update={"on_interrupt": on_interrupt})
        self._tables.chats[chat_id] = changed
        return changed

    async def reopen_chat(self, chat_id: str) -> Chat | None:
        chat = self._tables.chats.get(chat_id)
        if chat is None:
            return None
        reopened = chat.model_copy(update={"status": ChatStatus.OPEN, "closed_at": None})
        self._tables.chats[chat_id] = reopened
        return reopened

    async def delete_chat(self, chat_id: str) -> bool:
        if self._tables.chats.pop(chat_id, None) is None:
            return False
        self._tables.forget_chat(chat_id)
        return True

    # worktrees
    async def upsert_worktree(self, worktree: Worktree) -> None:
        self._tables.need_chat(worktree.chat_id)
        trees = self._tables.worktrees
        if worktree.chat_id is not None:
            # at most one row per chat: a chat's worktree recreated at another path replaces the old row
            for path in [p for p, tree in trees.items() if tree.chat_id == worktree.chat_id and p != worktree.path]:
                del trees[path]
        trees[worktree.path] = in_utc(worktree)

    async def get_worktree(self, chat_id: str) -> Worktree | None:
        return next((tree for tree in self._tables.worktrees.values() if tree.chat_id == chat_id), None)

    async def get_chat_and_worktree(self, chat_id: str) -> tuple[Chat | None, Worktree | None]:
        return await self.get_chat(chat_id), await self.get_worktree(chat_id)

    async def list_worktrees(self, status: WorktreeStatus | None = None) -> list[Worktree]:
        found = [tree for tree in self._tables.worktrees.values() if status is None or tree.status == status]
        return sorted(found, key=lambda tree: (tree.created_at, tree.path))

    # agent sessions
    async def get_agent_session(self, chat_id: str, agent: str) -> AgentSession | None:
        return self._tables.sessions.get((chat_id, agent))

    async def upsert_agent_session(self, session: AgentSession) -> None:
        self._tables.need_chat(session.chat_id)
        self._tables.sessions[(session.chat_id, session.agent)] = in_utc(session)

    async def list_agent_sessions(self, chat_id: str) -> list[AgentSession]:
        return sorted((s for (chat, _), s in self._tables.sessions.items() if chat == chat_id), key=lambda s: s.agent)

    async def set_agent_session_status(
        self, chat_id: str, agent: str, status: AgentSessionStatus, at: datetime
    ) -> None:
        session = self._tables.sessions.get((chat_id, agent))
        if session is not None:
            update = {"status": status, "last_used_at": as_utc(at)}
            self._tables.sessions[(chat_id, agent)] = session.model_copy(update=update)

    # pending changes
    async def replace_pending_changes(
        self, chat_id: str, upserts: Sequence[PendingChange], removed_paths: Sequence[str]
    ) -> None:
        self._tables.replace_pending(chat_id, upserts, removed_paths)

    async def list_pending_changes(
        self, chat_id: str, status: PendingChangeStatus | None = PendingChangeStatus.PENDING
    ) -> list[PendingChange]:
        return self._tables.pending_of(chat_id, status)

    async def set_pending_status(
        self, chat_id: str, paths: Sequence[str] | None, status: PendingChangeStatus, at: datetime
    ) -> None:
        """Only rows still pending change status; ``paths`` None means all of the chat's pending rows."""
        pending = self._tables.pending
        for (chat, path), change in list(pending.items()):
            if chat == chat_id and change.status == PendingChangeStatus.PENDING and (paths is None or path in paths):
                pending[(chat, path)] = change.model_copy(update={"status": status, "updated_at": as_utc(at)})

    # idempotency: responses are kept as JSON, so a caller never holds the stored dict itself
    async def recall_idempotent(self, scope: str, key: str) -> dict[str, object] | None:
        body = self._tables.idempotent.get((scope, key))
        return None if body is None else dict(json.loads(body))

    async def remember_idempotent(self, scope: str, key: str, response: dict[str, object]) -> dict[str, object]:
        body = self._tables.idempotent.setdefault((scope, key), json.dumps(response))
        return dict(json.loads(body))
