from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.events import ToolCall, TurnCompleted, TurnFailed, dump_event, is_terminal, parse_event


def test_event_round_trips_through_its_stored_form() -> None:
    event = ToolCall(session_id="s", turn_id="t", tool_call_id="c1", name="write", status="running", input={"a": 1})
    assert parse_event(dump_event(event)) == event


def test_terminal_events_are_recognised() -> None:
    assert is_terminal(TurnCompleted(session_id="s", turn_id="t"))
    assert is_terminal(TurnFailed(session_id="s", turn_id="t", error="boom"))
    assert not is_terminal(ToolCall(session_id="s", turn_id="t", tool_call_id="c", name="x", status="pending"))


def test_unknown_event_type_is_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_event({"type": "nope", "session_id": "s", "turn_id": "t"})
