"""``OneShotAcpBackend``: a fresh agent process per task: one session, one prompt, process ended.

For tasks the router keeps off the warm pool (no chat, or origin arena / mcp / new_task). The events
and failure reports are the warm backend's: the same session and process code runs, only the process
belongs to the one handle and is stopped when its turn ends (or the handle is closed).
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from returns.result import Failure, Result, Success

from adapters.acp.process import AcpProcess
from adapters.acp.session import AcpSession
from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError, InvalidInput
from core.model import BackendKind
from core.ports.agents import BackendRuntime, ProcessInfo, SessionHandle, SessionSpec
from core.ports.clock import Clock
from core.ports.store import ProcessRegistry

SESSION_NEW_TIMEOUT_S = 120.0


class OneShotAcpBackend:
    kind = BackendKind.ONE_SHOT

    def __init__(self, spec: AgentSpec, runtime: BackendRuntime, registry: ProcessRegistry, clock: Clock) -> None:
        self.spec = spec
        self._runtime = runtime
        self._registry = registry
        self._clock = clock
        self._sessions: list[AcpSession] = []
        self._spawns = itertools.count(1)

    async def open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]:
        if not await asyncio.to_thread(Path(spec.cwd).is_dir):
            return Failure(InvalidInput(detail=f"directory {spec.cwd} does not exist", field="cwd"))
        key = f"acp-oneshot:{self.spec.name}:{next(self._spawns)}"
        started = await AcpProcess.start(self.spec, self._runtime, self._registry, self._clock, key)
        if isinstance(started, Failure):
            return started
        process = started.unwrap()
        try:
            async with asyncio.timeout(SESSION_NEW_TIMEOUT_S):
                hearth = process.mcp_servers(self._runtime.hearth_mcp)
                created = await process.connection.new_session(cwd=spec.cwd, mcp_servers=hearth)
        except Exception as error:
            detail = f"{self.spec.name}: session/new failed ({type(error).__name__}: {error}); {process.exit_report()}"
            await process.aclose()
            return Failure(AgentUnavailable(detail=detail, field="agent"))
        session = AcpSession(
            process,
            created.session_id,
            spec.cwd,
            permission=self.spec.permission,
            permission_timeout_s=self._runtime.permission_timeout_s,
            resumed=False,
            close_process_when_done=True,
        )
        self._sessions = [s for s in self._sessions if s.is_alive()] + [session]
        return Success(session)

    async def health(self) -> dict[str, object]:
        live = [s for s in self._sessions if s.is_alive()]
        return {"agent": self.spec.name, "kind": self.kind.value, "alive": True, "running": len(live)}

    def processes(self) -> list[ProcessInfo]:
        return [
            ProcessInfo(key=s.process.key, pid=s.process.pid, agent=self.spec.name)
            for s in self._sessions
            if s.process.is_alive()
        ]

    def reset(self) -> bool:
        return False  # it keeps no crash budget: nothing to reset

    def wants_drain(self) -> bool:
        return False  # closing a session frees what it held

    async def recycle_if_empty(self) -> bool:
        return False  # no warm process: nothing outlives its sessions

    async def restart(self, reason: str) -> None:
        """Stop every running one-shot process of this agent (SIGTERM, bounded wait, SIGKILL): its turn fails.

        Nothing to respawn: the next one-shot task starts a fresh process anyway.
        """
        for session in self._sessions:
            await session.process.stop()
        self._sessions = [s for s in self._sessions if s.is_alive()]

    async def aclose(self) -> None:
        for session in self._sessions:
            await session.close()
        self._sessions.clear()
