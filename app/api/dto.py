"""Request bodies (validated, unknown fields refused) and the JSON shapes of responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.model import AgentSession, Chat, OnInterrupt, PendingChange, Task, TaskOrigin


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


def change_json(change: PendingChange) -> dict[str, Any]:
    data = change.model_dump(mode="json")
    data["badge"] = change.agent  # None: a manual edit
    return data
