"""A warm ACP agent (qwen) through hearth: two turns on one session, then a hearth restart that loads it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.fake_llm import FakeLLM
from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")


async def test_qwen_turns_share_a_session_that_survives_a_restart(
    hearth_settings: Settings, git_repo: Path, llm: FakeLLM
) -> None:
    require_agent(QWEN)
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(chat, "qwen", "remember BLUE"))["status"] == "succeeded"
        assert (await hearth.run_turn(chat, "qwen", "RECALL"))["status"] == "succeeded"
        assert "remember BLUE" in llm.log()[-1]["reply"]["text"]
        (session,) = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
        assert session["backend"] == "warm-acp"
        assert session["turns"] == 2

    async with serve_hearth(settings) as restarted:
        after = await restarted.run_turn(chat, "qwen", "RECALL")
        assert after["status"] == "succeeded", after
        events = await restarted.events(after["events_url"])
        assert "context_reset" not in [e["type"] for e in events]  # loaded, not a silent fresh start
        assert "remember BLUE" in llm.log()[-1]["reply"]["text"]
        (again,) = (await restarted.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
        assert again["backend_session_id"] == session["backend_session_id"]
        assert again["turns"] == 3
