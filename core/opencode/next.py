"""The ``session.next.*`` event family of OpenCode's OpenAPI schema (1.18.33), mapped onto the part ledger.

1.18.33 never emitted these with default settings (it streams the ``message.part.*`` family instead), but
the schema defines them and a later release may switch over; they carry the same information as the
``message.part.*`` family with ids of their own (``textID``/``reasoningID`` per assistant message, ``callID``
for tools). The caller makes sure only one family feeds a session, so nothing is emitted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core import raw
from core.events import AgentEvent, Retry, ToolCall, ToolStatus
from core.opencode.parts import Ids, PartLedger, on_delta, on_snapshot_text, on_tool, on_usage, usage_from_step

CONTENT_PREFIXES = (
    "session.next.text.",
    "session.next.reasoning.",
    "session.next.tool.",
    "session.next.step.",
    "session.next.shell.",
)


@dataclass(frozen=True)
class NextEffect:
    ledger: PartLedger
    events: list[AgentEvent]
    failure: str | None = None  # a step failed: the turn's outcome


def message_id_of(props: raw.Raw) -> str | None:
    return raw.text(props, "assistantMessageID") or raw.text(props, "messageID")


def is_content(event_type: str) -> bool:
    return event_type.startswith(CONTENT_PREFIXES)


def _key(props: raw.Raw, id_field: str) -> str:
    return f"{message_id_of(props) or ''}/{raw.text(props, id_field) or ''}"


def _tool(ledger: PartLedger, ids: Ids, call_id: str, **changes: object) -> NextEffect:
    """Upsert a tool call by callID, keeping what earlier events told us."""
    key = f"call/{call_id}"
    before = ledger.tools.get(key) or ToolCall(
        session_id=ids.session_id, turn_id=ids.turn_id, tool_call_id=call_id, name="tool", status="pending"
    )
    ledger, events = on_tool(ledger, key, before.model_copy(update=changes))
    return NextEffect(ledger, events)


def _tool_status(ledger: PartLedger, ids: Ids, props: raw.Raw, status: ToolStatus, output: str | None) -> NextEffect:
    return _tool(ledger, ids, raw.text(props, "callID") or "", status=status, output=output)


def _content_text(props: raw.Raw) -> str | None:
    pieces = [raw.text(item, "text") for item in raw.items(props, "content") if isinstance(item, Mapping)]
    joined = "".join(p for p in pieces if p)
    return joined or None


def fold_next(ledger: PartLedger, ids: Ids, event_type: str, props: raw.Raw) -> NextEffect:
    """One content event of the ``session.next.*`` family for a message owned by the current turn."""
    kind = event_type.removeprefix("session.next.")
    if kind in ("text.started", "reasoning.started"):
        part = kind.split(".")[0]
        ledger, events = on_snapshot_text(ledger, _key(props, f"{part}ID"), part, "", ids)
        return NextEffect(ledger, events)
    if kind in ("text.delta", "reasoning.delta"):
        part = kind.split(".")[0]
        key = _key(props, f"{part}ID")
        if key not in ledger.kinds:  # no "started" seen (joined late): the event name tells the type
            ledger, _ = on_snapshot_text(ledger, key, part, "", ids)
        ledger, events = on_delta(ledger, key, raw.text(props, "delta") or "", ids)
        return NextEffect(ledger, events)
    if kind in ("text.ended", "reasoning.ended"):
        part = kind.split(".")[0]
        ledger, events = on_snapshot_text(ledger, _key(props, f"{part}ID"), part, raw.text(props, "text") or "", ids)
        return NextEffect(ledger, events)
    if kind == "tool.input.started":
        return _tool(ledger, ids, raw.text(props, "callID") or "", name=raw.text(props, "name") or "tool")
    if kind == "tool.called":
        return _tool(
            ledger,
            ids,
            raw.text(props, "callID") or "",
            name=raw.text(props, "tool") or "tool",
            status="running",
            input=raw.plain_dict(props.get("input")),
        )
    if kind == "tool.success":
        return _tool_status(ledger, ids, props, "completed", _content_text(props))
    if kind == "tool.failed":
        return _tool_status(ledger, ids, props, "failed", raw.text(raw.obj(props, "error"), "message"))
    if kind == "shell.started":
        command = raw.text(props, "command") or ""
        call_id = raw.text(props, "callID") or ""
        return _tool(ledger, ids, call_id, name="shell", status="running", input={"command": command}, title=command)
    if kind == "shell.ended":
        return _tool_status(ledger, ids, props, "completed", raw.text(props, "output"))
    if kind == "step.ended":
        key = f"step/{message_id_of(props) or ''}/{raw.number(props, 'timestamp')}"
        ledger, events = on_usage(ledger, key, usage_from_step(props, ids))
        return NextEffect(ledger, events)
    if kind == "step.failed":
        message = raw.text(raw.obj(props, "error"), "message") or "the step failed"
        return NextEffect(ledger, [], failure=f"step failed: {message}")
    return NextEffect(ledger, [])


def retry_from_next(props: raw.Raw, ids: Ids) -> Retry:
    """``session.next.retried``: the LLM call is being retried."""
    message = raw.text(raw.obj(props, "error"), "message") or "retrying"
    return Retry(session_id=ids.session_id, turn_id=ids.turn_id, attempt=raw.integer(props, "attempt"), message=message)
