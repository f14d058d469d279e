"""hearth served by ``hearth serve`` in a process of its own, as it runs in production, for the benchmarks that
time what a client waits for: the client's own work (building requests, parsing responses and events) then runs
in the benchmark's process, beside hearth rather than inside hearth's event loop."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from bench._hearth import TURN_TIMEOUT_S, Api
from bench._lean_http import LeanHttp

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``HEARTH_*`` environment that makes ``hearth serve`` read ``settings`` (nested models with ``__``)."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if isinstance(value, dict):
            env |= {f"HEARTH_{name}__{key}".upper(): _text(item) for key, item in value.items() if item is not None}
        else:
            env[f"HEARTH_{name}".upper()] = _text(value)
    return env


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def served_apart(settings: Settings, log: Path) -> AsyncIterator[Api]:
    """``hearth serve`` on a free port with ``settings``, its output in ``log``; stopped with SIGTERM."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HEARTH_")} | settings_env(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        command = [sys.executable, "-m", "app.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=sink, stderr=sink)
    base_url = f"http://127.0.0.1:{port}"
    timeout = httpx.Timeout(TURN_TIMEOUT_S, connect=10.0)
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    try:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client,
            AsyncExitStack() as streams,
        ):
            await _until_healthy(client, process, log)
            lean = LeanHttp(base_url)
            streams.push_async_callback(lean.aclose)
            yield Api(client, None, streams, lean)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def _until_healthy(client: httpx.AsyncClient, process: asyncio.subprocess.Process, log: Path) -> None:
    async with asyncio.timeout(START_TIMEOUT_S):
        while True:
            if process.returncode is not None:
                tail = (await asyncio.to_thread(log.read_text))[-2000:]
                raise RuntimeError(f"hearth serve exited with {process.returncode}: {tail}")
            try:
                if (await client.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
