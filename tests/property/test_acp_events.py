"""Laws of the ACP update fold (``core.acp.events``) over synthetic ``session/update`` streams."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.acp.events import (
    AcpState,
    begin_replay,
    begin_turn,
    end_replay,
    fail_prompt,
    finish_prompt,
    fold_acp_update,
    request_cancel,
    thought_prefix_for,
)
from core.events import (
    AgentEvent,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    UsageReport,
    is_terminal,
)
from core.turn_guard import GuardPhase, TurnGuard, admit_terminal, arm, note_activity, start_turn

Update = dict[str, Any]
A, B = "sess-A", "sess-B"
KINDS = {"text": "agent_message_chunk", "reasoning": "agent_thought_chunk"}
GEMINI = "****\n"
WIRE_STATUS = {"pending": "pending", "running": "in_progress", "completed": "completed", "failed": "failed"}

chunk = st.builds(
    lambda kind, message, text: {
        "sessionUpdate": KINDS[kind],
        "content": {"type": "text", "text": text},
        **({"messageId": message} if message else {}),
    },
    st.sampled_from(sorted(KINDS)),
    st.sampled_from([None, "m1", "m2"]),
    st.text(alphabet="abc xyz", max_size=8),
)
tool_update = st.builds(
    lambda first, call, status, raw_input, title: {
        "sessionUpdate": "tool_call" if first else "tool_call_update",
        "toolCallId": call,
        **({"status": WIRE_STATUS[status]} if status else {}),
        **({"rawInput": raw_input} if raw_input is not None else {}),
        **({"title": title} if title else {}),
    },
    st.booleans(),
    st.sampled_from(["c1", "c2"]),
    st.sampled_from([None, "pending", "running", "completed", "failed"]),
    st.sampled_from([None, {}, {"path": "/a"}, {"path": "/b", "content": "x"}]),
    st.sampled_from([None, "Write", "Write /a"]),
)
noise = st.sampled_from(
    [
        {"sessionUpdate": "available_commands_update", "availableCommands": [{"name": "init"}]},
        {"sessionUpdate": "current_mode_update", "currentModeId": "plan"},
        {"sessionUpdate": "user_message_chunk", "content": {"type": "text", "text": "the prompt"}},
        {"sessionUpdate": "plan", "entries": [{"content": "step", "status": "pending", "priority": "low"}]},
        {"sessionUpdate": "session_info_update", "title": "Chat"},
    ]
)
updates = st.lists(st.one_of(chunk, tool_update, noise), max_size=30)


def fold_turn(stream: list[tuple[str, Update]], own: str, turn: str = "t1") -> list[AgentEvent]:
    state = begin_turn(AcpState(session_id=own), turn)
    out: list[AgentEvent] = []
    for session_id, update in stream:
        state, more = fold_acp_update(state, update, session_id)
        out.extend(more)
    return out


@settings(max_examples=100, deadline=None)
@given(updates, updates, st.lists(st.booleans(), max_size=60))
def test_interleaving_two_sessions_yields_exactly_the_sessions_own_events(
    mine: list[Update], theirs: list[Update], picks: list[bool]
) -> None:
    a, b = [(A, u) for u in mine], [(B, u) for u in theirs]
    mixed: list[tuple[str, Update]] = []
    for take_a in picks:
        source = a if take_a else b
        if source:
            mixed.append(source.pop(0))
    mixed += a + b
    assert fold_turn(mixed, A) == fold_turn([(A, u) for u in mine], A)


@settings(max_examples=100, deadline=None)
@given(updates)
def test_chunks_keep_text_and_order_and_start_a_part_on_kind_message_or_tool_change(stream: list[Update]) -> None:
    out = fold_turn([(A, u) for u in stream], A)
    deltas = [e for e in out if isinstance(e, TextDelta | ReasoningDelta)]
    sent = [u for u in stream if u["sessionUpdate"] in KINDS.values() and u["content"]["text"]]
    assert [d.text for d in deltas] == [u["content"]["text"] for u in sent]  # nothing lost, reordered or added
    for emitted, update in zip(deltas, sent, strict=True):
        assert isinstance(emitted, ReasoningDelta) == (update["sessionUpdate"] == KINDS["reasoning"])
    # consecutive deltas share a part id exactly when kind and messageId agree and no tool call came between
    positions = [i for i, u in enumerate(stream) if u["sessionUpdate"] in KINDS.values() and u["content"]["text"]]
    for (i, j), (d1, d2) in zip(itertools.pairwise(positions), itertools.pairwise(deltas), strict=True):
        key = (stream[i]["sessionUpdate"], stream[i].get("messageId"))
        same_key = key == (stream[j]["sessionUpdate"], stream[j].get("messageId"))
        tool_between = any(stream[k]["sessionUpdate"].startswith("tool_call") for k in range(i + 1, j))
        assert (d1.part_id == d2.part_id) == (same_key and not tool_between)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["m1", "m2"]), st.text(alphabet="ab *\n", max_size=8)), max_size=12))
def test_gemini_thought_titles_are_cut_once_per_chunk_and_nothing_else_changes(
    thoughts: list[tuple[str, str]],
) -> None:
    """Each chunk is ``****\n`` + the thought: exactly the thoughts are emitted, once each, in order."""
    stream = [
        {"sessionUpdate": KINDS["reasoning"], "messageId": m, "content": {"type": "text", "text": GEMINI + t}}
        for m, t in thoughts
    ]
    state = begin_turn(AcpState(session_id=A, thought_prefix=thought_prefix_for("gemini-cli")), "t1")
    out: list[AgentEvent] = []
    for update in stream:
        state, more = fold_acp_update(state, update)
        out.extend(more)
    assert [e.text for e in out if isinstance(e, ReasoningDelta)] == [t for _, t in thoughts if t]
    # any other agent keeps the chunk verbatim, title included
    plain = fold_turn([(A, u) for u in stream], A)
    assert [e.text for e in plain if isinstance(e, ReasoningDelta)] == [GEMINI + t for _, t in thoughts]


@settings(max_examples=100, deadline=None)
@given(st.lists(tool_update, max_size=20))
def test_tool_calls_are_upserted_by_id_and_keep_what_later_updates_omit(stream: list[Update]) -> None:
    out = fold_turn([(A, u) for u in stream], A)
    last: dict[str, ToolCall] = {}
    for event in out:
        assert isinstance(event, ToolCall)
        assert last.get(event.tool_call_id) != event, "only visible changes are emitted"
        last[event.tool_call_id] = event
    for call_id in {u["toolCallId"] for u in stream}:
        mine = [u for u in stream if u["toolCallId"] == call_id]
        statuses = [u["status"] for u in mine if "status" in u]
        inputs = [u["rawInput"] for u in mine if u.get("rawInput")]
        titles = [u["title"] for u in mine if u.get("title")]
        final = last[call_id]
        assert final.status == ({v: k for k, v in WIRE_STATUS.items()}[statuses[-1]] if statuses else "pending")
        assert final.input == (inputs[-1] if inputs else None)
        assert final.title == (titles[-1] if titles else None)


@settings(max_examples=100, deadline=None)
@given(updates)
def test_a_load_replay_produces_no_events_even_inside_a_turn(stream: list[Update]) -> None:
    state = begin_replay(begin_turn(AcpState(session_id=A), "t1"))
    for update in stream:
        state, out = fold_acp_update(state, update, A)
        assert out == []
    assert end_replay(state).replayed_updates == len(stream)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=0, max_value=5, allow_nan=False),
    st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), max_size=8),
)
def test_cumulative_cost_becomes_increments_that_add_up(baseline: float, steps: list[float]) -> None:
    state = AcpState(session_id=A, cost_total=baseline)
    total, reported = baseline, 0.0
    for index, step in enumerate(steps):
        total += step
        state = begin_turn(state, f"t{index}")
        update = {"sessionUpdate": "usage_update", "used": 10, "size": 100, "cost": {"amount": total}}
        state, out = fold_acp_update(state, update, A)
        reported += sum(e.cost_usd for e in out if isinstance(e, UsageReport))
        state, _ = finish_prompt(state, {"stopReason": "end_turn"})
    assert reported == pytest.approx(total - baseline, abs=1e-9)


@given(st.sampled_from(["end_turn", "max_tokens", "max_turn_requests", "cancelled", "refusal"]), st.booleans())
def test_prompt_result_maps_to_exactly_one_terminal(stop: str, cancelling: bool) -> None:
    state = begin_turn(AcpState(session_id=A), "t1")
    if cancelling:
        state = request_cancel(state)
    state, out = finish_prompt(state, {"stopReason": stop})
    expected = {"cancelled": "TurnCancelled", "refusal": "TurnFailed"}.get(stop, "TurnCompleted")
    assert [type(e).__name__ for e in out] == [expected]
    assert state.turn_id is None
    assert finish_prompt(state, {"stopReason": stop}) == (state, [])  # a second answer ends nothing


@given(st.sampled_from(["Request aborted", "operation was cancelled", "Interrupted by user", "rate limited"]))
def test_a_prompt_error_after_cancel_that_means_aborted_is_a_cancel(message: str) -> None:
    state = begin_turn(AcpState(session_id=A), "t1")
    _, without_cancel = fail_prompt(state, message)
    assert [type(e) for e in without_cancel] == [TurnFailed]
    _, with_cancel = fail_prompt(request_cancel(state), message)
    means_abort = message != "rate limited"
    assert [type(e) for e in with_cancel] == [TurnCancelled if means_abort else TurnFailed]


shell_steps = st.lists(st.sampled_from(["begin", "cancel", "update", "finish", "fail"]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(shell_steps, st.lists(st.one_of(chunk, tool_update, noise), min_size=1, max_size=40))
def test_the_fold_drives_its_turn_guard_and_every_prompt_answer_ends_its_turn(
    steps: list[str], stream: list[Update]
) -> None:
    """The guard in the state moves as ``core.turn_guard`` driven by hand: a turn begun starts it, a cancel arms
    it (turn running or not), an update of the running turn is activity, a prompt's answer is a terminal. The
    answer always ends its own turn with exactly one terminal, whatever the guard says."""
    state, expected, running = AcpState(session_id=A), TurnGuard(), False
    updates = iter(stream * 40)
    for index, step in enumerate(steps):
        out: list[AgentEvent] = []
        if step == "begin" and not running:  # the session refuses a second turn while one runs
            state, expected, running = begin_turn(state, f"t{index}"), start_turn(expected), True
        elif step == "cancel":
            state, expected = request_cancel(state), arm(expected, turn_running=running)
        elif step == "update":
            state, out = fold_acp_update(state, next(updates), A)
            expected = note_activity(expected) if running else expected
        elif step in ("finish", "fail"):
            answered = running
            if step == "finish":
                state, out = finish_prompt(state, {"stopReason": "end_turn"})
            else:
                state, out = fail_prompt(state, "Request aborted")
            if answered:
                expected, _ = admit_terminal(expected)
            assert sum(is_terminal(e) for e in out) == int(answered)
            running = False
        assert not any(is_terminal(e) for e in out) or step in ("finish", "fail")
        assert state.guard == expected


def test_a_cancelled_turns_own_answer_is_admitted_and_the_next_live_turn_clears_the_guard() -> None:
    say = {"sessionUpdate": KINDS["text"], "content": {"type": "text", "text": "hi"}}
    state, _ = fold_acp_update(begin_turn(AcpState(session_id=A), "t1"), say)
    state = request_cancel(state)
    assert state.guard.phase is GuardPhase.AWAITING_OWN
    state, out = fail_prompt(state, "Request aborted")
    assert [type(e) for e in out] == [TurnCancelled]
    assert (state.guard.phase, state.guard.consumed) == (GuardPhase.SWALLOWING, 0)

    state = begin_turn(state, "t2")
    assert state.guard.armed  # until the new turn shows life
    state, _ = fold_acp_update(state, say)
    assert state.guard == TurnGuard()
    state, out = finish_prompt(state, {"stopReason": "end_turn"})
    assert [type(e) for e in out] == [TurnCompleted]
    assert state.guard == TurnGuard()


def test_a_prompt_answer_the_guard_would_call_stray_still_ends_its_turn_and_is_only_counted() -> None:
    state = request_cancel(AcpState(session_id=A))  # a cancel with no turn running: strays are expected
    state = begin_turn(state, "t1")
    state, out = finish_prompt(state, {"stopReason": "end_turn"})  # answered before any update
    assert [type(e) for e in out] == [TurnCompleted]  # JSON-RPC pairs it with its request: it is this turn's
    assert state.guard.consumed == 1
