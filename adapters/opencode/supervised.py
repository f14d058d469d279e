"""SupervisedServer: the node's one `opencode serve`, its client and its event stream, kept alive.

The server is spawned lazily, respawned by the next ``ensure`` after it died or hung (crash budget and backoff
decided by core.lifecycle), and stopped on request. Each spawn is recorded in the process registry so the next
hearth start can stop what this one left behind. Sessions live in ``adapters.opencode.backend``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
from returns.result import Failure, Result, Success

from adapters.agent_install import resolve_command
from adapters.opencode.client import OpenCodeClient
from adapters.opencode.config import server_env, state_dirs
from adapters.opencode.feed import ServerFeed
from adapters.opencode.host import Server
from adapters.opencode.leftovers import stop_leftovers
from adapters.opencode.process import ServerProcess, read_tail
from adapters.sandbox.shim import confined_env
from adapters.supervisor import Supervisor
from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError
from core.lifecycle import HealthFailed, HealthOk, StopProcess, TurnStalled
from core.model import ProcessRecord
from core.ports.agents import BackendRuntime
from core.ports.clock import Clock
from core.ports.store import ProcessRegistry

log = logging.getLogger(__name__)

_READY_TIMEOUT_S = 30.0
_STOP_GRACE_S = 5.0


class SupervisedServer:
    def __init__(
        self,
        spec: AgentSpec,
        runtime: BackendRuntime,
        registry: ProcessRegistry,
        clock: Clock,
        stream_idle_timeout_s: Callable[[], float],
    ) -> None:
        self.spec = spec
        self.runtime = runtime
        self._registry = registry
        self._clock = clock
        self._stream_idle_timeout_s = stream_idle_timeout_s  # read on every use: a change reaches the feed
        self._dirs = state_dirs(runtime.agent_state_root, spec.name)
        self.record_key = f"opencode-server:{spec.name}"
        self.process: ServerProcess | None = None
        self.client: OpenCodeClient | None = None
        self.feed: ServerFeed | None = None  # the running server's one event stream
        self._spawn_lock = asyncio.Lock()
        self._shut_down = False
        self._leftovers_done = False
        self.supervisor = Supervisor(spec.name)
        self._exit_seen: set[int] = set()  # pids whose exit was already fed to the supervisor
        self.spawn_count = 0
        self.disposals = 0
        self.recycled = 0  # servers stopped by the memory budget once no session used them

    async def adopt_or_stop_leftovers(self) -> list[str]:
        """Stop servers a previous hearth on this node recorded and left running; forget every such record."""
        self._leftovers_done = True
        running = self.process.pid if self.process is not None else None
        node = self.runtime.node_id
        return await stop_leftovers(self._registry, node, self.record_key, self._dirs.home, running, _STOP_GRACE_S)

    async def ensure(self) -> Result[Server, DomainError]:
        """The running server and its client, spawning (or respawning after a crash) when needed."""
        async with self._spawn_lock:
            if self.process is not None and self.client is not None and self.process.running():
                return Success((self.process, self.client))
            if self._shut_down:
                return Failure(AgentUnavailable(detail="the opencode backend was shut down", field="agent"))
            await self._bury_dead_server()
            if not self._leftovers_done:
                await self.adopt_or_stop_leftovers()
            if (refusal := self.supervisor.refusal()) is not None:
                return Failure(refusal)
            await self.supervisor.wait_for_restart(self._clock.monotonic())
            spawned = await self._spawn()
            now = self._clock.monotonic()
            if isinstance(spawned, Failure):
                self.supervisor.start_failed(now, spawned.failure().detail, None, read_tail(self._dirs.log_file))
            else:
                self.supervisor.started(now)
            return spawned

    def reset(self) -> bool:
        """Clear a spent crash budget (``dead``) once the cause is fixed; the next turn starts a server."""
        return self.supervisor.reset(self._clock.monotonic())

    def alive(self) -> bool:
        return self.process is not None and self.process.running()

    async def _spawn(self) -> Result[Server, DomainError]:
        resolved = resolve_command(self.spec, Path(self.runtime.agents_dir))
        if isinstance(resolved, Failure):
            return Failure(resolved.failure())
        argv = [str(resolved.unwrap()), *(self.spec.args or ("serve",)), "--hostname", "127.0.0.1", "--port", "0"]
        password = secrets.token_urlsafe(24)
        self._dirs.create()
        confined = confined_env(
            self.spec,
            self._dirs.root,
            self.runtime.worktrees_root,
            server_env(self.spec, self.runtime.provider, self._dirs, password, self.runtime.hearth_mcp),
        )
        if isinstance(confined, Failure):
            return Failure(confined.failure())
        env = confined.unwrap()
        spawned = await ServerProcess.spawn(argv, env, self._dirs.home, self._dirs.log_file, password, _READY_TIMEOUT_S)
        if isinstance(spawned, Failure):
            return Failure(AgentUnavailable(detail=spawned.failure(), field="agent"))
        server = spawned.unwrap()
        self.process, self.client = server, OpenCodeClient(server.base_url, password)
        self.feed = ServerFeed(self.client, self._stream_idle_timeout_s, server.running)
        self.feed.start()
        self.spawn_count += 1
        record = ProcessRecord(
            key=self.record_key,
            pid=server.pid,
            port=server.port,
            started_at=self._clock.now(),
            node_id=self.runtime.node_id,
            command=" ".join(argv),
        )
        await self._registry.record_process(record)
        return Success((server, self.client))

    def _observe_exit(self, server: ServerProcess) -> None:
        """Tell the supervisor a server is gone, once per process."""
        if server.running() or server.pid in self._exit_seen:
            return
        self._exit_seen.add(server.pid)
        self.supervisor.exited(self._clock.monotonic(), server.returncode, read_tail(server.log_file))

    async def _bury_dead_server(self) -> None:
        """Reap a dead server, report its exit, drop its client and its registry record."""
        server, client = self.process, self.client
        if server is None:
            return
        self.process, self.client = None, None
        await self._stop_feed()
        if client is not None:
            await client.aclose()
        await server.stop(grace_s=_STOP_GRACE_S)
        self._observe_exit(server)
        await self._registry.forget_process(self.record_key, server.pid)

    async def _report_death(self, server: ServerProcess) -> str:
        async with self._spawn_lock:
            if self.process is server:
                await self._bury_dead_server()
        self._observe_exit(server)
        return f"{server.exit_report()}; the next turn starts a new server and resumes the session"

    async def diagnose(
        self, server: ServerProcess, client: OpenCodeClient, busy: bool, exit_grace_s: float = 0.3
    ) -> str | None:
        """None if the server is fine, else why its turns must fail (after a dropped stream, or for ``health``).

        ``exit_grace_s`` lets a just-killed child be reaped before deciding; ``health`` passes 0 and a
        shorter check timeout so the whole call fits inside the health job's own timeout.
        """
        timeout_s = self.runtime.health_timeout_s if exit_grace_s else self.runtime.health_timeout_s * 0.8
        if await server.wait_exit(exit_grace_s) is not None or not server.running():
            return await self._report_death(server)
        try:
            await client.health(timeout_s)
        except (httpx.HTTPError, ValueError) as exc:
            if await server.wait_exit(exit_grace_s) is not None or not server.running():
                return await self._report_death(server)
            detail = f"no answer to GET /global/health within {timeout_s:.1f} s ({exc!r})"
            decisions = self.supervisor.feed(HealthFailed(at=self._clock.monotonic(), detail=detail, busy=busy))
            stop = next((d for d in decisions if isinstance(d, StopProcess)), None)
            if stop is None:
                return None  # only suspect: a busy server may just be slow (core's stale grace)
            server.kill()
            await server.wait_exit(_STOP_GRACE_S)
            return f"{stop.reason}; the server was killed ({server.exit_report()})"
        self.supervisor.feed(HealthOk(at=self._clock.monotonic()))
        return None

    async def restart(self, reason: str) -> None:
        """The turn watchdog gave up on a turn: the supervisor counts a ``TurnStalled`` crash and says stop.

        The hung server is stopped (SIGTERM, bounded wait, SIGKILL) and buried; every session on it is crashed.
        The next turn starts a new server after the backoff and resumes its session by id.
        """
        server = self.process
        if server is None or not server.running():
            return  # already gone: its exit is reported as a crash where it is noticed
        # a running server means a live supervisor state, where TurnStalled always decides StopProcess
        self.supervisor.feed(TurnStalled(at=self._clock.monotonic(), detail=reason))
        self._exit_seen.add(server.pid)  # counted as TurnStalled: its exit is no second crash
        log.warning("stopping opencode server pid %s: %s", server.pid, reason)
        await server.stop(grace_s=_STOP_GRACE_S)
        async with self._spawn_lock:
            if self.process is server:
                await self._bury_dead_server()

    async def dispose_directory(self, directory: str) -> None:
        """Free OpenCode's per-directory instance (watchers, LSP/MCP children) of a directory nobody uses."""
        server, client = self.process, self.client
        if server is None or client is None or not server.running():
            return
        with contextlib.suppress(httpx.HTTPError):
            await client.dispose_instance(directory)
            self.disposals += 1

    async def _stop_feed(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            await feed.stop()

    async def recycle_unless(self, in_use: Callable[[], bool]) -> bool:
        """Stop the server (a requested stop, no crash) unless ``in_use`` says a session holds or is opening one."""
        async with self._spawn_lock:
            server, client = self.process, self.client
            if server is None or in_use() or not server.running():
                return False
            self.process, self.client = None, None
            self._exit_seen.add(server.pid)
            await self._stop_feed()  # its event stream reads through the client closed next
            if client is not None:
                await client.aclose()
            await server.stop(grace_s=_STOP_GRACE_S)
            await self._registry.forget_process(self.record_key, server.pid)
            self.recycled += 1
            return True

    async def aclose(self, forget_sessions: Callable[[], None]) -> None:
        """Stop the server (SIGTERM, wait, SIGKILL) for good and forget its record; ``forget_sessions`` runs once no
        spawn is under way, so no session opened on a server being stopped is kept."""
        async with self._spawn_lock:
            self._shut_down = True
            server, client = self.process, self.client
            self.process, self.client = None, None
            forget_sessions()
            await self._stop_feed()
            if client is not None:
                await client.aclose()
            if server is not None:
                await server.stop(grace_s=_STOP_GRACE_S)
                self._exit_seen.add(server.pid)  # a requested stop is no crash
                await self._registry.forget_process(self.record_key, server.pid)
