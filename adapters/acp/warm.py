"""``WarmAcpBackend``: one warm process per ACP agent serving all of that agent's sessions (ADR 0004).

``initialize`` runs once per process, ``session/new`` once per (chat, agent), every turn is a
``session/prompt`` on the warm connection. A process that exits is reported to ``core.lifecycle``'s
supervisor: the next ``open_session`` respawns it after the backoff and resumes the stored session with
``session/load`` (or ``session/resume``) where the agent advertises it; otherwise, or when loading fails,
a new session is made and ``context_reset_reason`` says why. Over the crash budget the agent is dead and
``open_session`` fails fast with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from acp import RequestError
from returns.result import Failure, Result, Success

from adapters import procfs
from adapters.acp.process import AcpProcess
from adapters.acp.session import AcpSession
from adapters.acp.turn import describe_request_error
from adapters.supervisor import Supervisor
from core.acp.events import AcpState
from core.agents import AgentSpec
from core.errors import AgentUnavailable, DomainError, InvalidInput
from core.lifecycle import (
    MIB,
    ProcessLoad,
    RecyclePolicy,
    RecycleStep,
    Supervision,
    SupervisionPolicy,
    TurnStalled,
    recycle_step,
)
from core.model import BackendKind
from core.ports.agents import BackendRuntime, ProcessInfo, SessionHandle, SessionSpec
from core.ports.clock import Clock
from core.ports.store import ProcessRegistry

SESSION_CALL_TIMEOUT_S = 120.0  # session/new and session/load (claude spawns a child; loads replay history)


class WarmAcpBackend:
    kind = BackendKind.WARM_ACP

    def __init__(
        self,
        spec: AgentSpec,
        runtime: BackendRuntime,
        registry: ProcessRegistry,
        clock: Clock,
        policy: SupervisionPolicy | None = None,
        recycle_policy: RecyclePolicy | None = None,
    ) -> None:
        self.spec = spec
        self._runtime = runtime
        self._registry = registry
        self._clock = clock
        self._supervisor = Supervisor(spec.name, policy)
        self._process: AcpProcess | None = None
        self._sessions: dict[str, AcpSession] = {}
        self._spawn_lock = asyncio.Lock()
        self._spawns = itertools.count(1)
        self._opening = 0  # open_session calls in progress: they may be about to use the process
        self._recycle = recycle_policy or RecyclePolicy(max_detached_bytes=runtime.acp_recycle_mib * MIB)
        self._baseline_bytes = 0  # the process tree's RSS right after initialize
        self.recycled = 0  # processes stopped to give back the memory of sessions hearth let go of

    @property
    def supervision(self) -> Supervision:
        return self._supervisor.state

    async def open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]:
        self._opening += 1
        try:
            return await self._open_session(spec)
        finally:
            self._opening -= 1

    async def _open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]:
        if not await asyncio.to_thread(Path(spec.cwd).is_dir):
            return Failure(InvalidInput(detail=f"worktree {spec.cwd} does not exist; recreate it first", field="cwd"))
        async with self._spawn_lock:
            started = await self._live_process()
        if isinstance(started, Failure):
            return started
        process = started.unwrap()
        reset_reason: str | None = None
        if spec.resume_id:
            known = self._sessions.get(spec.resume_id)
            if known is not None and known.process is process:  # still open in this very process
                if known.is_alive():
                    return Success(known)
                # an evicted handle: a new one continues the same agent session (and its usage baseline)
                return Success(self._track(process, spec.resume_id, spec.cwd, resumed=True, state=known.state))
            session = self._track(process, spec.resume_id, spec.cwd, resumed=True)
            session.begin_replay()  # the agent replays history before answering: folded, never emitted
            resumed = await self._resume(process, spec.resume_id, spec.cwd)
            session.end_replay()
            if isinstance(resumed, Success):
                return Success(session)
            await session.close()
            del self._sessions[spec.resume_id]
            reset_reason = resumed.failure()
        hearth = process.mcp_servers(self._runtime.hearth_mcp)
        try:
            created = await asyncio.wait_for(
                process.connection.new_session(cwd=spec.cwd, mcp_servers=hearth), timeout=SESSION_CALL_TIMEOUT_S
            )
        except Exception as error:
            detail = f"{self.spec.name}: session/new failed ({type(error).__name__}: {error}); {process.exit_report()}"
            return Failure(AgentUnavailable(detail=detail, field="agent"))
        return Success(self._track(process, created.session_id, spec.cwd, resumed=False, reset_reason=reset_reason))

    def _track(
        self,
        process: AcpProcess,
        session_id: str,
        cwd: str,
        *,
        resumed: bool,
        reset_reason: str | None = None,
        state: AcpState | None = None,
    ) -> AcpSession:
        previous = self._sessions.pop(session_id, None)
        if previous is not None:
            previous.process.client.detach(session_id, previous)
        session = AcpSession(
            process,
            session_id,
            cwd,
            permission=self.spec.permission,
            permission_timeout_s=self._runtime.permission_timeout_s,
            resumed=resumed,
            context_reset_reason=reset_reason,
            state=state,
            on_closed=self._session_closed,
        )
        self._sessions[session_id] = session
        return session

    def _load(self) -> ProcessLoad:
        process = self._process
        held = [s for s in self._sessions.values() if s.process is process]
        open_ = [s for s in held if not s.closed]
        detached = len(held) - len(open_)
        measured = process is not None and detached > 0 and process.is_alive()  # /proc is read only when it matters
        return ProcessLoad(
            open=len(open_) + self._opening,
            busy=sum(1 for s in open_ if s.busy),
            detached=detached,
            rss_bytes=procfs.tree_rss_bytes(process.pid) if measured and process is not None else 0,
            baseline_bytes=self._baseline_bytes,
        )

    def reset(self) -> bool:
        """Clear a spent crash budget (``dead``) once the cause is fixed; the next turn starts a process."""
        return self._supervisor.reset(self._clock.monotonic())

    def wants_drain(self) -> bool:
        return recycle_step(self._load(), self._recycle) is RecycleStep.DRAIN

    async def _session_closed(self, session: AcpSession) -> None:
        """The agent keeps a closed session's memory until its process ends: stop the process once nothing in it
        is open (each session resumes with session/load in the next one). Not a crash."""
        async with self._spawn_lock:
            process = self._process
            if process is None or session.process is not process or not process.is_alive():
                return
            if recycle_step(self._load(), self._recycle) is not RecycleStep.STOP:
                return
            for session_id in [sid for sid, s in self._sessions.items() if s.process is process]:
                del self._sessions[session_id]
            self._process = None
            self.recycled += 1
        await process.aclose()

    async def recycle_if_empty(self) -> bool:
        async with self._spawn_lock:
            process = self._process
            if process is None or not process.is_alive() or self._opening:
                return False
            held = [sid for sid, s in self._sessions.items() if s.process is process]
            if any(not self._sessions[sid].closed for sid in held):
                return False
            for session_id in held:
                del self._sessions[session_id]
            self._process = None
            self.recycled += 1
        await process.aclose()
        return True

    async def _resume(self, process: AcpProcess, session_id: str, cwd: str) -> Result[None, str]:
        """``session/load`` (history replayed to a session with no turn, so nothing is re-emitted), else resume."""
        name = self.spec.name
        if not (process.can_load or process.can_resume):
            return Failure(f"{name} does not advertise session/load or session/resume, so its session was not kept")
        try:
            async with asyncio.timeout(SESSION_CALL_TIMEOUT_S):
                if process.can_load:
                    hearth = process.mcp_servers(self._runtime.hearth_mcp)
                    await process.connection.load_session(cwd=cwd, session_id=session_id, mcp_servers=hearth)
                else:
                    await process.connection.resume_session(cwd=cwd, session_id=session_id)
        except RequestError as error:
            return Failure(f"{name} could not resume session {session_id}: {describe_request_error(error)}")
        except Exception as error:
            return Failure(f"{name} could not resume session {session_id} ({type(error).__name__}: {error})")
        return Success(None)

    async def _live_process(self) -> Result[AcpProcess, DomainError]:
        current = self._process
        if current is not None and current.is_alive():
            return Success(current)
        if current is not None:
            await self._note_exit(current)
        if (refusal := self._supervisor.refusal()) is not None:
            return Failure(refusal)
        await self._supervisor.wait_for_restart(self._clock.monotonic())
        key = f"acp:{self.spec.name}:{next(self._spawns)}"
        spawned = await AcpProcess.spawn(self.spec, self._runtime, self._registry, key)
        if isinstance(spawned, Failure):  # not installed / not executable: fails fast, nothing crashed
            return spawned
        started = await spawned.unwrap().initialize(self._runtime, self._clock)
        now = self._clock.monotonic()
        if isinstance(started, Failure):  # it ran and died (or hung): a crash, on the budget like any other
            process = spawned.unwrap()
            detail = started.failure().detail
            self._supervisor.start_failed(now, detail, process.process.returncode, process.stderr_tail())
            return Failure(started.failure())
        self._supervisor.started(now)
        self._process = spawned.unwrap()
        self._baseline_bytes = procfs.tree_rss_bytes(self._process.pid)
        return spawned

    async def _note_exit(self, process: AcpProcess) -> None:
        """Report a dead process once: its sessions are crashed (handles say not alive), the supervisor decides."""
        await process.wait_exited(1.0)
        self._supervisor.exited(self._clock.monotonic(), process.process.returncode, process.stderr_tail())
        for session_id, session in list(self._sessions.items()):
            if session.process is process:
                del self._sessions[session_id]
        if self._process is process:  # a restart may already have spawned the next one
            self._process = None
        await process.aclose()  # reaps it and forgets its registry record

    async def restart(self, reason: str) -> None:
        """The turn watchdog gave up on a turn: stop the hung process (SIGTERM, bounded wait, SIGKILL).

        Counted against the crash budget (``TurnStalled``); every session of the process is crashed, and the
        next ``open_session`` respawns after the backoff and loads the stored session where the agent can.
        Not under the spawn lock: a start in progress must not delay stopping a hung agent.
        """
        process = self._process
        if process is None or not process.is_alive():
            return  # already gone: its exit is reported as a crash where it is noticed
        self._supervisor.feed(TurnStalled(at=self._clock.monotonic(), detail=reason))
        await process.stop()
        await self._note_exit(process)  # the supervisor ignores this exit: the restart was already counted

    async def health(self) -> dict[str, object]:
        """Also where an exit between turns is noticed: the supervisor then says crashed (or dead)."""
        if not self._spawn_lock.locked():  # a (re)start in progress will report for itself; never wait on it
            async with self._spawn_lock:
                if self._process is not None and not self._process.is_alive():
                    await self._note_exit(self._process)
        process = self._process
        alive = process is not None and process.is_alive()
        return {
            "agent": self.spec.name,
            "kind": self.kind.value,
            "state": self._supervisor.state.state.value,
            "reason": self._supervisor.state.reason,
            "alive": alive,
            "pid": process.pid if process is not None else None,
            "sessions": len(self._sessions),
            "busy_sessions": sum(1 for s in self._sessions.values() if s.busy),
            "recycled": self.recycled,
            "rss_bytes": procfs.tree_rss_bytes(process.pid) if process is not None and alive else 0,
        }

    def processes(self) -> list[ProcessInfo]:
        process = self._process
        if process is None or not process.is_alive():
            return []
        return [ProcessInfo(key=process.key, pid=process.pid, agent=self.spec.name)]

    async def aclose(self) -> None:
        for session in list(self._sessions.values()):
            await session.close()
        self._sessions.clear()
        if self._process is not None:
            await self._process.aclose()
            self._process = None
