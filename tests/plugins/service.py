"""hearth served for real: uvicorn in process on 127.0.0.1:<random port>, an httpx client, the Node inside.

Fixtures: ``hearth_settings`` (temp data dir, the test's repo root, every provider pointed at the scripted
LLM), ``hearth`` (a running server on SQLite) and ``hearth_any_store`` (parametrized sqlite/postgres).
``serve_hearth(settings)`` starts another one (e.g. to restart hearth mid-session in a test; ``open_service`` opens
the node another way, e.g. on a store wrapped to count its calls).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from app.api.server import OpenService
from app.bootstrap.node import Node
from app.bootstrap.service import run_service
from app.inprocess import serve_in_process
from app.settings import Settings
from core.agents import ProviderConfig
from tests.plugins.postgres import fresh_database

TURN_TIMEOUT_S = 60.0
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Hearth:
    base_url: str
    client: httpx.AsyncClient
    app_state: Any
    settings: Settings

    @property
    def node(self) -> Node:
        """Everything the running hearth is made of (the composition root's ``Node``)."""
        node: Node = self.app_state.service
        return node

    async def create_chat(self, repo: Path, **extra: Any) -> dict[str, Any]:
        response = await self.client.post("/api/chats", json={"repo_path": str(repo), **extra})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def submit(self, chat_id: str, agent: str, prompt: str, **extra: Any) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/chats/{chat_id}/turns", json={"agent": agent, "prompt": prompt}, **extra
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    async def wait_turn(self, chat_id: str, turn_id: str, timeout: float = TURN_TIMEOUT_S) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                response = await self.client.get(f"/api/chats/{chat_id}/turns/{turn_id}")
                body: dict[str, Any] = response.json()
                if body["status"] in TERMINAL:
                    return body
                await asyncio.sleep(0.05)

    async def run_turn(self, chat_id: str, agent: str, prompt: str) -> dict[str, Any]:
        turn = await self.submit(chat_id, agent, prompt)
        return await self.wait_turn(chat_id, turn["id"])

    async def events(
        self, url: str, last_event_id: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Reads an SSE stream until it ends (or ``limit`` events): the data of each event, with its id."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        out: list[dict[str, Any]] = []
        async with asyncio.timeout(TURN_TIMEOUT_S), aconnect_sse(self.client, "GET", url, headers=headers) as source:
            source.response.raise_for_status()
            async for sse in source.aiter_sse():
                if not sse.data:
                    continue
                out.append({**json.loads(sse.data), "_id": sse.id})
                if limit is not None and len(out) >= limit:
                    break
        return out

    async def wait_event(self, url: str, event_type: str) -> dict[str, Any]:
        """Follows an SSE stream until the first event of ``event_type`` (fails if the stream ends first)."""
        async with asyncio.timeout(TURN_TIMEOUT_S), aconnect_sse(self.client, "GET", url) as source:
            source.response.raise_for_status()
            async for sse in source.aiter_sse():
                if sse.data and (data := json.loads(sse.data))["type"] == event_type:
                    found: dict[str, Any] = {**data, "_id": sse.id}
                    return found
        raise AssertionError(f"{url} ended without a {event_type} event")


@asynccontextmanager
async def serve_hearth(settings: Settings, open_service: OpenService = run_service) -> AsyncIterator[Hearth]:
    async with serve_in_process(settings, open_service=open_service) as served:
        headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
        timeout = httpx.Timeout(connect=5.0, read=30.0, write=5.0, pool=5.0)
        async with httpx.AsyncClient(base_url=served.base_url, timeout=timeout, headers=headers) as client:
            yield Hearth(served.base_url, client, served.app.state, settings)


def make_settings(data_dir: Path, repo_root: Path, provider: ProviderConfig, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "repo_roots": [repo_root],
        "provider": provider,
        "eviction_interval_s": 3600.0,
        "reaper_interval_s": 3600.0,
        "health_interval_s": 3600.0,
        "shutdown_grace_s": 5.0,
        "database_url": None,
        "api_token": None,
        "host": "127.0.0.1",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def hearth_settings(tmp_path: Path, repo_root: Path, provider_config: ProviderConfig) -> Settings:
    return make_settings(tmp_path / "data", repo_root, provider_config)


@pytest.fixture
async def hearth(hearth_settings: Settings) -> AsyncIterator[Hearth]:
    async with serve_hearth(hearth_settings) as running:
        yield running


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def hearth_any_store(request: pytest.FixtureRequest, hearth_settings: Settings) -> AsyncIterator[Hearth]:
    if request.param == "sqlite":
        async with serve_hearth(hearth_settings) as running:
            yield running
        return
    async with (
        fresh_database() as dsn,
        serve_hearth(hearth_settings.model_copy(update={"database_url": dsn})) as running,
    ):
        yield running
