"""Laws of routing: warm vs one-shot, the composer chip, and the handoff preamble."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.model import AgentSession, AgentSessionStatus, BackendKind, Task, TaskOrigin, TaskStatus, TranscriptEntry
from core.routing import (
    PREAMBLE_MAX_TURNS,
    Chip,
    compose_prompt,
    composer_chip,
    composer_chips,
    handoff_preamble,
    last_turn_of,
    should_use_warm_backend,
    turns_since,
)

# Machines are noisy: no per-example deadline (never assert wall-clock time).
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
AGENTS = ["opencode", "qwen", "claude", "gemini", "native"]

tasks = st.builds(
    Task,
    id=st.just("t1"),
    chat_id=st.none() | st.just("c1"),
    agent=st.sampled_from(AGENTS),
    origin=st.sampled_from(TaskOrigin),
    prompt=st.just("fix it"),
    created_at=st.just(T0),
)
sessions = st.lists(
    st.builds(
        AgentSession,
        chat_id=st.just("c1"),
        agent=st.sampled_from(AGENTS),
        backend=st.just(BackendKind.WARM_ACP),
        status=st.sampled_from(AgentSessionStatus),
        last_used_at=st.just(T0),
    ),
    max_size=5,
    unique_by=lambda session: session.agent,
)
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=1200)


@st.composite
def transcripts(draw: st.DrawFn) -> list[TranscriptEntry]:
    entries = draw(
        st.lists(
            st.tuples(st.sampled_from(AGENTS), text, text, st.sampled_from(TaskStatus), st.lists(st.text(max_size=20))),
            max_size=25,
        )
    )
    return [
        TranscriptEntry(task_id=f"t{n}", agent=agent, prompt=prompt, reply=reply, status=status, files=tuple(files))
        for n, (agent, prompt, reply, status, files) in enumerate(entries)
    ]


@RELAXED
@given(tasks)
def test_only_chat_turns_use_the_warm_backend(task: Task) -> None:
    assert should_use_warm_backend(task) == (task.chat_id is not None and task.origin is TaskOrigin.CHAT)


@RELAXED
@given(st.sampled_from(AGENTS), sessions, transcripts())
def test_chip_is_resumed_or_restarted_iff_a_resumable_own_session_exists(
    agent: str, chat_sessions: list[AgentSession], transcript: list[TranscriptEntry]
) -> None:
    finished_by = {entry.agent for entry in transcript}
    chip = composer_chip(agent, chat_sessions, finished_by)
    own_resumable = any(s.agent == agent and s.status is not AgentSessionStatus.CLOSED for s in chat_sessions)
    own_crashed = any(s.agent == agent and s.status is AgentSessionStatus.CRASHED for s in chat_sessions)
    assert (chip in (Chip.RESUMED, Chip.RESTARTED)) == own_resumable
    assert (chip is Chip.RESTARTED) == own_crashed
    if not own_resumable:
        others = any(entry.agent != agent for entry in transcript)
        assert chip is (Chip.HISTORY if others else Chip.NEW)
    assert composer_chips(AGENTS, chat_sessions, finished_by)[agent] is chip


def test_chip_examples() -> None:
    session = AgentSession(chat_id="c1", agent="qwen", backend=BackendKind.WARM_ACP, last_used_at=T0)
    entry = "qwen"  # the agents that finished a turn in the chat
    for status in (AgentSessionStatus.IDLE, AgentSessionStatus.EVICTED):
        assert composer_chip("qwen", [session.model_copy(update={"status": status})], [entry]) is Chip.RESUMED
    crashed = session.model_copy(update={"status": AgentSessionStatus.CRASHED})
    assert composer_chip("qwen", [crashed], [entry]) is Chip.RESTARTED  # the process died: say so
    closed = session.model_copy(update={"status": AgentSessionStatus.CLOSED})
    assert composer_chip("qwen", [closed], [entry]) is Chip.NEW
    assert composer_chip("claude", [session], [entry]) is Chip.HISTORY
    assert composer_chip("claude", [], []) is Chip.NEW


@RELAXED
@given(st.sampled_from(AGENTS), transcripts(), st.booleans(), st.integers(min_value=-1, max_value=30))
def test_preamble_is_none_exactly_when_no_other_agent_took_a_turn_since(
    agent: str, transcript: list[TranscriptEntry], own_since: bool, since_index: int
) -> None:
    since = last_turn_of(agent, transcript) if own_since else (f"t{since_index}" if since_index >= 0 else None)
    preamble = handoff_preamble(agent, transcript, since)
    ids = [entry.task_id for entry in transcript]
    start = ids.index(since) + 1 if since in ids else 0
    others = [entry for entry in transcript[start:] if entry.agent != agent]
    assert (preamble is None) == (not others)
    assert turns_since(agent, transcript, since) == others
    if preamble is not None:
        headings = [line.split(" ")[1] for line in preamble.splitlines() if re.match(r"^\d+\. ", line)]
        # the newest of them, as many as the budget holds; the rest are counted
        shown = [entry.agent for entry in others[len(others) - len(headings) :]] if headings else []
        assert headings == shown
        assert len(headings) <= PREAMBLE_MAX_TURNS
        if len(headings) < len(others):
            assert f"({len(others) - len(headings)} earlier turn" in preamble


@RELAXED
@given(st.sampled_from(AGENTS), transcripts())
def test_preamble_size_is_bounded_whatever_the_turns_contain(agent: str, transcript: list[TranscriptEntry]) -> None:
    preamble = handoff_preamble(agent, transcript, None, include_own=True)
    assert (preamble is None) == (not transcript)
    if preamble is not None:
        per_turn = 400 + 800 + 20 * 25 + 200
        assert len(preamble) <= 400 + PREAMBLE_MAX_TURNS * per_turn


@RELAXED
@given(st.none() | text, text)
def test_composed_prompt_keeps_the_user_prompt_intact_at_the_end(preamble: str | None, prompt: str) -> None:
    composed = compose_prompt(preamble, prompt)
    assert composed.endswith(prompt)
    if preamble is None:
        assert composed == prompt
    else:
        assert composed.startswith(preamble)


def test_preamble_example() -> None:
    transcript = [
        TranscriptEntry(task_id="t1", agent="claude", prompt="add a test", reply="ok", status=TaskStatus.SUCCEEDED),
        TranscriptEntry(
            task_id="t2",
            agent="opencode",
            prompt="write hello.py",
            reply="I wrote hello.py\nwith a main.",
            status=TaskStatus.SUCCEEDED,
            files=("hello.py",),
        ),
        TranscriptEntry(task_id="t3", agent="qwen", prompt="rename x", reply="", status=TaskStatus.CANCELLED),
    ]
    preamble = handoff_preamble("claude", transcript, last_turn_of("claude", transcript))
    assert preamble is not None
    lines = preamble.splitlines()
    assert lines[0].startswith("[hearth] Since your last turn in this chat")
    assert lines[1:] == [
        "1. opencode",
        "   Prompt: write hello.py",
        "   Reply: I wrote hello.py with a main.",
        "   Files touched: hello.py",
        "2. qwen (cancelled)",
        "   Prompt: rename x",
    ]
    assert handoff_preamble("qwen", transcript, "t3") is None
    lost = handoff_preamble("claude", transcript, None, include_own=True)
    assert lost is not None
    assert "1. you (in an earlier session)" in lost


def test_long_histories_say_how_many_turns_were_left_out() -> None:
    transcript = [
        TranscriptEntry(task_id=f"t{n}", agent="qwen", prompt="x" * 5000, reply="y", status=TaskStatus.SUCCEEDED)
        for n in range(PREAMBLE_MAX_TURNS + 3)
    ]
    preamble = handoff_preamble("claude", transcript, None)
    assert preamble is not None
    assert "(3 earlier turns not shown: " in preamble
    assert f"{PREAMBLE_MAX_TURNS + 3}. qwen" in preamble
    assert "x" * 400 not in preamble
