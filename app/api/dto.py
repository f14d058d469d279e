"""Request bodies (validated, unknown fields refused) and the JSON shapes of responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.events import dump_event
from core.model import AgentSession, Chat, OnInterrupt, PendingChange, StoredEvent, Task, TaskOrigin


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatCreate(Body):
    repo_path: str = Field(min_length=1, max_length=4096)
    ref: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=200)
    # "continue": a turn cut short by an agent crash or a hearth restart is followed by a continuation turn
    on_interrupt: OnInterrupt = OnInterrupt.STOP


class ChatUpdate(Body):
    on_interrupt: OnInterrupt


class TurnSubmit(Body):
    agent: str = Field(min_length=1, max_length=64)
    prompt: str = Field(min_length=1)
    model: str | None = Field(default=None, max_length=200)
    origin: TaskOrigin = TaskOrigin.CHAT


class TaskSubmit(Body):
    repo_path: str = Field(min_length=1, max_length=4096)
    agent: str = Field(min_length=1, max_length=64)
    prompt: str = Field(min_length=1)
    origin: Literal["new_task", "mcp", "arena"]
    creator: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="the chat the task runs in: a chat id, or any key (an MCP client id) whose first task opens it",
    )
    model: str | None = Field(default=None, max_length=200)


class CloseRequest(Body):
    force: bool = False


class PathsRequest(Body):
    # None: every pending change; an empty list is refused (it used to be answered "all" while doing nothing)
    paths: list[str] | None = Field(default=None, min_length=1)


class FileEdit(Body):
    path: str = Field(min_length=1, max_length=4096)
    content: str


class PermissionAnswer(Body):
    option_id: str | None = None  # None rejects


def chat_json(chat: Chat) -> dict[str, Any]:
    return {**chat.model_dump(mode="json"), "url": f"/api/chats/{chat.id}"}


class TurnView(Task):
    """A turn as the API shows it. ``usage`` is null until it finishes, and stays null when its agent reported
    none (Claude Code); ``usage.cost_usd`` is null when the agent stated no cost and no price is configured."""

    url: str
    events_url: str


class CancelView(TurnView):
    cancel: str = Field(description="what the cancel did: dequeued, interrupting or already_finished")


class AgentSessionsView(BaseModel):
    """A chat's agent sessions: a session's ``usage`` sums its turns that reported usage, null while none did."""

    chat_id: str
    sessions: list[AgentSession]
    chips: dict[str, str]
    # per agent, work it left running in the chat's worktree that keeps its session alive (ADR 0015)
    background_work: dict[str, list[str]] = Field(default_factory=dict)


def turn_json(task: Task) -> dict[str, Any]:
    """Built through ``TurnView`` so the OpenAPI document is the shape sent."""
    base = f"/api/chats/{task.chat_id}/turns/{task.id}"
    return TurnView(**dict(task), url=base, events_url=f"{base}/events").model_dump(mode="json")


class ChatView(Chat):
    url: str


class TaskView(BaseModel):
    """A submitted task: its turn (queued, or running when started at once), the chat it runs in, and whether the
    task opened that chat."""

    task: TurnView
    chat: ChatView
    chat_created: bool


def task_json(task: Task, chat: Chat, chat_created: bool) -> dict[str, Any]:
    return {"task": turn_json(task), "chat": chat_json(chat), "chat_created": chat_created}


def change_json(change: PendingChange) -> dict[str, Any]:
    data = change.model_dump(mode="json")
    data["badge"] = change.agent  # None: a manual edit
    return data


class EventView(BaseModel):
    """A journaled event: its place in the journal, the server time it was journaled (null for events journaled
    before hearth 0.3), then the event's own fields (``type`` says which)."""

    model_config = ConfigDict(extra="allow")

    seq: int
    task_id: str
    chat_id: str | None
    journaled_at: datetime | None
    type: str


class EventPage(BaseModel):
    """One page of a journal, oldest first; ``next`` is the URL of the following page (also in the ``Link``
    header), null on the last."""

    events: list[EventView]
    next: str | None


def event_json(row: StoredEvent) -> dict[str, Any]:
    """The wire form of a journaled event (the JSON pages and each SSE message's data)."""
    journaled_at = row.journaled_at.isoformat() if row.journaled_at is not None else None
    return {"seq": row.seq, "task_id": row.task_id, "chat_id": row.chat_id, "journaled_at": journaled_at} | dump_event(
        row.event
    )
