"""Background work keeps its agent alive (real qwen and opencode, scripted LLM): a turn that leaves a job running
through the agent's shell is not evicted by the idle TTL until the job ends on its own; then it is, and the job
was never killed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}
WAIT_S = 60.0


def background_prompt(agent: str, job: str) -> str:
    """qwen refuses a trailing "&" and runs a background command itself (``is_background``); the others take
    the shell's "&"."""
    if agent == "qwen":
        args = {"command": job, "is_background": True, "description": "a background job"}
        return f"TOOL run_shell_command {json.dumps(args)}"
    return f"BASH ({job}) > /dev/null 2>&1 &"


@pytest.mark.parametrize("agent", ["qwen", "opencode"])
async def test_a_job_left_running_defers_the_idle_ttl_until_it_ends(
    hearth_settings: Settings, git_repo: Path, agent: str
) -> None:
    require_agent(SPECS[agent])
    settings = hearth_settings.model_copy(
        update={
            "cache_dir": AGENTS_DIR.parent,
            "idle_ttl": 1.0,
            "eviction_interval_s": 0.5,
            "memory_sample_interval_s": 0.5,
        }
    )
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
        marker = worktree / "sleeper-finished"
        turn = await hearth.run_turn(chat, agent, background_prompt(agent, f"sleep 6; touch {marker}"))
        assert turn["status"] == "succeeded", turn

        async with asyncio.timeout(WAIT_S):  # the sampler sees the job and shows it on the agent session
            while True:
                view = (await hearth.client.get("/api/agents/memory")).json()
                handles = {(h["chat_id"], h["agent"]): h for h in view["handles"]}
                if handles.get((chat, agent), {}).get("background_work"):
                    break
                await asyncio.sleep(0.2)
        assert any("sleep 6" in work for work in handles[(chat, agent)]["background_work"])
        shown = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["background_work"]
        assert any("sleep 6" in work for work in shown[agent])  # on the chat's agent session too
        await asyncio.sleep(3 * settings.idle_ttl)  # well past the idle TTL, with eviction running twice a second
        if not marker.exists():  # the job still runs: its agent must still be live
            assert hearth.node.pool.find(chat, agent) is not None

        metrics = hearth.node.metrics
        async with asyncio.timeout(WAIT_S):  # the job ends by itself; then the idle TTL takes the handle
            while metrics.evictions_by_reason[(agent, "idle_ttl")] == 0:
                await asyncio.sleep(0.2)
        assert marker.exists()  # it ran to its end: never killed
        assert hearth.node.pool.find(chat, agent) is None
        assert dict(metrics.evictions_by_reason) == {(agent, "idle_ttl"): 1}
