"""OpenCodeServerBackend recovery on the real `opencode serve`: crashes, restarts, resume and leftovers.

Each test owns its servers (they get killed or restarted), unlike test_opencode_server.py's shared one.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.opencode.backend import OpenCodeServerBackend
from app.clock import SystemClock
from core.agents import ProviderConfig
from core.events import AgentEvent, ReasoningDelta, TextDelta, TurnCompleted, TurnFailed
from core.model import ProcessRecord
from core.ports.agents import SessionSpec
from scripted_llm.llm import ScriptedLLM
from tests.plugins.opencode import make_git_repo, opencode_backend, opencode_runtime, run_turn, sqlite_registry

pytestmark = pytest.mark.agents


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)
    return True


def server_pid(backend: OpenCodeServerBackend) -> int:
    [process] = backend.processes()
    return process.pid


async def test_kill_9_mid_turn_fails_the_turn_clearly_and_the_next_turn_respawns(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig, llm: ScriptedLLM
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config)
    worktree = str(make_git_repo(tmp_path / "repo"))
    async with sqlite_registry(tmp_path / "hearth.sqlite3") as store, opencode_backend(runtime, store) as backend:
        handle = (await backend.open_session(SessionSpec(chat_id="kill", agent="opencode", cwd=worktree))).unwrap()
        await run_turn(handle, "t0", "remember the word walrus")
        first_pid = server_pid(backend)

        async def kill_on_first_text(event: AgentEvent) -> None:
            if isinstance(event, TextDelta) and server_pid(backend) == first_pid:
                os.kill(first_pid, signal.SIGKILL)

        killed = await run_turn(handle, "t1", "SLOW=0.5 a long answer", kill_on_first_text)
        assert isinstance(killed[-1], TurnFailed)
        assert "SIGKILL" in killed[-1].error
        assert "next turn" in killed[-1].error
        assert not handle.is_alive()
        assert await store.list_processes("node-test") == []  # the dead server's record is gone

        after = await run_turn(handle, "t2", "RECALL")  # the same session id, on a new server
        assert isinstance(after[-1], TurnCompleted)
        assert server_pid(backend) != first_pid
        assert backend.spawn_count == 2
        assert "remember the word walrus" in "".join(e.text for e in after if isinstance(e, TextDelta))
        [record] = await store.list_processes("node-test")
        assert record.pid == server_pid(backend)


async def test_resume_after_a_backend_restart_reuses_the_session(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig, llm: ScriptedLLM
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config)
    worktree = str(make_git_repo(tmp_path / "repo"))
    async with sqlite_registry(tmp_path / "hearth.sqlite3") as store:
        async with opencode_backend(runtime, store) as backend:
            spec = SessionSpec(chat_id="resume", agent="opencode", cwd=worktree)
            first = (await backend.open_session(spec)).unwrap()
            await run_turn(first, "t1", "remember the word heron")
        assert await store.list_processes("node-test") == []  # aclose stopped the server and forgot it

        async with opencode_backend(runtime, store) as restarted:
            spec = SessionSpec(chat_id="resume", agent="opencode", cwd=worktree, resume_id=first.backend_session_id)
            resumed = (await restarted.open_session(spec)).unwrap()
            events = await run_turn(resumed, "t2", "RECALL")

    assert resumed.resumed is True
    assert resumed.context_reset_reason is None
    assert resumed.backend_session_id == first.backend_session_id
    assert isinstance(events[-1], TurnCompleted)
    assert "remember the word heron" in llm.log()[-1]["prior_users"]


async def test_leftover_server_of_a_previous_hearth_is_stopped_and_strangers_are_spared(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config)
    async with sqlite_registry(tmp_path / "hearth.sqlite3") as store:
        async with opencode_backend(runtime, store) as crashed_hearth:
            (await crashed_hearth.ensure_server()).unwrap()
            leftover = server_pid(crashed_hearth)
            stranger = ProcessRecord(
                key="opencode-server:opencode",
                pid=os.getpid(),  # this test process: recorded, but not an opencode server of ours
                port=1,
                started_at=datetime.now(UTC),
                node_id="node-test",
                command="/not/our/opencode serve",
            )
            await store.record_process(stranger)

            next_hearth = OpenCodeServerBackend(crashed_hearth.spec, runtime, store, SystemClock())
            notes = await next_hearth.adopt_or_stop_leftovers()

            assert any(f"stopped leftover opencode server pid {leftover}" in note for note in notes)
            assert any(f"pid {os.getpid()} no longer runs our opencode server" in note for note in notes)
            assert await eventually(lambda: not crashed_hearth.processes())  # our child, now reaped
            assert await store.list_processes("node-test") == []
        os.kill(os.getpid(), 0)  # the stranger (this very process) was left alone


async def test_a_dropped_event_stream_is_resubscribed_and_the_turn_resynced(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig, llm: ScriptedLLM
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config)
    worktree = str(make_git_repo(tmp_path / "repo"))
    async with sqlite_registry(tmp_path / "hearth.sqlite3") as store, opencode_backend(runtime, store) as backend:
        handle = (await backend.open_session(SessionSpec(chat_id="drop", agent="opencode", cwd=worktree))).unwrap()
        await run_turn(handle, "t0", "warm up the directory")  # its first turn is slow and quiet for a while
        # Chunks 0.8 s apart against a 0.5 s idle limit: the stream "drops" between chunks, again and again.
        backend.stream_idle_timeout_s = 0.5
        events = await run_turn(handle, "t1", "SLOW=0.8 THINK keep talking")

    assert isinstance(events[-1], TurnCompleted)
    assert backend.stream_resyncs > 0
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == " ".join(f"word{i}" for i in range(20))  # every chunk exactly once despite the drops
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == "Let me think step by step about this request. It seems simple enough."


async def test_a_hung_server_fails_the_turn_is_killed_and_the_next_turn_respawns(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig, llm: ScriptedLLM
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config, health_timeout_s=1.0)
    worktree = str(make_git_repo(tmp_path / "repo"))
    async with sqlite_registry(tmp_path / "hearth.sqlite3") as store, opencode_backend(runtime, store) as backend:
        handle = (await backend.open_session(SessionSpec(chat_id="hung", agent="opencode", cwd=worktree))).unwrap()
        await run_turn(handle, "t0", "warm up the directory")
        hung_pid = server_pid(backend)
        backend.stream_idle_timeout_s = 1.0  # production: 15 s, above the server's 10 s heartbeat

        async def freeze_on_first_text(event: AgentEvent) -> None:
            if isinstance(event, TextDelta) and server_pid(backend) == hung_pid:
                os.kill(hung_pid, signal.SIGSTOP)

        hung = await run_turn(handle, "t1", "SLOW=0.5 a long answer", freeze_on_first_text)

        assert isinstance(hung[-1], TurnFailed)
        assert "health" in hung[-1].error
        assert "SIGKILL" in hung[-1].error
        backend.stream_idle_timeout_s = 15.0
        after = await run_turn(handle, "t2", "are you back")
        assert isinstance(after[-1], TurnCompleted)
        assert server_pid(backend) != hung_pid


async def test_three_crashes_within_a_minute_make_the_agent_dead_until_an_operator_reset(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config)
    async with sqlite_registry(tmp_path / "hearth.sqlite3") as store, opencode_backend(runtime, store) as backend:
        for _ in range(3):
            (await backend.ensure_server()).unwrap()  # respawns after the backoff core decided
            os.kill(server_pid(backend), signal.SIGKILL)
            assert await eventually(lambda: not backend.processes())

        refused = await backend.ensure_server()
        worktree = str(make_git_repo(tmp_path / "repo"))
        opened = await backend.open_session(SessionSpec(chat_id="dead", agent="opencode", cwd=worktree))

        assert "crashed 3 times" in refused.failure().detail
        assert "SIGKILL" in opened.failure().detail or "-9" in opened.failure().detail
        assert (await backend.health())["state"] == "dead"
        assert backend.reset()
        (await backend.ensure_server()).unwrap()
        assert backend.spawn_count == 4
