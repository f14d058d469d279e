"""Step 2 of a turn: the agent session that runs it, and giving it back afterwards.

A warm turn checks the (chat, agent) handle out of the pool and records the agent session row; a one-shot turn
(``core.routing``) opens a fresh session on the one-shot backend and closes it after the turn, leaving the chat's
agent session as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from app.pool import AgentPool, LiveSession
from core.errors import AgentUnavailable, DomainError
from core.model import AgentSession, AgentSessionStatus, BackendKind, Task
from core.ports.agents import AgentBackend, SessionHandle, SessionSpec
from core.ports.clock import Clock
from core.ports.store import AgentSessionStore
from core.routing import should_use_warm_backend

log = logging.getLogger(__name__)


@dataclass
class OpenSession:
    """The session running one turn, and the backend whose process the watchdog restarts if it hangs."""

    handle: SessionHandle
    backend: AgentBackend
    live: LiveSession | None = None  # pooled (warm); None for a one-shot session closed after the turn

    @property
    def kept_warm(self) -> bool:
        """Opened by an earlier turn: it remembers this chat's turns so far."""
        return self.live is not None and not self.live.fresh


class TurnSessions:
    def __init__(
        self,
        *,
        pool: AgentPool,
        oneshot_backends: Mapping[str, AgentBackend],
        sessions: AgentSessionStore,
        clock: Clock,
        node_id: str,
    ) -> None:
        self._pool = pool
        self._oneshot = oneshot_backends
        self._sessions = sessions
        self._clock = clock
        self._node_id = node_id

    def kind(self, agent: str) -> BackendKind | None:
        backend = self._pool.backend(agent)
        return backend.kind if backend is not None else None

    async def open(self, task: Task, cwd: str) -> Result[OpenSession, DomainError]:
        """Resume (or create) the agent's session in the chat; a warm one is marked busy in its row."""
        assert task.chat_id is not None, "a turn runs in a chat"
        if should_use_warm_backend(task) and (kept := await self._open_kept_warm(task, cwd)) is not None:
            return kept
        stored = await self._sessions.get_agent_session(task.chat_id, task.agent)
        resumable = stored is not None and stored.status is not AgentSessionStatus.CLOSED
        spec = SessionSpec(
            chat_id=task.chat_id,
            agent=task.agent,
            cwd=cwd,
            resume_id=stored.backend_session_id if stored is not None and resumable else None,
        )
        if not should_use_warm_backend(task):
            return await self._open_oneshot(spec)
        backend = self._pool.backend(task.agent)
        if backend is None:
            return Failure(AgentUnavailable(detail=f"agent {task.agent!r} is not configured", field="agent"))
        checked_out = await self._pool.checkout(spec, task.id)
        if not isinstance(checked_out, Success):
            return Failure(checked_out.failure())
        live = checked_out.unwrap()
        try:
            await self._record(task, live.handle, backend.kind, stored if resumable else None)
        except BaseException:  # the store failed: the session goes back, or the chat's next turn finds it busy
            await self._pool.checkin(live)
            raise
        return Success(OpenSession(live.handle, backend, live))

    async def open_oneshot(self, agent: str, cwd: str) -> Result[OpenSession, DomainError]:
        """A fresh session in ``cwd`` belonging to no chat (an arena contestant): no pool handle, no session row."""
        return await self._open_oneshot(SessionSpec(chat_id=None, agent=agent, cwd=cwd))

    async def _open_kept_warm(self, task: Task, cwd: str) -> Result[OpenSession, DomainError] | None:
        """The chat's live handle, still alive from an earlier turn: its row is as that turn left it, so only its
        status changes (one write, no read). None when there is no such handle (the full path reads the row)."""
        assert task.chat_id is not None
        live = self._pool.find(task.chat_id, task.agent)
        backend = self._pool.backend(task.agent)
        if live is None or live.busy or backend is None or not live.handle.is_alive():
            return None
        resume = live.handle.backend_session_id
        checked_out = await self._pool.checkout(
            SessionSpec(chat_id=task.chat_id, agent=task.agent, cwd=cwd, resume_id=resume), task.id
        )
        if not isinstance(checked_out, Success):
            return Failure(checked_out.failure())
        current = checked_out.unwrap()
        try:
            if current.fresh:  # it died meanwhile and was reopened: record it as a new one
                stored = await self._sessions.get_agent_session(task.chat_id, task.agent)
                await self._record(task, current.handle, backend.kind, stored)
            else:
                await self._sessions.set_agent_session_status(
                    task.chat_id, task.agent, AgentSessionStatus.BUSY, self._clock.now()
                )
        except BaseException:  # the store failed: the session goes back, or the chat's next turn finds it busy
            await self._pool.checkin(current)
            raise
        return Success(OpenSession(current.handle, backend, current))

    async def _open_oneshot(self, spec: SessionSpec) -> Result[OpenSession, DomainError]:
        backend = self._oneshot.get(spec.agent) or self._pool.backend(spec.agent)
        if backend is None:
            return Failure(AgentUnavailable(detail=f"agent {spec.agent!r} is not configured", field="agent"))
        opened = await backend.open_session(spec.model_copy(update={"resume_id": None}))
        return opened.map(lambda handle: OpenSession(handle, backend))

    async def release(self, session: OpenSession, turn_id: str, *, discard: bool = False) -> None:
        """Back to the pool, or dropped when the watchdog gave up on it (the next turn starts it afresh)."""
        if session.live is not None:
            if discard:
                await self._pool.discard(session.live, crashed=True)
            else:
                await self._pool.checkin(session.live)
            return
        try:
            await session.handle.close()
        except Exception:
            log.exception("closing the one-shot session of turn %s failed", turn_id)

    async def _record(self, task: Task, handle: SessionHandle, kind: BackendKind, stored: AgentSession | None) -> None:
        assert task.chat_id is not None
        now = self._clock.now()
        base = stored or AgentSession(chat_id=task.chat_id, agent=task.agent, backend=kind, last_used_at=now)
        update = {
            "backend": kind,
            "backend_session_id": handle.backend_session_id,
            "status": AgentSessionStatus.BUSY,
            "last_used_at": now,
            "node_id": self._node_id,
        }
        await self._sessions.upsert_agent_session(base.model_copy(update=update))
