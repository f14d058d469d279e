"""Laws of delta coalescing (``core.stream``)."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import AgentEvent, ReasoningDelta, TextDelta, ToolCall, TurnCompleted, UsageReport
from core.stream import DEFAULT_WINDOW_S, Coalescer, coalesce_all, flush, flush_due, push

S = "ses"


def _delta(kind: str, turn: str, part: str, text: str) -> AgentEvent:
    if kind == "reasoning":
        return ReasoningDelta(session_id=S, turn_id=turn, part_id=part, text=text)
    return TextDelta(session_id=S, turn_id=turn, part_id=part, text=text)


delta = st.builds(
    _delta,
    st.sampled_from(["text", "reasoning"]),
    st.sampled_from(["t1", "t2"]),
    st.sampled_from(["p1", "p2"]),
    st.text(alphabet="ab c", min_size=1, max_size=5),
)


def _accumulate(pairs: list[tuple[float, AgentEvent]]) -> list[tuple[float, AgentEvent]]:
    """Turn gaps into monotonic timestamps."""
    now, out = 0.0, []
    for gap, event in pairs:
        now += gap
        out.append((now, event))
    return out


OTHERS: list[AgentEvent] = [
    ToolCall(session_id=S, turn_id="t1", tool_call_id="c", name="write", status="running"),
    UsageReport(session_id=S, turn_id="t1", input_tokens=3),
    TurnCompleted(session_id=S, turn_id="t1"),
]
other = st.sampled_from(OTHERS)
timed = st.lists(
    st.tuples(st.floats(min_value=0, max_value=0.05, allow_nan=False), st.one_of(delta, delta, delta, other)),
    max_size=40,
).map(_accumulate)


def _key(event: AgentEvent) -> tuple[str, str, str, str] | None:
    if isinstance(event, TextDelta | ReasoningDelta):
        return (event.type, event.session_id, event.turn_id, event.part_id)
    return None


def _per_part(events: list[AgentEvent]) -> dict[tuple[str, str, str, str], str]:
    acc: dict[tuple[str, str, str, str], str] = defaultdict(str)
    for event in events:
        key = _key(event)
        if key is not None:
            acc[key] += getattr(event, "text", "")
    return dict(acc)


@settings(max_examples=100, deadline=None)
@given(timed)
def test_coalescing_preserves_text_per_part_and_every_other_event_in_order(
    stream: list[tuple[float, AgentEvent]],
) -> None:
    out = coalesce_all(stream)
    events = [e for _, e in stream]
    assert _per_part(out) == _per_part(events)
    assert [e for e in out if _key(e) is None] == [e for e in events if _key(e) is None]
    assert len(out) <= len(events)


@settings(max_examples=100, deadline=None)
@given(timed)
def test_each_output_is_a_run_of_adjacent_same_part_deltas_within_the_window(
    stream: list[tuple[float, AgentEvent]],
) -> None:
    out = coalesce_all(stream)
    position = 0
    for emitted in out:
        first_time, first = stream[position]
        if _key(emitted) is None:
            assert first == emitted
            position += 1
            continue
        text = ""
        while text != getattr(emitted, "text", None):
            at, piece = stream[position]
            assert _key(piece) == _key(emitted), "never merged across parts, kinds, turns or other events"
            assert at - first_time < DEFAULT_WINDOW_S, "never merged beyond the window"
            text += getattr(piece, "text", "")
            position += 1
    assert position == len(stream)


def test_a_terminal_flushes_the_held_delta_before_itself() -> None:
    state, ready = push(Coalescer(), _delta("text", "t1", "p1", "hel"), 0.0)
    state, more = push(state, _delta("text", "t1", "p1", "lo"), 0.01)
    assert ready == more == []
    done = TurnCompleted(session_id=S, turn_id="t1")
    state, out = push(state, done, 0.02)
    assert out == [_delta("text", "t1", "p1", "hello"), done]
    assert state.deadline() is None


def test_flush_due_releases_only_after_the_window() -> None:
    state, _ = push(Coalescer(window_s=0.033), _delta("reasoning", "t1", "p1", "x"), 1.0)
    assert state.deadline() == 1.033
    assert flush_due(state, 1.02)[1] == []
    state, out = flush_due(state, 1.04)
    assert out == [_delta("reasoning", "t1", "p1", "x")]
    assert flush(state) == (state, [])


def test_a_usage_report_waits_behind_the_held_delta_and_leaves_with_the_terminal() -> None:
    usage = UsageReport(session_id=S, turn_id="t1", input_tokens=3)
    state, ready = push(Coalescer(), _delta("text", "t1", "p1", "hi"), 0.0)
    state, more = push(state, usage, 0.01)
    assert ready == more == []
    done = TurnCompleted(session_id=S, turn_id="t1")
    assert push(state, done, 0.02)[1] == [_delta("text", "t1", "p1", "hi"), usage, done]


def test_a_held_usage_report_keeps_text_from_merging_across_it_and_leaves_by_the_window() -> None:
    usage = UsageReport(session_id=S, turn_id="t1", input_tokens=3)
    state, _ = push(Coalescer(window_s=0.033), usage, 1.0)
    assert state.deadline() == 1.033
    state, out = push(state, _delta("text", "t1", "p1", "a"), 1.01)
    assert out == [usage]  # a delta after it starts a run of its own, so the order stays
    state, _ = push(state, UsageReport(session_id=S, turn_id="t1", output_tokens=1), 1.02)
    state, out = push(state, _delta("text", "t1", "p1", "b"), 1.03)
    assert out == [_delta("text", "t1", "p1", "a"), UsageReport(session_id=S, turn_id="t1", output_tokens=1)]
    assert flush_due(state, 1.05)[1] == []
    assert flush_due(state, 1.07)[1] == [_delta("text", "t1", "p1", "b")]
