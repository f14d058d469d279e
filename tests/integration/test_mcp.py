"""hearth as an MCP server, driven by the MCP SDK's own client: over streamable HTTP at ``/mcp`` behind the API's
bearer token, and over stdio from ``hearth mcp``. A real qwen does the work against the scripted LLM; the arena's
contestants are native agents (they start in milliseconds)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from app.settings import Settings
from core.agents import BUILTIN_AGENTS, ProviderConfig
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.processes import PROJECT, settings_env
from tests.plugins.service import Hearth, make_settings

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")
TOKEN = "mcp-test-token"
TOOLS = {
    "create_chat",
    "submit_task",
    "submit_turn",
    "wait_for_turn",
    "cancel_turn",
    "list_changes",
    "apply_changes",
    "discard_changes",
    "answer_permission",
    "list_agents",
    "run_arena",
    "wait_for_arena",
    "adopt",
    "discard_arena",
}
WRITE_N = 'TOOL write {"path": "n.txt", "content": "from the arena\\n"}'
TWO_NATIVES = [{"agent": "native"}, {"agent": "native", "model": None}]


@pytest.fixture
def hearth_settings(tmp_path: Path, repo_root: Path, provider_config: ProviderConfig) -> Settings:
    return make_settings(tmp_path / "data", repo_root, provider_config, cache_dir=AGENTS_DIR.parent, api_token=TOKEN)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    structured: dict[str, Any] = result.structured_content
    return structured


async def refused(client: Client, tool: str, says: tuple[str, ...], **arguments: Any) -> None:
    """The call fails with a tool error that says each of ``says``."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    for part in says:
        assert part in str(result.content), result.content


async def drive_a_task_to_the_checkout(client: Client, repo: Path) -> None:
    """create_chat -> submit_task -> wait_for_turn -> list_changes -> apply_changes, and the tool errors."""
    assert {tool.name for tool in (await client.list_tools()).tools} >= TOOLS
    chat = await call(client, "create_chat", repo_path=str(repo), title="from MCP")
    task = await call(
        client,
        "submit_task",
        repo_path=str(repo),
        agent="qwen",
        prompt="BASH echo from-mcp > mcp.txt",
        creator=chat["chat_id"],
    )
    assert (task["chat_id"], task["origin"], task["chat_created"]) == (chat["chat_id"], "mcp", False)
    finished = await call(client, "wait_for_turn", chat_id=chat["chat_id"], turn_id=task["turn_id"], timeout_s=120)
    assert finished["done"] is True
    assert finished["status"] == "succeeded", finished
    assert finished["reply"].startswith("Tool done"), finished  # the scripted LLM's answer after the shell ran
    changes = await call(client, "list_changes", chat_id=chat["chat_id"])
    assert [(c["path"], c["agent"], c["turn_id"]) for c in changes["changes"]] == [("mcp.txt", "qwen", task["turn_id"])]
    applied = await call(client, "apply_changes", chat_id=chat["chat_id"])
    assert applied["applied"] == "all"
    assert (repo / "mcp.txt").read_text() == "from-mcp\n"
    assert (await call(client, "list_changes", chat_id=chat["chat_id"]))["changes"] == []

    unknown = await client.call_tool("submit_task", {"repo_path": str(repo), "agent": "nobody", "prompt": "x"})
    assert unknown.is_error
    assert "field agent" in str(unknown.content), unknown.content
    invalid = await client.call_tool("wait_for_turn", {"chat_id": chat["chat_id"], "turn_id": "t", "timeout_s": 9999})
    assert invalid.is_error
    assert "timeout_s" in str(invalid.content), invalid.content
    missing = await client.call_tool("list_changes", {"chat_id": "no-such-chat"})
    assert missing.is_error
    assert "no-such-chat" in str(missing.content)


@asynccontextmanager
async def http_client(hearth: Hearth, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(f"{hearth.base_url}/mcp", http_client=http)) as client,
    ):
        yield client


