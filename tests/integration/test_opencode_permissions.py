"""An opencode agent configured with ``permission = "ask"``: its writes wait for hearth's answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.agents import ProviderConfig
from core.events import (
    AgentEvent,
    PermissionRequest,
    PermissionResolved,
    ToolCall,
    TurnCompleted,
    is_terminal,
)
from core.ports.agents import SessionHandle, SessionSpec
from scripted_llm.llm import ScriptedLLM
from tests.plugins.opencode import (
    OPENCODE_SPEC,
    make_git_repo,
    opencode_backend,
    opencode_runtime,
    run_turn,
    sqlite_registry,
)

pytestmark = pytest.mark.agents


async def test_a_write_waits_for_permission_and_proceeds_once_allowed(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig, llm: ScriptedLLM
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config)
    spec = OPENCODE_SPEC.model_copy(update={"permission": "ask"})
    worktree = make_git_repo(tmp_path / "repo")
    async with (
        sqlite_registry(tmp_path / "hearth.sqlite3") as store,
        opencode_backend(runtime, store, spec=spec) as backend,
    ):
        handle: SessionHandle = (
            await backend.open_session(SessionSpec(chat_id="ask", agent="opencode", cwd=str(worktree)))
        ).unwrap()
        answered: list[bool] = []

        async def allow_once(event: AgentEvent) -> None:
            if isinstance(event, PermissionRequest):
                assert not (worktree / "asked.txt").exists()  # the write really waits
                answered.append(await handle.answer_permission(event.request_id, "once"))

        events = await run_turn(handle, "t1", "WRITE asked.txt written after asking", allow_once)

    assert answered == [True]
    [request] = [e for e in events if isinstance(e, PermissionRequest)]
    assert {option.kind for option in request.options} >= {"allow_once", "reject_once"}
    assert any(isinstance(e, PermissionResolved) and e.outcome == "allow_once" for e in events)
    assert [e for e in events if isinstance(e, ToolCall)][-1].status == "completed"
    assert isinstance(events[-1], TurnCompleted)
    assert (worktree / "asked.txt").read_text() == "written after asking\n"


def _outside_dir(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("not for agents\n")
    return outside


@pytest.mark.parametrize(
    "prompt",
    ["WRITE {outside}/escaped.txt should never land", 'TOOL read {{"filePath": "{outside}/secret.txt"}}'],
    ids=["write", "read"],
)
async def test_auto_refuses_a_path_outside_the_worktree_at_once_and_the_turn_ends(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig, llm: ScriptedLLM, prompt: str
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config)
    worktree = make_git_repo(tmp_path / "repo")
    outside = _outside_dir(tmp_path)
    async with (
        sqlite_registry(tmp_path / "hearth.sqlite3") as store,
        opencode_backend(runtime, store, spec=OPENCODE_SPEC) as backend,
    ):
        assert OPENCODE_SPEC.permission == "auto"
        handle = (await backend.open_session(SessionSpec(chat_id="auto", agent="opencode", cwd=str(worktree)))).unwrap()
        async with asyncio.timeout(60):  # before the fix the turn hung until the watchdog
            events = await run_turn(handle, "t1", prompt.format(outside=outside))

    assert is_terminal(events[-1])
    assert not (outside / "escaped.txt").exists()
    assert [e for e in events if isinstance(e, PermissionRequest)] == []  # nobody is asked under auto
    [refusal] = [e for e in events if isinstance(e, PermissionResolved)]
    assert refusal.outcome == "rejected"
    assert refusal.reason is not None
    assert "outside the worktree" in refusal.reason
    assert str(outside) in refusal.reason
    assert all(e.status != "completed" for e in events if isinstance(e, ToolCall))  # the tool never ran


async def test_ask_rejects_an_unanswered_question_at_the_permission_timeout_and_says_so(
    tmp_path: Path, opencode_agents_dir: Path, provider_config: ProviderConfig, llm: ScriptedLLM
) -> None:
    runtime = opencode_runtime(tmp_path / "data", opencode_agents_dir, provider_config, permission_timeout_s=1.0)
    spec = OPENCODE_SPEC.model_copy(update={"permission": "ask"})
    worktree = make_git_repo(tmp_path / "repo")
    async with (
        sqlite_registry(tmp_path / "hearth.sqlite3") as store,
        opencode_backend(runtime, store, spec=spec) as backend,
    ):
        handle = (await backend.open_session(SessionSpec(chat_id="ask", agent="opencode", cwd=str(worktree)))).unwrap()
        async with asyncio.timeout(60):
            events = await run_turn(handle, "t1", "WRITE unanswered.txt nobody answers")

    assert is_terminal(events[-1])
    [request] = [e for e in events if isinstance(e, PermissionRequest)]
    [resolved] = [e for e in events if isinstance(e, PermissionResolved)]
    assert (resolved.request_id, resolved.outcome) == (request.request_id, "timed_out")
    assert resolved.reason is not None
    assert "nobody answered within 1 s" in resolved.reason
    assert not (worktree / "unanswered.txt").exists()
