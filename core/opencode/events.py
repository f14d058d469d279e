"""OpenCode ``opencode serve`` SSE events -> AgentEvents, as one pure fold per session.

``fold_opencode_event(state, raw_event, session_id)`` returns the new state and the events to emit. The
shell drives it with ``begin_turn`` before it posts a prompt and ``request_abort`` when it aborts.

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
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from core import raw
from core.events import AgentEvent, Retry
from core.opencode.demux import event_session_id
from core.opencode.ending import Outcome, outcome_of, terminal_event
from core.opencode.next import fold_next, is_content, message_id_of, retry_from_next
from core.opencode.parts import (
    TEXT_KINDS,
    Ids,
    PartLedger,
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
from core.turn_guard import TurnGuard, admit_terminal, arm, note_activity, start_turn

Family = Literal["parts", "next"]


@dataclass(frozen=True)
class MessageSeen:
    role: str
    owner: str | None  # the hearth turn it appeared in; None when it predates every turn we ran


@dataclass(frozen=True)
class OpenCodeState:
    turn_id: str | None = None
    activity: bool = False  # the current turn showed life (a stray idle before that is ignored)
    abort_requested: bool = False
    outcome: Outcome | None = None  # first error/abort seen in the current turn
    finish: str | None = None  # the last assistant finish reason ("stop", "tool-calls", "length")
    last_own: str | None = None  # the current turn's newest assistant message
    answered: bool = False  # that message completed with a final answer (not "tool-calls") or an error
    completed: bool = False  # that message completed, whatever its finish
    refused: bool = False  # a permission of this turn was rejected: OpenCode stops after that step's tool calls
    guard: TurnGuard = field(default_factory=TurnGuard)
    family: Family | None = None  # which event family carries content for this session
    messages: Mapping[str, MessageSeen] = field(default_factory=dict)
    held: Mapping[str, tuple[raw.Raw, ...]] = field(default_factory=dict)  # events awaiting their message
    parts: PartLedger = field(default_factory=PartLedger)


def begin_turn(state: OpenCodeState, turn_id: str) -> OpenCodeState:
    """Call before posting the prompt. Part bookkeeping of finished turns is dropped (their messages stay
    known, so their late events are still recognised as not ours)."""
    return replace(
        state,
        turn_id=turn_id,
        activity=False,
        abort_requested=False,
        outcome=None,
        finish=None,
        last_own=None,
        answered=False,
        completed=False,
        refused=False,
        guard=start_turn(state.guard),
        held={},
        parts=PartLedger(),
    )


def request_abort(state: OpenCodeState) -> OpenCodeState:
    """Call when posting ``/abort``: the turn will end cancelled, and trailing terminals are strays."""
    running = state.turn_id is not None
    return replace(
        state, abort_requested=running or state.abort_requested, guard=arm(state.guard, turn_running=running)
    )


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
        return _with_outcome(state, outcome_of(props.get("error"))), []
    if kind == "permission.asked":
        return state, [permission_request(props, ids)]
    if kind == "permission.replied":
        refused = state.refused or raw.text(props, "reply") == "reject"
        return replace(state, refused=refused), [permission_resolved(props, ids)]
    if kind == "session.next.retried":
        return _active(state), [retry_from_next(props, ids)]
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


def _active(state: OpenCodeState) -> OpenCodeState:
    return replace(state, activity=True, guard=note_activity(state.guard))


def _mine(state: OpenCodeState, message_id: str | None) -> bool:
    seen = state.messages.get(message_id or "")
    return seen is not None and seen.role == "assistant" and seen.owner == state.turn_id


def _hold(state: OpenCodeState, message_id: str, event: raw.Raw) -> OpenCodeState:
    return replace(state, held={**state.held, message_id: (*state.held.get(message_id, ()), event)})


def _take_family(state: OpenCodeState, family: Family) -> OpenCodeState | None:
    """The first family to carry content wins; the other one is ignored (never emit twice)."""
    if state.family is None:
        return replace(state, family=family)
    return state if state.family == family else None


def _on_message(state: OpenCodeState, info: raw.Raw, session_id: str) -> tuple[OpenCodeState, list[AgentEvent]]:
    message_id = raw.text(info, "id")
    if not message_id:
        return state, []
    role = raw.text(info, "role") or "assistant"
    events: list[AgentEvent] = []
    if message_id not in state.messages:
        state = replace(state, messages={**state.messages, message_id: MessageSeen(role, state.turn_id)})
        if role == "assistant":  # the turn's newest step: its answer is still to come
            state = replace(_active(state), last_own=message_id, answered=False, completed=False)
        held = state.held.get(message_id, ())
        state = replace(state, held={k: v for k, v in state.held.items() if k != message_id})
        if role == "assistant":
            for event in held:
                state, more = fold_opencode_event(state, event, session_id)
                events.extend(more)
    if _mine(state, message_id):
        finish = raw.text(info, "finish")
        state = replace(state, finish=finish or state.finish)
        if "error" in info:
            state = _with_outcome(state, outcome_of(info.get("error")))
        completed = raw.obj(info, "time").get("completed") is not None or "error" in info
        if message_id == state.last_own and completed:
            state = replace(state, answered="error" in info or finish != "tool-calls", completed=True)
    return state, events


def _on_part(state: OpenCodeState, event: raw.Raw, part: raw.Raw, ids: Ids) -> tuple[OpenCodeState, list[AgentEvent]]:
    message_id = raw.text(part, "messageID") or ""
    if message_id not in state.messages:
        return _hold(state, message_id, event), []
    taken = _take_family(state, "parts") if _mine(state, message_id) else None
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
        return _hold(state, message_id, event), []
    taken = _take_family(state, "parts") if _mine(state, message_id) else None
    if taken is None:
        return state, []
    ledger, events = on_delta(taken.parts, raw.text(props, "partID") or "", raw.text(props, "delta") or "", ids)
    return replace(taken, parts=ledger), events


def _on_next(state: OpenCodeState, kind: str, props: raw.Raw, ids: Ids) -> tuple[OpenCodeState, list[AgentEvent]]:
    message_id = message_id_of(props)
    if message_id and message_id not in state.messages:  # this family has no message.updated of its own
        seen = {**state.messages, message_id: MessageSeen("assistant", ids.turn_id)}
        state = _active(replace(state, messages=seen, last_own=message_id, answered=False, completed=False))
    if message_id and not _mine(state, message_id):
        return state, []
    if kind in ("session.next.step.ended", "session.next.step.failed") and message_id == state.last_own:
        answered = kind.endswith("failed") or raw.text(props, "finish") != "tool-calls"
        state = replace(state, answered=answered, completed=True)
    taken = _take_family(state, "next")
    if taken is None:
        return state, []
    effect = fold_next(taken.parts, ids, kind, props)
    state = replace(taken, parts=effect.ledger)
    if effect.failure is not None:
        state = _with_outcome(state, Outcome(cancelled=False, text=effect.failure))
    return state, effect.events


def _on_status(state: OpenCodeState, status: raw.Raw, ids: Ids) -> tuple[OpenCodeState, list[AgentEvent]]:
    kind = raw.text(status, "type")
    if kind == "busy":
        return _active(state), []
    if kind == "retry":
        message = raw.text(status, "message") or "retrying the model call"
        return _active(state), [
            Retry(
                session_id=ids.session_id, turn_id=ids.turn_id, attempt=raw.integer(status, "attempt"), message=message
            )
        ]
    return state, []


def _with_outcome(state: OpenCodeState, outcome: Outcome) -> OpenCodeState:
    return state if state.outcome is not None else replace(state, outcome=outcome)


def ends_turn(state: OpenCodeState) -> bool:
    """Whether a ``session.idle`` may end the current turn, whatever order stray events arrive in: only once the
    turn's own answer is complete (its newest assistant message finished, not with "tool-calls"), an error was
    reported for it, or hearth aborted it. Any other idle is a trailing one of an earlier turn."""
    refused_step_done = state.refused and state.completed  # a rejected permission stops OpenCode after its step
    return state.answered or refused_step_done or state.outcome is not None or state.abort_requested


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
