"""Continuation of interrupted turns (real qwen, scripted LLM): in a chat with ``on_interrupt = "continue"``, a
turn whose agent is killed (-9) mid-turn is followed by a linked continuation turn on the resumed session; a turn
the user cancelled is not continued, and a chat that did not opt in gets none."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from scripted_llm.llm import ScriptedLLM
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import Hearth, serve_hearth

pytestmark = pytest.mark.agents

QWEN = next(spec for spec in BUILTIN_AGENTS if spec.name == "qwen")
WAIT_S = 90.0


async def turns(hearth: Hearth, chat: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await hearth.client.get(f"/api/chats/{chat}/turns")).json()
    return listed


async def session_id(hearth: Hearth, chat: str) -> str:
    (session,) = (await hearth.client.get(f"/api/chats/{chat}/agent-sessions")).json()["sessions"]
    found: str = session["backend_session_id"]
    return found


async def kill_mid_turn(hearth: Hearth, chat: str) -> dict[str, Any]:
    turn = await hearth.submit(chat, "qwen", "SLOW=0.5 a long answer")
    await hearth.wait_event(turn["events_url"], "text_delta")  # the agent is working on it
    (process,) = hearth.node.backends["qwen"].processes()
    os.kill(process.pid, signal.SIGKILL)
    failed = await hearth.wait_turn(chat, turn["id"])
    assert failed["status"] == "failed", failed
    return failed


async def test_a_killed_agent_turn_is_continued_on_the_resumed_session_and_a_cancelled_one_is_not(
    hearth_settings: Settings, git_repo: Path, llm: ScriptedLLM
) -> None:
    require_agent(QWEN)
    settings = hearth_settings.model_copy(update={"cache_dir": AGENTS_DIR.parent})
    async with serve_hearth(settings) as hearth:
        chat = (await hearth.create_chat(git_repo, on_interrupt="continue"))["id"]
        assert (await hearth.run_turn(chat, "qwen", "remember the word kestrel"))["status"] == "succeeded"
        before = await session_id(hearth, chat)

        failed = await kill_mid_turn(hearth, chat)
        async with asyncio.timeout(WAIT_S):
            while not (follow := [t for t in await turns(hearth, chat) if t["continues"] == failed["id"]]):
                await asyncio.sleep(0.1)
        done = await hearth.wait_turn(chat, follow[0]["id"], timeout=WAIT_S)
        assert done["status"] == "succeeded", done
        assert done["agent"] == "qwen"
        assert "interrupted" in done["prompt"]
        assert "continuation 1 of 3" in done["prompt"]
        events = await hearth.events(done["events_url"])
        assert "context_reset" not in [e["type"] for e in events]  # the same session, loaded again
        assert await session_id(hearth, chat) == before
        assert "remember the word kestrel" in str(llm.log()[-1])  # it still knows the chat's history

        cancelled = await hearth.submit(chat, "qwen", "SLOW=0.5 another long answer")
        await hearth.wait_event(cancelled["events_url"], "text_delta")
        url = f"/api/chats/{chat}/turns/{cancelled['id']}/cancel"
        assert (await hearth.client.post(url)).status_code == 202
        assert (await hearth.wait_turn(chat, cancelled["id"]))["status"] == "cancelled"
        assert (await hearth.run_turn(chat, "qwen", "hello"))["status"] == "succeeded"
        assert [t["continues"] for t in await turns(hearth, chat)] == [None, None, failed["id"], None, None]

        # a chat that did not opt in (or opted out by PATCH) keeps its interrupted turn failed
        patched = await hearth.client.patch(f"/api/chats/{chat}", json={"on_interrupt": "stop"})
        assert patched.json()["on_interrupt"] == "stop"
        bad = await hearth.client.patch(f"/api/chats/{chat}", json={"on_interrupt": "sometimes"})
        assert bad.status_code == 400
        await kill_mid_turn(hearth, chat)
        assert (await hearth.run_turn(chat, "qwen", "hello again"))["status"] == "succeeded"
        assert all(t["continues"] is None for t in (await turns(hearth, chat))[3:])
