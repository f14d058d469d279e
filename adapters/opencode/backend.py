"""OpenCodeServerBackend: one supervised `opencode serve` per node, serving every chat's session.

The server is spawned lazily on the first session, respawned by the next turn after it died or hung
(crash budget and backoff decided by core.lifecycle), and stopped by ``aclose``. Each spawn is recorded
in the process registry so the next hearth start can stop what this one left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from returns.result import Failure, Result, Success

from adapters.agent_install import resolve_command
from adapters.opencode.client import Json, OpenCodeClient
from adapters.opencode.config import server_env, state_dirs
from adapters.opencode.feed import FeedDropped, ServerFeed
from adapters.opencode.host import Server
from adapters.opencode.leftovers import stop_leftovers
from adapters.opencode.process import ServerProcess, read_tail
from adapters.opencode.session import OpenCodeSession
from adapters.sandbox.shim import confined_env
from adapters.supervisor import Supervisor
from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError, InvalidInput
from core.lifecycle import DirectoryUse, HealthFailed, HealthOk, StopProcess, TurnStalled, may_dispose_directory
from core.model import BackendKind, ProcessRecord
from core.ports.agents import BackendRuntime, ProcessInfo, SessionHandle, SessionSpec
from core.ports.clock import Clock
from core.ports.store import ProcessRegistry

log = logging.getLogger(__name__)

_READY_TIMEOUT_S = 30.0
_STOP_GRACE_S = 5.0


def _existing_absolute_dir(path: str) -> bool:
    return Path(path).is_absolute() and Path(path).is_dir()


class OpenCodeServerBackend:
    kind = BackendKind.OPENCODE_SERVER

    def __init__(
        self,
        spec: AgentSpec,
        runtime: BackendRuntime,
        registry: ProcessRegistry,
        clock: Clock,
        stream_idle_timeout_s: float | None = None,
    ) -> None:
        self.spec = spec
        # Silence on /event longer than this means a dropped stream or a hung server (heartbeat: ~10 s).
        self.stream_idle_timeout_s = stream_idle_timeout_s or max(runtime.health_interval_s, 12.0)
        self.runtime = runtime
        self._registry = registry
        self._clock = clock
        self._dirs = state_dirs(runtime.agent_state_root, spec.name)
        self._record_key = f"opencode-server:{spec.name}"
        self._server: ServerProcess | None = None
        self._client: OpenCodeClient | None = None
        self._feed: ServerFeed | None = None  # the running server's one event stream
        self._spawn_lock = asyncio.Lock()
        self._shut_down = False
        self._leftovers_done = False
        self._supervisor = Supervisor(spec.name)
        self._exit_seen: set[int] = set()  # pids whose exit was already fed to the supervisor
        self._handles: set[OpenCodeSession] = set()
        self.spawn_count = 0
        self.disposals = 0
        self.recycled = 0  # servers stopped by the memory budget once no session used them
        self._opening = 0  # open_session calls in progress: they may be about to use the server
        self.stream_resyncs = 0

    # --- the server ------------------------------------------------------------------------------------
    async def adopt_or_stop_leftovers(self) -> list[str]:
        """Stop servers a previous hearth on this node recorded and left running; forget every such record."""
        self._leftovers_done = True
        running = self._server.pid if self._server is not None else None
        node = self.runtime.node_id
        return await stop_leftovers(self._registry, node, self._record_key, self._dirs.home, running, _STOP_GRACE_S)

    async def ensure_server(self) -> Result[Server, DomainError]:
        """The running server and its client, spawning (or respawning after a crash) when needed."""
        async with self._spawn_lock:
            if self._server is not None and self._client is not None and self._server.running():
                return Success((self._server, self._client))
            if self._shut_down:
                return Failure(AgentUnavailable(detail="the opencode backend was shut down", field="agent"))
            await self._bury_dead_server()
            if not self._leftovers_done:
                await self.adopt_or_stop_leftovers()
            if (refusal := self._supervisor.refusal()) is not None:
                return Failure(refusal)
            await self._supervisor.wait_for_restart(self._clock.monotonic())
            spawned = await self._spawn()
            now = self._clock.monotonic()
            if isinstance(spawned, Failure):
                self._supervisor.start_failed(now, spawned.failure().detail, None, read_tail(self._dirs.log_file))
            else:
                self._supervisor.started(now)
            return spawned

    def reset(self) -> bool:
        """Clear a spent crash budget (``dead``) once the cause is fixed; the next turn starts a server."""
        return self._supervisor.reset(self._clock.monotonic())

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
        self._server, self._client = server, OpenCodeClient(server.base_url, password)
        self._feed = ServerFeed(self._client, lambda: self.stream_idle_timeout_s, server.running)
        self._feed.start()
        self.spawn_count += 1
        record = ProcessRecord(
            key=self._record_key,
            pid=server.pid,
            port=server.port,
            started_at=self._clock.now(),
            node_id=self.runtime.node_id,
            command=" ".join(argv),
        )
        await self._registry.record_process(record)
        return Success((server, self._client))

    def _observe_exit(self, server: ServerProcess) -> None:
        """Tell the supervisor a server is gone, once per process."""
        if server.running() or server.pid in self._exit_seen:
            return
        self._exit_seen.add(server.pid)
        self._supervisor.exited(self._clock.monotonic(), server.returncode, read_tail(server.log_file))

    async def _bury_dead_server(self) -> None:
        """Reap a dead server, report its exit, drop its client and its registry record."""
        server, client = self._server, self._client
        if server is None:
            return
        self._server, self._client = None, None
        await self._stop_feed()
        if client is not None:
            await client.aclose()
        await server.stop(grace_s=_STOP_GRACE_S)
        self._observe_exit(server)
        await self._registry.forget_process(self._record_key, server.pid)

    async def _report_death(self, server: ServerProcess) -> str:
        async with self._spawn_lock:
            if self._server is server:
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
            decisions = self._supervisor.feed(HealthFailed(at=self._clock.monotonic(), detail=detail, busy=busy))
            stop = next((d for d in decisions if isinstance(d, StopProcess)), None)
            if stop is None:
                return None  # only suspect: a busy server may just be slow (core's stale grace)
            server.kill()
            await server.wait_exit(_STOP_GRACE_S)
            return f"{stop.reason}; the server was killed ({server.exit_report()})"
        self._supervisor.feed(HealthOk(at=self._clock.monotonic()))
        return None

    async def restart(self, reason: str) -> None:
        """The turn watchdog gave up on a turn: the supervisor counts a ``TurnStalled`` crash and says stop.

        The hung server is stopped (SIGTERM, bounded wait, SIGKILL) and buried; every session on it is crashed.
        The next turn starts a new server after the backoff and resumes its session by id.
        """
        server = self._server
        if server is None or not server.running():
            return  # already gone: its exit is reported as a crash where it is noticed
        # a running server means a live supervisor state, where TurnStalled always decides StopProcess
        self._supervisor.feed(TurnStalled(at=self._clock.monotonic(), detail=reason))
        self._exit_seen.add(server.pid)  # counted as TurnStalled: its exit is no second crash
        log.warning("stopping opencode server pid %s: %s", server.pid, reason)
        await server.stop(grace_s=_STOP_GRACE_S)
        async with self._spawn_lock:
            if self._server is server:
                await self._bury_dead_server()

    async def dispose_directory(self, directory: str) -> None:
        """Free OpenCode's per-directory instance (watchers, LSP/MCP children) of a directory nobody uses."""
        server, client = self._server, self._client
        if server is None or client is None or not server.running():
            return
        with contextlib.suppress(httpx.HTTPError):
            await client.dispose_instance(directory)
            self.disposals += 1

    # --- sessions -------------------------------------------------------------------------------------
    async def open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]:
        self._opening += 1
        try:
            return await self._open_session(spec)
        finally:
            self._opening -= 1

    async def _open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]:
        if not _existing_absolute_dir(spec.cwd):  # OpenCode would silently accept any path
            detail = f"the chat worktree {spec.cwd!r} is not an existing absolute directory; recreate the worktree"
            return Failure(InvalidInput(detail=detail, field="cwd"))
        ensured = await self.ensure_server()
        if isinstance(ensured, Failure):
            return Failure(ensured.failure())
        _, client = ensured.unwrap()
        reset_reason: str | None = None
        try:
            if spec.resume_id is not None:
                if await client.get_session(spec.resume_id, spec.cwd) is not None:
                    return Success(self._register(spec, spec.resume_id, resumed=True, reset_reason=None))
                reset_reason = f"OpenCode no longer knows session {spec.resume_id}; a new session was started"
            title = f"hearth chat {spec.chat_id}" if spec.chat_id else "hearth task"  # a title avoids an LLM call
            created = await client.create_session(spec.cwd, title)
        except httpx.HTTPError as exc:
            return Failure(AgentUnavailable(detail=f"the opencode server failed a request: {exc!r}", field="agent"))
        return Success(self._register(spec, str(created["id"]), resumed=False, reset_reason=reset_reason))

    def _register(self, spec: SessionSpec, session_id: str, resumed: bool, reset_reason: str | None) -> OpenCodeSession:
        handle = OpenCodeSession(self, session_id, spec.cwd, resumed, reset_reason)
        self._handles.add(handle)
        return handle

    async def session_closed(self, session: OpenCodeSession) -> None:
        """Forget a closed session; dispose its directory's OpenCode instance when nothing else uses it."""
        self._handles.discard(session)
        others = any(handle.cwd == session.cwd for handle in self._handles)
        if may_dispose_directory(DirectoryUse(busy_sessions=int(others), turns_in_flight=int(session.busy))):
            await self.dispose_directory(session.cwd)

    def running_client(self) -> OpenCodeClient | None:
        server, client = self._server, self._client
        return client if server is not None and server.running() else None

    def server_alive(self) -> bool:
        return self._server is not None and self._server.running()

    def note_stream_resync(self) -> None:
        self.stream_resyncs += 1

    @asynccontextmanager
    async def session_events(self, session_id: str, directory: str) -> AsyncIterator[AsyncIterator[Json]]:
        feed = self._feed
        if feed is None:
            raise FeedDropped("the OpenCode server is not running")
        async with feed.subscribe(session_id, directory) as events:
            yield events

    @property
    def stream_connections(self) -> int:
        """Connections the running server's event stream has made (1 unless it dropped): never one per turn."""
        return self._feed.connections if self._feed is not None else 0

    async def _stop_feed(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            await feed.stop()

    @property
    def llm_retry_limit(self) -> int:
        return self.runtime.llm_retry_limit

    @property
    def default_model(self) -> str:
        return self.runtime.provider.openai_model

    @property
    def permission_auto(self) -> bool:
        return self.spec.permission == "auto"

    @property
    def permission_timeout_s(self) -> float:
        return self.runtime.permission_timeout_s

    # --- reporting and shutdown -----------------------------------------------------------------------
    async def health(self) -> dict[str, object]:
        """Liveness, health-check verdict, and the server's RSS and CPU sampled from /proc."""
        server, client = self._server, self._client
        report: dict[str, object] = {"agent": self.spec.name, "kind": self.kind.value, "sessions": len(self._handles)}
        report["healthy"] = False
        if server is not None and client is not None:
            problem = await self.diagnose(server, client, busy=any(h.busy for h in self._handles), exit_grace_s=0)
            report.update(pid=server.pid, port=server.port, healthy=problem is None and server.running())
            if problem is not None:
                report["error"] = problem
            report.update(server.usage(self._clock.monotonic()))
        report.update(
            spawns=self.spawn_count,
            disposals=self.disposals,
            recycled=self.recycled,
            stream_resyncs=self.stream_resyncs,
        )
        report["supervision"] = self._supervisor.describe()
        report["state"] = self._supervisor.state.state.value
        report["ok"] = report["healthy"]  # the key every backend's health shares
        return report

    def processes(self) -> list[ProcessInfo]:
        server = self._server
        if server is None or not server.running():
            return []
        return [ProcessInfo(key=self._record_key, pid=server.pid, agent=self.spec.name)]

    def wants_drain(self) -> bool:
        return False  # closing a session frees what it held

    async def recycle_if_empty(self) -> bool:
        """The memory budget let go of every session on this server: stop it (a requested stop, no crash)."""
        async with self._spawn_lock:
            server, client = self._server, self._client
            if server is None or self._handles or self._opening or not server.running():
                return False
            self._server, self._client = None, None
            self._exit_seen.add(server.pid)
            await self._stop_feed()  # its event stream reads through the client closed next
            if client is not None:
                await client.aclose()
            await server.stop(grace_s=_STOP_GRACE_S)
            await self._registry.forget_process(self._record_key, server.pid)
            self.recycled += 1
            return True

    async def aclose(self) -> None:
        """Stop the server (SIGTERM, wait, SIGKILL) and forget its record."""
        async with self._spawn_lock:
            self._shut_down = True
            server, client = self._server, self._client
            self._server, self._client = None, None
            self._handles.clear()
            await self._stop_feed()
            if client is not None:
                await client.aclose()
            if server is not None:
                await server.stop(grace_s=_STOP_GRACE_S)
                self._exit_seen.add(server.pid)  # a requested stop is no crash
                await self._registry.forget_process(self._record_key, server.pid)
