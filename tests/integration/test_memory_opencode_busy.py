"""An OpenCode session still busy at OpenCode keeps its handle (real OpenCode, scripted LLM): after hearth's turn
ended, OpenCode runs another prompt in the same session (as a second client could); idle-TTL eviction, which would
close the handle and dispose the directory's instance, waits until OpenCode reports the session idle, and the
sampler shows the session as background work meanwhile. The prompt runs to its end, never aborted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.opencode.backend import OpenCodeServerBackend
from adapters.opencode.config import PROVIDER_ID
from app.settings import Settings
from core.agents import BUILTIN_AGENTS
from tests.plugins.backends import AGENTS_DIR, require_agent
from tests.plugins.service import serve_hearth

pytestmark = pytest.mark.agents

SPECS = {spec.name: spec for spec in BUILTIN_AGENTS}
WAIT_S = 60.0


async def test_a_session_busy_at_opencode_defers_eviction_until_it_is_idle(
    hearth_settings: Settings, git_repo: Path
) -> None:
    require_agent(SPECS["opencode"])
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
        turn = await hearth.run_turn(chat, "opencode", "hello")
        assert turn["status"] == "succeeded", turn
        live = hearth.node.pool.find(chat, "opencode")
        assert live is not None
        backend = hearth.node.backends["opencode"]
        assert isinstance(backend, OpenCodeServerBackend)
        client = backend.running_client()
        assert client is not None
        session, cwd = live.handle.backend_session_id, live.cwd
        model = {"providerID": PROVIDER_ID, "modelID": backend.default_model}
        await client.prompt_async(session, cwd, "SLOW=0.3 a long answer of its own", model)  # about 6 s

        async with asyncio.timeout(WAIT_S):  # shown as background work while OpenCode runs it
            while True:
                view = (await hearth.client.get("/api/agents/memory")).json()
                handles = {(h["chat_id"], h["agent"]): h for h in view["handles"]}
                if handles.get((chat, "opencode"), {}).get("background_work"):
                    break
                await asyncio.sleep(0.1)
        assert handles[(chat, "opencode")]["background_work"] == [f"session {session} still busy at opencode"]
        await asyncio.sleep(3 * settings.idle_ttl)  # past the idle TTL, with eviction running twice a second
        if await client.busy(session, cwd):  # still running: its handle must still be there
            assert hearth.node.pool.find(chat, "opencode") is not None

        metrics = hearth.node.metrics
        async with asyncio.timeout(WAIT_S):  # idle at OpenCode: now the idle TTL takes the handle
            while metrics.evictions_by_reason[("opencode", "idle_ttl")] == 0:
                await asyncio.sleep(0.2)
        assert hearth.node.pool.find(chat, "opencode") is None
        last = (await client.messages(session, cwd))[-1]["info"]
        assert last["role"] == "assistant"
        assert last.get("error") is None  # ran to its end: not aborted by a dispose
        assert last["time"].get("completed")
