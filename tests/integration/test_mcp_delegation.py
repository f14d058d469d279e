"""Delegation through hearth's MCP server: a warm OpenCode turn whose scripted LLM calls hearth's ``submit_task``
tool (OpenCode reaches ``/mcp`` from its config's ``mcp`` section) makes qwen do the work in the same chat, as a
``new_task`` turn, one-shot, its change stamped ``qwen``."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.inprocess import serve_in_process
from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import Hearth

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")
QWEN_TOOL = "mcp__hearth__submit_task"
TOKEN = "delegation-token"


def free_port() -> int:
    """The agents are configured with hearth's URL before it listens, so the port is chosen first."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_an_opencode_turn_delegates_work_to_qwen_in_its_chat(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM, opencode_agents_dir: Path
) -> None:
    await delegate(hearth_settings, git_repo, llm, "opencode", "hearth_submit_task")


async def test_a_warm_qwen_turn_delegates_through_its_acp_mcp_servers(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    await delegate(hearth_settings, git_repo, llm, "qwen", QWEN_TOOL)


async def delegate(hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM, delegator: str, tool: str) -> None:
    """``delegator`` (warm, in the chat) calls hearth's ``submit_task`` (its name for it: ``tool``) for qwen."""
    require_agent(QWEN)
    port = free_port()
    settings = hearth_settings.model_copy(
        update={
            "cache_dir": AGENTS_DIR.parent,
            "api_token": TOKEN,
            "agent_mcp_url": f"http://127.0.0.1:{port}/mcp",
        }
    )
    async with serve_in_process(settings, port=port) as served:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=served.base_url, headers=headers, timeout=30) as client:
            hearth = Hearth(served.base_url, client, served.app.state, settings)
            chat = (await hearth.create_chat(git_repo))["id"]
            delegated = {
                "repo_path": str(git_repo),
                "agent": "qwen",
                "prompt": "BASH echo delegated > delegated.txt",
                "creator": chat,
                "origin": "new_task",
            }
            # the scripted LLM obeys the first directive it finds: qwen's BASH is escaped inside the JSON
            arguments = json.dumps(delegated).replace("BASH", "\\u0042ASH")
            turn = await hearth.run_turn(chat, delegator, f"TOOL {tool} {arguments}")
            assert turn["status"] == "succeeded", turn
            calls = [e for e in llm.log() if (e["reply"].get("tool") or [None])[0] == tool]
            assert calls, [[t for t in e["tools"] if "submit" in t or "hearth" in t] for e in llm.log()]
            assert "new_task" in str(calls[-1]["reply"])
            answered = next(e["after_tool"] for e in llm.log() if e.get("after_tool") and "turn_id" in e["after_tool"])

            turns = (await client.get(f"/api/chats/{chat}/turns")).json()
            (task,) = [t for t in turns if t["origin"] == "new_task"]
            assert task["id"] in answered
            assert task["agent"] == "qwen"
            done = await hearth.wait_turn(chat, task["id"])
            assert done["status"] == "succeeded", done
            changes: list[dict[str, Any]] = (await client.get(f"/api/chats/{chat}/changes")).json()["changes"]
            assert [(c["path"], c["agent"], c["task_id"]) for c in changes] == [("delegated.txt", "qwen", task["id"])]
            sessions = (await client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
            # the delegator's warm session only: the task ran one-shot, with no session of its own
            assert [(s["agent"], s["turns"]) for s in sessions] == [(delegator, 1)]
