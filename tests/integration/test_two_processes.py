"""Two ``hearth serve`` processes on one PostgreSQL, as an operator runs them: configured by HEARTH_* variables
only, sharing the worktrees directory (and, in the second test, the agents' state), stopped by signals.

A node killed with SIGKILL mid-turn loses that turn to the other node once its lease runs out, with the reason, and
the other node serves the chat from then on; a node stopped with SIGTERM hands its chat over at once, and with a
shared HEARTH_AGENT_STATE_DIR the agent's own session moves with it (no context reset).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from app.upkeep.leases import ABANDONED
from core.agents import BUILTIN_AGENTS, ProviderConfig
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.processes import NodeProcess, NodeProcesses
from tests.plugins.service import make_settings

pytestmark = pytest.mark.postgres

LEASE_TTL_S = 3.0  # renewed every second; expiry is noticed at the next renewal of the surviving node
NOTICED_WITHIN_S = 90.0  # generous for a loaded 2-core machine: the bound asserted is "it happens", not a time
QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")


def node_settings(tmp_path: Path, repo_root: Path, provider: ProviderConfig, dsn: str, **extra: object) -> Settings:
    """node-a's settings; node-b differs in its node id and data dir (``other_node``)."""
    return make_settings(
        tmp_path / "node-a",
        repo_root,
        provider,
        database_url=dsn,
        node_id="node-a",
        lease_ttl_s=LEASE_TTL_S,
        worktrees_dir=tmp_path / "shared-worktrees",  # storage every node sees at the same path
        **extra,
    )


def other_node(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"node_id": "node-b", "data_dir": tmp_path / "node-b"})


async def test_a_node_killed_mid_turn_loses_it_to_the_other_node_which_then_serves_the_chat(
    pg_dsn: str,
    node_processes: NodeProcesses,
    tmp_path: Path,
    repo_root: Path,
    git_repo: Path,
    provider_config: ProviderConfig,
) -> None:
    settings = node_settings(tmp_path, repo_root, provider_config, pg_dsn)
    nodes = {
        "node-a": await node_processes.start("node-a", settings),
        "node-b": await node_processes.start("node-b", other_node(settings, tmp_path)),
    }
    front = nodes["node-a"].hearth
    chat = (await front.create_chat(git_repo))["id"]
    turn = await front.submit(chat, "native", "SLOW=2 remember JADE, slowly")  # ~40 s of streaming
    await front.wait_event(turn["events_url"], "text_delta")
    owner = (await front.client.get(turn["url"])).json()["node_id"]  # whichever node claimed it
    victim = nodes[owner]
    survivor = next(node for node in nodes.values() if node is not victim)

    victim.kill(group=True)  # the machine went: no shutdown, no lease released

    lost = await survivor.hearth.wait_turn(chat, turn["id"], timeout=NOTICED_WITHIN_S)
    assert lost["status"] == "failed"
    assert lost["error"] == ABANDONED.format(node=owner)
    events = await survivor.hearth.events(turn["events_url"])
    assert (events[-1]["type"], events[-1]["error"]) == ("turn_failed", lost["error"])

    after = await survivor.hearth.run_turn(chat, "native", "RECALL")
    assert (after["status"], after["node_id"]) == ("succeeded", survivor.name), after["error"]
    health = (await survivor.hearth.client.get("/api/health")).json()
    assert health["jobs"]["jobs"]["chat_leases"]["ok"] is True
    assert victim.orphans() == []  # the native agent runs inside hearth: nothing of the killed node survives


@pytest.mark.agents
async def test_a_chat_handed_over_by_a_stopped_node_resumes_its_agent_session_from_shared_state(
    pg_dsn: str,
    node_processes: NodeProcesses,
    tmp_path: Path,
    repo_root: Path,
    git_repo: Path,
    provider_config: ProviderConfig,
    llm: ScriptedLLM,
) -> None:
    require_agent(QWEN)
    settings = node_settings(
        tmp_path,
        repo_root,
        provider_config,
        pg_dsn,
        cache_dir=AGENTS_DIR.parent,
        agent_state_dir=tmp_path / "shared-agent-state",
    )
    a = await node_processes.start("node-a", settings)
    chat = (await a.hearth.create_chat(git_repo))["id"]
    first = await a.hearth.run_turn(chat, "qwen", "remember AMBER")
    assert (first["status"], first["node_id"]) == ("succeeded", "node-a"), first["error"]
    before = await qwen_session(a, chat)
    b = await node_processes.start("node-b", other_node(settings, tmp_path))  # the chat stays with node-a's lease

    # SIGTERM: hearth drains, stops qwen and releases the chat's lease, then exits 0 (a clean stop)
    assert await a.terminate() == 0
    assert "Application shutdown complete." in a.log_tail()
    assert a.orphans() == []

    after = await b.hearth.run_turn(chat, "qwen", "RECALL")
    assert (after["status"], after["node_id"]) == ("succeeded", "node-b"), after["error"]
    events = await b.hearth.events(after["events_url"])
    assert "context_reset" not in [event["type"] for event in events]  # session/load found it
    moved = await qwen_session(b, chat)
    assert moved["backend_session_id"] == before["backend_session_id"]
    assert moved["node_id"] == "node-b"
    assert "remember AMBER" in llm.log()[-1]["reply"]["text"]  # the earlier turn is in qwen's own history


async def qwen_session(node: NodeProcess, chat: str) -> dict[str, object]:
    sessions = (await node.hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    (session,) = [s for s in sessions if s["agent"] == "qwen"]
    assert isinstance(session, dict)
    return session
