"""Tool calls of an ended turn that OpenCode finishes after the turn's terminal.

An abort cuts a running shell command short, but OpenCode sends ``session.idle`` first and the tool part's
final state (``completed``, output "User aborted the command") a few milliseconds later. By then the fold has
ended the turn (no turn is current), so ordinary folding drops that update as nobody's. The shell reads on
briefly while ``open_tool_calls`` is not empty and folds with ``fold_late``: a tool update of a message the
ended turn owns is attributed to that turn; everything else is folded as usual (with no turn running that
only keeps the bookkeeping, e.g. the trailing second idle is consumed by the turn guard). Only tool updates
come out: the turn's text and terminal are settled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core import raw
from core.events import AgentEvent, ToolCall
from core.opencode.demux import event_session_id
from core.opencode.events import OpenCodeState, fold_opencode_event
from core.opencode.next import fold_next, message_id_of
from core.opencode.parts import Ids, on_tool, tool_call_from_part
from core.tool_closure import FINAL_STATUSES

_NEXT_TOOL_PREFIXES = ("session.next.tool.", "session.next.shell.")


def open_tool_calls(state: OpenCodeState) -> list[ToolCall]:
    """The calls of the current (or just ended) turn whose last known state is not final."""
    return [call for call in state.parts.tools.values() if call.status not in FINAL_STATUSES]


def _owned_by(state: OpenCodeState, message_id: str | None, turn_id: str) -> bool:
    seen = state.messages.get(message_id or "")
    return seen is not None and seen.role == "assistant" and seen.owner == turn_id


def fold_late(
    state: OpenCodeState, event: Mapping[str, Any], session_id: str, ended_turn_id: str
) -> tuple[OpenCodeState, list[AgentEvent]]:
    """Fold one event that arrived after ``ended_turn_id`` ended (before any next turn began)."""
    if state.turn_id is not None or event_session_id(event) != session_id:
        return fold_opencode_event(state, event, session_id)
    kind = raw.text(event, "type") or ""
    props = raw.obj(event, "properties")
    ids = Ids(session_id, ended_turn_id)
    if kind == "message.part.updated" and state.family == "parts":
        part = raw.obj(props, "part")
        if raw.text(part, "type") == "tool" and _owned_by(state, raw.text(part, "messageID"), ended_turn_id):
            ledger, events = on_tool(state.parts, raw.text(part, "id") or "", tool_call_from_part(part, ids))
            return replace(state, parts=ledger), events
    next_tool = kind.startswith(_NEXT_TOOL_PREFIXES) and state.family == "next"
    if next_tool and _owned_by(state, message_id_of(props), ended_turn_id):
        effect = fold_next(state.parts, ids, kind, props)
        return replace(state, parts=effect.ledger), [e for e in effect.events if isinstance(e, ToolCall)]
    return fold_opencode_event(state, event, session_id)
