"""The state of the OpenCode event fold for one session (``core.opencode.events`` folds events into it): which
turn runs, which messages are whose, what the turn's own answer has shown so far, and when an idle may end it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from core import raw
from core.opencode.ending import Outcome
from core.opencode.parts import PartLedger
from core.turn_guard import TurnGuard, arm, note_activity, start_turn

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


def ends_turn(state: OpenCodeState) -> bool:
    """Whether a ``session.idle`` may end the current turn, whatever order stray events arrive in: only once the
    turn's own answer is complete (its newest assistant message finished, not with "tool-calls"), an error was
    reported for it, or hearth aborted it. Any other idle is a trailing one of an earlier turn."""
    refused_step_done = state.refused and state.completed  # a rejected permission stops OpenCode after its step
    return state.answered or refused_step_done or state.outcome is not None or state.abort_requested


def mark_active(state: OpenCodeState) -> OpenCodeState:
    """The current turn showed life: ``activity`` is set and the turn guard notes it."""
    return replace(state, activity=True, guard=note_activity(state.guard))


def is_mine(state: OpenCodeState, message_id: str | None) -> bool:
    """An assistant message of the running turn: only such messages' parts are emitted."""
    seen = state.messages.get(message_id or "")
    return seen is not None and seen.role == "assistant" and seen.owner == state.turn_id


def hold_for_message(state: OpenCodeState, message_id: str, event: raw.Raw) -> OpenCodeState:
    """An event of a message not yet announced waits for its ``message.updated`` to say whose it is."""
    return replace(state, held={**state.held, message_id: (*state.held.get(message_id, ()), event)})


def take_family(state: OpenCodeState, family: Family) -> OpenCodeState | None:
    """The first family to carry content wins; the other one is ignored (never emit twice)."""
    if state.family is None:
        return replace(state, family=family)
    return state if state.family == family else None


def with_outcome(state: OpenCodeState, outcome: Outcome) -> OpenCodeState:
    return state if state.outcome is not None else replace(state, outcome=outcome)
