"""Laws of the stale-terminal guard (``core.turn_guard``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.turn_guard import TurnGuard, admit_terminal, arm, note_activity, start_turn

Op = str  # "start" | "activity" | "terminal" | "arm_running" | "arm_idle"
ops = st.lists(st.sampled_from(["start", "activity", "terminal", "arm_running", "arm_idle"]), max_size=40)


def run(sequence: list[Op]) -> list[bool]:
    """Feed the operations; returns the admission decision of every terminal, in order."""
    guard, decisions = TurnGuard(), []
    for op in sequence:
        if op == "start":
            guard = start_turn(guard)
        elif op == "activity":
            guard = note_activity(guard)
        elif op == "terminal":
            guard, admitted = admit_terminal(guard)
            decisions.append(admitted)
        else:
            guard = arm(guard, turn_running=op == "arm_running")
    return decisions


@given(st.lists(st.sampled_from(["start", "activity", "terminal"]), max_size=40))
def test_never_armed_admits_every_terminal(sequence: list[Op]) -> None:
    assert all(run(sequence))


@given(st.booleans(), ops.filter(lambda s: not any(op.startswith("arm") for op in s)))
def test_after_an_abort_only_the_cancelled_turns_own_terminal_or_a_live_next_turns_is_admitted(
    running: bool, after: list[Op]
) -> None:
    decisions = run(["start", "activity", "arm_running" if running else "arm_idle", *after])
    own_owed = running
    started = lively = False
    expected: list[bool] = []
    for op in after:
        if op == "start":
            started, own_owed = True, False  # a turn started before the own terminal came: it is lost
        elif op == "activity" and started:
            lively = True
        elif op == "terminal":
            if lively:
                expected.append(True)
            elif own_owed:
                expected.append(True)
                own_owed = False
            else:
                expected.append(False)
    assert decisions == expected


@given(st.integers(0, 5), st.integers(0, 5))
def test_stray_terminals_before_the_next_turn_shows_life_are_consumed(before_start: int, before_activity: int) -> None:
    sequence = ["start", "activity", "arm_running", "terminal"]  # the cancelled turn ends
    sequence += ["terminal"] * before_start + ["start"] + ["terminal"] * before_activity
    sequence += ["activity", "terminal"]  # the next turn's real terminal
    assert run(sequence) == [True, *[False] * (before_start + before_activity), True]


def test_activity_of_the_cancelled_turn_itself_does_not_disarm() -> None:
    guard = arm(TurnGuard(), turn_running=True)
    guard, own = admit_terminal(guard)
    guard = note_activity(guard)  # e.g. a late message.updated of the aborted turn
    guard, stray = admit_terminal(guard)
    assert (own, stray) == (True, False)
    assert guard.consumed == 1
