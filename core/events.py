"""The normalized AgentEvent union: what every backend's stream is mapped to.

Every event names the backend session it came from and hearth's turn (task) id, so a subscriber can
tell turns apart and a mapper can prove it never mixes sessions. Events are frozen pydantic models
discriminated by ``type``; ``parse_event`` and ``dump_event`` are the storage/wire form.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeGuard, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

ToolStatus = Literal["pending", "running", "completed", "failed"]
PermissionKind = Literal["allow_once", "allow_always", "reject_once", "reject_always"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    session_id: str
    turn_id: str


class TextDelta(_Event):
    type: Literal["text_delta"] = "text_delta"
    part_id: str
    text: str


class ReasoningDelta(_Event):
    type: Literal["reasoning_delta"] = "reasoning_delta"
    part_id: str
    text: str


class ToolCall(_Event):
    """The current state of one tool call; later events with the same id replace earlier ones (upsert)."""

    type: Literal["tool_call"] = "tool_call"
    tool_call_id: str
    name: str
    status: ToolStatus
    title: str | None = None
    input: dict[str, Any] | None = None
    output: str | None = None


class PermissionOption(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    option_id: str
    kind: PermissionKind
    name: str


class PermissionRequest(_Event):
    type: Literal["permission_request"] = "permission_request"
    request_id: str
    tool_call_id: str | None = None
    title: str
    options: tuple[PermissionOption, ...] = ()


class PermissionResolved(_Event):
    type: Literal["permission_resolved"] = "permission_resolved"
    request_id: str
    outcome: str  # the chosen option kind, or "rejected" / "timed_out"
    reason: str | None = None  # why hearth answered it itself (auto refusal outside the worktree, timeout)


class UsageReport(_Event):
    """Usage to *add* to this turn's total (an increment, never a running total)."""

    type: Literal["usage"] = "usage"
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0


class Retry(_Event):
    """The backend is retrying the LLM call (e.g. after a 5xx); surfaced so nobody stares at silence."""

    type: Literal["retry"] = "retry"
    attempt: int
    message: str


class ContextReset(_Event):
    """The agent could not resume its session and starts a new one: history came only via the preamble."""

    type: Literal["context_reset"] = "context_reset"
    reason: str


class StoppedProcess(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    pid: int
    command: str


class BackgroundStopped(_Event):
    """The memory budget evicted this agent although work it had left running outlived its grace, and stopped that
    work. Journaled on the chat under the turn that started it, after that turn's end, so the chat's stream and
    journal show what was killed (a turn's own stream has already ended by then)."""

    type: Literal["background_stopped"] = "background_stopped"
    agent: str
    reason: str
    processes: tuple[StoppedProcess, ...] = ()


class Waiting(_Event):
    """The turn waits before its agent can start, and says for what (room under the memory budget); its next
    events follow once it may go on, or its ``turn_failed`` says it could not."""

    type: Literal["waiting"] = "waiting"
    reason: str  # e.g. "memory budget: needs 268 MiB, 12 MiB free"
    needs_bytes: int = 0
    free_bytes: int = 0


class TurnCompleted(_Event):
    type: Literal["turn_completed"] = "turn_completed"
    stop_reason: str = "end_turn"


class TurnFailed(_Event):
    type: Literal["turn_failed"] = "turn_failed"
    error: str


class TurnCancelled(_Event):
    type: Literal["turn_cancelled"] = "turn_cancelled"
    reason: str = "cancelled by request"


AgentEvent = Annotated[
    TextDelta
    | ReasoningDelta
    | ToolCall
    | PermissionRequest
    | PermissionResolved
    | UsageReport
    | Retry
    | ContextReset
    | BackgroundStopped
    | Waiting
    | TurnCompleted
    | TurnFailed
    | TurnCancelled,
    Field(discriminator="type"),
]
# The events that end a turn: each turn's stream has exactly one, and it is the last.
TerminalEvent = TurnCompleted | TurnFailed | TurnCancelled
# Their ``type`` values, for code that reads the JSON form (SSE clients) rather than parsed events.
TERMINAL_EVENT_TYPES: frozenset[str] = frozenset(kind.model_fields["type"].default for kind in get_args(TerminalEvent))

_ADAPTER: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)


def is_terminal(event: AgentEvent) -> TypeGuard[TerminalEvent]:
    return isinstance(event, TerminalEvent)


def parse_event(data: dict[str, Any] | str | bytes) -> AgentEvent:
    if isinstance(data, dict):
        return _ADAPTER.validate_python(data)
    return _ADAPTER.validate_json(data)


def dump_event(event: AgentEvent) -> dict[str, Any]:
    return event.model_dump(mode="json")
