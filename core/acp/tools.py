"""ACP tool calls and usage shapes, per agent, as pure helpers for ``core.acp.events``.

Tool calls are upserted by ``toolCallId``: Claude Code sends ``tool_call`` twice per id (first with an
empty ``rawInput``), qwen and gemini send none before ``session/request_permission`` (its ``toolCall``
starts the call), OpenCode starts ``pending`` and fills the input on ``in_progress``. A later update
only replaces what it actually carries.

Usage arrives in four shapes (observed with the pinned versions in ``core.agents``): qwen ``_meta.usage`` on
(empty) message chunks after each LLM call, OpenCode ``usage_update`` with a *cumulative* session cost plus
``PromptResponse.usage``, gemini ``PromptResponse._meta.quota``, and nothing from Claude. Every result is an
increment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import raw
from core.events import ToolCall, ToolStatus, UsageReport

_STATUS: Mapping[str, ToolStatus] = {
    "pending": "pending",
    "in_progress": "running",
    "completed": "completed",
    "failed": "failed",
}


def _tool_name(update: raw.Raw) -> str | None:
    meta = raw.obj(update, "_meta")
    return raw.text(meta, "toolName") or raw.text(raw.obj(meta, "claudeCode"), "toolName")


def _output(update: raw.Raw) -> str | None:
    raw_output = update.get("rawOutput")
    if isinstance(raw_output, str) and raw_output:
        return raw_output
    if isinstance(raw_output, Mapping) and isinstance(raw_output.get("output"), str):
        return str(raw_output["output"])
    texts: list[str] = []
    for item in raw.items(update, "content"):
        if isinstance(item, Mapping) and raw.text(item, "type") == "content":
            piece = raw.text(raw.obj(item, "content"), "text")
            if piece:
                texts.append(piece)
    return "\n".join(texts) or None


def merge_tool_call(before: ToolCall | None, update: raw.Raw, session_id: str, turn_id: str) -> ToolCall:
    """Apply a ``tool_call`` / ``tool_call_update`` / permission ``toolCall`` to the known state."""
    status = _STATUS.get(raw.text(update, "status") or "")
    raw_input = raw.plain_dict(update.get("rawInput"))
    name = _tool_name(update) or (before.name if before else None) or raw.text(update, "kind") or "tool"
    return ToolCall(
        session_id=session_id,
        turn_id=turn_id,
        tool_call_id=raw.text(update, "toolCallId") or (before.tool_call_id if before else ""),
        name=name,
        status=status or (before.status if before else "pending"),
        title=raw.text(update, "title") or (before.title if before else None),
        input=raw_input or (before.input if before else None),
        output=_output(update) or (before.output if before else None),
    )


def _report(session_id: str, turn_id: str, **amounts: Any) -> UsageReport | None:
    report = UsageReport(session_id=session_id, turn_id=turn_id, **amounts)
    if report.input_tokens or report.output_tokens or report.reasoning_tokens or report.cost_usd:
        return report
    return None


def usage_from_meta(update: raw.Raw, session_id: str, turn_id: str) -> UsageReport | None:
    """qwen: ``_meta.usage {inputTokens, outputTokens, thoughtTokens}`` on a chunk, once per LLM call."""
    usage = raw.obj(raw.obj(update, "_meta"), "usage")
    if not usage:
        return None
    return _tokens(usage, session_id, turn_id)


def _tokens(usage: raw.Raw, session_id: str, turn_id: str) -> UsageReport | None:
    return _report(
        session_id,
        turn_id,
        input_tokens=raw.integer(usage, "inputTokens"),
        output_tokens=raw.integer(usage, "outputTokens"),
        reasoning_tokens=raw.integer(usage, "thoughtTokens"),
    )


def usage_from_response(response: raw.Raw, session_id: str, turn_id: str) -> UsageReport | None:
    """OpenCode ``PromptResponse.usage`` or gemini ``PromptResponse._meta.quota.token_count``."""
    usage = raw.obj(response, "usage")
    if usage:
        return _tokens(usage, session_id, turn_id)
    quota = raw.obj(raw.obj(response, "_meta"), "quota")
    count = raw.obj(quota, "token_count")
    if not count:
        return None
    return _report(
        session_id,
        turn_id,
        input_tokens=raw.integer(count, "input_tokens"),
        output_tokens=raw.integer(count, "output_tokens"),
    )


def cost_increment(update: raw.Raw, cumulative_before: float) -> tuple[float, float]:
    """OpenCode ``usage_update``: ``cost.amount`` is the session total so far; returns (increment, total).

    A total below the known one (a counter that restarted) resets the baseline without reporting.
    """
    cost = raw.obj(update, "cost")
    if "amount" not in cost:
        return 0.0, cumulative_before
    total = raw.number(cost, "amount")
    if total < cumulative_before:
        return 0.0, total
    return total - cumulative_before, total
