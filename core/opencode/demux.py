"""Which OpenCode session an event is about, and the bare event inside a ``/global/event`` frame."""

from __future__ import annotations

from core import raw


def event_session_id(event: raw.Raw) -> str | None:
    props = raw.obj(event, "properties")
    return (
        raw.text(props, "sessionID")
        or raw.text(raw.obj(props, "info"), "sessionID")
        or raw.text(raw.obj(props, "part"), "sessionID")
    )


def unwrap_global_event(wrapped: raw.Raw) -> raw.Raw | None:
    """A ``/global/event`` frame as a bare event; None for the durable-log ``sync`` duplicates."""
    payload = raw.obj(wrapped, "payload") if "payload" in wrapped else wrapped
    if not payload or raw.text(payload, "type") == "sync":
        return None
    return payload
