"""hearth as an operator runs it: ``python -m app.cli.main serve`` in a process of its own, configured only by
HEARTH_* variables, driven over HTTP, and killed or stopped by signals.

``NodeProcesses`` starts nodes (``start(name, settings)``: the settings become the child's environment) and on
exit leaves nothing running: each node's process group and every process it spawned, including ACP agents (they
run in sessions of their own, so a group kill misses them; see ``tree``). Fixture: ``node_processes``. The
trials (``bench.trials``) drive nodes with the same code, so a figure there and a test here mean the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from app.settings import Settings
from tests.plugins.service import Hearth

PROJECT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0  # a cold start on a loaded 2-core machine: imports, migrations, recovery
STOP_TIMEOUT_S = 60.0  # the shutdown grace plus stopping agents
_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")

Process = tuple[int, int]  # (pid, start time in clock ticks): a pid the kernel reused is another process


def settings_env(settings: Settings) -> dict[str, str]:
    """The HEARTH_* variables that make ``Settings()`` in a child equal ``settings`` (nested fields use "__")."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json", exclude_none=True).items():
        if isinstance(value, dict):
            for inner, nested in value.items():
                if nested is not None:
                    env[f"HEARTH_{name.upper()}__{inner.upper()}"] = _env_value(nested)
        else:
            env[f"HEARTH_{name.upper()}"] = _env_value(value)
    return env


def _env_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return None if fields[0] in {"Z", "X"} else int(fields[19])  # field 22 of proc(5): starttime


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                out.setdefault(int(stat[stat.rfind(")") + 2 :].split()[1]), []).append(int(entry.name))
    return out


def tree(pid: int) -> set[Process]:
    """``pid``'s running descendants, wherever their session or group (found through their parents)."""
    children, found, todo = _children(), set[Process](), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if (started := _start_time(child)) is not None:
                found.add((child, started))
                todo.append(child)
    return found


def running(processes: Iterable[Process]) -> list[int]:
    return sorted(pid for pid, started in processes if _start_time(pid) == started)


async def stop_all(processes: Iterable[Process]) -> None:
    """SIGKILL whatever still runs of ``processes`` and wait (bounded) until none does."""
    for pid in running(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while running(processes):
                await asyncio.sleep(0.05)


@dataclass
class NodeProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    hearth: Hearth
    seen: set[Process] = field(default_factory=set)  # every descendant observed so far

    @property
    def pid(self) -> int:
        return self.process.pid

    def observe(self) -> set[Process]:
        """Note the node's current descendants (agents included) so that none outlives the test."""
        if self.process.poll() is None:
            self.seen |= tree(self.pid)
        return self.seen

    def kill(self, *, group: bool) -> None:
        """SIGKILL: hearth alone (its agents are orphaned, as when hearth itself crashes) or its whole group (as
        when the machine goes; ACP agents run in sessions of their own and outlive even that)."""
        self.observe()
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)

    async def terminate(self) -> int:
        """SIGTERM (what systemd and Ctrl-C send): hearth drains, releases its leases, stops its agents."""
        self.observe()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, STOP_TIMEOUT_S)

    def orphans(self) -> list[int]:
        """Descendants that still run although this node is gone."""
        return running(self.seen) if self.process.poll() is not None else []

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class NodeProcesses:
    """``async with NodeProcesses(log_dir) as nodes``: every node started through it is gone after the block."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.nodes: list[NodeProcess] = []

    async def start(self, name: str, settings: Settings) -> NodeProcess:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HEARTH_")}
        env.update(settings_env(settings))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli.main", "serve", "--port", "0"],
                cwd=PROJECT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: one killpg takes hearth and what shares its group
            )
        base_url = await self._listening(process, log_path)
        headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
        client = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=httpx.Timeout(30.0, connect=5.0))
        node = NodeProcess(name, process, log_path, Hearth(base_url, client, None, settings))
        self.nodes.append(node)
        return node

    @staticmethod
    async def _listening(process: subprocess.Popen[bytes], log_path: Path) -> str:
        """uvicorn binds port 0 and logs the real port once hearth's startup (recovery included) is done."""
        offset = log_path.stat().st_size if log_path.exists() else 0
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                while True:
                    text = log_path.read_bytes()[offset:].decode(errors="replace")
                    if found := _LISTENING.search(text):
                        return found.group(1)
                    if process.poll() is not None:
                        raise RuntimeError(f"hearth exited with {process.returncode} before listening:\n{text[-3000:]}")
                    await asyncio.sleep(0.05)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise

    async def aclose(self) -> None:
        for node in self.nodes:
            node.observe()
            await node.hearth.client.aclose()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            await asyncio.to_thread(node.process.wait, STOP_TIMEOUT_S)
            await stop_all(node.seen)

    async def __aenter__(self) -> NodeProcesses:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


@pytest.fixture
async def node_processes(tmp_path: Path) -> AsyncIterator[NodeProcesses]:
    """Start hearth nodes as processes; all are killed, with everything they spawned, after the test."""
    async with NodeProcesses(tmp_path / "node-logs") as nodes:
        yield nodes
