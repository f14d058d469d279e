"""Laws of the OpenCode event fold (``core.opencode.events``), over synthetic streams shaped like 1.18.33's."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import AgentEvent, ReasoningDelta, TextDelta, TurnCancelled, TurnCompleted, TurnFailed, is_terminal
from core.opencode.events import OpenCodeState, begin_turn, fold_opencode_event, request_abort

Event = dict[str, Any]
A, B = "ses_A", "ses_B"
TEXT = st.text(alphabet="abcdefghij XYZ.", min_size=1, max_size=40)


def ev(kind: str, **props: Any) -> Event:
    return {"type": kind, "properties": props}


def message(sid: str, mid: str, role: str, **extra: Any) -> Event:
    return ev("message.updated", sessionID=sid, info={"id": mid, "sessionID": sid, "role": role, **extra})


def part(sid: str, mid: str, pid: str, kind: str, text: str) -> Event:
    return ev(
        "message.part.updated",
        sessionID=sid,
        part={"id": pid, "sessionID": sid, "messageID": mid, "type": kind, "text": text},
    )


def delta(sid: str, mid: str, pid: str, text: str) -> Event:
    return ev("message.part.delta", sessionID=sid, messageID=mid, partID=pid, field="text", delta=text)


def answered(sid: str, mid: str) -> Event:
    """The assistant message's final update, as OpenCode sends it before ``session.idle``."""
    return message(sid, mid, "assistant", finish="stop", time={"created": 1, "completed": 2})


def status(sid: str, kind: str) -> Event:
    return ev("session.status", sessionID=sid, status={"type": kind})


def idle(sid: str) -> Event:
    return ev("session.idle", sessionID=sid)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points) if b > a]


@st.composite
def streamed_part(draw: st.DrawFn, sid: str, mid: str, pid: str, kind: str) -> tuple[str, list[Event]]:
    """One text/reasoning part as OpenCode may deliver it: deltas, snapshots (prefixes, final) or both."""
    text = draw(TEXT)
    pieces = split(text, draw(st.lists(st.integers(0, 60), max_size=6)))
    use_deltas = draw(st.booleans())
    final = draw(st.booleans()) or not use_deltas
    typed_at = draw(st.integers(0, len(pieces)))  # the typed (empty or prefix) snapshot may come after deltas
    events: list[Event] = []
    done = ""
    for index, piece in enumerate(pieces):
        if index == typed_at:
            events.append(part(sid, mid, pid, kind, done))
        if use_deltas:
            events.append(delta(sid, mid, pid, piece))
        done += piece
        if draw(st.booleans()) and index >= typed_at:
            events.append(part(sid, mid, pid, kind, done))  # an intermediate snapshot of a prefix
    if typed_at == len(pieces) or final:
        events.append(part(sid, mid, pid, kind, text))
    return text, events


@st.composite
def turn_stream(draw: st.DrawFn, sid: str, tag: str) -> tuple[dict[str, tuple[str, str]], list[Event]]:
    """A whole turn of one session: prompt echo, busy, assistant parts, step-finish, idle."""
    prompt_id, reply_id = f"msg_{tag}_u", f"msg_{tag}_a"
    events = [message(sid, prompt_id, "user"), part(sid, prompt_id, f"prt_{tag}_u", "text", "PROMPT " + tag)]
    events += [status(sid, "busy"), message(sid, reply_id, "assistant")]
    expected: dict[str, tuple[str, str]] = {}
    for index in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["text", "reasoning"]))
        pid = f"prt_{tag}_{index}"
        text, part_events = draw(streamed_part(sid, reply_id, pid, kind))
        expected[pid] = (kind, text)
        events += part_events
    step = {"id": f"prt_{tag}_s", "sessionID": sid, "messageID": reply_id, "type": "step-finish", "cost": 0.5}
    events += [ev("message.part.updated", sessionID=sid, part=step), answered(sid, reply_id)]
    events += [status(sid, "idle"), idle(sid)]
    return expected, events


def fold_all(events: list[Event], sid: str, turn: str = "t1") -> list[AgentEvent]:
    state = begin_turn(OpenCodeState(), turn)
    out: list[AgentEvent] = []
    for event in events:
        state, more = fold_opencode_event(state, event, sid)
        out.extend(more)
    return out


def texts(events: list[AgentEvent]) -> dict[str, tuple[str, str]]:
    acc: dict[str, tuple[str, str]] = {}
    for event in events:
        if isinstance(event, TextDelta | ReasoningDelta):
            kind = "reasoning" if isinstance(event, ReasoningDelta) else "text"
            previous = acc.get(event.part_id, (kind, ""))
            assert previous[0] == kind, "a part never changes kind"
            acc[event.part_id] = (kind, previous[1] + event.text)
    return acc


