"""An opencode agent configured with ``permission = "ask"``: its writes wait for hearth's answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.agents import ProviderConfig
from core.events import AgentEvent, PermissionRequest, PermissionResolved, ToolCall, TurnCompleted
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
