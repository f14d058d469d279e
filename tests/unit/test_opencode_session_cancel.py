"""An OpenCode session honours a cancel from the moment ``run_turn`` is called, even while the server starts.

The host below stands in for the backend during a cold start: ``ensure_server`` waits until the test lets it go.
Nothing may be sent to OpenCode once the turn was cancelled, so the client refuses every use.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

from returns.result import Result, Success

from adapters.opencode.client import OpenCodeClient
from adapters.opencode.host import Server
from adapters.opencode.process import ServerProcess
from adapters.opencode.session import OpenCodeSession
from core.errors import DomainError
from core.events import AgentEvent, TurnCancelled
from core.ports.agents import TurnInput


class _UntouchableClient:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a cancelled turn used the OpenCode client ({name}): nothing may be sent after a cancel")


class _SlowStartHost:
    stream_idle_timeout_s = 5.0
    llm_retry_limit = 3
    default_model = "fake-model"
    permission_auto = True
    permission_timeout_s = 5.0

    def __init__(self) -> None:
        self.starting = asyncio.Event()
        self.release = asyncio.Event()

    def server_alive(self) -> bool:
        return True

    def running_client(self) -> OpenCodeClient | None:
        return None  # still starting

    async def ensure_server(self) -> Result[Server, DomainError]:
        self.starting.set()
        async with asyncio.timeout(10):
            await self.release.wait()
        return Success((cast(ServerProcess, object()), cast(OpenCodeClient, _UntouchableClient())))

    async def diagnose(self, server: ServerProcess, client: OpenCodeClient, busy: bool) -> str | None:
        return None

    def note_stream_resync(self) -> None:
        return None

    def session_events(self, session_id: str, directory: str) -> contextlib.AbstractAsyncContextManager[Any]:
        raise AssertionError(f"a turn cancelled before its prompt subscribed to the events of {session_id}")

    async def session_closed(self, session: OpenCodeSession) -> None:
        return None


async def _collect(session: OpenCodeSession, turn_id: str) -> list[AgentEvent]:
    async with contextlib.aclosing(session.run_turn(TurnInput(turn_id=turn_id, prompt="never sent"))) as stream:
        return [event async for event in stream]


async def test_a_cancel_while_the_server_starts_ends_the_turn_cancelled_without_prompting() -> None:
    host = _SlowStartHost()
    session = OpenCodeSession(host, "ses_1", "/tmp", resumed=False, reset_reason=None)
    async with asyncio.timeout(10), asyncio.TaskGroup() as group:
        turn = group.create_task(_collect(session, "t1"))
        await host.starting.wait()
        await session.cancel()  # what the registry does when the API's cancel arrives during the cold start
        host.release.set()
    assert turn.result() == [TurnCancelled(session_id="ses_1", turn_id="t1")]
    assert not session.busy


async def test_a_cancel_before_the_first_step_of_the_turn_is_honoured_too() -> None:
    host = _SlowStartHost()
    host.release.set()
    session = OpenCodeSession(host, "ses_1", "/tmp", resumed=False, reset_reason=None)
    stream = session.run_turn(TurnInput(turn_id="t1", prompt="never sent"))
    await session.cancel()
    async with asyncio.timeout(10), contextlib.aclosing(stream):
        events = [event async for event in stream]
    assert events == [TurnCancelled(session_id="ses_1", turn_id="t1")]
