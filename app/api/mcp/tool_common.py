"""What every MCP tool module shares: the argument types, the limits, and how a refusal becomes a tool error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from app.usecases.bundle import UseCases
from app.usecases.errors import Refused

WAIT_MAX_S = 300.0
WAIT_POLL_S = 0.2
DIFF_PREVIEW_CHARS = 2000

UseCasesOf = Callable[[], UseCases]
ToolFunction = Callable[..., Awaitable[dict[str, Any]]]
ChatId = Annotated[str, Field(min_length=1, max_length=200, description="the chat's id")]
AgentName = Annotated[str, Field(min_length=1, max_length=64, description="an agent name from list_agents")]
Prompt = Annotated[str, Field(min_length=1, description="what the agent should do")]
Model = Annotated[str | None, Field(default=None, max_length=200, description="a model the agent allows")]
WaitSeconds = Annotated[
    float, Field(default=60.0, ge=0, le=WAIT_MAX_S, description="longest wait, seconds (0: just look)")
]


def clipped_diff(diff: str) -> str:
    return diff if len(diff) <= DIFF_PREVIEW_CHARS else diff[:DIFF_PREVIEW_CHARS] + "\n…"


async def refusals_as_tool_errors(call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """A use case's refusal as a tool error: its kind, the field at fault and what to do."""
    try:
        return await call
    except Refused as refused:
        error = refused.error
        where = f" (field {error.field})" if error.field else ""
        raise ToolError(f"{error.kind}{where}: {error.detail}") from refused
