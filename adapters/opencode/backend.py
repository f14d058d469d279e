"""OpenCodeServerBackend: one supervised `opencode serve` per node, serving every chat's session.

The server is spawned lazily on the first session, respawned by the next turn after it died or hung, and stopped
by ``aclose``; ``adapters.opencode.supervised`` keeps it. This module opens, resumes and forgets the sessions on it
and reports on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from returns.result import Failure, Result, Success

from adapters.opencode.client import Json, OpenCodeClient
from adapters.opencode.feed import FeedDropped
from adapters.opencode.host import Server
from adapters.opencode.process import ServerProcess
from adapters.opencode.session import OpenCodeSession
from adapters.opencode.supervised import SupervisedServer
from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError, InvalidInput
from core.lifecycle import DirectoryUse, may_dispose_directory
from core.model import BackendKind
from core.ports.agents import BackendRuntime, ProcessInfo, SessionHandle, SessionSpec
from core.ports.clock import Clock
from core.ports.store import ProcessRegistry


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
        self._host = SupervisedServer(spec, runtime, registry, clock, lambda: self.stream_idle_timeout_s)
        self._clock = clock
        self._handles: set[OpenCodeSession] = set()
        self._opening = 0  # open_session calls in progress: they may be about to use the server
        self.stream_resyncs = 0

    # --- the server (adapters.opencode.supervised) -------------------------------------------------------
    async def adopt_or_stop_leftovers(self) -> list[str]:
        """Stop servers a previous hearth on this node recorded and left running; forget every such record."""
        return await self._host.adopt_or_stop_leftovers()

    async def ensure_server(self) -> Result[Server, DomainError]:
        """The running server and its client, spawning (or respawning after a crash) when needed."""
        return await self._host.ensure()

    def reset(self) -> bool:
        """Clear a spent crash budget (``dead``) once the cause is fixed; the next turn starts a server."""
        return self._host.reset()

    async def diagnose(
        self, server: ServerProcess, client: OpenCodeClient, busy: bool, exit_grace_s: float = 0.3
    ) -> str | None:
        """None if the server is fine, else why its turns must fail (after a dropped stream, or for ``health``)."""
        return await self._host.diagnose(server, client, busy, exit_grace_s)

    async def restart(self, reason: str) -> None:
        """The turn watchdog gave up on a turn: the hung server is stopped and every session on it crashed."""
        await self._host.restart(reason)

    async def dispose_directory(self, directory: str) -> None:
        """Free OpenCode's per-directory instance (watchers, LSP/MCP children) of a directory nobody uses."""
        await self._host.dispose_directory(directory)

    @property
    def spawn_count(self) -> int:
        return self._host.spawn_count

    @property
    def disposals(self) -> int:
        return self._host.disposals

    @property
    def recycled(self) -> int:
        """Servers stopped by the memory budget once no session used them."""
        return self._host.recycled

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
        return self._host.client if self._host.alive() else None

    def server_alive(self) -> bool:
        return self._host.alive()

    def note_stream_resync(self) -> None:
        self.stream_resyncs += 1

    @asynccontextmanager
    async def session_events(self, session_id: str, directory: str) -> AsyncIterator[AsyncIterator[Json]]:
        feed = self._host.feed
        if feed is None:
            raise FeedDropped("the OpenCode server is not running")
        async with feed.subscribe(session_id, directory) as events:
            yield events

    @property
    def stream_connections(self) -> int:
        """Connections the running server's event stream has made (1 unless it dropped): never one per turn."""
        feed = self._host.feed
        return feed.connections if feed is not None else 0

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
        server, client = self._host.process, self._host.client
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
        report["supervision"] = self._host.supervisor.describe()
        report["state"] = self._host.supervisor.state.state.value
        report["ok"] = report["healthy"]  # the key every backend's health shares
        return report

    def processes(self) -> list[ProcessInfo]:
        server = self._host.process
        if server is None or not server.running():
            return []
        return [ProcessInfo(key=self._host.record_key, pid=server.pid, agent=self.spec.name)]

    def wants_drain(self) -> bool:
        return False  # closing a session frees what it held

    async def recycle_if_empty(self) -> bool:
        """The memory budget let go of every session on this server: stop it (a requested stop, no crash)."""
        return await self._host.recycle_unless(lambda: bool(self._handles or self._opening))

    async def aclose(self) -> None:
        """Stop the server (SIGTERM, wait, SIGKILL) and forget its record."""
        await self._host.aclose(self._handles.clear)
