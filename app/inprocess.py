"""hearth served in this process on 127.0.0.1:<free port> (``hearth demo`` and the tests use it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from litestar import Litestar

from app.api.server import OpenService, create_app
from app.api.serving import HearthServer
from app.bootstrap.service import run_service
from app.settings import Settings

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Served:
    base_url: str
    app: Litestar


@asynccontextmanager
async def serve_in_process(
    settings: Settings, graceful_s: int = 2, port: int = 0, open_service: OpenService = run_service
) -> AsyncIterator[Served]:
    """Runs uvicorn as a task owned by this context; on exit it shuts down (lifespan included) and is awaited."""
    app = create_app(settings, open_service)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=graceful_s
    )
    server = HearthServer(config, app)
    serving = asyncio.create_task(server.serve(), name="uvicorn")
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("hearth stopped before it started listening; see the log above")
                await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Served(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=STOP_TIMEOUT_S)
