"""Bridge from the wire (ACP camelCase dicts) to ``core.acp_events`` for one turn.

TEMPORARY minimal mapping until core.acp_events lands; replaced by calls into it.
"""

from __future__ import annotations

from typing import Any

from core.events import AgentEvent, ReasoningDelta, TextDelta, ToolCall, TurnCancelled, TurnCompleted, TurnFailed

_STATUS = {"pending": "pending", "in_progress": "running", "completed": "completed", "failed": "failed"}


class TurnMapper:
    def __init__(self, session_id: str, turn_id: str) -> None:
        self._sid = session_id
        self._turn = turn_id
        self._tools: dict[str, dict[str, Any]] = {}

    def update(self, update: dict[str, Any]) -> list[AgentEvent]:
        kind = update.get("sessionUpdate")
        content = update.get("content")
        if kind in ("agent_message_chunk", "agent_thought_chunk") and isinstance(content, dict):
            text = content.get("text") or ""
            if not text:
                return []
            cls = TextDelta if kind == "agent_message_chunk" else ReasoningDelta
            return [
                cls(session_id=self._sid, turn_id=self._turn, part_id=str(update.get("messageId") or kind), text=text)
            ]
        if kind in ("tool_call", "tool_call_update"):
            return self.permission_tool_call(update)
        return []

    def permission_tool_call(self, tool_call: dict[str, Any]) -> list[AgentEvent]:
        tid = str(tool_call.get("toolCallId"))
        state = self._tools.setdefault(tid, {"status": "pending", "name": "tool"})
        if tool_call.get("status"):
            state["status"] = _STATUS.get(tool_call["status"], "running")
        if tool_call.get("title"):
            state["title"] = tool_call["title"]
        if isinstance(tool_call.get("rawInput"), dict) and tool_call["rawInput"]:
            state["input"] = tool_call["rawInput"]
        if tool_call.get("kind"):
            state["name"] = tool_call["kind"]
        return [ToolCall(session_id=self._sid, turn_id=self._turn, tool_call_id=tid, **state)]

    def finish(self, response: dict[str, Any], cancelling: bool) -> list[AgentEvent]:
        stop = response.get("stopReason", "end_turn")
        if stop == "cancelled":
            return [TurnCancelled(session_id=self._sid, turn_id=self._turn)]
        return [TurnCompleted(session_id=self._sid, turn_id=self._turn, stop_reason=stop)]

    def fail(self, message: str, cancelling: bool) -> list[AgentEvent]:
        if cancelling:
            return [TurnCancelled(session_id=self._sid, turn_id=self._turn, reason=f"cancelled ({message})")]
        return [TurnFailed(session_id=self._sid, turn_id=self._turn, error=message)]
