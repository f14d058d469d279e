"""After a cancelled turn's terminal, a short bounded read for its tool calls' final updates.

OpenCode reports a shell command cut by the abort only after the idle that ended the turn. Without this read
the agent's own result ("User aborted the command") is lost and hearth's fallback (``core.tool_closure``)
closes the call instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

from adapters.opencode.client import Json
from adapters.opencode.feed import FeedDropped
from core.events import AgentEvent, TurnCancelled
from core.opencode.events import OpenCodeState
from core.opencode.late import fold_late, open_tool_calls

# OpenCode sends them milliseconds after the idle; the bound only matters when it never does.
LATE_TOOLS_S = 1.5


async def late_tool_updates(
    state: OpenCodeState, stream: AsyncIterator[Json], session_id: str, terminal: AgentEvent
) -> tuple[OpenCodeState, list[AgentEvent]]:
    """The tool updates to put before ``terminal``: read until every call of its turn is final, at most
    ``LATE_TOOLS_S``. Only after a cancel: a turn that ended otherwise had its tools report before the idle."""
    late: list[AgentEvent] = []
    if not isinstance(terminal, TurnCancelled) or not open_tool_calls(state):
        return state, late
    with contextlib.suppress(TimeoutError, httpx.HTTPError, FeedDropped):
        async with asyncio.timeout(LATE_TOOLS_S):
            async for raw in stream:
                state, events = fold_late(state, raw, session_id, terminal.turn_id)
                late.extend(events)
                if not open_tool_calls(state):
                    break
    return state, late
