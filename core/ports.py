"""The ports: Protocols the shell implements and the app drives.

Adapters implement these structurally (no inheritance needed). Expected failures come back as
``Result[..., DomainError]``; an exception from an adapter means infrastructure broke (disk, network,
database gone) and is handled by the app as such.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from returns.result import Result

from core.agents import ProviderConfig
from core.errors import DomainError
from core.events import AgentEvent
from core.model import (
    AgentSession,
    AgentSessionStatus,
    BackendKind,
    Chat,
    FileDiff,
    Frozen,
    PendingChange,
    PendingChangeStatus,
    Preflight,
    ProcessRecord,
    StoredEvent,
    Task,
    TaskStatus,
    TranscriptEntry,
    TurnRequest,
    Usage,
    Worktree,
    WorktreeStatus,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware wall time (UTC)."""
        ...

    def monotonic(self) -> float: ...


class Store(Protocol):
    """Everything hearth remembers. Each method is one atomic transaction."""

    async def ping(self) -> None: ...
    async def close(self) -> None: ...

    # chats
    async def create_chat(self, chat: Chat) -> Chat: ...
    async def get_chat(self, chat_id: str) -> Chat | None: ...
    async def list_chats(self) -> list[Chat]: ...
    async def close_chat(self, chat_id: str, at: datetime) -> Chat | None: ...
    async def delete_chat(self, chat_id: str) -> bool:
        """Deletes the chat row; tasks, events, worktree rows keep their history with chat_id NULL."""
        ...

    # worktrees (keyed by path; at most one per chat)
    async def upsert_worktree(self, worktree: Worktree) -> None: ...
    async def get_worktree(self, chat_id: str) -> Worktree | None: ...
    async def list_worktrees(self, status: WorktreeStatus | None = None) -> list[Worktree]: ...

    # agent sessions, unique per (chat_id, agent)
    async def get_agent_session(self, chat_id: str, agent: str) -> AgentSession | None: ...
    async def upsert_agent_session(self, session: AgentSession) -> None: ...
    async def list_agent_sessions(self, chat_id: str) -> list[AgentSession]: ...
    async def set_agent_session_status(
        self, chat_id: str, agent: str, status: AgentSessionStatus, at: datetime
    ) -> None: ...

    # tasks (turns)
    async def enqueue_task(self, task: Task) -> Task: ...
    async def get_task(self, task_id: str) -> Task | None: ...
    async def list_tasks(self, chat_id: str, limit: int = 200) -> list[Task]:
        """Oldest first."""
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

    # chat leases: a chat's live agents belong to one node at a time
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

    async def finish_task(
        self, task_id: str, status: TaskStatus, error: str | None, usage: Usage, at: datetime
    ) -> Task:
        """Terminal status plus usage added to the (chat, agent) session, turn counted, session idle: one tx."""
        ...

    async def cancel_queued_task(self, task_id: str, at: datetime) -> Task | None:
        """queued -> cancelled atomically; None when the task was no longer queued."""
        ...

    async def fail_running_tasks(self, reason: str, at: datetime, node_id: str | None = None) -> list[Task]:
        """Startup recovery: every task left ``running`` (by this node, or by anyone when node_id is None)."""
        ...

    async def relay_turn_request(self, request: TurnRequest, at: datetime) -> str | None:
        """Queue ``request`` for the node running its turn: that node's id, or None when the turn is not running."""
        ...

    async def take_turn_requests(self, node_id: str) -> list[TurnRequest]:
        """Remove and return, oldest first, the requests for turns running on ``node_id``; requests for turns that
        are over are dropped."""
        ...

    async def count_tasks_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks (chat-less and deleted chats' included) are in each status; every status is a key."""
        ...

    # the turn journal
    async def append_events(self, task_id: str, chat_id: str | None, events: Sequence[AgentEvent]) -> list[StoredEvent]:
        """Appends in order; returns the stored rows with their store-wide increasing ``seq``."""
        ...

    async def list_events(self, task_id: str, after_seq: int = 0) -> list[StoredEvent]: ...
    async def list_chat_events(self, chat_id: str, after_seq: int = 0) -> list[StoredEvent]: ...

    # pending changes: one row per (chat_id, path)
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

    # idempotency keys for mutating requests
    async def recall_idempotent(self, scope: str, key: str) -> dict[str, object] | None: ...
    async def remember_idempotent(self, scope: str, key: str, response: dict[str, object]) -> dict[str, object]:
        """Insert if absent; returns whichever response is stored (the first one wins)."""
        ...

    # processes this hearth spawned (adopted or stopped by the next start, never anyone else's)
    async def record_process(self, record: ProcessRecord) -> None: ...
    async def list_processes(self, node_id: str) -> list[ProcessRecord]: ...
    async def forget_process(self, key: str, pid: int) -> None: ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Single-leader section: yields True for exactly one holder cluster-wide (always True on SQLite)."""
        ...


class Worktrees(Protocol):
    """One git worktree per chat, on branch ``hearth/chat-<id>``. Blocking git work runs off the loop."""

    async def validate_repo(self, repo_path: str) -> Result[str, DomainError]:
        """Resolved absolute path of a usable repository inside the configured roots, or why not."""
        ...

    async def ensure(
        self, chat_id: str, repo_path: str, ref: str | None, existing: Worktree | None, at: datetime
    ) -> Result[Worktree, DomainError]:
        """Create once (recording base_commit), reuse after, recreate from the branch if the dir vanished."""
        ...

    async def diff(self, worktree: Worktree) -> Result[list[FileDiff], DomainError]: ...
    async def apply(self, worktree: Worktree, paths: Sequence[str] | None) -> Result[Worktree, DomainError]:
        """All or nothing into the repo's own checkout, then re-baseline: the returned row has the new base."""
        ...

    async def discard(self, worktree: Worktree, paths: Sequence[str] | None) -> Result[Worktree, DomainError]: ...
    async def write_file(self, worktree: Worktree, path: str, content: str) -> Result[None, DomainError]: ...
    async def preflight(self, worktree: Worktree, unapplied_changes: int) -> Preflight: ...
    async def soft_delete(self, worktree: Worktree, at: datetime) -> Result[Worktree, DomainError]:
        """Snapshot to refs/hearth/snapshots/<chat>/<ts>, then remove dir, admin entry, branch. Idempotent."""
        ...

    async def restore(self, worktree: Worktree, at: datetime) -> Result[Worktree, DomainError]: ...
    async def expire_snapshots(self, repo_path: str, older_than: datetime) -> list[str]: ...


class SessionSpec(Frozen):
    chat_id: str | None
    agent: str
    cwd: str  # the chat worktree (absolute)
    resume_id: str | None = None  # the stored backend session id, if any


class TurnInput(Frozen):
    turn_id: str
    prompt: str  # already prefixed with the handoff preamble when one is due
    transcript: tuple[TranscriptEntry, ...] = ()  # the whole chat so far (the native agent's history)
    model: str | None = None  # this turn's model (checked by core.agents.check_turn_model); None: the default


class ProcessInfo(Frozen):
    key: str
    pid: int
    agent: str


class SessionHandle(Protocol):
    """A live session of one agent in one chat."""

    @property
    def backend_session_id(self) -> str: ...

    @property
    def resumed(self) -> bool:
        """True when the stored session was resumed rather than created."""
        ...

    @property
    def context_reset_reason(self) -> str | None:
        """Why a stored session could not be resumed (a new one was made), else None."""
        ...

    def run_turn(self, turn: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        """Streams the turn's events; the last one is terminal (completed, failed or cancelled).

        An async generator, so a consumer that stops early can ``aclose()`` it (contextlib.aclosing).
        """
        ...

    async def cancel(self) -> None:
        """Interrupt the running turn (abort / session/cancel). Never kills the agent process."""
        ...

    async def answer_permission(self, request_id: str, option_id: str | None) -> bool:
        """None rejects. False when no such request is waiting."""
        ...

    def is_alive(self) -> bool: ...
    async def close(self) -> None:
        """Release the session (evict/close). Disposes per-directory resources when nothing else uses them."""
        ...


class AgentBackend(Protocol):
    kind: BackendKind

    async def open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]: ...
    async def health(self) -> dict[str, object]: ...
    def processes(self) -> list[ProcessInfo]: ...
    def wants_drain(self) -> bool:
        """Its process keeps so many sessions hearth let go of that it should be emptied (core.lifecycle
        ``recycle_step``): the pool then evicts this agent's idle handles, each resuming on its next turn, and the
        backend stops the emptied process to give its memory back. False where closing a session frees it."""
        ...

    async def restart(self, reason: str) -> None:
        """Stop the agent's process(es) (SIGTERM, bounded wait, SIGKILL) so the next open_session respawns and
        resumes; counts as a crash for the crash budget (core.lifecycle ``TurnStalled``). The turn watchdog calls
        it when a busy turn stayed silent through a probe and a cancel; ``reason`` says so."""
        ...

    async def aclose(self) -> None:
        """Stop every process this backend started and wait for them."""
        ...


class ProcessRegistry(Protocol):
    """Where backends record the processes they spawn (the Store implements it)."""

    async def record_process(self, record: ProcessRecord) -> None: ...
    async def list_processes(self, node_id: str) -> list[ProcessRecord]: ...
    async def forget_process(self, key: str, pid: int) -> None: ...


class BackendRuntime(Frozen):
    """What every backend is constructed with, besides its AgentSpec, the registry and a clock."""

    data_dir: str  # the backend keeps its state under data_dir/agents/<agent name>
    agents_dir: str  # hearth's npm cache (node_modules inside)
    node_id: str
    provider: ProviderConfig
    permission_timeout_s: float = 300.0
    health_interval_s: float = 15.0
    health_timeout_s: float = 5.0
    llm_retry_limit: int = 3
    acp_recycle_mib: int = 512  # memory a warm ACP process may hold for sessions hearth let go of (then recycled)


class EventBus(Protocol):
    """Fans stored events out to live subscribers of a chat (in process, or LISTEN/NOTIFY across nodes)."""

    async def publish(self, event: StoredEvent) -> None: ...
    def subscribe(self, chat_id: str) -> AbstractAsyncContextManager[AsyncIterator[StoredEvent]]: ...
    async def announce_work(self) -> None:
        """A turn was queued or a request relayed: every node's ``on_work`` callbacks run (best effort: nodes also
        poll)."""
        ...

    def on_work(self, wake: Callable[[], None]) -> None: ...
