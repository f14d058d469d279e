"""OpenCode ``opencode serve`` SSE events -> AgentEvents, as one pure fold per session.

``fold_opencode_event(state, raw_event, session_id)`` returns the new state and the events to emit. The
shell drives it with ``begin_turn`` before it posts a prompt and ``request_abort`` when it aborts (both with the
state in ``core.opencode.state``).

* Demux guard: events of other sessions (``properties.sessionID``, ``info.sessionID``, ``part.sessionID``)
  and events without any session yield nothing.
* Ownership: a message belongs to the hearth turn during which it first appeared; only parts of
  assistant messages of the current turn are emitted. User parts (the prompt) never become agent text,
  and the late final state of an aborted turn's message cannot leak into the next turn.
* Text/reasoning exactly once (``core.opencode.parts``); tool parts upserted; usage once per step-finish.
* Terminal: ``session.idle`` ends the turn only when it is tied to the turn's own messages (``ends_turn``):
  its newest assistant message completed with a final answer (``time.completed`` or an error, finish not
  "tool-calls"; ``session.next.step.ended`` in the other family) or completed after one of the turn's
  permissions was rejected (OpenCode stops there), an error was reported, or hearth asked for
  the abort. It ends cancelled after ``MessageAbortedError`` or an abort, failed after another error,
  completed otherwise (``core.opencode.ending``). OpenCode sends ``session.idle`` twice after an abort or an
  error; the trailing one can arrive in any order with the next turn's events and never ends that turn
  before its own answer (not by event order: by ownership). The turn guard states a similar law
  independently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core import raw
from core.events import AgentEvent, Retry
from core.opencode.demux import event_session_id
from core.opencode.ending import Outcome, outcome_of, terminal_event
from core.opencode.next import fold_next, is_content, message_id_of, retry_from_next
from core.opencode.parts import (
    TEXT_KINDS,
    Ids,
    on_delta,
    on_kind,
    on_snapshot_text,
    on_tool,
    on_usage,
    release_all_waiting,
    tool_call_from_part,
    usage_from_step,
)
from core.opencode.permissions import permission_request, permission_resolved

# The fold's state lives in its own module; importers keep naming it from here.
from core.opencode.state import MessageSeen as MessageSeen
from core.opencode.state import OpenCodeState as OpenCodeState
from core.opencode.state import begin_turn as begin_turn
from core.opencode.state import ends_turn as ends_turn
from core.opencode.state import hold_for_message, is_mine, mark_active, take_family, with_outcome
from core.opencode.state import request_abort as request_abort
from core.turn_guard import admit_terminal


def fold_opencode_event(
    state: OpenCodeState, event: Mapping[str, Any], session_id: str
) -> tuple[OpenCodeState, list[AgentEvent]]:
    """Fold one bare OpenCode event (as on ``/event``) for the session ``session_id``."""
    if event_session_id(event) != session_id:
        return state, []
    kind = raw.text(event, "type") or ""
    props = raw.obj(event, "properties")
    if state.turn_id is None:
        return _outside_turn(state, kind, props), []
    ids = Ids(session_id, state.turn_id)
    if kind == "message.updated":
        return _on_message(state, raw.obj(props, "info"), session_id)
    if kind == "message.part.updated":
        return _on_part(state, event, raw.obj(props, "part"), ids)
    if kind == "message.part.delta":
        return _on_delta(state, event, props, ids)
    if kind == "session.status":
        return _on_status(state, raw.obj(props, "status"), ids)
    if kind == "session.idle":
        return _on_idle(state, ids)
    if kind == "session.error":
        return with_outcome(state, outcome_of(props.get("error"))), []
    if kind == "permission.asked":
        return state, [permission_request(props, ids)]
    if kind == "permission.replied":
        refused = state.refused or raw.text(props, "reply") == "reject"
        return replace(state, refused=refused), [permission_resolved(props, ids)]
    if kind == "session.next.retried":
        return mark_active(state), [retry_from_next(props, ids)]
    if is_content(kind):
        return _on_next(state, kind, props, ids)
    return state, []


def _outside_turn(state: OpenCodeState, kind: str, props: raw.Raw) -> OpenCodeState:
    """No turn running: remember messages (as nobody's) so their late events are never attributed."""
    if kind == "message.updated":
        info = raw.obj(props, "info")
        message_id = raw.text(info, "id")
        if message_id and message_id not in state.messages:
            seen = MessageSeen(raw.text(info, "role") or "assistant", None)
            return replace(state, messages={**state.messages, message_id: seen})
    if kind == "session.idle" and state.guard.armed:
        guard, _ = admit_terminal(state.guard)
        return replace(state, guard=guard)
    return state


def _on_message(state: OpenCodeState, info: raw.Raw, session_id: str) -> tuple[OpenCodeState, list[AgentEvent]]:
    message_id = raw.text(info, "id")
    if not message_id:
        return state, []
    role = raw.text(info, "role") or "assistant"
    events: list[AgentEvent] = []
    if message_id not in state.messages:
        state = replace(state, messages={**state.messages, message_id: MessageSeen(role, state.turn_id)})
        if role == "assistant":  # the turn's newest step: its answer is still to come
            state = replace(mark_active(state), last_own=message_id, answered=False, completed=False)
        held = state.held.get(message_id, ())
        state = replace(state, held={k: v for k, v in state.held.items() if k != message_id})
        if role == "assistant":
            for event in held:
                state, more = fold_opencode_event(state, event, session_id)
                events.extend(more)
    if is_mine(state, message_id):
        finish = raw.text(info, "finish")
        state = replace(state, finish=finish or state.finish)
        if "error" in info:
            state = with_outcome(state, outcome_of(info.get("error")))
        completed = raw.obj(info, "time").get("completed") is not None or "error" in info
        if message_id == state.last_own and completed:
            state = replace(state, answered="error" in info or finish != "tool-calls", completed=True)
    return state, events


def _on_part(state: OpenCodeState, event: raw.Raw, part: raw.Raw, ids: Ids) -> tuple[OpenCodeState, list[AgentEvent]]:
    message_id = raw.text(part, "messageID") or ""
    if message_id not in state.messages:
        return hold_for_message(state, message_id, event), []
    taken = take_family(state, "parts") if is_mine(state, message_id) else None
    if taken is None:
        return state, []
    key = raw.text(part, "id") or ""
    kind = raw.text(part, "type") or ""
    ledger = taken.parts
    if kind in TEXT_KINDS:
        ledger, events = on_snapshot_text(ledger, key, kind, raw.text(part, "text") or "", ids)
    elif kind == "tool":
        ledger, events = on_kind(ledger, key, kind, ids)
        ledger, more = on_tool(ledger, key, tool_call_from_part(part, ids))
        events.extend(more)
    elif kind == "step-finish":
        ledger, events = on_kind(ledger, key, kind, ids)
        ledger, more = on_usage(ledger, key, usage_from_step(part, ids))
        events.extend(more)
    else:
        ledger, events = on_kind(ledger, key, kind, ids)
    return replace(taken, parts=ledger), events


def _on_delta(state: OpenCodeState, event: raw.Raw, props: raw.Raw, ids: Ids) -> tuple[OpenCodeState, list[AgentEvent]]:
    message_id = raw.text(props, "messageID") or ""
    if raw.text(props, "field") != "text":
        return state, []
    if message_id not in state.messages:
        return hold_for_message(state, message_id, event), []
    taken = take_family(state, "parts") if is_mine(state, message_id) else None
    if taken is None:
        return state, []
    ledger, events = on_delta(taken.parts, raw.text(props, "partID") or "", raw.text(props, "delta") or "", ids)
    return replace(taken, parts=ledger), events


def _on_next(state: OpenCodeState, kind: str, props: raw.Raw, ids: Ids) -> tuple[OpenCodeState, list[AgentEvent]]:
    message_id = message_id_of(props)
    if message_id and message_id not in state.messages:  # this family has no message.updated of its own
        seen = {**state.messages, message_id: MessageSeen("assistant", ids.turn_id)}
        state = mark_active(replace(state, messages=seen, last_own=message_id, answered=False, completed=False))
    if message_id and not is_mine(state, message_id):
        return state, []
    if kind in ("session.next.step.ended", "session.next.step.failed") and message_id == state.last_own:
        answered = kind.endswith("failed") or raw.text(props, "finish") != "tool-calls"
        state = replace(state, answered=answered, completed=True)
    taken = take_family(state, "next")
    if taken is None:
        return state, []
    effect = fold_next(taken.parts, ids, kind, props)
    state = replace(taken, parts=effect.ledger)
    if effect.failure is not None:
        state = with_outcome(state, Outcome(cancelled=False, text=effect.failure))
    return state, effect.events


def _on_status(state: OpenCodeState, status: raw.Raw, ids: Ids) -> tuple[OpenCodeState, list[AgentEvent]]:
    kind = raw.text(status, "type")
    if kind == "busy":
        return mark_active(state), []
    if kind == "retry":
        message = raw.text(status, "message") or "retrying the model call"
        return mark_active(state), [
            Retry(
                session_id=ids.session_id, turn_id=ids.turn_id, attempt=raw.integer(status, "attempt"), message=message
            )
        ]
    return state, []


def _on_idle(state: OpenCodeState, ids: Ids) -> tuple[OpenCodeState, list[AgentEvent]]:
    if not ends_turn(state):
        return state, []
    guard, admitted = admit_terminal(state.guard)
    if not admitted:
        return replace(state, guard=guard), []
    ledger, events = release_all_waiting(state.parts, ids)
    events.append(terminal_event(state.outcome, state.abort_requested, state.finish, ids))
    ended = replace(
        state,
        turn_id=None,
        activity=False,
        abort_requested=False,
        outcome=None,
        last_own=None,
        answered=False,
        completed=False,
        refused=False,
        guard=guard,
        parts=ledger,
        held={},
    )
    return ended, events
