"""A warm ACP agent (qwen) through hearth: two turns on one session, then a hearth restart that loads it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")


async def test_qwen_turns_share_a_session_that_survives_a_restart(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
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


ASK_CONFIG = """
[[agents]]
name = "qwen-ask"
backend = "warm-acp"
command = "qwen"
args = ["--acp"]
permission = "ask"
env = { QWEN_CODE_NO_RELAUNCH = "1" }
"""


async def test_permission_requests_are_answered_through_the_api(
    hearth_settings: Settings, git_repo: Path, tmp_path: Path
) -> None:
    require_agent(QWEN)
    config = tmp_path / "agents.toml"
    config.write_text(ASK_CONFIG)
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent, "config_file": config})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo))["id"]
        assert (await hearth.run_turn(chat, "qwen-ask", "hello"))["status"] == "succeeded"
        worktree = Path((await hearth.client.get(f"/api/chats/{chat}")).json()["worktree"]["path"])
        for name, allow in (("allowed.txt", True), ("rejected.txt", False)):
            turn = await hearth.submit(chat, "qwen-ask", f"WRITE {worktree / name} content")
            request = await hearth.wait_event(turn["events_url"], "permission_request")
            option = next(o["option_id"] for o in request["options"] if o["kind"] == "allow_once") if allow else None
            url = f"/api/chats/{chat}/turns/{turn['id']}/permissions/{request['request_id']}"
            unknown = await hearth.client.post(url, json={"option_id": "no-such-option"})
            assert unknown.status_code == 422, unknown.text  # refused, and the question still waits
            assert unknown.headers["content-type"].startswith("application/problem+json")
            assert unknown.json()["field"] == "option_id"
            assert all(o["option_id"] in unknown.json()["detail"] for o in request["options"]), unknown.json()
            answered = await hearth.client.post(url, json={"option_id": option})
            assert answered.status_code == 200, answered.text
            again = await hearth.client.post(url, json={"option_id": option})
            assert again.status_code == 404  # answered once; nothing waits any more
            done = await hearth.wait_turn(chat, turn["id"])
            assert done["status"] == "succeeded", done
            assert (worktree / name).exists() is allow
            resolved = [e for e in await hearth.events(turn["events_url"]) if e["type"] == "permission_resolved"]
            assert resolved[0]["outcome"] == ("allow_once" if allow else "rejected")
