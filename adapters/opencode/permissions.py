"""Every question OpenCode asks during a turn gets an answer: at once under ``auto``, by the person under ``ask``.

OpenCode asks for some permissions whatever its config says (``external_directory`` for any path outside the
session's directory, ``read`` of ``*.env`` files, ``doom_loop``); an unanswered question blocks the turn forever.
Under ``auto`` hearth answers each one itself (``core.opencode.permissions.auto_verdict``: inside the worktree
allow, outside reject) and journals a refusal with its reason; the question is never shown, as nobody needs to
answer it. Under ``ask`` the question is shown and a timer rejects it after ``permission_timeout_s``, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from adapters.opencode.client import OpenCodeClient
from core import raw
from core.events import AgentEvent, PermissionRequest, PermissionResolved
from core.opencode.demux import event_session_id
from core.opencode.permissions import auto_verdict, timed_out_reason

log = logging.getLogger(__name__)

_REPLY_TIMEOUT_S = 10.0


class PermissionDesk:
    """One session's open questions. ``begin`` and ``end`` bracket a turn; ``end`` stops every timer."""

    def __init__(self, session_id: str, cwd: str) -> None:
        self._session_id = session_id
        self._cwd = cwd
        self._client: OpenCodeClient | None = None
        self._auto = False
        self._timeout_s = 300.0
        self._asked: dict[str, raw.Raw] = {}  # request id -> the question's properties, until it is folded
        self._decided: set[str] = set()  # answered by hearth under auto: OpenCode's echo of the reply is dropped
        self._expired: dict[str, str] = {}  # request id -> why the timer rejected it
        self._timers: dict[str, asyncio.Task[None]] = {}

    def begin(self, client: OpenCodeClient, auto: bool, timeout_s: float) -> None:
        self._client, self._auto, self._timeout_s = client, auto, timeout_s

    async def end(self) -> None:
        timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()
        for timer in timers:
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._asked.clear()
        self._decided.clear()
        self._expired.clear()

    def note_raw(self, event: raw.Raw) -> None:
        """Remember a question's properties: the fold's PermissionRequest keeps only its title."""
        if raw.text(event, "type") == "permission.asked" and event_session_id(event) == self._session_id:
            props = raw.obj(event, "properties")
            if request_id := raw.text(props, "id"):
                self._asked[request_id] = props

    async def sift(self, events: list[AgentEvent]) -> list[AgentEvent]:
        """The fold's events with the questions answered here taken out and the answers hearth gave put in."""
        out: list[AgentEvent] = []
        for event in events:
            if isinstance(event, PermissionRequest):
                props = self._asked.pop(event.request_id, {})
                if self._auto:
                    out.extend(await self._answer_now(event, props))
                    continue
                self._start_timer(event.request_id)
            elif isinstance(event, PermissionResolved):
                if event.request_id in self._decided:
                    continue  # OpenCode confirming the answer hearth already journaled (or chose not to show)
                self._stop_timer(event.request_id)
                if (why := self._expired.pop(event.request_id, None)) is not None:
                    event = event.model_copy(update={"outcome": "timed_out", "reason": why})
            out.append(event)
        return out

    async def _answer_now(self, request: PermissionRequest, props: raw.Raw) -> list[AgentEvent]:
        verdict = auto_verdict(props, self._cwd)
        self._decided.add(request.request_id)
        failure = await self._reply(request.request_id, verdict.reply)
        if verdict.reason is None and failure is None:
            return []  # allowed inside the worktree: as if OpenCode had never asked
        reason = verdict.reason or f"hearth could not answer {request.title}: {failure}"
        outcome = "rejected" if verdict.reply == "reject" else "allow_once"
        resolved = PermissionResolved(
            session_id=self._session_id, turn_id=request.turn_id, request_id=request.request_id, outcome=outcome
        )
        return [resolved.model_copy(update={"reason": reason})]

    async def _reply(self, request_id: str, reply: str) -> str | None:
        client = self._client
        if client is None:
            return "no OpenCode server"
        try:
            async with asyncio.timeout(_REPLY_TIMEOUT_S):
                await client.reply_permission(request_id, self._cwd, reply)
        except (TimeoutError, httpx.HTTPError) as exc:
            log.warning("answering OpenCode permission %s failed: %r", request_id, exc)
            return repr(exc)
        return None

    def _start_timer(self, request_id: str) -> None:
        if request_id not in self._timers:
            self._timers[request_id] = asyncio.create_task(self._expire(request_id), name=f"permission-{request_id}")

    def _stop_timer(self, request_id: str) -> None:
        """Answered in time. An expired timer is left to finish sending its reject; ``end`` awaits every timer."""
        timer = self._timers.get(request_id)
        if timer is not None and request_id not in self._expired:
            timer.cancel()

    async def _expire(self, request_id: str) -> None:
        await asyncio.sleep(self._timeout_s)
        self._expired[request_id] = timed_out_reason(self._timeout_s)
        if (failure := await self._reply(request_id, "reject")) is not None:
            log.warning("rejecting the unanswered permission %s failed: %s", request_id, failure)
