"""``hearth serve`` as a supervisor runs it: a process of its own, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_S = 60.0
# far below uvicorn's graceful wait (shutdown_grace_s + 5): a stop within it did not wait that out
STOP_TIMEOUT_S = 30.0
SHUTDOWN_GRACE_S = 120


@dataclass
class Served:
    process: asyncio.subprocess.Process
    base_url: str
    log: Path

    async def stopped(self) -> tuple[int, str]:
        """The exit status after SIGTERM, and what it logged."""
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(STOP_TIMEOUT_S):
            code = await self.process.wait()
        return code, self.log.read_text()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def _hearth_serve(tmp_path: Path, repo_root: Path) -> AsyncIterator[Served]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HEARTH_")}
    env |= {
        "HEARTH_DATA_DIR": str(tmp_path / "data"),
        "HEARTH_REPO_ROOTS": json.dumps([str(repo_root)]),
        "HEARTH_SHUTDOWN_GRACE_S": str(SHUTDOWN_GRACE_S),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        command = [sys.executable, "-m", "app.cli.main", "serve", "--port", str(port)]
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=sink, stderr=sink)
    served = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        async with asyncio.timeout(START_TIMEOUT_S), httpx.AsyncClient(base_url=served.base_url) as client:
            while True:
                if process.returncode is not None:
                    raise AssertionError(f"hearth serve exited with {process.returncode}: {log.read_text()}")
                try:
                    if (await client.get("/api/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_stops_hearth_serve_with_status_0(tmp_path: Path, repo_root: Path) -> None:
    async with _hearth_serve(tmp_path, repo_root) as served:
        code, log = await served.stopped()
    assert code == 0, f"a clean stop must exit 0 (supervisors read a signal death as a crash); log:\n{log}"
    assert "Application shutdown complete" in log
    # it says where it serves once it does, not before the service started
    assert log.index("Application startup complete") < log.index(f"hearth: serving on {served.base_url}")


async def test_sigterm_ends_open_event_streams_at_once_without_an_exception(
    tmp_path: Path, repo_root: Path, git_repo: Path
) -> None:
    async with _hearth_serve(tmp_path, repo_root) as served:
        timeout = httpx.Timeout(10.0, read=STOP_TIMEOUT_S)
        async with httpx.AsyncClient(base_url=served.base_url, timeout=timeout) as client:
            created = await client.post("/api/chats", json={"repo_path": str(git_repo)})
            assert created.status_code == 201, created.text
            async with client.stream("GET", f"/api/chats/{created.json()['id']}/events") as stream:
                chunks = stream.aiter_text()
                assert "connected" in await anext(chunks)  # the stream is open
                stopping = asyncio.ensure_future(served.stopped())
                try:
                    async with asyncio.timeout(STOP_TIMEOUT_S):
                        rest = [chunk async for chunk in chunks]  # ends when hearth ends the stream
                finally:
                    code, log = await stopping
    assert all("data:" not in chunk for chunk in rest)
    assert code == 0, log
    assert "Exception in ASGI application" not in log
    assert "timeout graceful shutdown exceeded" not in log
