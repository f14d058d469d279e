from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.events import (
    TERMINAL_EVENT_TYPES,
    AgentEvent,
    BackgroundStopped,
    ContextReset,
    PermissionRequest,
    PermissionResolved,
    ReasoningDelta,
    Retry,
    StoppedProcess,
    TextDelta,
    ToolCall,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    UsageReport,
    Waiting,
    dump_event,
    is_terminal,
    parse_event,
)


def test_event_round_trips_through_its_stored_form() -> None:
    event = ToolCall(session_id="s", turn_id="t", tool_call_id="c1", name="write", status="running", input={"a": 1})
    assert parse_event(dump_event(event)) == event


def test_terminal_events_are_recognised() -> None:
    assert is_terminal(TurnCompleted(session_id="s", turn_id="t"))
    assert is_terminal(TurnFailed(session_id="s", turn_id="t", error="boom"))
    assert not is_terminal(ToolCall(session_id="s", turn_id="t", tool_call_id="c", name="x", status="pending"))


def test_the_terminal_types_of_the_json_form_are_those_of_the_terminal_events() -> None:
    ids = {"session_id": "s", "turn_id": "t"}
    every_kind: list[AgentEvent] = [
        TextDelta(**ids, part_id="p", text="x"),
        ReasoningDelta(**ids, part_id="p", text="x"),
        ToolCall(**ids, tool_call_id="c", name="x", status="pending"),
        PermissionRequest(**ids, request_id="r", title="x"),
        PermissionResolved(**ids, request_id="r", outcome="rejected"),
        UsageReport(**ids),
        Retry(**ids, attempt=1, message="x"),
        ContextReset(**ids, reason="x"),
        BackgroundStopped(**ids, agent="qwen", reason="x", processes=(StoppedProcess(pid=1, command="sleep 30"),)),
        Waiting(**ids, reason="x"),
        TurnCompleted(**ids),
        TurnFailed(**ids, error="x"),
        TurnCancelled(**ids),
    ]
    assert sorted(TERMINAL_EVENT_TYPES) == ["turn_cancelled", "turn_completed", "turn_failed"]
    for event in every_kind:
        assert is_terminal(event) == (dump_event(event)["type"] in TERMINAL_EVENT_TYPES), event


def test_unknown_event_type_is_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_event({"type": "nope", "session_id": "s", "turn_id": "t"})
