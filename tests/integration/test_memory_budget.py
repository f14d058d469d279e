"""The memory budget over real agents (opencode, qwen, claude; scripted LLM): with a budget below what they hold,
the costliest idle handle goes first and its emptied process is recycled, the busy chat is untouched, and the
evicted chat's next turn resumes its own session."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}
MIB = 1024 * 1024
# how far below the agents' sampled total the budget is set: far more than an idle agent's memory moves between the
# test's sample and the budget's own (seen: over 1 MiB), far less than the costliest idle handle frees
SHORT = 64 * MIB


async def test_over_budget_the_costliest_idle_handle_goes_and_its_chat_resumes(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    for name in ("opencode", "qwen", "claude"):
        require_agent(SPECS[name])
    settings = hearth_settings.model_copy(
        update={
            "cache_dir": AGENTS_DIR.parent,
            "memory_budget_mib": 0,
            "memory_floor": 0,
            "memory_sample_interval_s": 3600.0,  # the test enforces when it has set the budget, not the job
        }
    )
    async with serve_hearth(settings) as hearth:
        node = hearth.node
        chats = {agent: (await hearth.create_chat(git_repo))["id"] for agent in ("opencode", "qwen", "claude")}
        for agent, chat in chats.items():
            assert (await hearth.run_turn(chat, agent, f"remember the word {agent}-heron"))["status"] == "succeeded"
        sessions_before = {
            agent: (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"][0]
            for agent, chat in chats.items()
        }
        busy = await hearth.submit(chats["claude"], "claude", "SLOW=0.5 keep talking")
        async with asyncio.timeout(60):
            while not ((live := node.pool.find(chats["claude"], "claude")) and live.busy):
                await asyncio.sleep(0.1)

        sampled = await node.memory.sample()
        total = sum(sampled.roots_bytes.values())
        charged = {h.agent: h for h in sampled.handles}
        assert set(charged) == {"opencode", "qwen", "claude"}
        # a budget a little below what the agents hold: the costliest idle handle alone covers that
        node.memory.policy = node.memory.policy.model_copy(update={"budget_bytes": total - SHORT})
        result = await node.memory.enforce()

        assert result["evicted"] == [f"{chats['opencode']}/opencode"], (result, sampled, node.memory.state.attribution)
        assert result["recycled"] == [next(p for p in sampled.roots_bytes if p.startswith("opencode:"))]
        assert node.pool.find(chats["qwen"], "qwen") is not None
        claude = node.pool.find(chats["claude"], "claude")
        assert claude is not None
        assert claude.busy
        assert (await hearth.wait_turn(chats["claude"], busy["id"]))["status"] == "succeeded"
        assert node.metrics.evictions_by_reason[("opencode", "budget")] == 1

        view = (await hearth.client.get("/api/agents/memory")).json()
        assert view["budget_bytes"] == total - SHORT
        assert view["evictions"] == {"opencode/budget": 1}
        assert view["recycled"] == {"opencode": 1}
        listed = {a["name"]: a for a in (await hearth.client.get("/api/agents")).json()}
        assert listed["qwen"]["memory_bytes"] > 0
        metrics = (await hearth.client.get("/metrics")).text
        assert f"hearth_memory_budget_bytes {total - SHORT:g}" in metrics
        assert 'hearth_evictions_by_reason_total{agent="opencode",reason="budget"} 1' in metrics
        assert 'hearth_memory_agent_bytes{agent="qwen"}' in metrics

        node.memory.policy = node.memory.policy.model_copy(update={"budget_bytes": 0})
        again = await hearth.run_turn(chats["opencode"], "opencode", "RECALL")
        assert again["status"] == "succeeded", again
        events = await hearth.events(again["events_url"])
        assert "context_reset" not in [e["type"] for e in events]
        assert "opencode-heron" in llm.log()[-1]["reply"]["text"]
        after = (await hearth.client.get(f"/api/chats/{chats['opencode']}/agent-sessions")).json()["sessions"][0]
        assert after["backend_session_id"] == sessions_before["opencode"]["backend_session_id"]
