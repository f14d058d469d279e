"""Shared set-up of the benchmarks that go through the product: hearth served in this process (uvicorn, the
real composition root, SQLite) with every provider pointed at a scripted LLM, and an HTTP client that times turns
as a front end sees them, from ``POST …/turns`` to the turn's terminal event on the chat's SSE stream.

``run_as_served`` runs a benchmark on the event loop ``hearth serve`` runs on: uvicorn's choice, uvloop (installed
with ``litestar[standard]``), else asyncio's own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from uvicorn.loops.auto import auto_loop_factory

from app.bootstrap.node import Node
from app.inprocess import serve_in_process
from app.settings import Settings
from bench._lean_http import LeanHttp
from core.agents import ProviderConfig
from core.events import TERMINAL_EVENT_TYPES
from scripted_llm.llm import ScriptedLLM

TURN_TIMEOUT_S = 300.0
T = TypeVar("T")


def run_as_served(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop uvicorn picks for ``hearth serve`` (``uvicorn.Config(loop="auto")``), so a
    benchmark that serves hearth in its own process times hearth as it runs in production; whatever it drives
    directly runs on the same loop."""
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        return runner.run(main)


def provider_for(llm: ScriptedLLM) -> ProviderConfig:
    return ProviderConfig(
        openai_base_url=llm.openai_base_url,
        openai_api_key="bench",
        openai_model="fake-model",
        anthropic_base_url=llm.anthropic_base_url,
        anthropic_api_key="bench",
        gemini_base_url=llm.gemini_base_url,
        gemini_api_key="bench",
    )


@dataclass
class Api:
    client: httpx.AsyncClient  # for what is not timed
    node: Node | None  # the parts of a hearth running in this process (its bus, its use cases); None when apart
    streams: AsyncExitStack
    lean: LeanHttp  # for what is timed: a turn's POST and its chat's stream (``bench._lean_http``)
    opened: dict[str, AsyncIterator[dict[str, Any]]] = field(default_factory=dict)  # per chat, its open stream

    async def chat(self, repo: str) -> str:
        response = await self.client.post("/api/chats", json={"repo_path": repo})
        response.raise_for_status()
        return str(response.json()["id"])

    async def timed_turn(self, chat: str, agent: str, prompt: str) -> float:
        """Seconds from sending ``POST …/turns`` to reading the turn's terminal event on the chat's stream, which
        is opened before the chat's first turn and kept open, as a front end keeps it; fails unless the turn
        succeeded. Both go through ``lean``, so the figure carries none of httpx's own cost."""
        stream = self.opened.get(chat)
        if stream is None:
            stream = self.opened[chat] = await self.streams.enter_async_context(
                self.lean.events(f"/api/chats/{chat}/events")
            )
        started = time.perf_counter()
        status, turn = await self.lean.post_json(f"/api/chats/{chat}/turns", {"agent": agent, "prompt": prompt})
        if status != 202:
            raise RuntimeError(f"POST …/turns answered {status}: {turn}")
        async for data in stream:
            if data["task_id"] == turn["id"] and data["type"] in TERMINAL_EVENT_TYPES:
                elapsed = time.perf_counter() - started
                if data["type"] != "turn_completed":
                    raise RuntimeError(f"turn {turn['id']} did not complete: {data}")
                return elapsed
        raise RuntimeError(f"the stream of chat {chat} ended before turn {turn['id']} did")


def settings_for(root: Path, llm: ScriptedLLM, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "repo_roots": [root],
        "provider": provider_for(llm),
        "database_url": None,
        "api_token": None,
        "eviction_interval_s": 3600.0,
        "health_interval_s": 3600.0,
        "reaper_interval_s": 3600.0,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[Api]:
    async with serve_in_process(settings) as hearth:
        timeout = httpx.Timeout(TURN_TIMEOUT_S, connect=10.0)
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
        async with (
            httpx.AsyncClient(base_url=hearth.base_url, timeout=timeout, limits=limits) as client,
            AsyncExitStack() as streams,
        ):
            lean = LeanHttp(hearth.base_url)
            streams.push_async_callback(lean.aclose)
            yield Api(client, hearth.app.state.service, streams, lean)
