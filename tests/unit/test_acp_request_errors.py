"""An ACP agent's JSON-RPC error keeps its ``data`` (which names the offending field) in the turn's error and the
log, whatever its shape, bounded in length. The error is built as the ACP SDK builds it from the agent's answer
(``RequestError(code, message, data)``) and fails a real ``AcpSession`` turn."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from acp import RequestError

from adapters.acp.process import AcpProcess
from adapters.acp.session import AcpSession
from adapters.acp.turn import ERROR_DATA_MAX_CHARS
from core.events import AgentEvent, TurnFailed
from core.ports.agents import TurnInput


class _Client:
    def attach(self, session_id: str, sink: object) -> None:
        pass

    def detach(self, session_id: str, sink: object) -> None:
        pass


class _Connection:
    def __init__(self, error: RequestError) -> None:
        self.error = error

    async def prompt(self, **_: Any) -> None:
        raise self.error


def _process(error: RequestError) -> AcpProcess:
    """The few parts of an ``AcpProcess`` a turn touches, its connection answering ``session/prompt`` with
    ``error``."""
    stub = SimpleNamespace(
        agent_name="qwen",
        spec=SimpleNamespace(name="qwen"),
        client=_Client(),
        connection=_Connection(error),
        is_alive=lambda: True,
    )
    return cast(AcpProcess, stub)


async def _turn_error(data: object) -> str:
    error = RequestError(-32602, "Invalid params", data)  # as acp.connection builds it from the wire
    session = AcpSession(_process(error), "s1", "/tmp", permission="auto", permission_timeout_s=5, resumed=False)
    events: list[AgentEvent] = [e async for e in session.run_turn(TurnInput(turn_id="t1", prompt="hi"))]
    terminal = events[-1]
    assert isinstance(terminal, TurnFailed), events
    return terminal.error


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"field": "prompt[0].text", "reason": "expected string"}, '"field": "prompt[0].text"'),
        ([{"path": ["sessionId"], "message": "Required"}], '"path": ["sessionId"]'),
        ("sessionId must be a string", "sessionId must be a string"),
        ({"details": "unknown session"}, "unknown session"),
    ],
)
async def test_the_error_data_reaches_the_turn_and_the_log(
    data: object, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.acp.session"):
        error = await _turn_error(data)
    assert error.startswith("Invalid params (code -32602): "), error
    assert expected in error
    assert any(expected in record.getMessage() for record in caplog.records), caplog.text


async def test_huge_error_data_is_bounded_and_says_how_much_was_cut() -> None:
    error = await _turn_error({"schema": "x" * 50_000})
    assert len(error) < ERROR_DATA_MAX_CHARS + 200
    assert error.endswith("more characters)")


async def test_an_error_without_data_says_its_message_and_code() -> None:
    assert await _turn_error(None) == "Invalid params (code -32602)"
