"""A forced eviction is journaled (real qwen, scripted LLM): when background work outlives its grace and the budget
still needs the room, the agent is evicted, the work is stopped, and the chat's journal and stream say which
processes were stopped (pid and command line), under the turn that left them running."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from tests.integration.test_memory_background import background_prompt
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}
WAIT_S = 60.0


async def test_a_forced_eviction_journals_the_background_work_it_stopped(
    hearth_settings: Settings, git_repo: Path
) -> None:
    require_agent(SPECS["qwen"])
    settings = hearth_settings.model_copy(
        update={
            "cache_dir": AGENTS_DIR.parent,
            "memory_budget_mib": 1,  # less than any agent: an idle one must go
            "memory_floor": 0,
            "background_grace_s": 2.0,
            "memory_sample_interval_s": 0.5,
        }
    )
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
        marker = worktree / "sleeper-finished"
        turn = await hearth.run_turn(chat, "qwen", background_prompt("qwen", f"sleep 30; touch {marker}"))
        assert turn["status"] == "succeeded", turn

        notice = await hearth.wait_event(f"/api/chats/{chat}/events", "background_stopped")
        assert notice["task_id"] == turn["id"]  # under the turn that left the work running
        assert notice["agent"] == "qwen"
        assert "grace" in notice["reason"]
        stopped = notice["processes"]
        assert any("sleep 30" in p["command"] for p in stopped), stopped
        assert all(isinstance(p["pid"], int) for p in stopped)

        journal = (await hearth.client.get(f"/api/chats/{chat}/journal")).json()["events"]
        journaled = [e for e in journal if e["type"] == "background_stopped"]
        assert [e["seq"] for e in journaled] == [int(notice["_id"])]
        assert journaled[0]["processes"] == stopped

        assert hearth.node.pool.find(chat, "qwen") is None
        assert hearth.node.metrics.evictions_by_reason[("qwen", "budget_forced")] == 1
        forced = (await hearth.client.get("/api/agents/memory")).json()["forced"]
        assert [(f["chat_id"], f["agent"]) for f in forced] == [(chat, "qwen")]
        await asyncio.sleep(1.0)
        assert not marker.exists()  # the job was stopped, not left to finish
