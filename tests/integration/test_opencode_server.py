"""OpenCodeServerBackend on the real `opencode serve` against the scripted LLM: turns, tools, cancel, auth.

One server (module scope) serves every test here, as one server per node serves every chat in hearth.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pygit2
import pytest
import pytest_asyncio

from adapters.opencode.backend import OpenCodeServerBackend
from core.agents import ProviderConfig
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
from core.ports.agents import SessionHandle, SessionSpec, TurnInput
from scripted_llm.llm import ScriptedLLM
from tests.plugins.opencode import make_git_repo, opencode_backend, opencode_runtime, run_turn, sqlite_registry

pytestmark = [pytest.mark.agents, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def backend(
    tmp_path_factory: pytest.TempPathFactory, opencode_agents_dir: Path, provider_config: ProviderConfig
) -> AsyncIterator[OpenCodeServerBackend]:
    root = tmp_path_factory.mktemp("opencode-server")
    runtime = opencode_runtime(root / "data", opencode_agents_dir, provider_config, llm_retry_limit=1)
    async with sqlite_registry(root / "hearth.sqlite3") as store, opencode_backend(runtime, store) as live:
        yield live


async def open_chat(backend: OpenCodeServerBackend, worktree: Path, chat_id: str) -> SessionHandle:
    opened = await backend.open_session(SessionSpec(chat_id=chat_id, agent="opencode", cwd=str(worktree)))
    return opened.unwrap()


def text_of(events: list[AgentEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_two_turns_share_one_session(backend: OpenCodeServerBackend, llm: ScriptedLLM, tmp_path: Path) -> None:
    handle = await open_chat(backend, make_git_repo(tmp_path / "repo"), "two-turns")

    first = await run_turn(handle, "t1", "remember the word pelican")
    second = await run_turn(handle, "t2", "RECALL")

    assert isinstance(first[-1], TurnCompleted)
    assert isinstance(second[-1], TurnCompleted)
    assert text_of(first) == "Hello from fake LLM. You said: remember the word pelican"
    assert "remember the word pelican" in text_of(second)
    requests = [entry for entry in llm.log() if entry["tools"]]
    assert requests[-1]["last_user"] == "RECALL"
    assert "remember the word pelican" in requests[-1]["prior_users"]
    assert all(e.session_id == handle.backend_session_id for e in first + second)


async def test_reasoning_and_text_arrive_exactly_once(
    backend: OpenCodeServerBackend, llm: ScriptedLLM, tmp_path: Path
) -> None:
    handle = await open_chat(backend, make_git_repo(tmp_path / "repo"), "think")

    events = await run_turn(handle, "t1", "THINK about it")

    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == "Let me think step by step about this request. It seems simple enough."
    assert text_of(events) == "Hello from fake LLM. You said: THINK about it"
    assert isinstance(events[-1], TurnCompleted)
    usage = [e for e in events if isinstance(e, UsageReport)]
    assert usage
    assert sum(u.input_tokens for u in usage) > 0
    assert sum(u.output_tokens for u in usage) > 0
    # OpenCode is given no price: hearth's ledger prices the turn like every backend's (test_service_usage.py)
    assert sum(u.cost_usd for u in usage) == 0


async def test_write_tool_lands_in_the_worktree(
    backend: OpenCodeServerBackend, llm: ScriptedLLM, tmp_path: Path
) -> None:
    worktree = make_git_repo(tmp_path / "repo")
    handle = await open_chat(backend, worktree, "write")

    events = await run_turn(handle, "t1", "WRITE hello.txt Hello from opencode")

    assert isinstance(events[-1], TurnCompleted)
    assert (worktree / "hello.txt").read_text() == "Hello from opencode\n"
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls
    assert calls[-1].name == "write"
    assert calls[-1].status == "completed"
    assert pygit2.Repository(str(worktree)).status().get("hello.txt") == pygit2.enums.FileStatus.WT_NEW
    assert text_of(events).startswith("Tool done: ")
    assert len([e for e in events if isinstance(e, UsageReport)]) == 2  # one per LLM step


async def test_cancel_during_a_slow_turn_then_the_next_turn_completes(
    backend: OpenCodeServerBackend, llm: ScriptedLLM, tmp_path: Path
) -> None:
    handle = await open_chat(backend, make_git_repo(tmp_path / "repo"), "cancel")

    async def cancel_on_first_text(event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            await handle.cancel()

    cancelled = await run_turn(handle, "t1", "SLOW=0.5 take your time", cancel_on_first_text)
    after = await run_turn(handle, "t2", "after the cancel")

    assert isinstance(cancelled[-1], TurnCancelled)
    assert isinstance(after[-1], TurnCompleted)
    assert text_of(after) == "Hello from fake LLM. You said: after the cancel"
    assert all(e.turn_id == "t2" for e in after)


async def test_a_shell_tool_cut_by_a_cancel_ends_with_opencodes_own_final_update(
    backend: OpenCodeServerBackend, llm: ScriptedLLM, tmp_path: Path
) -> None:
    # OpenCode reports the aborted command's result only after the session went idle: the turn must wait for it
    handle = await open_chat(backend, make_git_repo(tmp_path / "repo"), "cancel-shell")

    async def cancel_once_running(event: AgentEvent) -> None:
        if isinstance(event, ToolCall) and event.status == "running":
            await handle.cancel()

    cancelled = await run_turn(handle, "t1", "BASH sleep 30", cancel_once_running)
    after = await run_turn(handle, "t2", "after the shell cancel")

    assert isinstance(cancelled[-1], TurnCancelled)
    calls = [e for e in cancelled if isinstance(e, ToolCall)]
    assert any(call.status == "running" for call in calls)
    assert len({call.tool_call_id for call in calls}) == 1
    final = calls[-1]
    assert final.status in ("completed", "failed")
    assert "aborted" in (final.output or "").lower()
    assert "the turn was cancelled before this tool reported its result" not in (final.output or "")
    assert all(e.turn_id == "t1" for e in cancelled)
    assert isinstance(after[-1], TurnCompleted)
    assert text_of(after) == "Hello from fake LLM. You said: after the shell cancel"
    assert all(e.turn_id == "t2" for e in after)


async def test_requests_without_the_password_are_refused(backend: OpenCodeServerBackend) -> None:
    health = await backend.health()
    assert health["healthy"] is True
    port = health["port"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as anonymous:
        assert (await anonymous.get("/global/health")).status_code == 401
        assert (await anonymous.get("/session")).status_code == 401
        wrong = await anonymous.get("/global/health", auth=("opencode", "not-the-password"))
        assert wrong.status_code == 401
        async with anonymous.stream("GET", "/event") as events:
            assert events.status_code == 401


async def test_health_reports_resources_of_the_server(backend: OpenCodeServerBackend) -> None:
    await backend.health()  # the first sample only sets the CPU baseline
    health = await backend.health()
    assert health["healthy"] is True
    assert isinstance(health["rss_bytes"], int)
    assert health["rss_bytes"] > 10_000_000
    assert isinstance(health["cpu_percent"], float)
    assert health["cpu_percent"] >= 0
    assert [p.pid for p in backend.processes()] == [health["pid"]]


async def test_unknown_session_gets_a_new_one_with_a_reason(backend: OpenCodeServerBackend, tmp_path: Path) -> None:
    spec = SessionSpec(
        chat_id="gone", agent="opencode", cwd=str(make_git_repo(tmp_path / "repo")), resume_id="ses_gone"
    )

    handle = (await backend.open_session(spec)).unwrap()

    assert handle.resumed is False
    assert handle.backend_session_id != "ses_gone"
    assert handle.backend_session_id.startswith("ses_")
    assert handle.context_reset_reason is not None
    assert "ses_gone" in handle.context_reset_reason


async def test_llm_5xx_retries_end_the_turn_at_the_limit(
    backend: OpenCodeServerBackend, llm: ScriptedLLM, tmp_path: Path
) -> None:
    handle = await open_chat(backend, make_git_repo(tmp_path / "repo"), "fail500")

    failed = await run_turn(handle, "t1", "FAIL500 please")
    after = await run_turn(handle, "t2", "and now something that works")

    retries = [e for e in failed if isinstance(e, Retry)]
    assert [r.attempt for r in retries] == [1, 2]  # limit 1: the first retry is allowed, the second is not
    assert isinstance(failed[-1], TurnFailed)
    assert "scripted error 500" in failed[-1].error
    assert "retried 1 times" in failed[-1].error
    assert isinstance(after[-1], TurnCompleted)
    assert text_of(after) == "Hello from fake LLM. You said: and now something that works", llm.log()


async def test_closing_the_last_session_of_a_directory_disposes_its_instance(
    backend: OpenCodeServerBackend, tmp_path: Path
) -> None:
    worktree = make_git_repo(tmp_path / "repo")
    first = await open_chat(backend, worktree, "dispose-a")
    second = await open_chat(backend, worktree, "dispose-b")
    before = backend.disposals

    await first.close()
    assert backend.disposals == before  # the other chat still uses the directory
    await second.close()
    assert backend.disposals == before + 1
    assert not second.is_alive()


async def test_a_consumer_walking_away_mid_turn_aborts_it(
    backend: OpenCodeServerBackend, llm: ScriptedLLM, tmp_path: Path
) -> None:
    handle = await open_chat(backend, make_git_repo(tmp_path / "repo"), "walk-away")
    stream = handle.run_turn(TurnInput(turn_id="t1", prompt="SLOW=0.5 a long story"))
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # e.g. the turn runner's task was cancelled

    after = await run_turn(handle, "t2", "still there?")

    assert isinstance(after[-1], TurnCompleted)
    assert text_of(after) == "Hello from fake LLM. You said: still there?"
    _, client = (await backend.ensure_server()).unwrap()
    history = await client.messages(handle.backend_session_id, str(tmp_path / "repo"))
    errors = [m["info"].get("error", {}).get("name") for m in history if m["info"]["role"] == "assistant"]
    assert errors[0] == "MessageAbortedError"  # the abandoned turn was aborted, not left running


async def test_a_missing_worktree_directory_is_refused_before_opencode_sees_it(
    backend: OpenCodeServerBackend, tmp_path: Path
) -> None:
    opened = await backend.open_session(SessionSpec(chat_id="x", agent="opencode", cwd=str(tmp_path / "gone")))

    assert "not an existing absolute directory" in opened.failure().detail


async def test_concurrent_turns_of_several_chats_are_kept_apart(
    backend: OpenCodeServerBackend, llm: ScriptedLLM, tmp_path: Path
) -> None:
    shared, other = make_git_repo(tmp_path / "shared"), make_git_repo(tmp_path / "other")
    handles = [
        await open_chat(backend, shared, "con-a"),
        await open_chat(backend, shared, "con-b"),  # same directory: one event stream, demuxed by session
        await open_chat(backend, other, "con-c"),
    ]

    results = await asyncio.gather(
        *(run_turn(handle, f"t-{n}", f"THINK chat number {n}") for n, handle in enumerate(handles))
    )

    for n, (handle, events) in enumerate(zip(handles, results, strict=True)):
        assert isinstance(events[-1], TurnCompleted)
        assert text_of(events) == f"Hello from fake LLM. You said: THINK chat number {n}"
        assert {e.session_id for e in events} == {handle.backend_session_id}
        assert {e.turn_id for e in events} == {f"t-{n}"}
