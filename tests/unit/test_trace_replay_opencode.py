"""Replays of the recorded ``opencode serve`` 1.18.33 event stream through ``core.opencode.events``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from core.events import (
    AgentEvent,
    PermissionRequest,
    PermissionResolved,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    UsageReport,
    is_terminal,
)
from core.opencode.events import OpenCodeState, begin_turn, fold_opencode_event
from core.opencode.resync import resync_from_messages
from tests.fixtures.replay import (
    OC_OTHER_DIRECTORY_SESSION,
    OC_PERMISSION_SESSION,
    OC_SESSION,
    OpenCodeReplay,
    history_from_stream,
    opencode_stream,
    replay_opencode,
)

THOUGHT = "Let me think step by step about this request. It seems simple enough."


@pytest.fixture(scope="module")
def stream() -> list[dict[str, Any]]:
    return opencode_stream()


@pytest.fixture(scope="module")
def replay(stream: list[dict[str, Any]]) -> OpenCodeReplay:
    return replay_opencode(stream, OC_SESSION)


def _texts(events: list[AgentEvent], kind: type[TextDelta] | type[ReasoningDelta]) -> dict[str, str]:
    out: dict[str, str] = defaultdict(str)
    for event in events:
        if isinstance(event, kind):
            out[event.part_id] += event.text
    return dict(out)


def _terminals(events: list[AgentEvent]) -> list[AgentEvent]:
    return [e for e in events if is_terminal(e)]


def test_think_write_turn_emits_reasoning_once_tool_lifecycle_and_step_usage(replay: OpenCodeReplay) -> None:
    turn = replay.of_turn("t1")
    assert list(_texts(turn, ReasoningDelta).values()) == [THOUGHT, THOUGHT]  # one per LLM step, once each
    assert list(_texts(turn, TextDelta).values()) == ["Tool done: Wrote file successfully."]
    tools = [e for e in turn if isinstance(e, ToolCall)]
    assert [t.status for t in tools] == ["pending", "running", "completed"]
    assert {t.tool_call_id for t in tools} == {tools[0].tool_call_id}
    assert tools[0].name == "write"
    assert tools[-1].input == {"filePath": "/tmp/oc/proj1/hello.txt", "content": "Hello from turn one\n"}
    assert tools[-1].output == "Wrote file successfully."
    assert tools[-1].title == "hello.txt"
    usage = [e for e in turn if isinstance(e, UsageReport)]
    assert [(u.input_tokens, u.output_tokens, u.reasoning_tokens) for u in usage] == [(2449, 22, 17), (2552, 9, 17)]
    assert sum(u.cost_usd for u in usage) == pytest.approx(0.007932 + 0.008046)
    assert _terminals(turn) == [TurnCompleted(session_id=OC_SESSION, turn_id="t1")]
    assert turn[-1] == _terminals(turn)[0]


def test_every_turn_ends_exactly_once_with_the_right_terminal(replay: OpenCodeReplay) -> None:
    kinds = [type(e).__name__ for e in _terminals(replay.events)]
    # THINK+WRITE, RECALL, 3 pings, SLOW+queued aborted, blocking SLOW aborted, RECALL, FAIL400
    expected = [*["TurnCompleted"] * 5, "TurnCancelled", "TurnCancelled", "TurnCompleted", "TurnFailed"]
    assert kinds == expected
    for turn in replay.turns:
        assert len(_terminals(replay.of_turn(turn))) == 1
        assert is_terminal(replay.of_turn(turn)[-1])


def test_abort_sequence_gives_one_cancel_and_the_partial_text_once(replay: OpenCodeReplay) -> None:
    for turn in ("t6", "t7"):  # prompt_async SLOW (+ a queued prompt) aborted; blocking SLOW aborted
        events = replay.of_turn(turn)
        assert list(_texts(events, TextDelta).values()) == ["word0 word1 word2 "]
        assert _terminals(events) == [TurnCancelled(session_id=OC_SESSION, turn_id=turn, reason="aborted by request")]


def test_queued_prompt_is_never_agent_text_and_never_a_turn_of_its_own(replay: OpenCodeReplay) -> None:
    every_text = "".join(e.text for e in replay.events if isinstance(e, TextDelta | ReasoningDelta))
    assert "QUEUED while busy" not in every_text.replace('"QUEUED while busy"', "")  # only quoted by RECALL
    assert "SLOW=0.5 tell me" not in every_text.replace('"SLOW=0.5 tell me a long story"', "")
    assert len(replay.turns) == 9


def test_fail400_turn_fails_with_the_provider_message_once(replay: OpenCodeReplay) -> None:
    events = replay.of_turn("t9")
    assert _terminals(events) == [TurnFailed(session_id=OC_SESSION, turn_id="t9", error="APIError: scripted error 400")]
    assert [e for e in events if isinstance(e, TextDelta)] == []


def test_stray_idles_of_an_abort_never_end_an_eagerly_started_next_turn(stream: list[dict[str, Any]]) -> None:
    eager = replay_opencode(stream, OC_SESSION, eager=True)
    lazy = replay_opencode(stream, OC_SESSION)
    assert [type(e) for e in _terminals(eager.events)] == [type(e) for e in _terminals(lazy.events)]
    assert [_texts(eager.of_turn(t), TextDelta) for t in lazy.turns] == [
        _texts(lazy.of_turn(t), TextDelta) for t in lazy.turns
    ]
    assert eager.state.turn_id == "t10"
    assert not eager.state.activity


def test_permission_session_maps_ask_and_reply(stream: list[dict[str, Any]]) -> None:
    replay = replay_opencode(stream, OC_PERMISSION_SESSION)
    events = replay.of_turn("t1")
    request = next(e for e in events if isinstance(e, PermissionRequest))
    assert request.request_id.startswith("per_")
    assert request.title == "edit perm.txt"
    assert {o.kind for o in request.options} == {"allow_once", "allow_always", "reject_once"}
    resolved = next(e for e in events if isinstance(e, PermissionResolved))
    assert (resolved.request_id, resolved.outcome) == (request.request_id, "allow_once")
    assert request.tool_call_id == next(e for e in events if isinstance(e, ToolCall)).tool_call_id
    assert isinstance(events[-1], TurnCompleted)


@pytest.mark.parametrize("session_id", [OC_SESSION, OC_PERMISSION_SESSION, OC_OTHER_DIRECTORY_SESSION])
def test_global_stream_demux_yields_exactly_each_sessions_own_events(session_id: str) -> None:
    mixed = opencode_stream("global")
    alone = [
        e for e in mixed if e.get("properties", {}).get("sessionID") == session_id or _part_or_info(e) == session_id
    ]
    assert replay_opencode(mixed, session_id).events == replay_opencode(alone, session_id).events
    assert replay_opencode(mixed, session_id).events  # the session did produce something


def _part_or_info(event: dict[str, Any]) -> str | None:
    props = event.get("properties", {})
    sid = props.get("info", {}).get("sessionID") or props.get("part", {}).get("sessionID")
    return sid if isinstance(sid, str) else None


def test_resync_after_a_drop_at_any_point_of_the_first_turn_emits_each_text_once(
    stream: list[dict[str, Any]],
) -> None:
    first_turn_end = next(i for i, e in enumerate(stream) if e["type"] == "session.idle") + 1
    turn_events = stream[:first_turn_end]
    history = history_from_stream(turn_events, OC_SESSION)
    full = replay_opencode(turn_events, OC_SESSION).of_turn("t1")
    for cut in range(first_turn_end):
        state, events = OpenCodeState(), list[AgentEvent]()
        for event in turn_events[:cut]:
            is_prompt = event["type"] == "message.updated" and event["properties"]["info"]["role"] == "user"
            if is_prompt and state.turn_id is None and not events:
                state = begin_turn(state, "t1")
            state, out = fold_opencode_event(state, event, OC_SESSION)
            events.extend(out)
        if state.turn_id is None and not events:
            state = begin_turn(state, "t1")  # dropped before even the prompt's echo
        state, out = resync_from_messages(state, history, OC_SESSION, session_busy=False)
        events.extend(out)
        assert _texts(events, TextDelta) == _texts(full, TextDelta), cut
        assert _texts(events, ReasoningDelta) == _texts(full, ReasoningDelta), cut
        assert [type(e) for e in _terminals(events)] == [TurnCompleted], cut
        assert sum(isinstance(e, UsageReport) for e in events) == 2, cut


def test_resync_in_a_fresh_process_emits_only_the_current_turn(stream: list[dict[str, Any]]) -> None:
    recall_again = max(i for i, e in enumerate(stream) if e["type"] == "message.updated" and _is_recall_again(e))
    end = next(i for i in range(recall_again, len(stream)) if stream[i]["type"] == "session.idle") + 1
    history = history_from_stream(stream[:end], OC_SESSION)
    state = begin_turn(OpenCodeState(), "t-restarted")  # hearth restarted: it knows none of the messages
    busy_state, while_busy = resync_from_messages(state, history, OC_SESSION, session_busy=True)
    assert not any(is_terminal(e) for e in while_busy)  # the server still works on it: wait for events
    assert busy_state.turn_id == "t-restarted"
    state, events = resync_from_messages(state, history, OC_SESSION, session_busy=False)
    (answer,) = _texts(events, TextDelta).values()
    assert answer.startswith("I remember these earlier user messages:")
    assert '"RECALL", "ping 0"' in answer  # only the current turn's answer: the earlier turns are history
    assert _terminals(events) == [TurnCompleted(session_id=OC_SESSION, turn_id="t-restarted")]
    again, nothing = resync_from_messages(state, history, OC_SESSION, session_busy=False)
    assert nothing == []  # a second resync of the same history emits nothing
    assert again.turn_id is None


def _is_recall_again(event: dict[str, Any]) -> bool:
    info = event["properties"]["info"]
    return bool(info["role"] == "user" and info["sessionID"] == OC_SESSION and "L0CUPW" in info["id"])
