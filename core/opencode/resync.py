"""Resync after a dropped OpenCode event stream, from ``GET /session/{id}/message``.

OpenCode's SSE has no event ids, so a reconnect cannot resume; the shell refetches the history
(``[{info, parts}, ...]``) and feeds it here. Each message and part is folded as if its final snapshot
had just arrived, so only what was not emitted yet comes out (same ledger as the live stream). Messages
before the current turn's prompt are marked as nobody's. When the server says the session is no longer
busy and the turn's last message is finished, the missed ``session.idle`` is synthesised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from core import raw
from core.events import AgentEvent
from core.opencode.events import MessageSeen, OpenCodeState, fold_opencode_event


def _info(message: Mapping[str, Any]) -> raw.Raw:
    return raw.obj(message, "info")


def _mark_foreign(state: OpenCodeState, messages: Sequence[Mapping[str, Any]]) -> OpenCodeState:
    """Messages that cannot be the current turn's are remembered as nobody's before folding."""
    roles = [raw.text(_info(m), "role") for m in messages]
    cut = max((i for i, role in enumerate(roles) if role == "user"), default=-1)
    prompt_id = raw.text(_info(messages[cut]), "id") if cut >= 0 else None
    prompt_seen = state.messages.get(prompt_id or "")
    current = cut >= 0 and state.turn_id is not None and (prompt_seen is None or prompt_seen.owner == state.turn_id)
    known = dict(state.messages)
    for index, message in enumerate(messages):
        message_id = raw.text(_info(message), "id")
        if message_id and message_id not in known and (index < cut or not current):
            known[message_id] = MessageSeen(raw.text(_info(message), "role") or "assistant", None)
    return replace(state, messages=known)


def _finished(state: OpenCodeState, last: raw.Raw) -> bool:
    seen = state.messages.get(raw.text(last, "id") or "")
    if seen is None or seen.role != "assistant" or seen.owner != state.turn_id:
        return False
    completed = raw.obj(last, "time").get("completed") is not None
    return completed and ("error" in last or raw.text(last, "finish") != "tool-calls")


def resync_from_messages(
    state: OpenCodeState, messages: Sequence[Mapping[str, Any]], session_id: str, *, session_busy: bool
) -> tuple[OpenCodeState, list[AgentEvent]]:
    """Fold a history listing; ``session_busy`` is whether ``GET /session/status`` lists the session."""
    if not messages:
        return state, []
    state = _mark_foreign(state, messages)
    events: list[AgentEvent] = []
    for message in messages:
        info = _info(message)
        synthetic: list[raw.Raw] = [{"type": "message.updated", "properties": {"sessionID": session_id, "info": info}}]
        for part in raw.items(message, "parts"):
            if isinstance(part, Mapping):
                props = {"sessionID": session_id, "part": part}
                synthetic.append({"type": "message.part.updated", "properties": props})
        for event in synthetic:
            state, more = fold_opencode_event(state, event, session_id)
            events.extend(more)
    ended = state.abort_requested or _finished(state, _info(messages[-1]))
    if state.turn_id is not None and not session_busy and ended:
        idle = {"type": "session.idle", "properties": {"sessionID": session_id}}
        state, more = fold_opencode_event(state, idle, session_id)
        events.extend(more)
    return state, events
