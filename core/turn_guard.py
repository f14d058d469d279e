"""The post-interrupt stale-terminal guard: a cancelled turn's trailing terminal never ends the next turn.

OpenCode answers an abort with ``session.idle`` twice (and after an error, too), and the second one can
arrive after hearth has already started the next turn. The guard is a pure state machine the backend
drives with four signals:

* ``arm(guard, turn_running)`` when an abort/cancel is requested;
* ``start_turn(guard)`` when the next turn is submitted;
* ``note_activity(guard)`` when the *current* turn shows life (busy status, a new assistant message);
* ``admit_terminal(guard)`` for every terminal signal: it answers whether the signal may end the current
  turn, and consumes the strays.

Law: after ``arm``, at most one terminal is admitted before the next turn has both started and shown
activity, and that one is the cancelled turn's own terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class GuardPhase(StrEnum):
    CLEAR = "clear"  # no abort pending: every terminal is admitted
    AWAITING_OWN = "awaiting_own"  # abort requested mid-turn: its own terminal is still to come
    SWALLOWING = "swallowing"  # own terminal seen (or there was none): strays are consumed


@dataclass(frozen=True)
class TurnGuard:
    phase: GuardPhase = GuardPhase.CLEAR
    next_turn_started: bool = False  # while swallowing: the next turn has been submitted
    consumed: int = 0  # stray terminals swallowed so far (for diagnostics and tests)

    @property
    def armed(self) -> bool:
        return self.phase is not GuardPhase.CLEAR


def arm(guard: TurnGuard, *, turn_running: bool) -> TurnGuard:
    """An abort was requested. With a turn running, its own terminal is still owed to it."""
    if guard.phase is GuardPhase.AWAITING_OWN:
        return guard  # a second cancel of the same turn changes nothing
    phase = GuardPhase.AWAITING_OWN if turn_running else GuardPhase.SWALLOWING
    return replace(guard, phase=phase, next_turn_started=False)


def start_turn(guard: TurnGuard) -> TurnGuard:
    """The next turn was submitted; its activity will disarm the guard."""
    if guard.phase is GuardPhase.SWALLOWING:
        return replace(guard, next_turn_started=True)
    if guard.phase is GuardPhase.AWAITING_OWN:
        # The cancelled turn ended without a terminal reaching us; whatever comes now is stray.
        return replace(guard, phase=GuardPhase.SWALLOWING, next_turn_started=True)
    return guard


def note_activity(guard: TurnGuard) -> TurnGuard:
    """The current turn showed life. Only activity after the next turn started disarms the guard."""
    if guard.phase is GuardPhase.SWALLOWING and guard.next_turn_started:
        return TurnGuard(consumed=guard.consumed)
    return guard


def admit_terminal(guard: TurnGuard) -> tuple[TurnGuard, bool]:
    """Whether a terminal signal may end the current turn; strays are consumed (False)."""
    if guard.phase is GuardPhase.CLEAR:
        return guard, True
    if guard.phase is GuardPhase.AWAITING_OWN:
        return replace(guard, phase=GuardPhase.SWALLOWING), True
    return replace(guard, consumed=guard.consumed + 1), False
