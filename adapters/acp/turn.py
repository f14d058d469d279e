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


ERROR_DATA_MAX_CHARS = 2000  # an agent may attach a whole schema or stack: enough to name the field, not a flood


def describe_request_error(error: RequestError) -> str:
    """The agent's JSON-RPC error with its ``data``, which often names the offending field (any JSON shape)."""
    head = f"{error} (code {error.code})"
    data = error.data
    if data is None or data in ("", {}, []):
        return head
    if isinstance(data, dict) and set(data) <= {"details", "message"}:
        data = data.get("details") or data.get("message")  # the common {"details": "..."}: just its text
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
    if len(text) > ERROR_DATA_MAX_CHARS:
        text = f"{text[:ERROR_DATA_MAX_CHARS]}... ({len(text) - ERROR_DATA_MAX_CHARS} more characters)"
    return f"{head}: {text}" if text else head
