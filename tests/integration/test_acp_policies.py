"""ACP permissions (auto and ask), one-shot runs, a dead agent, and agents that cannot start.

qwen serves as the real agent (it asks before every write); the start failures use
operator-style agent definitions that need no code.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from acp import RequestError
from returns.result import Failure, Success

from adapters.acp.client import HearthAcpClient
from adapters.acp.oneshot import OneShotAcpBackend
from adapters.acp.warm import WarmAcpBackend
from adapters.store.sqlite import SqliteStore
from core.agents import BUILTIN_AGENTS, AgentSpec, ProviderConfig
from core.errors import AgentUnavailable
from core.events import AgentEvent, PermissionRequest, PermissionResolved, TurnCancelled, TurnCompleted
from core.lifecycle import SupervisionPolicy
from core.model import BackendKind
from core.ports.agents import SessionHandle, SessionSpec
from tests.plugins.backends import SystemClock, make_runtime, require_agent, run_turn

pytestmark = [pytest.mark.agents, pytest.mark.asyncio(loop_scope="module")]

QWEN = next(s for s in BUILTIN_AGENTS if s.name == "qwen")
PERMISSION_TIMEOUT_S = 1.5


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def asking(
    tmp_path_factory: pytest.TempPathFactory, provider_config: ProviderConfig, process_registry: SqliteStore
) -> AsyncIterator[tuple[SessionHandle, Path]]:
    require_agent(QWEN)
    root = tmp_path_factory.mktemp("acp-ask")
    worktree = root / "worktree"
    worktree.mkdir()
    spec = QWEN.model_copy(update={"permission": "ask"})
    runtime = make_runtime(root / "data", provider_config, permission_timeout_s=PERMISSION_TIMEOUT_S)
    backend = WarmAcpBackend(spec, runtime, process_registry, SystemClock())
    opened = await backend.open_session(SessionSpec(chat_id="ask", agent="qwen", cwd=str(worktree)))
    assert isinstance(opened, Success), opened
    yield opened.unwrap(), worktree
    await backend.aclose()


def answering(handle: SessionHandle, kind: str | None) -> Any:
    async def answer(event: AgentEvent) -> None:
        if isinstance(event, PermissionRequest) and kind != "never":
            option = next((o.option_id for o in event.options if o.kind == kind), None)
            assert await handle.answer_permission(event.request_id, option)
            assert not await handle.answer_permission(event.request_id, option), "answered twice"

    return answer


async def test_ask_policy_emits_the_request_and_an_allow_lets_the_write_land(
    asking: tuple[SessionHandle, Path],
) -> None:
    handle, worktree = asking
    target = worktree / "allowed.txt"
    turn = await run_turn(handle, "a1", f"WRITE {target} allowed", on_event=answering(handle, "allow_once"))
    assert isinstance(turn.terminal, TurnCompleted), turn.events
    (request,) = [e for e in turn.events if isinstance(e, PermissionRequest)]
    assert {o.kind for o in request.options} >= {"allow_once", "reject_once"}
    assert [e.outcome for e in turn.events if isinstance(e, PermissionResolved)] == ["allow_once"]
    assert target.read_text() == "allowed\n"


async def test_ask_policy_reject_keeps_the_file_out(asking: tuple[SessionHandle, Path]) -> None:
    handle, worktree = asking
    target = worktree / "rejected.txt"
    turn = await run_turn(handle, "a2", f"WRITE {target} nope", on_event=answering(handle, None))
    assert isinstance(turn.terminal, TurnCompleted), turn.events
    assert [e.outcome for e in turn.events if isinstance(e, PermissionResolved)] == ["rejected"]
    assert not target.exists()


async def test_ask_policy_without_an_answer_times_out_as_a_rejection(asking: tuple[SessionHandle, Path]) -> None:
    handle, worktree = asking
    target = worktree / "unanswered.txt"
    turn = await run_turn(handle, "a3", f"WRITE {target} nobody answered", on_event=answering(handle, "never"))
    assert isinstance(turn.terminal, TurnCompleted), turn.events
    assert [e.outcome for e in turn.events if isinstance(e, PermissionResolved)] == ["timed_out"]
    assert not target.exists()
    assert not await handle.answer_permission("perm-unknown", None)


async def test_cancel_while_a_permission_is_pending_cancels_the_turn(asking: tuple[SessionHandle, Path]) -> None:
    handle, worktree = asking
    target = worktree / "cancelled.txt"

    async def cancel_on_request(event: AgentEvent) -> None:
        if isinstance(event, PermissionRequest):
            await handle.cancel()

    turn = await run_turn(handle, "a4", f"WRITE {target} cancelled", on_event=cancel_on_request)
    assert isinstance(turn.terminal, TurnCancelled), turn.events
    assert [e.outcome for e in turn.events if isinstance(e, PermissionResolved)] == ["cancelled"]
    assert not target.exists()
    after = await run_turn(handle, "a5", "hello after a cancelled question")
    assert isinstance(after.terminal, TurnCompleted), after.events


async def test_auto_policy_rejects_a_write_outside_the_worktree(
    tmp_path: Path, provider_config: ProviderConfig, process_registry: SqliteStore
) -> None:
    require_agent(QWEN)
    worktree, outside = tmp_path / "worktree", tmp_path / "outside"
    worktree.mkdir()
    outside.mkdir()
    backend = WarmAcpBackend(QWEN, make_runtime(tmp_path / "data", provider_config), process_registry, SystemClock())
    try:
        handle = (await backend.open_session(SessionSpec(chat_id="auto", agent="qwen", cwd=str(worktree)))).unwrap()
        escaped = await run_turn(handle, "o1", f"WRITE {outside / 'escape.txt'} should not land")
        assert isinstance(escaped.terminal, TurnCompleted), escaped.events
        assert not (outside / "escape.txt").exists()
        assert not [e for e in escaped.events if isinstance(e, PermissionRequest)], "auto never asks"
        inside = await run_turn(handle, "o2", f"WRITE {worktree / 'inside.txt'} lands")
        assert (worktree / "inside.txt").read_text() == "lands\n", inside.events
    finally:
        await backend.aclose()


async def test_one_shot_runs_one_prompt_in_a_fresh_process_and_ends_it(
    tmp_path: Path, provider_config: ProviderConfig, process_registry: SqliteStore
) -> None:
    require_agent(QWEN)
    spec = QWEN.model_copy(update={"backend": BackendKind.ONE_SHOT})
    backend = OneShotAcpBackend(spec, make_runtime(tmp_path / "data", provider_config), process_registry, SystemClock())
    try:
        handle = (await backend.open_session(SessionSpec(chat_id=None, agent="qwen", cwd=str(tmp_path)))).unwrap()
        (info,) = backend.processes()
        turn = await run_turn(handle, "one", f"THINK please WRITE {tmp_path / 'once.txt'} one shot")
        assert isinstance(turn.terminal, TurnCompleted), turn.events
        assert {e.type for e in turn.events} >= {"reasoning_delta", "tool_call", "text_delta"}
        assert (tmp_path / "once.txt").read_text() == "one shot\n"
        assert backend.processes() == []
        assert not handle.is_alive()
        with pytest.raises(ProcessLookupError):
            os.kill(info.pid, 0)
        assert info.pid not in [r.pid for r in await process_registry.list_processes("test-node")]
    finally:
        await backend.aclose()


async def test_an_agent_over_its_crash_budget_is_dead_and_fails_fast_with_the_reason(
    tmp_path: Path, provider_config: ProviderConfig, process_registry: SqliteStore
) -> None:
    require_agent(QWEN)
    policy = SupervisionPolicy(crash_budget=2, backoff_initial_s=0.05, backoff_max_s=0.1)
    runtime = make_runtime(tmp_path / "data", provider_config)
    backend = WarmAcpBackend(QWEN, runtime, process_registry, SystemClock(), policy=policy)
    spec = SessionSpec(chat_id="dead", agent="qwen", cwd=str(tmp_path))
    try:
        for _crash in range(2):
            assert isinstance(await backend.open_session(spec), Success)
            (info,) = backend.processes()
            os.kill(info.pid, signal.SIGKILL)
            async with asyncio.timeout(10):
                while backend.processes():
                    await asyncio.sleep(0.05)
        refused = await backend.open_session(spec)
        assert isinstance(refused, Failure)
        error = refused.failure()
        assert isinstance(error, AgentUnavailable)
        assert "qwen is dead" in error.detail
        assert "crashed 2 times" in error.detail
        assert (await backend.health())["state"] == "dead"
    finally:
        await backend.aclose()


async def test_a_missing_executable_names_the_fix(
    tmp_path: Path, provider_config: ProviderConfig, process_registry: SqliteStore
) -> None:
    ghost = AgentSpec(name="ghost", backend=BackendKind.WARM_ACP, command="hearth-no-such-agent")
    backend = WarmAcpBackend(ghost, make_runtime(tmp_path, provider_config), process_registry, SystemClock())
    opened = await backend.open_session(SessionSpec(chat_id="c", agent="ghost", cwd=str(tmp_path)))
    assert isinstance(opened, Failure)
    assert "not found" in opened.failure().detail
    assert "PATH" in opened.failure().detail


async def test_an_agent_that_dies_at_start_reports_exit_code_and_stderr_then_is_dead(
    tmp_path: Path, provider_config: ProviderConfig, process_registry: SqliteStore
) -> None:
    broken = AgentSpec(
        name="broken", backend=BackendKind.WARM_ACP, command="/bin/sh", args=("-c", "echo no api key >&2; exit 3")
    )
    policy = SupervisionPolicy(crash_budget=2, backoff_initial_s=0.05, backoff_max_s=0.1)
    runtime = make_runtime(tmp_path, provider_config)
    backend = WarmAcpBackend(broken, runtime, process_registry, SystemClock(), policy=policy)
    spec = SessionSpec(chat_id="c", agent="broken", cwd=str(tmp_path))
    try:
        for _attempt in range(2):
            opened = await backend.open_session(spec)
            assert isinstance(opened, Failure)
            detail = opened.failure().detail
            assert "exited with code 3" in detail
            assert "no api key" in detail
        refused = await backend.open_session(spec)
        assert isinstance(refused, Failure)
        assert "broken is dead" in refused.failure().detail
        assert "no api key" in refused.failure().detail
    finally:
        await backend.aclose()


class _Worktree:
    def __init__(self, cwd: str) -> None:
        self.cwd = cwd

    def on_update(self, update: dict[str, Any]) -> None:
        return None

    async def decide_permission(self, tool_call: dict[str, Any], options: list[dict[str, Any]]) -> str | None:
        return None


async def test_agent_file_requests_are_confined_to_the_worktree(tmp_path: Path) -> None:
    client = HearthAcpClient("any")
    client.attach("s1", _Worktree(str(tmp_path)))
    await client.write_text_file("s1", str(tmp_path / "sub" / "a.txt"), "one\ntwo\n")
    assert (await client.read_text_file("s1", "sub/a.txt", line=2, limit=1)).content == "two\n"
    (tmp_path / "link").symlink_to("/etc")
    for escape in ("/etc/hostname", "../escape.txt", "link/hostname"):
        with pytest.raises(RequestError):
            await client.read_text_file("s1", escape)
        with pytest.raises(RequestError):
            await client.write_text_file("s1", escape, "x")
    assert not (tmp_path.parent / "escape.txt").exists()
