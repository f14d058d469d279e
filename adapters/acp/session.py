"""One ACP session as a ``SessionHandle``: each turn is one ``session/prompt`` on the warm connection.

Updates reach the session in wire order (see client.py) and are mapped by ``core.acp.events`` only while
a turn is running: a ``session/load`` replay, or a cancelled turn's stragglers, arrive with no turn and are
never re-emitted. The prompt runs in a task owned by ``run_turn`` and always awaited before it returns.
Permission questions are answered in ``adapters.acp.session_permissions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from acp import RequestError, text_block

from adapters.acp.process import AcpProcess
from adapters.acp.session_permissions import SessionPermissions
from adapters.acp.turn import ActiveTurn, PromptDone, describe_request_error
from core.acp import events as acp_events
from core.agents import PermissionPolicy
from core.events import AgentEvent, TurnCancelled, TurnFailed, is_terminal
from core.ports.agents import TurnInput

log = logging.getLogger(__name__)

LIVENESS_POLL_S = 1.0  # how often a waiting turn checks that its process still lives
CANCEL_GRACE_S = 30.0  # an agent that does not confirm a cancel this long ends the turn anyway
EXIT_WAIT_S = 5.0
DEAD_POLLS = 3


class AcpSession(SessionPermissions):
    def __init__(
        self,
        process: AcpProcess,
        session_id: str,
        cwd: str,
        *,
        permission: PermissionPolicy,
        permission_timeout_s: float,
        resumed: bool,
        context_reset_reason: str | None = None,
        close_process_when_done: bool = False,
        state: acp_events.AcpState | None = None,
        on_closed: Callable[[AcpSession], Awaitable[None]] | None = None,
    ) -> None:
        self.process = process
        self._session_id = session_id
        self._cwd = cwd
        self._permission = permission
        self._permission_timeout_s = permission_timeout_s
        self._resumed = resumed
        self._context_reset_reason = context_reset_reason
        self._close_process_when_done = close_process_when_done
        self._on_closed = on_closed
        self._turn: ActiveTurn | None = None
        self._turn_requested = False  # run_turn was called and its turn has not started yet
        self._cancel_before_prompt = False
        prefix = acp_events.thought_prefix_for(process.agent_name)
        self._state = state or acp_events.AcpState(session_id=session_id, thought_prefix=prefix)
        self._closed = False
        process.client.attach(session_id, self)

    # -- SessionHandle -------------------------------------------------------------------------------
    @property
    def backend_session_id(self) -> str:
        return self._session_id

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def context_reset_reason(self) -> str | None:
        return self._context_reset_reason

    @property
    def state(self) -> acp_events.AcpState:
        return self._state

    @property
    def cwd(self) -> str:
        return self._cwd

    def is_alive(self) -> bool:
        return not self._closed and self.process.is_alive()

    async def working(self) -> bool:
        return False  # ACP has no session status: what it leaves running shows as processes (background work)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def busy(self) -> bool:
        return self._turn is not None

    def run_turn(self, turn: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        if self._turn is None:
            # From this call on a cancel belongs to this turn, even before the generator first runs (the
            # consumer's pump starts it a loop iteration later): it is remembered and honoured before prompting.
            self._turn_requested, self._cancel_before_prompt = True, False
        return self._run_turn(turn)

    async def _run_turn(self, turn: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        sid, turn_id = self._session_id, turn.turn_id
        if self._turn is not None:
            yield TurnFailed(session_id=sid, turn_id=turn_id, error="another turn is still running in this session")
            return
        self._turn_requested = False
        if not self.is_alive():
            yield TurnFailed(session_id=sid, turn_id=turn_id, error=self._dead_reason())
            return
        if self._cancel_before_prompt:  # nothing was sent to the agent: the turn simply ends cancelled
            yield TurnCancelled(session_id=sid, turn_id=turn_id)
            return
        active = ActiveTurn(turn_id=turn_id)
        self._turn = active
        self._state = acp_events.begin_turn(self._state, turn_id)
        prompt = asyncio.create_task(self._prompt(turn.prompt, active), name=f"acp-prompt-{turn_id}")
        try:
            async for event in self._drain(active, prompt):
                if is_terminal(event):  # consumers stop at the terminal: the session is free before it
                    await self._end_turn(active, prompt)
                yield event
        finally:
            await self._end_turn(active, prompt)
            if self._close_process_when_done:  # one-shot: after the consumer has its terminal event
                await self.close()

    async def _end_turn(self, active: ActiveTurn, prompt: asyncio.Task[None]) -> None:
        """Idempotent: free the session, refuse open permission requests, reap the prompt task."""
        if self._turn is active:
            self._turn = None
        for future, _ in active.permissions.values():
            if not future.done():
                future.set_result(None)
        if not prompt.done():
            prompt.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await prompt

    async def _drain(self, active: ActiveTurn, prompt: asyncio.Task[None]) -> AsyncIterator[AgentEvent]:
        loop = asyncio.get_running_loop()
        dead_polls = 0
        while True:
            try:
                item = await asyncio.wait_for(active.queue.get(), timeout=LIVENESS_POLL_S)
            except TimeoutError:
                cancelled_at = active.cancel_requested_at
                if cancelled_at is not None and loop.time() - cancelled_at > CANCEL_GRACE_S:
                    reason = f"cancelled; the agent did not confirm within {CANCEL_GRACE_S:.0f} s"
                    yield TurnCancelled(session_id=self._session_id, turn_id=active.turn_id, reason=reason)
                    return
                # Normally the closed pipe fails the prompt at once; a child of the agent holding its stdout
                # open would hide the exit, so a process seen dead on a few polls ends the turn too.
                dead_polls = 0 if self.process.is_alive() else dead_polls + 1
                if dead_polls >= DEAD_POLLS:
                    yield self._failed(active, self._dead_reason())
                    return
                continue
            if not isinstance(item, PromptDone):
                yield item
                continue
            for event in await self._finish(active, item):
                yield event
            return

    async def _finish(self, active: ActiveTurn, done: PromptDone) -> list[AgentEvent]:
        if done.response is not None:
            response = done.response.model_dump(mode="json", by_alias=True, exclude_none=True)
            self._state, events = acp_events.finish_prompt(self._state, response)
            return events
        if isinstance(done.error, RequestError):
            described = describe_request_error(done.error)
            log.warning("%s turn %s: session/prompt failed: %s", self.process.spec.name, active.turn_id, described)
            self._state, events = acp_events.fail_prompt(self._state, described)
            return events
        # The connection closed under the prompt: the agent died. Wait for its exit code to say so.
        await self.process.wait_exited(EXIT_WAIT_S)
        return [self._failed(active, self._dead_reason())]

    async def _prompt(self, text: str, active: ActiveTurn) -> None:
        try:
            response = await self.process.connection.prompt(session_id=self._session_id, prompt=[text_block(text)])
        except Exception as error:  # every outcome, including a dead connection, ends the turn
            active.queue.put_nowait(PromptDone(error=error))
        else:
            active.queue.put_nowait(PromptDone(response=response))

    def _failed(self, active: ActiveTurn, reason: str) -> AgentEvent:
        # Not fail_prompt: a crash report quoting "abort" in stderr must not read as a cancel.
        self._state, _ = acp_events.fail_prompt(replace(self._state, cancel_requested=False), reason)
        return TurnFailed(session_id=self._session_id, turn_id=active.turn_id, error=reason)

    def _dead_reason(self) -> str:
        if self._closed and self.process.is_alive():
            return f"the {self.process.spec.name} session {self._session_id} was closed"
        return self.process.exit_report()

    async def cancel(self) -> None:
        """``session/cancel`` only: the process is never killed to cancel (a dead one has nothing to cancel)."""
        active = self._turn
        if active is None and self._turn_requested:  # run_turn was called but has not prompted: honoured there
            self._cancel_before_prompt = True
            return
        self._state = acp_events.request_cancel(self._state)  # arms the turn guard, a turn running or not
        if active is None or active.cancel_requested_at is not None:
            return
        active.cancel_requested_at = asyncio.get_running_loop().time()
        for future, _ in active.permissions.values():  # ACP: pending permission requests answer "cancelled"
            if not future.done():
                future.set_result(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.process.connection.cancel(session_id=self._session_id), timeout=EXIT_WAIT_S)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.process.client.detach(self._session_id, self)
        if self._close_process_when_done:
            await self.process.aclose()
        if self._on_closed is not None:
            await self._on_closed(self)

    # -- SessionSink (called by the ACP client) -------------------------------------------------------
    def begin_replay(self) -> None:
        self._state = acp_events.begin_replay(self._state)

    def end_replay(self) -> None:
        self._state = acp_events.end_replay(self._state)

    def on_update(self, update: dict[str, Any]) -> None:
        # A load replay or a finished turn's straggler folds into the state but yields no turn events.
        self._state, events = acp_events.fold_acp_update(self._state, update)
        active = self._turn
        if active is None:
            return
        for event in events:
            active.queue.put_nowait(event)
