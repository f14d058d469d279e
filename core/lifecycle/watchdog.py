"""The turn watchdog: a busy turn that has been silent too long is probed, then cancelled, then restarted.

A pure function of (last event time, now, steps already taken), so the shell only has to remember the
last event time of each running turn and how many steps it took since that event. A new event resets
both: the turn is alive again.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from core.model import Frozen


class WatchdogStep(StrEnum):
    PROBE = "probe"  # ask the backend whether the session is still busy (status / health)
    CANCEL = "cancel"  # interrupt the turn (abort / session/cancel)
    RESTART = "restart"  # the agent ignores cancel: fail the turn and restart the agent process


ESCALATION: tuple[WatchdogStep, ...] = (WatchdogStep.PROBE, WatchdogStep.CANCEL, WatchdogStep.RESTART)


class WatchdogPolicy(Frozen):
    silence_s: float = Field(default=300.0, gt=0)  # no event this long: probe
    escalation_s: float = Field(default=30.0, gt=0)  # each further step waits this much longer


def step_due_at(step_index: int, last_event_at: float, policy: WatchdogPolicy = WatchdogPolicy()) -> float:
    """When step ``step_index`` (0 probe, 1 cancel, 2 restart) becomes due after the last event."""
    return last_event_at + policy.silence_s + step_index * policy.escalation_s


def watchdog_step(
    last_event_at: float, now: float, steps_taken: int, policy: WatchdogPolicy = WatchdogPolicy()
) -> WatchdogStep | None:
    """The next escalation step due now, or None (not silent long enough yet, or every step already taken).

    Returns at most one step per call, so steps are taken in order and never skipped, however late the
    caller looks.
    """
    if steps_taken >= len(ESCALATION) or steps_taken < 0:
        return None
    if now < step_due_at(steps_taken, last_event_at, policy):
        return None
    return ESCALATION[steps_taken]


def silence_reason(last_event_at: float, now: float, restart_error: str | None = None) -> str:
    """The error text of a turn the watchdog gave up on: what happened, what hearth did, what comes next."""
    silent = f"the agent sent nothing for {now - last_event_at:.0f} s and did not react to a cancel"
    if restart_error is None:
        return (
            f"{silent}; hearth failed the turn and restarted the agent process. "
            "The next turn resumes the session where the agent can"
        )
    return (
        f"{silent}; hearth failed the turn, but stopping the agent process failed ({restart_error}). "
        "The next turn starts it again"
    )


def silence_cancel_reason(last_event_at: float, now: float) -> str:
    """The reason of a turn the watchdog cancelled (the agent took the cancel): hearth did it, not a person."""
    return (
        f"the agent sent nothing for {now - last_event_at:.0f} s, so hearth's turn watchdog cancelled the turn "
        "(HEARTH_TURN_WATCHDOG_S); send it again, or raise that limit if the agent needs longer between events"
    )
