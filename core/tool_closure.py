"""After a turn's terminal event no tool call of that turn stays open.

An agent can end a turn while a tool call is still ``pending`` or ``running`` (an abort cuts a shell command
short and OpenCode reports the tool's end only after the session went idle; a watchdog or a dead agent ends the
turn from hearth's side). Readers would see that call running forever. ``seal`` follows a turn's events and puts,
right before its terminal event, a final update (``failed``, saying why) of every call still open. A ToolCall is an
upsert by ``tool_call_id``: an agent's own later final update of the same call replaces hearth's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from core.events import AgentEvent, ToolCall, TurnCancelled, TurnCompleted, TurnFailed, is_terminal

FINAL_STATUSES = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class OpenTools:
    calls: Mapping[str, ToolCall] = field(default_factory=dict)  # tool_call_id -> its last, non-final, state


def why_closed(terminal: AgentEvent) -> str:
    match terminal:
        case TurnCancelled(reason=reason):
            return f"the turn was cancelled before this tool reported its result ({reason})"
        case TurnFailed(error=error):
            return f"the turn failed before this tool reported its result ({error})"
        case TurnCompleted():
            return "the agent ended the turn without reporting this tool's result"
    return "the turn ended before this tool reported its result"


def closing_updates(tools: OpenTools, terminal: AgentEvent) -> list[ToolCall]:
    """The final updates of the calls still open when ``terminal`` ends their turn."""
    reason = why_closed(terminal)
    return [
        call.model_copy(update={"status": "failed", "output": f"{call.output}\n{reason}" if call.output else reason})
        for call in tools.calls.values()
    ]


def seal(tools: OpenTools, event: AgentEvent) -> tuple[OpenTools, list[AgentEvent]]:
    """Feed one event of a turn; a terminal comes out preceded by the closing updates of the calls still open."""
    if isinstance(event, ToolCall):
        calls = {k: v for k, v in tools.calls.items() if k != event.tool_call_id}
        if event.status not in FINAL_STATUSES:
            calls[event.tool_call_id] = event
        return replace(tools, calls=calls), [event]
    if is_terminal(event):
        return OpenTools(), [*closing_updates(tools, event), event]
    return tools, [event]
