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

from core.events import AgentEvent
from core.model import (
    AgentSession,
    AgentSessionStatus,
    Chat,
    OnInterrupt,
    PendingChange,
    PendingChangeStatus,
    ProcessRecord,
    StoredEvent,
    Task,
    TaskStatus,
    TurnHistory,
    TurnRequest,
    Usage,
    Worktree,
    WorktreeStatus,
)
from core.ports.arenas import ArenaStore


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


class TaskQueue(Protocol):
    """Turns (tasks): queued, claimed by one node, finished once."""

    async def enqueue_task(self, task: Task) -> Task: ...
    async def get_task(self, task_id: str) -> Task | None: ...
    async def list_tasks(self, chat_id: str, limit: int = 200) -> list[Task]:
        """The newest ``limit`` turns of the chat, oldest first."""
        ...

    async def page_tasks(
        self, chat_id: str, *, after: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[Task]:
        """One page of the chat's turns in queue order, oldest first, strictly between the turns ``after`` and
        ``before`` (turn ids of this chat): with ``after`` the oldest ``limit`` of them, else the newest."""
        ...

    async def claim_next_task(
        self, node_id: str, at: datetime, skip_chats: Sequence[str] = (), lease_until: datetime | None = None
    ) -> Task | None:
        """Atomically move the oldest queued task of a chat with nothing running to ``running``.

        Chat-less tasks are always runnable. Never returns a task twice, across connections and nodes. A chat
        leased to another node (its lease not expired at ``at``) is not claimed; with ``lease_until`` the claimed
        task's chat is leased to ``node_id`` until then, in the same transaction.
        """
        ...

    async def finish_task(
        self,
        task_id: str,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None = None,
    ) -> Task:
        """Terminal status plus usage added to the (chat, agent) session, turn counted, session idle: one tx.

        ``usage`` None: the agent reported none; the task keeps None and the session's usage is unchanged.
        A task whose origin is not ``chat`` ran one-shot: the (chat, agent) session is left as it was.
        ``reply`` is the turn's visible text, kept for the handoff (None: read from its events when needed)."""
        ...

    async def finish_turn(
        self,
        task_id: str,
        chat_id: str | None,
        status: TaskStatus,
        error: str | None,
        usage: Usage | None,
        at: datetime,
        reply: str | None,
        terminal: AgentEvent,
    ) -> tuple[Task, list[StoredEvent]]:
        """``finish_task``, then the turn's terminal event journaled, in one transaction: a reader never sees the
        event before the final state. The event is journaled only when this call finished the task (a repeat after
        a commit whose answer was lost, or a turn someone else finished, journals nothing); its stored rows are
        returned."""
        ...

    async def cancel_queued_task(self, task_id: str, at: datetime) -> Task | None:
        """queued -> cancelled atomically; None when the task was no longer queued."""
        ...

    async def fail_running_tasks(self, reason: str, at: datetime, node_id: str | None = None) -> list[Task]:
        """Startup recovery: every task left ``running`` (by this node, or by anyone when node_id is None)."""
        ...

    async def count_tasks_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks (chat-less and deleted chats' included) are in each status; every status is a key."""
        ...


class Journal(Protocol):
    """The turn journal: every event of every turn, in one store-wide order."""

    async def append_events(self, task_id: str, chat_id: str | None, events: Sequence[AgentEvent]) -> list[StoredEvent]:
        """Appends in order; returns the stored rows with their store-wide increasing ``seq``."""
        ...

    async def list_events(
        self, task_id: str, after_seq: int = 0, *, before_seq: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        """The turn's events with ``after_seq < seq < before_seq``, oldest first; with a ``limit``, the oldest
        ``limit`` of them, or the newest when ``after_seq`` is 0 and ``before_seq`` is given (paging back)."""
        ...

    async def list_chat_events(
        self, chat_id: str, after_seq: int = 0, *, before_seq: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        """As ``list_events``, for every turn of the chat."""
        ...


class HistoryStore(Protocol):
    """What a turn hands its agent about the chat so far, read in bounded queries whatever the chat's length."""

    async def turn_history(
        self, chat_id: str, *, before: str | None, limit: int, since_agent: str | None = None
    ) -> TurnHistory:
        """The newest ``limit`` finished turns of the chat queued before turn ``before`` (every one when None),
        with their replies and files; with ``since_agent`` only those after that agent's last finished turn there
        (its cursor). ``earlier`` counts the finished turns of that range the window leaves out. One transaction."""
        ...

    async def agents_with_finished_turns(self, chat_id: str) -> set[str]:
        """The agents that finished at least one turn in the chat."""
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
