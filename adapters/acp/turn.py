"""The bookkeeping of one running ACP turn: its event queue, its cancel, its open permission questions."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from acp import RequestError
from acp.schema import PromptResponse

from core.events import AgentEvent


@dataclass
class PromptDone:
    """How ``session/prompt`` ended: its response, or the error (a JSON-RPC error, or the connection lost)."""

    response: PromptResponse | None = None
    error: BaseException | None = None


@dataclass
class ActiveTurn:
    turn_id: str
    queue: asyncio.Queue[AgentEvent | PromptDone] = field(default_factory=asyncio.Queue)
    cancel_requested_at: float | None = None
    permissions: dict[str, tuple[asyncio.Future[str | None], list[dict[str, Any]]]] = field(default_factory=dict)


def describe_request_error(error: RequestError) -> str:
    data = error.data
    if isinstance(data, dict):
        # the usual keys first; any other shape is the agent's own words about what went wrong: keep them
        details = data.get("details") or data.get("message") or (json.dumps(data, default=str) if data else None)
    else:
        details = data
    return f"{error} (code {error.code})" + (f": {details}" if details else "")
