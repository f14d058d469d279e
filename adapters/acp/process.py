"""One ACP agent process: spawn, ``initialize`` once, watch, stop. Its owner is whoever holds the object.

Spawned with its own stdio transport (not ``acp.spawn_agent_process``): the process outlives any one
``async with`` block, sits in its own process group (claude-code-acp's ``claude`` children are stopped
with it), writes stderr to a per-agent log (an unread pipe blocks a chatty agent), and reads JSON-RPC
lines up to 64 MiB (``session/load`` replays exceed asyncio's 64 KiB default).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import IO

from acp import PROTOCOL_VERSION
from acp.core import ClientSideConnection
from acp.schema import AcpMcpServer as AcpMcp
from acp.schema import (
    ClientCapabilities,
    FileSystemCapabilities,
    HttpHeader,
    HttpMcpServer,
    Implementation,
    InitializeResponse,
    McpServerStdio,
    SseMcpServer,
)
from returns.result import Failure, Result, Success

from adapters.acp.client import HearthAcpClient
from adapters.acp.environment import agent_environment, agent_home
from adapters.agent_install import resolve_command
from adapters.sandbox.shim import confined_env
from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError
from core.model import ProcessRecord
from core.ports.agents import BackendRuntime, McpEndpoint
from core.ports.clock import Clock
from core.ports.store import ProcessRegistry

LINE_LIMIT = 64 << 20
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 2.0
STDERR_TAIL_LINES = 15
LOG_ROTATE_BYTES = 8 << 20
# Advertising fs makes qwen delegate writes to hearth; the verified traces ran without it, so the
# confined handlers exist for agents that call them anyway.
CLIENT_CAPABILITIES = ClientCapabilities(
    fs=FileSystemCapabilities(read_text_file=False, write_text_file=False), terminal=False
)


class AcpProcess:
    def __init__(
        self,
        spec: AgentSpec,
        key: str,
        process: asyncio.subprocess.Process,
        connection: ClientSideConnection,
        client: HearthAcpClient,
        log: IO[bytes],
        log_path: Path,
        log_offset: int,
        registry: ProcessRegistry,
    ) -> None:
        self.spec = spec
        self.key = key
        self.process = process
        self.connection = connection
        self.client = client
        self._log = log
        self._log_path = log_path
        self._log_offset = log_offset
        self._registry = registry
        self._closed = False
        self.capabilities: InitializeResponse | None = None
        self.command_line = spec.command

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(
        cls, spec: AgentSpec, runtime: BackendRuntime, registry: ProcessRegistry, clock: Clock, key: str
    ) -> Result[AcpProcess, DomainError]:
        """Spawn and initialize; a start failure says the exit code and the last stderr lines."""
        spawned = await cls.spawn(spec, runtime, registry, key)
        if isinstance(spawned, Failure):
            return spawned
        process = spawned.unwrap()
        ready = await process.initialize(runtime, clock)
        return ready.map(lambda _: process)

    @classmethod
    async def spawn(
        cls, spec: AgentSpec, runtime: BackendRuntime, registry: ProcessRegistry, key: str
    ) -> Result[AcpProcess, DomainError]:
        """Start the executable (a missing one says how to install it); nothing is spoken yet."""
        resolved = resolve_command(spec, Path(runtime.agents_dir))
        if isinstance(resolved, Failure):
            return resolved
        command = resolved.unwrap()
        confined = confined_env(
            spec, agent_home(spec, runtime), runtime.worktrees_root, agent_environment(spec, runtime)
        )
        if isinstance(confined, Failure):
            return confined
        env = confined.unwrap()
        # warm and one-shot processes of one agent log apart, so a tail quotes only its own process
        log_path = agent_home(spec, runtime) / ("stderr.log" if key.startswith("acp:") else "stderr-oneshot.log")
        if log_path.is_file() and log_path.stat().st_size > LOG_ROTATE_BYTES:
            log_path.replace(log_path.with_suffix(".log.1"))  # keep one previous log, bounded
        log = log_path.open("ab")
        offset = log.tell()
        try:
            child = await asyncio.create_subprocess_exec(
                str(command),
                *spec.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=env["HOME"],
                limit=LINE_LIMIT,
                start_new_session=True,
            )
        except OSError as error:
            log.close()
            return Failure(AgentUnavailable(detail=f"agent {spec.name!r}: cannot run {command}: {error}"))
        assert child.stdin is not None
        assert child.stdout is not None
        client = HearthAcpClient(spec.name)
        connection = ClientSideConnection(client, child.stdin, child.stdout, use_unstable_protocol=True)
        self = cls(spec, key, child, connection, client, log, log_path, offset, registry)
        self.command_line = " ".join((str(command), *spec.args))
        return Success(self)

    async def initialize(self, runtime: BackendRuntime, clock: Clock) -> Result[None, DomainError]:
        """``initialize`` once, then record the process; on failure the process is stopped and reaped."""
        try:
            self.capabilities = await asyncio.wait_for(
                self.connection.initialize(
                    protocol_version=PROTOCOL_VERSION,
                    client_capabilities=CLIENT_CAPABILITIES,
                    client_info=Implementation(name="hearth", title="hearth", version="0.1.0"),
                ),
                timeout=START_TIMEOUT_S,
            )
        except Exception as error:  # includes the timeout and a connection closed by a dying child
            await self.wait_exited(STOP_GRACE_S)
            why = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            detail = f"agent {self.spec.name!r} failed to start ({why}); {self.exit_report()}"
            await self.aclose()
            return Failure(AgentUnavailable(detail=detail))
        record = ProcessRecord(
            key=self.key,
            pid=self.pid,
            started_at=clock.now(),
            node_id=runtime.node_id,
            command=self.command_line,
        )
        await self._registry.record_process(record)
        return Success(None)

    def is_alive(self) -> bool:
        return not self._closed and self.process.returncode is None

    @property
    def agent_name(self) -> str:
        """The agent's own name from ``initialize`` (``agentInfo.name``, e.g. gemini-cli), else the command."""
        info = self.capabilities.agent_info if self.capabilities else None
        return info.name if info is not None else Path(self.spec.command).name

    @property
    def can_load(self) -> bool:
        caps = self.capabilities.agent_capabilities if self.capabilities else None
        return bool(caps and caps.load_session)

    @property
    def can_resume(self) -> bool:
        caps = self.capabilities.agent_capabilities if self.capabilities else None
        session_caps = caps.session_capabilities if caps else None
        return bool(session_caps and session_caps.resume is not None)

    def mcp_servers(self, hearth: McpEndpoint | None) -> list[HttpMcpServer | SseMcpServer | AcpMcp | McpServerStdio]:
        """hearth's own MCP endpoint for ``session/new`` and ``session/load``, when the agent takes MCP over HTTP."""
        caps = self.capabilities.agent_capabilities if self.capabilities else None
        takes_http = bool(caps and caps.mcp_capabilities and caps.mcp_capabilities.http)
        if hearth is None or not takes_http:
            return []
        headers = [HttpHeader(name=name, value=value) for name, value in hearth.headers.items()]
        return [HttpMcpServer(type="http", name="hearth", url=hearth.url, headers=headers)]

    async def wait_exited(self, within_s: float) -> int | None:
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.process.wait(), timeout=within_s)
        return self.process.returncode

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> list[str]:
        try:
            with self._log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read()[-16384:].decode(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()][-lines:]

    def exit_report(self) -> str:
        """What a user needs after a crash: who, exit code, the agent's last words, where the log is."""
        code = self.process.returncode
        if code is None:
            status = "is still running"
        elif code < 0:
            status = f"was killed by {_signal_name(-code)} (exit code {code})"
        else:
            status = f"exited with code {code}"
        tail = self.stderr_tail()
        said = ("; last stderr lines:\n" + "\n".join(tail)) if tail else "; it wrote nothing to stderr"
        return (
            f"agent {self.spec.name!r} (pid {self.pid}) {status}{said} (full log: {self._log_path}); "
            "the next turn starts it again and resumes the session where the agent can"
        )

    async def aclose(self) -> None:
        """Close stdin, give the agent a grace period, then SIGTERM and SIGKILL its process group; reap it."""
        if self._closed:
            return
        self._closed = True
        await self._close_pipes()
        if await self.wait_exited(STOP_GRACE_S) is None:
            await self._terminate_group(STOP_GRACE_S)
        await self._release()

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop a hung agent at once: SIGTERM its group, bounded wait, SIGKILL; reap it. No polite stdin close
        first (a hung agent would not read it); the pipes close after it is gone."""
        if self._closed:
            return
        self._closed = True
        await self._terminate_group(grace_s)
        await self._close_pipes()
        await self._release()

    async def _close_pipes(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STOP_GRACE_S):
                await self.connection.close()
        if self.process.stdin is not None:
            with contextlib.suppress(Exception):
                self.process.stdin.close()

    async def _terminate_group(self, grace_s: float) -> None:
        self._signal_group(signal.SIGTERM)
        self._signal_group(signal.SIGCONT)  # a stopped (SIGSTOP) agent only acts on the SIGTERM once continued
        if await self.wait_exited(grace_s) is None:
            self._signal_group(signal.SIGKILL)
            await self.wait_exited(grace_s)

    async def _release(self) -> None:
        self._signal_group(signal.SIGKILL)  # children of a wrapper that exited (claude) go with the group
        self._log.close()
        with contextlib.suppress(Exception):
            await self._registry.forget_process(self.key, self.pid)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