@settings(max_examples=200, deadline=None)
@given(turn_stream(A, "a"))
def test_each_part_is_emitted_exactly_once_whatever_mix_of_deltas_and_snapshots(
    case: tuple[dict[str, tuple[str, str]], list[Event]],
) -> None:
    expected, events = case
    out = fold_all(events, A)
    assert texts(out) == expected
    assert sum(is_terminal(e) for e in out) == 1
    assert out[-1] == TurnCompleted(session_id=A, turn_id="t1")
    assert all("PROMPT" not in e.text for e in out if isinstance(e, TextDelta | ReasoningDelta))


@settings(max_examples=150, deadline=None)
@given(turn_stream(A, "a"), turn_stream(B, "b"), st.lists(st.booleans(), max_size=200))
def test_interleaving_two_sessions_yields_exactly_the_sessions_own_events(
    case_a: tuple[dict[str, tuple[str, str]], list[Event]],
    case_b: tuple[dict[str, tuple[str, str]], list[Event]],
    picks: list[bool],
) -> None:
    a, b = list(case_a[1]), list(case_b[1])
    mixed: list[Event] = []
    for take_a in picks:
        source = a if take_a else b
        if source:
            mixed.append(source.pop(0))
    mixed += a + b
    assert fold_all(mixed, A) == fold_all(case_a[1], A)
    assert fold_all(mixed, B) == fold_all(case_b[1], B)


@st.composite
def cancelled_then_next(draw: st.DrawFn) -> tuple[bool, int, str, list[Event], list[Event]]:
    """Turn 1 streams some text and is aborted (or fails) with OpenCode's double-idle tail; turn 2 follows."""
    aborted = draw(st.booleans())
    first_text = draw(TEXT)
    pieces = split(first_text, draw(st.lists(st.integers(0, 60), max_size=4)))
    shown = draw(st.integers(0, len(pieces)))
    partial = "".join(pieces[:shown])
    error = (
        {"name": "MessageAbortedError", "data": {"message": "Aborted"}}
        if aborted
        else {
            "name": "APIError",
            "data": {"message": "scripted error 400"},
        }
    )
    first = [message(A, "msg_1u", "user"), status(A, "busy"), message(A, "msg_1a", "assistant")]
    first += [part(A, "msg_1a", "prt_1", "text", "")] + [delta(A, "msg_1a", "prt_1", p) for p in pieces[:shown]]
    tail = [ev("session.error", sessionID=A, error=error), status(A, "idle"), idle(A)]
    tail += [part(A, "msg_1a", "prt_1", "text", partial), message(A, "msg_1a", "assistant", error=error)]
    tail += [status(A, "idle"), idle(A)]
    if draw(st.booleans()):
        tail += [status(A, "idle"), idle(A)]  # an extra abort on the now idle session
    second_text = draw(TEXT)
    second = [message(A, "msg_2u", "user"), status(A, "busy"), message(A, "msg_2a", "assistant")]
    second += [part(A, "msg_2a", "prt_2", "text", ""), delta(A, "msg_2a", "prt_2", second_text)]
    second += [part(A, "msg_2a", "prt_2", "text", second_text), answered(A, "msg_2a"), status(A, "idle"), idle(A)]
    start_at = draw(st.integers(3, len(tail)))  # hearth may start turn 2 any time after turn 1's first idle
    return aborted, start_at, second_text, first + tail[:start_at], tail[start_at:] + second


@settings(max_examples=200, deadline=None)
@given(cancelled_then_next())
def test_a_cancelled_or_failed_turns_trailing_terminals_never_end_the_next_turn(
    case: tuple[bool, int, str, list[Event], list[Event]],
) -> None:
    aborted, _, second_text, before, after = case
    state = begin_turn(OpenCodeState(), "t1")
    out: list[AgentEvent] = []
    for event in before:
        if aborted and event["type"] == "session.error":
            state = request_abort(state)
        state, more = fold_opencode_event(state, event, A)
        out.extend(more)
    state = begin_turn(state, "t2")
    for event in after:
        state, more = fold_opencode_event(state, event, A)
        out.extend(more)
    by_turn: dict[str, list[AgentEvent]] = defaultdict(list)
    for emitted in out:
        by_turn[emitted.turn_id].append(emitted)
    first_terminals = [e for e in by_turn["t1"] if is_terminal(e)]
    assert len(first_terminals) == 1
    assert isinstance(first_terminals[0], TurnCancelled if aborted else TurnFailed)
    assert [e for e in by_turn["t2"] if is_terminal(e)] == [TurnCompleted(session_id=A, turn_id="t2")]
    assert by_turn["t2"][-1] == TurnCompleted(session_id=A, turn_id="t2")
    assert texts(by_turn["t2"]) == {"prt_2": ("text", second_text)}


