"""Per-turn bookkeeping of OpenCode parts: text emitted exactly once, tool calls upserted, usage once.

The streamedPartKeys idea: for every text/reasoning part we remember the text already emitted. A delta
appends; a snapshot (``message.part.updated`` carries the full part) emits only the not-yet-emitted
suffix. So a part that arrives as deltas, as a final snapshot, or both, is emitted exactly once. Deltas
say ``field: "text"`` for reasoning too, so a delta for a part whose type we have not seen yet waits
until a snapshot tells us the type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from core import raw
from core.events import AgentEvent, ReasoningDelta, TextDelta, ToolCall, ToolStatus, UsageReport

TEXT_KINDS = ("text", "reasoning")
_TOOL_STATUS: Mapping[str, ToolStatus] = {
    "pending": "pending",
    "running": "running",
    "completed": "completed",
    "error": "failed",
}


@dataclass(frozen=True)
class Ids:
    session_id: str
    turn_id: str


@dataclass(frozen=True)
class PartLedger:
    kinds: Mapping[str, str] = field(default_factory=dict)  # part key -> part type, once known
    emitted: Mapping[str, str] = field(default_factory=dict)  # part key -> text emitted so far
    waiting: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # deltas before the type was known
    tools: Mapping[str, ToolCall] = field(default_factory=dict)  # part key -> last emitted state
    usage_done: frozenset[str] = frozenset()  # step parts whose usage was reported


def _text_event(kind: str, key: str, text: str, ids: Ids) -> AgentEvent:
    if kind == "reasoning":
        return ReasoningDelta(session_id=ids.session_id, turn_id=ids.turn_id, part_id=key, text=text)
    return TextDelta(session_id=ids.session_id, turn_id=ids.turn_id, part_id=key, text=text)


def _emit(ledger: PartLedger, key: str, kind: str, addition: str, ids: Ids) -> tuple[PartLedger, list[AgentEvent]]:
    if not addition:
        return ledger, []
    emitted = {**ledger.emitted, key: ledger.emitted.get(key, "") + addition}
    return replace(ledger, emitted=emitted), [_text_event(kind, key, addition, ids)]


def _release_waiting(ledger: PartLedger, key: str, kind: str, ids: Ids) -> tuple[PartLedger, list[AgentEvent]]:
    pending = ledger.waiting.get(key)
    if pending is None:
        return ledger, []
    ledger = replace(ledger, waiting={k: v for k, v in ledger.waiting.items() if k != key})
    if kind not in TEXT_KINDS:
        return ledger, []
    return _emit(ledger, key, kind, "".join(pending), ids)


def on_snapshot_text(
    ledger: PartLedger, key: str, kind: str, text: str, ids: Ids
) -> tuple[PartLedger, list[AgentEvent]]:
    """A full text/reasoning snapshot: emit the part of it not emitted yet (the snapshot is the truth)."""
    ledger = replace(ledger, kinds={**ledger.kinds, key: kind})
    ledger, events = _release_waiting(ledger, key, kind, ids)
    done = ledger.emitted.get(key, "")
    if text.startswith(done):
        ledger, more = _emit(ledger, key, kind, text[len(done) :], ids)
        events.extend(more)
    # Otherwise the snapshot is shorter (an early one) or diverges: what was emitted cannot be taken back.
    return ledger, events


def on_kind(ledger: PartLedger, key: str, kind: str, ids: Ids) -> tuple[PartLedger, list[AgentEvent]]:
    """A non-text part (tool, step-finish, ...): note its type and drop any deltas that waited for it."""
    if ledger.kinds.get(key) == kind and key not in ledger.waiting:
        return ledger, []
    ledger = replace(ledger, kinds={**ledger.kinds, key: kind})
    return _release_waiting(ledger, key, kind, ids)


def on_delta(ledger: PartLedger, key: str, delta: str, ids: Ids) -> tuple[PartLedger, list[AgentEvent]]:
    kind = ledger.kinds.get(key)
    if kind is None:
        waiting = {**ledger.waiting, key: (*ledger.waiting.get(key, ()), delta)}
        return replace(ledger, waiting=waiting), []
    if kind not in TEXT_KINDS:
        return ledger, []
    return _emit(ledger, key, kind, delta, ids)


def release_all_waiting(ledger: PartLedger, ids: Ids) -> tuple[PartLedger, list[AgentEvent]]:
    """At the end of a turn, deltas whose part type never arrived are delivered as text, not lost."""
    events: list[AgentEvent] = []
    for key in list(ledger.waiting):
        ledger, more = _release_waiting(ledger, key, "text", ids)
        events.extend(more)
    return ledger, events


def on_tool(ledger: PartLedger, key: str, call: ToolCall) -> tuple[PartLedger, list[AgentEvent]]:
    """Upsert: emit only when the visible state of the call changed."""
    if ledger.tools.get(key) == call:
        return ledger, []
    return replace(ledger, tools={**ledger.tools, key: call}, kinds={**ledger.kinds, key: "tool"}), [call]


def on_usage(ledger: PartLedger, key: str, usage: UsageReport) -> tuple[PartLedger, list[AgentEvent]]:
    if key in ledger.usage_done:
        return ledger, []
    ledger = replace(ledger, usage_done=ledger.usage_done | {key})
    empty = not (usage.input_tokens or usage.output_tokens or usage.reasoning_tokens or usage.cost_usd)
    return ledger, [] if empty else [usage]


def tool_call_from_part(part: raw.Raw, ids: Ids) -> ToolCall:
    """An OpenCode ``tool`` part as a ToolCall (upserted by the model's call id)."""
    state = raw.obj(part, "state")
    status = _TOOL_STATUS.get(raw.text(state, "status") or "", "pending")
    output = raw.text(state, "output") if status != "failed" else raw.text(state, "error")
    return ToolCall(
        session_id=ids.session_id,
        turn_id=ids.turn_id,
        tool_call_id=raw.text(part, "callID") or raw.text(part, "id") or "",
        name=raw.text(part, "tool") or "tool",
        status=status,
        title=raw.text(state, "title"),
        input=raw.plain_dict(state.get("input")) or None,
        output=output,
    )


def usage_from_step(step: raw.Raw, ids: Ids) -> UsageReport:
    """``step-finish`` (or ``session.next.step.ended``): tokens and cost of one LLM step, an increment."""
    tokens = raw.obj(step, "tokens")
    return UsageReport(
        session_id=ids.session_id,
        turn_id=ids.turn_id,
        input_tokens=raw.integer(tokens, "input"),
        output_tokens=raw.integer(tokens, "output"),
        reasoning_tokens=raw.integer(tokens, "reasoning"),
        cost_usd=raw.number(step, "cost"),
    )


def error_text(error: Any) -> str:
    """``{name, data:{message}}`` as "APIError: scripted error 400" (or whatever part of it exists)."""
    if not isinstance(error, Mapping):
        return "unknown error"
    name = raw.text(error, "name") or raw.text(error, "type") or "Error"
    message = raw.text(raw.obj(error, "data"), "message") or raw.text(error, "message")
    return f"{name}: {message}" if message else name
