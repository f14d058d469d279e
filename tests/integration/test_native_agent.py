"""The native agent against the scripted LLM: history, file tools, reasoning, cancel, errors, confinement."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from returns.result import Success

from adapters.native.agent import NativeBackend
from core.agents import BUILTIN_AGENTS, ProviderConfig
from core.events import (
    AgentEvent,
    ReasoningDelta,
    Retry,
    TextDelta,
    ToolCall,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    UsageReport,
)
from core.model import TaskStatus, TranscriptEntry
from core.ports.agents import BackendRuntime, SessionHandle, SessionSpec, TurnInput
from scripted_llm.llm import ScriptedLLM
from scripted_llm.script import REASONING_TEXT

NATIVE = next(spec for spec in BUILTIN_AGENTS if spec.name == "native")


def runtime(tmp_path: Path, provider: ProviderConfig, retries: int = 1) -> BackendRuntime:
    return BackendRuntime(
        data_dir=str(tmp_path / "data"),
        agents_dir=str(tmp_path / "agents"),
        node_id="node-test",
        provider=provider,
        llm_retry_limit=retries,
    )


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = tmp_path / "worktree"
    path.mkdir()
    return path


@pytest.fixture
async def backend(tmp_path: Path, provider_config: ProviderConfig, llm: ScriptedLLM) -> AsyncIterator[NativeBackend]:
    native = NativeBackend(NATIVE, runtime(tmp_path, provider_config))
    yield native
    await native.aclose()


@pytest.fixture
async def handle(backend: NativeBackend, worktree: Path) -> SessionHandle:
    opened = await backend.open_session(SessionSpec(chat_id="c1", agent="native", cwd=str(worktree)))
    assert isinstance(opened, Success)
    session: SessionHandle = opened.unwrap()
    return session


async def run(handle: SessionHandle, prompt: str, turn_id: str = "t1", *history: TranscriptEntry) -> list[AgentEvent]:
    async with asyncio.timeout(60):
        return [event async for event in handle.run_turn(TurnInput(turn_id=turn_id, prompt=prompt, transcript=history))]


def text_of(events: list[AgentEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_session_ids_and_resume_flag(backend: NativeBackend, worktree: Path) -> None:
    fresh = (await backend.open_session(SessionSpec(chat_id="c9", agent="native", cwd=str(worktree)))).unwrap()
    again = await backend.open_session(SessionSpec(chat_id="c9", agent="native", cwd=str(worktree), resume_id="x"))

    assert (fresh.backend_session_id, fresh.resumed, fresh.context_reset_reason) == ("native-c9", False, None)
    assert (again.unwrap().backend_session_id, again.unwrap().resumed) == ("x", True)
    assert backend.processes() == []
    assert (await backend.health())["ok"] is True
    missing = await backend.open_session(SessionSpec(chat_id="c9", agent="native", cwd=str(worktree / "gone")))
    assert "does not exist" in missing.failure().detail


async def test_two_turns_the_second_carries_the_transcript_of_every_agent(
    handle: SessionHandle, llm: ScriptedLLM
) -> None:
    first = await run(handle, "hello one", "t1")
    assert text_of(first) == "Hello from fake LLM. You said: hello one"
    assert isinstance(first[-1], TurnCompleted)
    usage = [e for e in first if isinstance(e, UsageReport)]
    assert len(usage) == 1
    assert usage[0].input_tokens > 0
    assert usage[0].output_tokens > 0
    assert (
        usage[0].cost_usd == 0
    )  # tokens only: hearth's ledger prices the turn (tests/integration/test_service_usage.py)
    assert all(e.session_id == "native-c1" and e.turn_id == "t1" for e in first)

    history = (
        TranscriptEntry(
            task_id="t1", agent="native", prompt="hello one", reply=text_of(first), status=TaskStatus.SUCCEEDED
        ),
        TranscriptEntry(
            task_id="t2", agent="opencode", prompt="opencode was here", reply="ok", status=TaskStatus.SUCCEEDED
        ),
        TranscriptEntry(task_id="t3", agent="native", prompt="RECALL", reply="", status=TaskStatus.RUNNING),
    )
    second = await run(handle, "RECALL", "t3", *history)

    assert text_of(second) == 'I remember these earlier user messages: ["hello one", "opencode was here"]'
    request = llm.log()[-1]
    assert request["prior_users"] == ["hello one", "opencode was here"]
    assert request["n_messages"] == 6  # system, two remembered turns, the prompt (its own row is skipped)
    assert request["tools"] == ["bash", "edit", "list", "read", "search", "write"]
    assert request["stream"] is True
    assert request["model"] == "fake-model"
    assert request["headers"]["authorization"] == "Bearer fake-openai-key"


async def test_write_lands_in_the_worktree_through_a_tool_call(
    handle: SessionHandle, worktree: Path, llm: ScriptedLLM
) -> None:
    events = await run(handle, "please WRITE notes/hello.txt Hello from native")

    assert (worktree / "notes" / "hello.txt").read_text() == "Hello from native\n"
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [c.status for c in calls] == ["pending", "running", "completed"]
    assert calls[0].name == "write"
    assert calls[0].input == {"path": str(worktree / "notes" / "hello.txt"), "content": "Hello from native\n"}
    assert calls[-1].output == "Wrote 18 bytes to notes/hello.txt"
    assert len({c.tool_call_id for c in calls}) == 1
    assert text_of(events) == "Tool done: Wrote 18 bytes to notes/hello.txt"
    assert isinstance(events[-1], TurnCompleted)
    assert len([e for e in events if isinstance(e, UsageReport)]) == 2  # one per model call
    assert [entry["after_tool"] for entry in llm.log()] == [None, "Wrote 18 bytes to notes/hello.txt"]


async def test_model_calls_keep_one_connection_to_the_llm(handle: SessionHandle, llm: ScriptedLLM) -> None:
    before = llm.connections()
    await run(handle, "hello one", "t1")
    await run(handle, "please WRITE notes/a.txt hi", "t2")  # two model calls: the tool call, then the answer
    await run(handle, "hello again", "t3")

    assert len(llm.log()) == 4
    assert llm.connections() - before == 1  # each stream read to its end, so its connection went back to the pool


async def test_reasoning_is_delivered_once_before_the_text(handle: SessionHandle) -> None:
    events = await run(handle, "THINK about this")

    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert "".join(e.text for e in reasoning) == REASONING_TEXT
    assert len({e.part_id for e in reasoning}) == 1
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert max(i for i, e in enumerate(events) if isinstance(e, ReasoningDelta)) < first_text
    assert next(e for e in events if isinstance(e, UsageReport)).reasoning_tokens > 0


async def test_cancel_during_a_slow_stream_then_the_next_turn_completes(
    handle: SessionHandle, llm: ScriptedLLM
) -> None:
    events: list[AgentEvent] = []
    streaming = asyncio.Event()

    async def consume() -> None:
        async for event in handle.run_turn(TurnInput(turn_id="slow", prompt="SLOW=1 tell a long story")):
            events.append(event)
            if isinstance(event, TextDelta):
                streaming.set()

    async with asyncio.timeout(15), asyncio.TaskGroup() as group:  # 20 chunks x 1 s would take 20 s
        group.create_task(consume())
        await streaming.wait()
        await asyncio.sleep(0.1)  # the turn is now waiting on the network for the next chunk
        await handle.cancel()

    assert isinstance(events[-1], TurnCancelled)
    assert [e for e in events if isinstance(e, TurnCompleted | TurnFailed)] == []
    assert text_of(events) == "word0 "

    after = await run(handle, "after cancel", "t2")
    assert text_of(after) == "Hello from fake LLM. You said: after cancel"
    assert isinstance(after[-1], TurnCompleted)


async def test_cancel_while_the_consumer_holds_an_event(handle: SessionHandle) -> None:
    events: list[AgentEvent] = []
    async with asyncio.timeout(15):
        async for event in handle.run_turn(TurnInput(turn_id="slow", prompt="SLOW=1 again")):
            events.append(event)
            if isinstance(event, TextDelta):
                await handle.cancel()  # the turn is suspended at its yield, not on the network

    assert isinstance(events[-1], TurnCancelled)
    assert text_of(events) == "word0 "


async def test_a_cancel_right_after_run_turn_is_called_ends_the_turn_before_the_llm_is_asked(
    handle: SessionHandle, llm: ScriptedLLM
) -> None:
    stream = handle.run_turn(TurnInput(turn_id="early", prompt="EARLY-CANCEL never asked"))
    await handle.cancel()  # before the consumer's first step: the generator has not run yet
    async with asyncio.timeout(15), contextlib.aclosing(stream):
        events = [event async for event in stream]

    assert [type(e) for e in events] == [TurnCancelled]
    assert not any("EARLY-CANCEL" in str(entry.get("last_user")) for entry in llm.log())
    after = await run(handle, "after an early cancel", "t2")
    assert isinstance(after[-1], TurnCompleted)


async def test_http_400_fails_the_turn_with_status_and_message(handle: SessionHandle) -> None:
    events = await run(handle, "FAIL400 please")

    assert isinstance(events[-1], TurnFailed)
    assert "HTTP 400" in events[-1].error
    assert "scripted error 400" in events[-1].error
    assert "/v1/chat/completions" in events[-1].error


async def test_http_500_is_retried_then_fails(handle: SessionHandle, llm: ScriptedLLM) -> None:
    events = await run(handle, "FAIL500 please")

    retries = [e for e in events if isinstance(e, Retry)]
    assert [r.attempt for r in retries] == [1]
    assert "scripted error 500" in retries[0].message
    assert isinstance(events[-1], TurnFailed)
    assert "failed after 2 attempts" in events[-1].error
    assert len(llm.log()) == 2


async def test_unreachable_endpoint_names_the_url(tmp_path: Path, worktree: Path) -> None:
    provider = ProviderConfig(openai_base_url="http://127.0.0.1:9/v1", openai_model="fake-model")
    native = NativeBackend(NATIVE, runtime(tmp_path, provider, retries=0))
    try:
        session = (await native.open_session(SessionSpec(chat_id="c", agent="native", cwd=str(worktree)))).unwrap()
        events = await run(session, "hi")
    finally:
        await native.aclose()

    assert isinstance(events[-1], TurnFailed)
    assert "could not reach the LLM at http://127.0.0.1:9/v1/chat/completions" in events[-1].error


@pytest.mark.parametrize(
    ("prompt", "complaint"),
    [
        ('TOOL write {"path": "../escape.txt", "content": "x"}', "contains '..'"),
        ('TOOL read {"path": "/etc/hostname"}', "outside the working directory"),
        ('TOOL write {"path": "out/x.txt", "content": "x"}', "outside the working directory"),
        ('TOOL write {"path": ".git/config", "content": "x"}', "git's own files"),
    ],
)
async def test_paths_outside_the_worktree_are_rejected(
    handle: SessionHandle, worktree: Path, tmp_path: Path, prompt: str, complaint: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (worktree / "out").symlink_to(outside, target_is_directory=True)

    events = await run(handle, prompt)

    failed = [e for e in events if isinstance(e, ToolCall) and e.status == "failed"]
    assert len(failed) == 1
    assert failed[0].output is not None
    assert complaint in failed[0].output
    assert text_of(events).startswith("Tool done: Error: ")
    assert isinstance(events[-1], TurnCompleted)
    assert not (tmp_path / "escape.txt").exists()
    assert list(outside.iterdir()) == []


async def test_closed_session_fails_turns_clearly(handle: SessionHandle) -> None:
    await handle.close()

    events = await run(handle, "hi")

    assert not handle.is_alive()
    assert isinstance(events[-1], TurnFailed)
    assert "closed" in events[-1].error


async def test_a_history_that_leaves_turns_out_tells_the_model_so(handle: SessionHandle, llm: ScriptedLLM) -> None:
    kept = TranscriptEntry(task_id="t9", agent="native", prompt="kept turn", reply="ok", status=TaskStatus.SUCCEEDED)
    turn = TurnInput(turn_id="t10", prompt="RECALL", transcript=(kept,), earlier_turns=9)
    async with asyncio.timeout(60), contextlib.aclosing(handle.run_turn(turn)) as events:
        assert isinstance([event async for event in events][-1], TurnCompleted)
    prior = llm.log()[-1]["prior_users"]
    assert prior[0].startswith("[hearth] 9 earlier turns of this chat are left out")
    assert prior[1:] == ["kept turn"]
