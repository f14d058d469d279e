"""Usage through hearth, per backend: one ledger prices every backend on one provider, and unknown stays null.

qwen, OpenCode (server and ACP) and the native agent all reach the scripted LLM as the OpenAI-compatible provider,
whose price ``provider_config`` configures: each turn's cost is that price times its tokens. Claude Code reports
no usage, so its turn and its agent session show usage null rather than zeros.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents

SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}


async def _one_turn(hearth: Hearth, repo: Path, agent: str) -> tuple[dict[str, Any], dict[str, Any]]:
    chat = (await hearth.create_chat(repo))["id"]
    turn = await hearth.run_turn(chat, agent, "THINK how much did this cost")
    assert turn["status"] == "succeeded", turn
    (session,) = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    return turn, session


@pytest.mark.parametrize("agent", ["qwen", "opencode", "opencode-acp", "native"])
async def test_a_turn_costs_the_configured_price_times_its_tokens(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM, agent: str
) -> None:
    require_agent(SPECS[agent])
    price = hearth_settings.provider.openai_price
    assert price is not None
    assert min(price.input, price.output) > 0
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent})
    async with serve_hearth(settings) as hearth:
        turn, session = await _one_turn(hearth, git_repo, agent)
    usage = turn["usage"]
    assert min(usage["input_tokens"], usage["output_tokens"]) > 0, usage
    billed_output = usage["output_tokens"] + usage["reasoning_tokens"]
    expected = (usage["input_tokens"] * price.input + billed_output * price.output) / 1_000_000
    assert usage["cost_usd"] == pytest.approx(expected), usage
    assert usage["cost_usd"] > 0
    assert session["usage"] == usage  # the session's first turn: its usage is that turn's


async def test_an_agent_that_reports_no_usage_shows_it_unknown(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    require_agent(SPECS["claude"])
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent})
    async with serve_hearth(settings) as hearth:
        turn, session = await _one_turn(hearth, git_repo, "claude")
        events = await hearth.events(turn["events_url"])
    assert "usage" not in [e["type"] for e in events]  # Claude Code reports none: hearth must not invent zeros
    assert turn["usage"] is None, turn
    assert session["turns"] == 1
    assert session["usage"] is None, session


async def test_the_openapi_document_says_usage_and_cost_may_be_unknown(hearth: Hearth) -> None:
    doc = (await hearth.client.get("/schema/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    turn = doc["paths"]["/api/chats/{chat_id}/turns/{turn_id}"]["get"]["responses"]["200"]
    assert turn["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TurnView"}
    usage_of_turn = schemas["TurnView"]["properties"]["usage"]["oneOf"]
    assert {"$ref": "#/components/schemas/Usage"} in usage_of_turn
    assert {"type": "null"} in usage_of_turn
    assert {"type": "null"} in schemas["Usage"]["properties"]["cost_usd"]["oneOf"]
    sessions = doc["paths"]["/api/chats/{chat_id}/agent-sessions"]["get"]["responses"]["200"]
    assert sessions["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AgentSessionsView"}
    assert {"type": "null"} in schemas["AgentSession"]["properties"]["usage"]["oneOf"]
