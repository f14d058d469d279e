"""An ``AgentBackend`` that plays event lists: each turn of any of its sessions takes the next script.

A script is a list of steps: an ``AgentEvent`` (its session and turn ids are filled in), a ``Gate`` the turn waits
at until the test opens it (a cancel meanwhile ends the turn cancelled), or ``Ask`` (a permission request the turn
waits on until it is answered). A script that ends without a terminal event completes the turn.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from returns.result import Failure, Result, Success

from core.errors import AgentUnavailable, DomainError
from core.events import (
    AgentEvent,
    PermissionOption,
    PermissionRequest,
    PermissionResolved,
    TurnCancelled,
    TurnCompleted,
    is_terminal,
)
from core.model import BackendKind
from core.ports.agents import ProcessInfo, SessionHandle, SessionSpec, TurnInput

WAIT_S = 30.0  # a gate or a question no test opens fails the test instead of hanging it


@dataclass
class Gate:
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def open(self) -> None:
        self.opened.set()


@dataclass
class Ask:
    request_id: str
    reached: asyncio.Event = field(default_factory=asyncio.Event)


Step = AgentEvent | Gate | Ask


class ScriptedSession:
    def __init__(self, backend: ScriptedBackend, session_id: str, resumed: bool) -> None:
        self._backend = backend
        self._session_id = session_id
        self._resumed = resumed
        self._cancelled = asyncio.Event()
        self._answers: dict[str, asyncio.Future[str | None]] = {}
        self.closed = False
        self.prompts: list[str] = []

    @property
    def backend_session_id(self) -> str:
        return self._session_id

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def context_reset_reason(self) -> str | None:
        return None

    async def run_turn(self, turn: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        self.prompts.append(turn.prompt)
        self._cancelled.clear()
        ids = {"session_id": self._session_id, "turn_id": turn.turn_id}
        script = self._backend.next_script()
        for step in script:
            if isinstance(step, Gate | Ask):
                outcome = await self._wait(step, ids)
                if outcome is not None:
                    yield outcome
                    if is_terminal(outcome):
                        return
                continue
            event = step.model_copy(update=ids)
            yield event
            if is_terminal(event):
                return
        yield TurnCompleted(**ids)

    async def _wait(self, step: Gate | Ask, ids: dict[str, str]) -> AgentEvent | None:
        step.reached.set()
        cancelled: asyncio.Future[object] = asyncio.ensure_future(self._cancelled.wait())
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        if isinstance(step, Gate):
            opened: asyncio.Future[object] = asyncio.ensure_future(step.opened.wait())
        else:
            self._answers[step.request_id] = answer
            opened = answer  # type: ignore[assignment]  # awaited only for completion
        try:
            await asyncio.wait({cancelled, opened}, timeout=WAIT_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
            opened.cancel()
            if isinstance(step, Ask):
                self._answers.pop(step.request_id, None)
        if self._cancelled.is_set():
            return TurnCancelled(**ids)
        if isinstance(step, Ask):
            chosen = answer.result() if answer.done() and not answer.cancelled() else None
            return PermissionResolved(**ids, request_id=step.request_id, outcome="allow_once" if chosen else "rejected")
        return None

    async def cancel(self) -> None:
        self._cancelled.set()

    async def answer_permission(self, request_id: str, option_id: str | None) -> bool:
        waiting = self._answers.get(request_id)
        if waiting is None or waiting.done():
            return False
        waiting.set_result(option_id)
        return True

    def is_alive(self) -> bool:
        return not self.closed and self._backend.alive

    async def working(self) -> bool:
        return False

    async def close(self) -> None:
        self.closed = True


def ask(request_id: str) -> list[Step]:
    """A permission question the turn waits on (the request event first, as agents send it)."""
    option = PermissionOption(option_id="allow", kind="allow_once", name="Allow")
    return [
        PermissionRequest(session_id="", turn_id="", request_id=request_id, title="run", options=(option,)),
        Ask(request_id),
    ]


class ScriptedBackend:
    def __init__(self, name: str = "scripted", kind: BackendKind = BackendKind.WARM_ACP) -> None:
        self.name = name
        self.kind = kind
        self.alive = True
        self.scripts: deque[Sequence[Step]] = deque()
        self.sessions: list[ScriptedSession] = []
        self.open_failure: str | None = None
        self.restarts: list[str] = []
        self._ids = itertools.count(1)

    def script(self, *scripts: Sequence[Step]) -> None:
        self.scripts.extend(scripts)

    def next_script(self) -> Sequence[Step]:
        return self.scripts.popleft() if self.scripts else ()

    async def open_session(self, spec: SessionSpec) -> Result[SessionHandle, DomainError]:
        if self.open_failure is not None:
            return Failure(AgentUnavailable(detail=self.open_failure, field="agent"))
        known = {s.backend_session_id for s in self.sessions}
        resumed = spec.resume_id is not None and spec.resume_id in known
        session = ScriptedSession(
            self, spec.resume_id if resumed and spec.resume_id else f"s{next(self._ids)}", resumed
        )
        self.sessions.append(session)
        return Success(session)

    async def health(self) -> dict[str, object]:
        return {"ok": self.alive}

    def processes(self) -> list[ProcessInfo]:
        return []

    def wants_drain(self) -> bool:
        return False

    async def recycle_if_empty(self) -> bool:
        return False

    async def restart(self, reason: str) -> None:
        self.restarts.append(reason)

    def reset(self) -> bool:
        return False

    async def aclose(self) -> None:
        for session in self.sessions:
            await session.close()
