"""One chat's OpenCode session on the shared server: run turns, cancel them, answer permissions, close.

A turn subscribes to its session's slice of the server's one event stream (``adapters.opencode.feed``) first,
then sends ``prompt_async``, and folds every raw event through core's OpenCode mapping until a terminal event. A
dropped stream is diagnosed: a dead or hung server fails the turn with its exit report; a healthy one is
resubscribed and the turn resynced from ``GET /session/{id}/message``. The fold state lives as long as the
handle, so its turn guard keeps a cancelled turn's trailing ``session.idle`` from ending the next turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
from returns.result import Failure

from adapters.opencode.client import Json, OpenCodeClient
from adapters.opencode.config import PROVIDER_ID
from adapters.opencode.feed import FeedDropped
from adapters.opencode.host import ServerHost
from adapters.opencode.late import late_tool_updates
from adapters.opencode.permissions import PermissionDesk
from adapters.opencode.process import ServerProcess
from core.events import AgentEvent, Retry, TurnCancelled, TurnFailed, is_terminal
from core.opencode.events import OpenCodeState, begin_turn, fold_opencode_event, request_abort
from core.opencode.resync import resync_from_messages
from core.ports.agents import TurnInput

_MAX_FRUITLESS_DROPS = 5
_DRAIN_S = 5.0
_STATUS_TIMEOUT_S = 5.0  # asking whether the session still runs work, before it is let go of
_ABORT_ON_EXIT_S = 5.0
_PERMISSION_REPLIES = {"once", "always", "reject"}


class OpenCodeSession:
    def __init__(
        self,
        host: ServerHost,
        session_id: str,
        cwd: str,
        resumed: bool,
        reset_reason: str | None,
    ) -> None:
        self._host = host
        self._session_id = session_id
        self.cwd = cwd
        self._resumed = resumed
        self._reset_reason = reset_reason
        self._state = OpenCodeState()  # lives across turns: it knows old messages and carries the turn guard
        self._client: OpenCodeClient | None = None
        self._permissions = PermissionDesk(session_id, cwd)
        self._turn_running = False
        self._turn_requested = False  # run_turn was called and the turn is not running yet
        self._cancel_requested = False
        self._closed = False

    @property
    def backend_session_id(self) -> str:
        return self._session_id

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def context_reset_reason(self) -> str | None:
        return self._reset_reason

    @property
    def busy(self) -> bool:
        return self._turn_running

    def is_alive(self) -> bool:
        return not self._closed and self._host.server_alive()

    async def working(self) -> bool:
        """OpenCode may still run this session after hearth stopped following it (a turn hearth gave up on, a
        prompt from another client): ``GET /session/status`` says so. A server that does not answer runs nothing
        worth keeping the handle for."""
        client = self._host.running_client()
        if self._closed or self._turn_running or client is None:
            return False
        try:
            async with asyncio.timeout(_STATUS_TIMEOUT_S):
                return await client.busy(self._session_id, self.cwd)
        except (TimeoutError, httpx.HTTPError):
            return False

    # --- turns ---------------------------------------------------------------------------------------
    def run_turn(self, turn: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        if not self._turn_running:
            # From this call on a cancel belongs to this turn, even while the server is still being (re)started
            # (seconds when cold): it is remembered here and honoured before the prompt is sent.
            self._turn_requested, self._cancel_requested = True, False
        return self._run_turn(turn)

    async def _run_turn(self, turn: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        ids = {"session_id": self._session_id, "turn_id": turn.turn_id}
        if self._closed:
            yield TurnFailed(**ids, error="this OpenCode session was closed; open a new one")
            return
        if self._turn_running:
            yield TurnFailed(**ids, error="a turn is already running in this session; wait for it or cancel it")
            return
        try:
            ensured = await self._host.ensure_server()
        finally:
            self._turn_requested = False
        if isinstance(ensured, Failure):
            yield TurnFailed(**ids, error=ensured.failure().detail)
            return
        if self._cancel_requested:  # cancelled while the server was starting: nothing was sent to OpenCode
            yield TurnCancelled(**ids)
            return
        server, client = ensured.unwrap()
        self._client, self._turn_running = client, True
        self._state = begin_turn(self._state, turn.turn_id)
        self._permissions.begin(client, self._host.permission_auto, self._host.permission_timeout_s)
        ended = False
        try:
            async with contextlib.aclosing(self._turn_events(turn, client, server)) as events:
                async for event in events:
                    if is_terminal(event):  # consumers stop reading at the terminal: the turn is over now
                        ended, self._turn_running = True, False
                    yield event
        finally:
            if not ended:  # the consumer walked away mid-turn (closed or cancelled): stop the server's work
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_ABORT_ON_EXIT_S):
                        await self._abort_and_settle(client)
            await self._permissions.end()
            self._turn_running = False

    async def _turn_events(
        self, turn: TurnInput, client: OpenCodeClient, server: ServerProcess
    ) -> AsyncGenerator[AgentEvent, None]:
        ids = {"session_id": self._session_id, "turn_id": turn.turn_id}
        prompted = False
        fruitless_drops = 0  # consecutive drops with nothing received in between
        # After a drop, a part's deltas have a gap; appending later ones would garble its text. From then on
        # the turn's text comes from part snapshots (full text, the fold emits the unseen suffix) and resync.
        snapshots_only = False
        while True:
            progressed = False
            try:
                async with self._host.session_events(self._session_id, self.cwd) as stream:
                    if prompted:  # a dropped stream: catch up on what happened meanwhile
                        self._host.note_stream_resync()
                        for event in await self._resync(client):
                            progressed = True  # the resync caught up on something: this drop was not fruitless
                            yield event
                            if is_terminal(event):
                                return
                    else:
                        if self._cancel_requested:
                            yield TurnCancelled(**ids)
                            return
                        failure = await self._prompt(client, turn.prompt, turn.model)
                        if failure is not None:
                            yield TurnFailed(**ids, error=failure)
                            return
                        prompted = True
                    async for raw in stream:
                        progressed = True
                        if snapshots_only and raw.get("type") == "message.part.delta":
                            continue  # deltas were missed while disconnected: only full snapshots are safe now
                        self._permissions.note_raw(raw)
                        self._state, events = fold_opencode_event(self._state, raw, self._session_id)
                        for event in await self._permissions.sift(events):
                            if isinstance(event, Retry) and event.attempt > self._host.llm_retry_limit:
                                yield event
                                yield await self._give_up_retrying(client, stream, event)
                                return
                            if is_terminal(event):
                                self._state, late = await late_tool_updates(
                                    self._state, stream, self._session_id, event
                                )
                                for update in late:
                                    yield update
                            yield event
                            if is_terminal(event):
                                return
            except (httpx.HTTPError, FeedDropped) as exc:
                cause = f"{type(exc).__name__}: {exc}"
            else:
                cause = "the server closed the event stream"
            snapshots_only = prompted
            fatal = await self._host.diagnose(server, client, busy=True)
            if fatal is not None:
                yield TurnFailed(**ids, error=fatal)
                return
            fruitless_drops = 0 if progressed else fruitless_drops + 1
            if fruitless_drops > _MAX_FRUITLESS_DROPS:
                # The turn is given up, so the server is no longer "busy": a hung one is stopped now.
                verdict = await self._host.diagnose(server, client, busy=False)
                if verdict is None:
                    await self._abort(client)  # the server is fine but we cannot follow the turn: stop it
                why = f"the OpenCode event stream kept dropping ({cause}); turn abandoned"
                yield TurnFailed(**ids, error=f"{why}: {verdict}" if verdict else why)
                return
            await asyncio.sleep(0.1 * fruitless_drops)

    async def _resync(self, client: OpenCodeClient) -> list[AgentEvent]:
        messages = await client.messages(self._session_id, self.cwd)
        busy = await client.busy(self._session_id, self.cwd)
        self._state, events = resync_from_messages(self._state, messages, self._session_id, session_busy=busy)
        return events

    async def _prompt(self, client: OpenCodeClient, text: str, model: str | None) -> str | None:
        # always named: without one, OpenCode keeps the model of the session's previous prompt, not the default
        chosen: Json = {"providerID": PROVIDER_ID, "modelID": model or self._host.default_model}
        try:
            await client.prompt_async(self._session_id, self.cwd, text, chosen)
        except httpx.HTTPStatusError as exc:
            return f"OpenCode refused the prompt: HTTP {exc.response.status_code} {exc.response.text[:300]}"
        if self._cancel_requested:  # cancel() raced the prompt: abort what was just queued
            await self._abort(client)
        return None

    async def _give_up_retrying(self, client: OpenCodeClient, stream: AsyncIterator[Json], retry: Retry) -> TurnFailed:
        """OpenCode retries a failing LLM forever: abort, swallow the abort's own events, fail the turn."""
        await self._abort(client)
        with contextlib.suppress(TimeoutError, httpx.HTTPError, FeedDropped):
            async with asyncio.timeout(_DRAIN_S):
                async for raw in stream:
                    self._state, events = fold_opencode_event(self._state, raw, self._session_id)
                    if any(is_terminal(event) for event in events):
                        break
                # The retry loop must be gone before the next prompt, or it could answer that prompt too.
                while await client.busy(self._session_id, self.cwd):  # noqa: ASYNC110 (polling a server)
                    await asyncio.sleep(0.05)
        limit = self._host.llm_retry_limit
        return TurnFailed(
            session_id=self._session_id,
            turn_id=retry.turn_id,
            error=f"the LLM provider kept failing ({retry.message}); OpenCode retried {limit} times, "
            "so hearth aborted the turn. Check the provider URL, key and status, then send the turn again",
        )

    async def _abort_and_settle(self, client: OpenCodeClient) -> None:
        """Abort, then fold the aborted turn's own trailing events up to its end, so that they cannot reach the
        next turn's slice of the server's stream (the caller bounds the wait)."""
        async with self._host.session_events(self._session_id, self.cwd) as stream:
            await self._abort(client)
            async for raw in stream:
                self._state, events = fold_opencode_event(self._state, raw, self._session_id)
                if any(is_terminal(event) for event in events):
                    return

    async def _abort(self, client: OpenCodeClient) -> None:
        self._state = request_abort(self._state)
        with contextlib.suppress(httpx.HTTPError):
            await client.abort(self._session_id, self.cwd)

    async def cancel(self) -> None:
        if self._turn_requested:  # run_turn was called, the server is not ready yet: honoured before prompting
            self._cancel_requested = True
            return
        if not self._turn_running or self._client is None:
            return
        self._cancel_requested = True
        await self._abort(self._client)

    async def answer_permission(self, request_id: str, option_id: str | None) -> bool:
        client = self._client
        if client is None:
            return False
        reply = "reject" if option_id is None else option_id if option_id in _PERMISSION_REPLIES else "once"
        try:
            return await client.reply_permission(request_id, self.cwd, reply)
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        """Forget the session; dispose the directory's OpenCode instance when nothing else uses it."""
        if self._closed:
            return
        self._closed = True
        await self._host.session_closed(self)
