"""Admission under the memory budget (real qwen and claude, scripted LLM): a new session that does not fit waits,
listed as waiting and saying so on its turn's stream, for a busy turn to end, then fails saying why; once the busy
agent is idle, the budget evicts it, stops its emptied process and admits the new session."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}


async def test_a_session_that_does_not_fit_waits_then_fails_and_fits_once_the_busy_agent_is_idle(
    hearth_settings: Settings, git_repo: Path
) -> None:
    require_agent(SPECS["qwen"])
    require_agent(SPECS["claude"])
    settings = hearth_settings.model_copy(
        update={
            "cache_dir": AGENTS_DIR.parent,
            "memory_budget_mib": 1,  # less than any agent: only one may run at a time
            "memory_floor": 0,
            "admission_wait_s": 2.0,
            "memory_sample_interval_s": 3600.0,  # only admissions enforce the budget here
        }
    )
    async with serve_hearth(settings) as hearth:
        first = (await hearth.create_chat(git_repo))["id"]
        second = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(first, "qwen", "hello"))["status"] == "succeeded"  # nothing ran: admitted
        busy = await hearth.submit(first, "qwen", "SLOW=0.5 a long answer")
        await hearth.wait_event(busy["events_url"], "text_delta")

        refused = await hearth.submit(second, "claude", "hello")
        waits = await hearth.wait_event(refused["events_url"], "waiting")  # the turn itself says why it waits
        assert waits["reason"].startswith("memory budget: a new claude session needs ")
        assert "MiB free of 1 MiB" in waits["reason"]
        assert waits["needs_bytes"] > 0
        assert waits["free_bytes"] == 0
        async with asyncio.timeout(30):
            while not (await hearth.client.get("/api/agents/memory")).json()["admissions_waiting"]:
                await asyncio.sleep(0.05)
        waiting = (await hearth.client.get("/api/agents/memory")).json()["admissions_waiting"]
        assert [(w["chat_id"], w["agent"]) for w in waiting] == [(second, "claude")]
        failed = await hearth.wait_turn(second, refused["id"])
        assert failed["status"] == "failed"
        assert "memory budget has no room for another claude session" in failed["error"]
        assert "HEARTH_MEMORY_BUDGET_MIB" in failed["error"]
        assert (await hearth.wait_turn(first, busy["id"]))["status"] == "succeeded"  # never touched

        admitted = await hearth.run_turn(second, "claude", "hello")
        assert admitted["status"] == "succeeded", admitted
        assert hearth.node.pool.find(first, "qwen") is None  # evicted to make room
        assert hearth.node.metrics.evictions_by_reason[("qwen", "budget")] == 1
        assert hearth.node.backends["qwen"].processes() == []  # its emptied process was stopped
