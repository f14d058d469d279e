"""Shared set-up of the benchmarks that go through the product: hearth served in this process (uvicorn, the
real composition root, SQLite) with every provider pointed at a scripted LLM, and an HTTP client that times turns
as a front end sees them, from ``POST …/turns`` to the turn's terminal event on the chat's SSE stream."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from app.bootstrap.node import Node
from app.inprocess import serve_in_process
from app.settings import Settings
from core.agents import ProviderConfig
from core.events import TERMINAL_EVENT_TYPES
from scripted_llm.llm import ScriptedLLM

TURN_TIMEOUT_S = 300.0


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


class _ChatStream:
    """One chat's SSE stream, opened once and kept open across turns, as a front end keeps it."""

    def __init__(self, client: httpx.AsyncClient, chat: str) -> None:
        self._client = client
        self._chat = chat
        self._events: AsyncIterator[dict[str, Any]] | None = None

    async def open(self, stack: AsyncExitStack) -> None:
        if self._events is not None:
            return
        source = await stack.enter_async_context(aconnect_sse(self._client, "GET", f"/api/chats/{self._chat}/events"))
        source.response.raise_for_status()

        async def parsed() -> AsyncIterator[dict[str, Any]]:
            async for sse in source.aiter_sse():
                if sse.data:
                    yield json.loads(sse.data)

        self._events = parsed()

    async def terminal_of(self, turn_id: str) -> dict[str, Any]:
        assert self._events is not None, "open the stream first"
        async for data in self._events:
            if data["task_id"] == turn_id and data["type"] in TERMINAL_EVENT_TYPES:
                return data
        raise RuntimeError(f"the stream of chat {self._chat} ended before turn {turn_id} did")


@dataclass
class Api:
    client: httpx.AsyncClient
    node: Node | None  # the parts of a hearth running in this process (its bus, its use cases); None when apart
    streams: AsyncExitStack
    opened: dict[str, _ChatStream] = field(default_factory=dict)  # per chat, its stream kept open across turns

    async def chat(self, repo: str) -> str:
        response = await self.client.post("/api/chats", json={"repo_path": repo})
        response.raise_for_status()
        return str(response.json()["id"])

    async def submit(self, chat: str, agent: str, prompt: str) -> dict[str, Any]:
        response = await self.client.post(f"/api/chats/{chat}/turns", json={"agent": agent, "prompt": prompt})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def timed_turn(self, chat: str, agent: str, prompt: str) -> float:
        """Seconds from sending ``POST …/turns`` to reading the turn's terminal event on the chat's stream, which
        is opened (and confirmed) before the first turn and kept open, as a front end keeps it open; fails unless
        the turn succeeded."""
        stream = self.opened.setdefault(chat, _ChatStream(self.client, chat))
        await stream.open(self.streams)
        started = time.perf_counter()
        turn = await self.submit(chat, agent, prompt)
        terminal = await stream.terminal_of(turn["id"])
        elapsed = time.perf_counter() - started
        if terminal["type"] != "turn_completed":
            raise RuntimeError(f"turn {turn['id']} did not complete: {terminal}")
        return elapsed

    async def finished(self, chat: str, count: int) -> list[dict[str, Any]]:
        """Waits on the chat's stream for ``count`` terminal events, then returns the chat's turns."""
        seen = 0
        async with aconnect_sse(self.client, "GET", f"/api/chats/{chat}/events") as source:
            source.response.raise_for_status()
            async for sse in source.aiter_sse():
                if sse.data and json.loads(sse.data)["type"] in TERMINAL_EVENT_TYPES:
                    seen += 1
                    if seen == count:
                        break
        turns: list[dict[str, Any]] = (await self.client.get(f"/api/chats/{chat}/turns")).json()
        return turns


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
            yield Api(client, hearth.app.state.service, streams)
