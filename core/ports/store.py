"""What hearth remembers, as role ports: each consumer is handed only the roles it uses.

One adapter class per database (SQLite, PostgreSQL, and the in-memory one of the fast tests) implements every
role; ``Store`` names them all for the composition root and the contract suites. Each method is one atomic
transaction. Expected refusals are values or ``None``; an exception means the store itself broke (disk full,
connection lost) and the caller treats it as infrastructure failing. When the database is out of reach for a
while (unwritable, locked too long, refusing connections) every adapter raises ``StoreUnavailable``, so the app
can answer 503 and retry without knowing which database it runs on.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from core.model import (
    AgentSession,
    AgentSessionStatus,
    Chat,
    OnInterrupt,
    PendingChange,
    PendingChangeStatus,
    ProcessRecord,
    Task,
    TurnRequest,
    Worktree,
    WorktreeStatus,
)
from core.ports.arenas import ArenaStore

# The turn roles live in their own module; importers keep naming them from here.
from core.ports.turns import Claimed as Claimed
from core.ports.turns import ClaimFor as ClaimFor
from core.ports.turns import HistoryStore as HistoryStore
from core.ports.turns import Journal as Journal
from core.ports.turns import TaskQueue as TaskQueue


class StoreUnavailable(Exception):
    """The database cannot be reached or written now (a fault that may heal); the message names the cause.

    The transaction that raised it changed nothing (or, on a connection lost at commit, may have committed).
    """


class ChatStore(Protocol):
    async def create_chat(self, chat: Chat) -> Chat: ...
    async def get_chat(self, chat_id: str) -> Chat | None: ...
    async def list_chats(self) -> list[Chat]: ...
    async def close_chat(self, chat_id: str, at: datetime) -> Chat | None: ...
    async def set_on_interrupt(self, chat_id: str, on_interrupt: OnInterrupt) -> Chat | None:
        """What follows this chat's interrupted turns from now on; None when there is no such chat."""
        ...

    async def reopen_chat(self, chat_id: str) -> Chat | None:
        """Open again (status open, no ``closed_at``): a closed chat whose worktree was restored takes turns."""
        ...

    async def delete_chat(self, chat_id: str) -> bool:
        """Deletes the chat row; tasks, events, worktree rows keep their history with chat_id NULL."""
        ...


class WorktreeStore(Protocol):
    """Worktree rows, keyed by path; at most one per chat."""

    async def upsert_worktree(self, worktree: Worktree) -> None: ...
    async def get_worktree(self, chat_id: str) -> Worktree | None: ...
    async def list_worktrees(self, status: WorktreeStatus | None = None) -> list[Worktree]: ...
    async def get_chat_and_worktree(self, chat_id: str) -> tuple[Chat | None, Worktree | None]:
        """The chat and its worktree row read together (one round trip, one snapshot): what a turn starts from."""
        ...


class AgentSessionStore(Protocol):
    """Agent sessions, unique per (chat_id, agent)."""

    async def get_agent_session(self, chat_id: str, agent: str) -> AgentSession | None: ...
    async def upsert_agent_session(self, session: AgentSession) -> None: ...
    async def list_agent_sessions(self, chat_id: str) -> list[AgentSession]: ...
    async def set_agent_session_status(
        self, chat_id: str, agent: str, status: AgentSessionStatus, at: datetime
    ) -> None: ...


class ChatCreators(Protocol):
    """Creator keys: work from outside a chat (a task, an MCP client) names a creator, which owns one chat."""

    async def resolve_creator_chat(self, creator: str, candidate: Chat) -> tuple[Chat, bool]:
        """The open chat ``creator`` maps to, or else ``candidate`` created and mapped to it (True: created), in one
        transaction: concurrent calls with one key create exactly one chat. A key whose chat was closed or deleted
        is mapped to ``candidate``."""
        ...


class PendingChangeStore(Protocol):
    """Pending changes: one row per (chat_id, path)."""

    async def replace_pending_changes(
        self, chat_id: str, upserts: Sequence[PendingChange], removed_paths: Sequence[str]
    ) -> None: ...
    async def list_pending_changes(
        self, chat_id: str, status: PendingChangeStatus | None = PendingChangeStatus.PENDING
    ) -> list[PendingChange]: ...
    async def set_pending_status(
        self, chat_id: str, paths: Sequence[str] | None, status: PendingChangeStatus, at: datetime
    ) -> None:
        """paths None means every pending change of the chat."""
        ...


class LeaseStore(Protocol):
    """Chat leases: a chat's live agents belong to one node at a time."""

    async def renew_chat_leases(
        self, node_id: str, chat_ids: Sequence[str], at: datetime, until: datetime
    ) -> list[str]:
        """Lease ``chat_ids`` to ``node_id`` until ``until`` where nobody else holds an unexpired lease at ``at``.

        Returns the chats it could not lease (another node holds them, or they were closed or deleted), sorted, so
        this node lets go of its agents there. Its leases on other chats are left to expire.
        """
        ...

    async def release_chat_leases(self, node_id: str) -> None:
        """Graceful shutdown: every lease of ``node_id`` ends now, so other nodes take its chats at once."""
        ...

    async def take_over_abandoned_chats(self, node_id: str, reason: str, at: datetime, until: datetime) -> list[Task]:
        """Chats whose lease expired at ``at`` while its node still had a turn running there: that turn fails
        with ``reason`` (``{node}`` replaced by the lost node's id) and the lease passes to ``node_id`` until
        ``until``, so the old node learns at its next renewal that the chat is gone. Returns the failed tasks."""
        ...


class TurnRequestRelay(Protocol):
    """Cancels and permission answers that reached one node's API, for the node running the turn."""

    async def relay_turn_request(self, request: TurnRequest, at: datetime) -> str | None:
        """Queue ``request`` for the node running its turn: that node's id, or None when the turn is not running."""
        ...

    async def take_turn_requests(self, node_id: str) -> list[TurnRequest]:
        """Remove and return, oldest first, the requests for turns running on ``node_id``; requests for turns that
        are over are dropped."""
        ...


class IdempotencyStore(Protocol):
    """The first response to each ``Idempotency-Key`` of a mutating request."""

    async def recall_idempotent(self, scope: str, key: str) -> dict[str, object] | None: ...
    async def remember_idempotent(self, scope: str, key: str, response: dict[str, object]) -> dict[str, object]:
        """Insert if absent; returns whichever response is stored (the first one wins)."""
        ...


class ProcessRegistry(Protocol):
    """Processes this hearth spawned (adopted or stopped by the next start, never anyone else's)."""

    async def record_process(self, record: ProcessRecord) -> None: ...
    async def list_processes(self, node_id: str) -> list[ProcessRecord]: ...
    async def forget_process(self, key: str, pid: int) -> None: ...


class Leadership(Protocol):
    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Single-leader section: yields True for exactly one holder cluster-wide (always True on SQLite)."""
        ...


class StoreConnection(Protocol):
    async def ping(self) -> None:
        """Raises when the store cannot be reached."""
        ...

    async def close(self) -> None: ...


class Store(
    ChatStore,
    ChatCreators,
    ArenaStore,
    WorktreeStore,
    AgentSessionStore,
    TaskQueue,
    Journal,
    HistoryStore,
    PendingChangeStore,
    LeaseStore,
    TurnRequestRelay,
    IdempotencyStore,
    ProcessRegistry,
    Leadership,
    StoreConnection,
    Protocol,
):
    """Every role: what one store adapter implements, and only the composition root holds."""
