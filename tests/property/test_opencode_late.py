"""Laws of ``core.opencode.late``: an aborted turn's tool updates that arrive after its terminal."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import AgentEvent, ToolCall, TurnCancelled, TurnCompleted, is_terminal
from core.opencode.events import OpenCodeState, begin_turn, fold_opencode_event, request_abort
from core.opencode.late import fold_late, open_tool_calls
from tests.property.test_opencode_events import TEXT, A, B, Event, answered, ev, idle, message, part, status, texts

ABORTED_OUTPUT = "\n\n<bash_metadata>\nUser aborted the command\n</bash_metadata>"


def tool(sid: str, mid: str, index: int, state: dict[str, Any]) -> Event:
    body = {"id": f"prt_tool_{index}", "sessionID": sid, "messageID": mid, "type": "tool", "callID": f"call_{index}"}
    return ev("message.part.updated", sessionID=sid, part={**body, "tool": "bash", "state": state})


def running(index: int, sid: str = A, mid: str = "msg_1a") -> Event:
    return tool(sid, mid, index, {"status": "running", "input": {"command": f"sleep {index}"}})


def ended(index: int, sid: str = A, mid: str = "msg_1a") -> Event:
    return tool(sid, mid, index, {"status": "completed", "input": {"command": "x"}, "output": ABORTED_OUTPUT})


@st.composite
def late_tail(draw: st.DrawFn) -> tuple[int, list[Event]]:
    """``n`` shell calls running when turn 1 is aborted; after its idle, in any order: their final updates, the
    trailing idles, and noise that is not turn 1's (another session's call, a call of an unknown message)."""
    calls = draw(st.integers(1, 3))
    tail = [ended(i) for i in range(calls)] + [status(A, "idle"), idle(A)]
    tail += draw(st.lists(st.sampled_from([ended(9, sid=B, mid="msg_Ba"), ended(8, mid="msg_unknown")]), max_size=2))
    return calls, draw(st.permutations(tail))


@settings(max_examples=200, deadline=None)
@given(late_tail(), TEXT)
def test_an_aborted_turns_late_tool_updates_are_its_own_and_the_next_turn_is_untouched(
    case: tuple[int, list[Event]], second_text: str
) -> None:
    calls, tail = case
    state = begin_turn(OpenCodeState(), "t1")
    first = [message(A, "msg_1u", "user"), status(A, "busy"), message(A, "msg_1a", "assistant")]
    first += [running(i) for i in range(calls)]
    out: list[AgentEvent] = []
    for event in first:
        state, more = fold_opencode_event(state, event, A)
        out.extend(more)
    state = request_abort(state)
    state, more = fold_opencode_event(state, idle(A), A)
    out.extend(more)
    assert isinstance(out[-1], TurnCancelled)
    assert len(open_tool_calls(state)) == calls
    late: list[AgentEvent] = []
    for event in tail:
        state, more = fold_late(state, event, A, "t1")
        late.extend(more)
    assert all(isinstance(e, ToolCall) and e.turn_id == "t1" and e.session_id == A for e in late)
    assert sorted(e.tool_call_id for e in late if isinstance(e, ToolCall)) == [f"call_{i}" for i in range(calls)]
    assert all(e.status == "completed" and e.output == ABORTED_OUTPUT for e in late if isinstance(e, ToolCall))
    assert open_tool_calls(state) == []

    state = begin_turn(state, "t2")
    second = [message(A, "msg_2u", "user"), status(A, "busy"), message(A, "msg_2a", "assistant")]
    second += [part(A, "msg_2a", "prt_2", "text", second_text), answered(A, "msg_2a"), status(A, "idle"), idle(A)]
    after: list[AgentEvent] = []
    for event in second:
        state, more = fold_opencode_event(state, event, A)
        after.extend(more)
    assert [e for e in after if is_terminal(e)] == [TurnCompleted(session_id=A, turn_id="t2")]
    assert all(e.turn_id == "t2" for e in after)
    assert texts(after) == {"prt_2": ("text", second_text)}


def test_without_the_late_fold_the_update_after_the_idle_is_dropped() -> None:
    """Why the shell needs ``fold_late``: once the turn ended, the ordinary fold attributes nothing."""
    state = begin_turn(OpenCodeState(), "t1")
    for event in [message(A, "msg_1u", "user"), message(A, "msg_1a", "assistant"), running(0)]:
        state, _ = fold_opencode_event(state, event, A)
    state, _ = fold_opencode_event(request_abort(state), idle(A), A)
    assert fold_opencode_event(state, ended(0), A)[1] == []
    assert fold_late(state, ended(0), A, "t1")[1] != []


def test_the_session_next_family_reconciles_its_late_tool_result_too() -> None:
    def nxt(kind: str, **props: Any) -> Event:
        return ev(f"session.next.{kind}", sessionID=A, assistantMessageID="msg_1a", **props)

    state = begin_turn(OpenCodeState(), "t1")
    state, _ = fold_opencode_event(state, nxt("tool.called", callID="c1", tool="bash", input={"command": "x"}), A)
    state, _ = fold_opencode_event(request_abort(state), idle(A), A)
    assert [call.tool_call_id for call in open_tool_calls(state)] == ["c1"]
    state, late = fold_late(
        state, nxt("tool.failed", callID="c1", error={"message": "Tool execution aborted"}), A, "t1"
    )
    assert [(e.turn_id, e.status, e.output) for e in late if isinstance(e, ToolCall)] == [
        ("t1", "failed", "Tool execution aborted")
    ]
    assert open_tool_calls(state) == []
