"""Domain records and statuses: plain frozen values that every layer passes around.

Ids are strings made by the shell (the core never draws random numbers); times are timezone-aware
datetimes handed in by the caller, never read from a clock here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from core.events import AgentEvent


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChatStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OnInterrupt(StrEnum):
    """What follows a turn cut short by an agent crash or a hearth restart (never one the user cancelled)."""

    STOP = "stop"  # the turn stays failed
    CONTINUE = "continue"  # a linked continuation turn asks the agent to carry on (core.continuation)


class WorktreeStatus(StrEnum):
    ACTIVE = "active"
    DELETING = "deleting"  # soft delete started; the reconciler finishes it after a crash
    ARCHIVED = "archived"  # snapshot taken, directory, admin entry and branch removed


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class TaskOrigin(StrEnum):
    CHAT = "chat"
    ARENA = "arena"
    MCP = "mcp"
    NEW_TASK = "new_task"


class AgentSessionStatus(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    EVICTED = "evicted"  # handle dropped by idle TTL / LRU; the next turn reattaches
    CRASHED = "crashed"  # process or server died; the next turn respawns and resumes
    CLOSED = "closed"  # chat closed; never resumed again


class BackendKind(StrEnum):
    OPENCODE_SERVER = "opencode-server"
    WARM_ACP = "warm-acp"
    ONE_SHOT = "one-shot"
    NATIVE = "native"


class PendingChangeStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    DISCARDED = "discarded"


class Usage(Frozen):
    """Usage an agent reported (records hold ``None`` where it reported none: unknown, not zero)."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None  # None: the agent stated no cost and no price is configured

    def __add__(self, other: Usage) -> Usage:
        costs = [cost for cost in (self.cost_usd, other.cost_usd) if cost is not None]
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=sum(costs) if costs else None,
        )


class Chat(Frozen):
    id: str
    repo_path: str
    ref: str | None = None
    title: str | None = None
    status: ChatStatus = ChatStatus.OPEN
    created_at: datetime
    closed_at: datetime | None = None
    on_interrupt: OnInterrupt = OnInterrupt.STOP


class Worktree(Frozen):
    chat_id: str | None  # None once the chat row is deleted (history survives, ON DELETE SET NULL)
    repo_path: str
    path: str
    branch: str
    base_commit: str
    status: WorktreeStatus = WorktreeStatus.ACTIVE
    created_at: datetime
    archived_at: datetime | None = None
    snapshot_ref: str | None = None


class AgentSession(Frozen):
    chat_id: str
    agent: str
    backend: BackendKind
    backend_session_id: str | None = None
    status: AgentSessionStatus = AgentSessionStatus.IDLE
    turns: int = 0
    usage: Usage | None = None  # the sum over its turns that reported usage; None while none did
    last_used_at: datetime
    node_id: str | None = None


class Task(Frozen):
    """One turn: a prompt to one agent in one chat, queued until the dispatcher claims it."""

    id: str
    chat_id: str | None  # None for chat-less one-shot work, and after the chat is deleted
    agent: str
    origin: TaskOrigin = TaskOrigin.CHAT
    status: TaskStatus = TaskStatus.QUEUED
    prompt: str
    model: str | None = None
    error: str | None = None
    usage: Usage | None = None  # None: not finished, or the agent reported no usage (e.g. Claude Code)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    node_id: str | None = None
    continues: str | None = None  # the interrupted turn this one continues (core.continuation)


class PendingChange(Frozen):
    """The latest diff of one file of a chat's worktree against base_commit."""

    chat_id: str
    path: str
    diff: str
    agent: str | None  # None: a manual edit through the API
    contributors: tuple[str, ...] = ()  # every agent that touched the file since the last apply
    status: PendingChangeStatus = PendingChangeStatus.PENDING
    task_id: str | None = None
    updated_at: datetime


class FileDiff(Frozen):
    """One file of a worktree diff, as the worktree port reports it."""

    path: str
    diff: str  # unified diff of this one file ("" for a pure mode change is never produced)
    status: str  # added | modified | deleted | renamed | typechange
    old_path: str | None = None
    binary: bool = False


class ProcessRecord(Frozen):
    """An agent process hearth spawned, so a later hearth can adopt or stop it (never another's)."""

    key: str  # e.g. "opencode-server" or "acp:qwen:<n>"
    pid: int
    port: int | None = None
    started_at: datetime
    node_id: str
    command: str


class TurnRequestKind(StrEnum):
    CANCEL = "cancel"
    PERMISSION = "permission"


class TurnRequest(Frozen):
    """What a client asked of a turn through another node's API, relayed to the node running it."""

    task_id: str
    kind: TurnRequestKind
    request_id: str | None = None  # permission: which question
    option_id: str | None = None  # permission: the chosen option; None rejects


class Preflight(Frozen):
    """What deleting a worktree would lose. ``errors`` lists what could not be inspected: unknown is not clean."""

    dirty_files: tuple[str, ...] = ()
    unpushed_commits: int = 0
    unapplied_changes: int = 0
    errors: tuple[str, ...] = ()


class StoredEvent(Frozen):
    """An AgentEvent as journaled: ``seq`` is store-wide and increasing, so it orders a turn and a chat."""

    seq: int
    task_id: str
    chat_id: str | None
    event: AgentEvent
    journaled_at: datetime | None = None  # the server's time when it was stored; None for rows older than schema v4


class TranscriptEntry(Frozen):
    """One finished turn of a chat, as later agents see it (history for native, preamble for others)."""

    task_id: str
    agent: str
    prompt: str
    reply: str
    status: TaskStatus
    files: tuple[str, ...] = ()


class TurnHistory(Frozen):
    """A bounded window of a chat's finished turns, oldest first, and how many finished turns of the same range
    came before it and were left out of the window (the store counts them, it does not read them)."""

    entries: tuple[TranscriptEntry, ...] = ()
    earlier: int = 0