def next_event(kind: str, sid: str = A, **props: Any) -> Event:
    return ev(f"session.next.{kind}", sessionID=sid, assistantMessageID="msg_n", timestamp=1, **props)


@settings(max_examples=100, deadline=None)
@given(TEXT, st.lists(st.integers(0, 60), max_size=5), st.booleans(), st.booleans(), st.booleans())
def test_session_next_family_emits_text_once_and_never_doubles_the_parts_family(
    text: str, cuts: list[int], started: bool, ended: bool, parts_family_too: bool
) -> None:
    pieces = split(text, cuts)
    events = [message(A, "msg_u", "user"), status(A, "busy")]
    if parts_family_too:  # the same answer also on the legacy family: only the first family is honoured
        events += [message(A, "msg_a", "assistant"), part(A, "msg_a", "prt_a", "text", text)]
    if started:
        events.append(next_event("text.started", textID="x"))
    events += [next_event("text.delta", textID="x", delta=p) for p in pieces]
    if ended or not pieces:
        events.append(next_event("text.ended", textID="x", text=text))
    events += [
        next_event("tool.input.started", callID="c1", name="write"),
        next_event("tool.called", callID="c1", tool="write", input={"filePath": "/a"}, provider={"executed": False}),
        next_event("tool.success", callID="c1", structured={}, content=[{"type": "text", "text": "ok"}]),
        next_event("step.ended", finish="stop", cost=0.25, tokens={"input": 5, "output": 2, "reasoning": 0}),
        idle(A),
    ]
    out = fold_all(events, A)
    assert [t for _, t in texts(out).values()] == [text]
    tools = [e for e in out if e.type == "tool_call"]
    if not parts_family_too:
        assert [getattr(t, "status", None) for t in tools] == ["pending", "running", "completed"]
        assert getattr(tools[-1], "output", None) == "ok"
        assert [getattr(u, "cost_usd", None) for u in out if u.type == "usage"] == [0.25]
    else:
        assert tools == []
    assert out[-1] == TurnCompleted(session_id=A, turn_id="t1")


@settings(max_examples=100, deadline=None)
@given(turn_stream(A, "a"), st.integers(0, 30), st.integers(0, 30))
def test_parts_arriving_before_their_message_wait_for_its_role(
    case: tuple[dict[str, tuple[str, str]], list[Event]], delay: int, prompt_delay: int
) -> None:
    expected, events = case
    events = list(events)
    for announcement, by in (
        (message(A, "msg_a_a", "assistant"), delay),
        (message(A, "msg_a_u", "user"), prompt_delay),
    ):
        index = events.index(announcement)
        events.insert(min(index + by, len(events) - 3), events.pop(index))  # still before step-finish and idle
    out = fold_all(events, A)
    assert texts(out) == expected  # the prompt's own text part never shows up as agent text
    assert out[-1] == TurnCompleted(session_id=A, turn_id="t1")


@given(st.integers(1, 6), st.booleans())
def test_retries_surface_and_an_abort_during_backoff_cancels(attempts: int, abort: bool) -> None:
    retry = [
        ev(
            "session.status",
            sessionID=A,
            status={"type": "retry", "attempt": n, "message": "scripted error 500", "next": 0},
        )
        for n in range(1, attempts + 1)
    ]
    state = begin_turn(OpenCodeState(), "t1")
    out: list[AgentEvent] = []
    for event in [message(A, "msg_u", "user"), status(A, "busy"), message(A, "msg_a", "assistant"), *retry]:
        state, more = fold_opencode_event(state, event, A)
        out.extend(more)
    if abort:  # aborting during the backoff: no session.error, an assistant message without error, idle
        state = request_abort(state)
    for event in [status(A, "idle"), idle(A), answered(A, "msg_a"), idle(A)]:
        state, more = fold_opencode_event(state, event, A)
        out.extend(more)
    assert [getattr(e, "attempt", None) for e in out if e.type == "retry"] == list(range(1, attempts + 1))
    terminals = [e for e in out if is_terminal(e)]
    assert len(terminals) == 1
    assert isinstance(terminals[0], TurnCancelled if abort else TurnCompleted)