async def test_the_mcp_client_drives_a_task_over_http(hearth_any_store: Hearth, git_repo: Path) -> None:
    require_agent(QWEN)
    hearth = hearth_any_store
    anonymous = await hearth.client.post("/mcp", json={}, headers={"Authorization": ""})
    assert anonymous.status_code == 401, anonymous.text
    wrong = await hearth.client.post("/mcp", json={}, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    no_stream = await hearth.client.get("/mcp")  # stateless: no server-initiated stream held open
    assert (no_stream.status_code, no_stream.headers["allow"]) == (405, "POST")
    async with http_client(hearth, TOKEN) as client:
        await drive_a_task_to_the_checkout(client, git_repo)


async def test_the_mcp_client_drives_a_task_over_stdio(hearth_settings: Settings, git_repo: Path) -> None:
    require_agent(QWEN)
    env = {**os.environ, **settings_env(hearth_settings)}
    env.pop("HEARTH_NODE_ID", None)
    server = StdioServerParameters(command=sys.executable, args=["-m", "app.cli.main", "mcp"], env=env, cwd=PROJECT)
    async with Client(server, read_timeout_seconds=180) as client:
        await drive_a_task_to_the_checkout(client, git_repo)


async def test_the_mcp_client_runs_an_arena_and_adopts_the_winner(hearth: Hearth, git_repo: Path) -> None:
    async with http_client(hearth, TOKEN) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} >= TOOLS
        chat = (await call(client, "create_chat", repo_path=str(git_repo)))["chat_id"]

        await refused(
            client,
            "run_arena",
            ("field chat_id", "no-such-chat"),
            chat_id="no-such-chat",
            prompt="p",
            contestants=TWO_NATIVES,
        )
        nobody = [{"agent": "native"}, {"agent": "nobody"}]
        await refused(
            client,
            "run_arena",
            ("field contestants[1].agent", "'nobody'"),
            chat_id=chat,
            prompt="p",
            contestants=nobody,
        )
        await refused(
            client,
            "run_arena",
            ("field contestants", "at least one contestant"),
            chat_id=chat,
            prompt="p",
            contestants=[],
        )
        misspelt = [{"agnt": "native"}]  # the SDK validates the arguments first: a misspelt key is no contestant
        await refused(client, "run_arena", ("contestants.0.agent",), chat_id=chat, prompt="p", contestants=misspelt)
        await refused(client, "wait_for_arena", ("field arena_id",), chat_id=chat, arena_id="arena-nope", timeout_s=0)

        started = await call(client, "run_arena", chat_id=chat, prompt=WRITE_N, contestants=TWO_NATIVES)
        assert (started["chat_id"], started["status"]) == (chat, "open")
        assert [c["agent"] for c in started["contestants"]] == ["native", "native"]
        arena_id = started["arena_id"]
        arena = await call(client, "wait_for_arena", chat_id=chat, arena_id=arena_id, timeout_s=120)
        assert arena["done"] is True
        assert [c["state"] for c in arena["contestants"]] == ["succeeded", "succeeded"], arena
        assert [[f["path"] for f in c["files"]] for c in arena["contestants"]] == [["n.txt"], ["n.txt"]]
        assert (await call(client, "list_changes", chat_id=chat))["changes"] == []  # the chat's worktree untouched

        winner, loser = (c["id"] for c in arena["contestants"])
        await refused(
            client,
            "adopt",
            ("field contestant", "no contestant 'nobody'"),
            chat_id=chat,
            arena_id=arena_id,
            contestant="nobody",
        )
        adopted = await call(client, "adopt", chat_id=chat, arena_id=arena_id, contestant=winner)
        assert (adopted["status"], adopted["winner"]) == ("adopted", winner)
        assert [(c["id"], c["state"]) for c in adopted["contestants"]] == [(winner, "adopted"), (loser, "discarded")]
        changes = (await call(client, "list_changes", chat_id=chat))["changes"]
        assert [(c["path"], c["agent"]) for c in changes] == [("n.txt", "native")]
        assert changes[0]["diff"] == arena["contestants"][0]["files"][0]["diff"]
        await refused(
            client, "adopt", ("field arena", "already adopted"), chat_id=chat, arena_id=arena_id, contestant=winner
        )
        await call(client, "apply_changes", chat_id=chat)
        assert (git_repo / "n.txt").read_text() == "from the arena\n"

        second = await call(client, "run_arena", chat_id=chat, prompt="just talk", contestants=[{"agent": "native"}])
        ended = await call(client, "wait_for_arena", chat_id=chat, arena_id=second["arena_id"], timeout_s=120)
        assert ended["done"] is True
        discarded = await call(client, "discard_arena", chat_id=chat, arena_id=second["arena_id"])
        assert discarded["status"] == "discarded"
        assert [c["state"] for c in discarded["contestants"]] == ["discarded"]
