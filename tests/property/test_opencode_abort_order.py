"""The stale-terminal guard by design: an aborted turn's trailing events (idles, late part and message updates), in
any order among the next turn's events, never end the next turn before its own answer nor feed it text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import AgentEvent, TextDelta, TurnCancelled, TurnCompleted, is_terminal
from core.opencode.events import OpenCodeState, begin_turn, fold_opencode_event, request_abort
from tests.property.test_opencode_events import (
    TEXT,
    A,
    Event,
    answered,
    delta,
    ev,
    idle,
    message,
    part,
    split,
    status,
    texts,
)


@st.composite
def abort_tail_among_next_turn(draw: st.DrawFn) -> tuple[str, list[Event], list[Event | None]]:
    """Turn 1 is aborted after some text and ends at its first idle; its trailing events (late idles, its late
    part and message updates) then arrive in any order among turn 2's events. ``None`` marks where hearth
    begins turn 2: any time before its prompt reaches OpenCode."""
    shown = draw(TEXT)
    late = shown + " LATE tail of the aborted answer"
    error = {"name": "MessageAbortedError", "data": {"message": "Aborted"}}
    first = [message(A, "msg_1u", "user"), status(A, "busy"), message(A, "msg_1a", "assistant")]
    first += [part(A, "msg_1a", "prt_1", "text", ""), delta(A, "msg_1a", "prt_1", shown)]
    first += [ev("session.error", sessionID=A, error=error), status(A, "idle"), idle(A)]
    tail = [status(A, "idle"), idle(A), part(A, "msg_1a", "prt_1", "text", late)]
    tail += [message(A, "msg_1a", "assistant", error=error, time={"created": 1, "completed": 2})]
    tail += [status(A, "idle"), idle(A)] * draw(st.integers(1, 2))
    tail = draw(st.permutations(tail))  # late events of one abort are not even ordered among themselves
    second_text = draw(TEXT)
    second: list[Event] = [message(A, "msg_2u", "user"), part(A, "msg_2u", "prt_2u", "text", "PROMPT 2")]
    second += [status(A, "busy"), message(A, "msg_2a", "assistant"), part(A, "msg_2a", "prt_2", "text", "")]
    second += [delta(A, "msg_2a", "prt_2", p) for p in split(second_text, draw(st.lists(st.integers(0, 60))))]
    second += [part(A, "msg_2a", "prt_2", "text", second_text), answered(A, "msg_2a"), status(A, "idle"), idle(A)]
    merged: list[Event | None] = []
    picks = draw(st.lists(st.booleans(), min_size=len(tail) + len(second), max_size=len(tail) + len(second)))
    rest_tail, rest_second = list(tail), list(second)
    for take_tail in picks:
        source = rest_tail if (take_tail and rest_tail) or not rest_second else rest_second
        merged.append(source.pop(0))
    begin_at = draw(st.integers(0, merged.index(second[0])))
    merged.insert(begin_at, None)
    return second_text, first, merged


@settings(max_examples=300, deadline=None)
@given(abort_tail_among_next_turn())
def test_an_aborted_turns_trailing_events_in_any_order_never_end_or_feed_the_next_turn(
    case: tuple[str, list[Event], list[Event | None]],
) -> None:
    second_text, first, rest = case
    state = begin_turn(OpenCodeState(), "t1")
    out: list[AgentEvent] = []
    for event in first:
        if event["type"] == "session.error":
            state = request_abort(state)  # hearth's cancel: OpenCode answers with the error and idles
        state, more = fold_opencode_event(state, event, A)
        out.extend(more)
    assert isinstance(out[-1], TurnCancelled), "turn 1 ends at its first idle"
    for late in rest:
        if late is None:
            state = begin_turn(state, "t2")
            continue
        state, more = fold_opencode_event(state, late, A)
        out.extend(more)
    first_turn = [e for e in out if e.turn_id == "t1"]
    second_turn = [e for e in out if e.turn_id == "t2"]
    assert [type(e) for e in first_turn if is_terminal(e)] == [TurnCancelled]
    assert [e for e in second_turn if is_terminal(e)] == [TurnCompleted(session_id=A, turn_id="t2")]
    assert second_turn[-1] == TurnCompleted(session_id=A, turn_id="t2")  # never before its own answer
    assert texts(second_turn) == {"prt_2": ("text", second_text)}  # nothing of turn 1 leaks in
    assert "LATE" not in "".join(e.text for e in out if isinstance(e, TextDelta))
