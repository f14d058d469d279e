"""The supervision state machine of one agent process (an OpenCode server or a warm ACP process).

Times are float seconds of one monotonic clock handed in by the caller. ``supervise`` is total: every
signal in every state yields a new state and the decisions the shell must carry out, in order.

    healthy --health failed--> suspect --failed again, idle or stale grace over--> restarting
    healthy | suspect --turn watchdog gave up--> restarting
    any live --process exited / restart failed--> crashed (restart at backoff) | dead (crash budget spent)
    restarting | crashed --restart succeeded--> healthy
    dead --operator reset--> crashed with a restart due at once (budget and backoff cleared)

A health failure alone is only suspicion: an agent busy with a long turn may just be slow, so a
restart waits while turns are busy, up to the stale grace. Every restart counts against the crash
budget, so an agent that keeps hanging ends up ``dead`` like one that keeps exiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Literal

from pydantic import Field
from returns.result import Failure, Result, Success

from core.errors import AgentUnavailable
from core.model import Frozen


class SupervisorState(StrEnum):
    HEALTHY = "healthy"
    SUSPECT = "suspect"  # a health check failed; not yet restarted
    RESTARTING = "restarting"  # hearth stops the unresponsive process and starts a new one at restart_at
    CRASHED = "crashed"  # the process is gone; a new one may start at restart_at
    DEAD = "dead"  # crash budget spent: no restart until an operator resets it


class SupervisionPolicy(Frozen):
    stale_grace_s: float = Field(default=120.0, ge=0)
    backoff_initial_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    stable_reset_s: float = Field(default=60.0, ge=0)  # this long healthy resets the backoff
    crash_budget: int = Field(default=3, ge=1)  # this many crashes ...
    crash_window_s: float = Field(default=60.0, gt=0)  # ... within this window make the agent dead


class Supervision(Frozen):
    """Start a freshly spawned agent as ``Supervision(healthy_since=spawned_at)``."""

    state: SupervisorState = SupervisorState.HEALTHY
    crash_times: tuple[float, ...] = ()  # crashes and restarts inside the current budget window
    restart_attempts: int = 0  # consecutive restarts without a stable period: the backoff exponent
    healthy_since: float | None = None
    suspect_since: float | None = None
    restart_at: float | None = None
    reason: str | None = None  # why it is suspect, restarting, crashed or dead


class HealthOk(Frozen):
    kind: Literal["health_ok"] = "health_ok"
    at: float


class HealthFailed(Frozen):
    """A health check failed or timed out. ``busy`` says whether any turn of this agent is running."""

    kind: Literal["health_failed"] = "health_failed"
    at: float
    detail: str
    busy: bool = False


class ProcessExited(Frozen):
    kind: Literal["process_exited"] = "process_exited"
    at: float
    code: int | None  # None: killed by a signal or unknown
    stderr_tail: tuple[str, ...] = ()


class RestartSucceeded(Frozen):
    kind: Literal["restart_succeeded"] = "restart_succeeded"
    at: float


class RestartFailed(Frozen):
    kind: Literal["restart_failed"] = "restart_failed"
    at: float
    detail: str


class OperatorReset(Frozen):
    kind: Literal["operator_reset"] = "operator_reset"
    at: float


class TurnStalled(Frozen):
    """The turn watchdog reached its restart step: the agent ignored a cancel, so it is restarted now."""

    kind: Literal["turn_stalled"] = "turn_stalled"
    at: float
    detail: str


Signal = HealthOk | HealthFailed | ProcessExited | RestartSucceeded | RestartFailed | OperatorReset | TurnStalled


class StopProcess(Frozen):
    """Stop the still-running but unresponsive process (and reclaim its port)."""

    kind: Literal["stop_process"] = "stop_process"
    reason: str


class FailInflight(Frozen):
    """Fail every running turn of this agent with ``reason`` (it is shown to the user)."""

    kind: Literal["fail_inflight"] = "fail_inflight"
    reason: str


class MarkSessionsCrashed(Frozen):
    """Set this agent's live sessions to ``crashed`` so the next turn respawns and resumes."""

    kind: Literal["mark_sessions_crashed"] = "mark_sessions_crashed"
    reason: str


class ScheduleRestart(Frozen):
    kind: Literal["schedule_restart"] = "schedule_restart"
    at: float
    attempt: int  # 1 for the first restart after a stable period


class GiveUp(Frozen):
    """The agent is dead: refuse its turns with ``reason`` until an operator resets it."""

    kind: Literal["give_up"] = "give_up"
    reason: str


Decision = StopProcess | FailInflight | MarkSessionsCrashed | ScheduleRestart | GiveUp


class Transition(Frozen):
    supervision: Supervision
    decisions: tuple[Decision, ...] = ()


_AWAITING_RESTART = (SupervisorState.RESTARTING, SupervisorState.CRASHED)


def backoff_delay(attempt: int, policy: SupervisionPolicy = SupervisionPolicy()) -> float:
    """Seconds before restart number ``attempt`` (1-based): initial, doubling, capped."""
    exponent = min(max(attempt, 1) - 1, 64)  # the cap is reached long before; keeps the float finite
    return float(min(policy.backoff_initial_s * 2.0**exponent, policy.backoff_max_s))


def describe_exit(code: int | None, stderr_tail: Sequence[str]) -> str:
    status = f"exited with code {code}" if code is not None else "was killed (no exit code)"
    tail = " | ".join(line.strip() for line in stderr_tail if line.strip())
    return f"the agent process {status}" + (f"; last stderr: {tail}" if tail else "; it wrote nothing to stderr")


def supervise(current: Supervision, signal: Signal, policy: SupervisionPolicy = SupervisionPolicy()) -> Transition:
    if current.state is SupervisorState.DEAD:
        return _reset(current, signal.at) if isinstance(signal, OperatorReset) else Transition(supervision=current)
    match signal:
        case HealthOk():
            return _health_ok(current, signal)
        case HealthFailed():
            return _health_failed(current, signal, policy)
        case ProcessExited():
            if current.state in _AWAITING_RESTART:
                return Transition(supervision=current)  # stopped on purpose, or already reported gone
            return _crash(current, signal.at, describe_exit(signal.code, signal.stderr_tail), policy)
        case RestartSucceeded():
            if current.state not in _AWAITING_RESTART:
                return Transition(supervision=current)
            healthy = current.model_copy(
                update={
                    "state": SupervisorState.HEALTHY,
                    "healthy_since": signal.at,
                    "suspect_since": None,
                    "restart_at": None,
                    "reason": None,
                }
            )
            return Transition(supervision=healthy)
        case RestartFailed():
            if current.state not in _AWAITING_RESTART:
                return Transition(supervision=current)
            return _crash(current, signal.at, f"the agent could not be restarted: {signal.detail}", policy)
        case OperatorReset():
            return Transition(supervision=current)  # only a dead agent needs a reset
        case TurnStalled():
            if current.state in _AWAITING_RESTART:
                return Transition(supervision=current)
            return _crash(current, signal.at, signal.detail, policy, stop_first=True)


def _health_ok(current: Supervision, signal: HealthOk) -> Transition:
    if current.state is SupervisorState.HEALTHY and current.healthy_since is None:
        return Transition(supervision=current.model_copy(update={"healthy_since": signal.at}))  # stable from here
    if current.state is not SupervisorState.SUSPECT:
        return Transition(supervision=current)  # a restart in progress is not undone by the old process
    update = {"state": SupervisorState.HEALTHY, "suspect_since": None, "reason": None}
    return Transition(supervision=current.model_copy(update=update))


def _health_failed(current: Supervision, signal: HealthFailed, policy: SupervisionPolicy) -> Transition:
    if current.state is SupervisorState.HEALTHY:
        update = {"state": SupervisorState.SUSPECT, "suspect_since": signal.at, "reason": signal.detail}
        return Transition(supervision=current.model_copy(update=update))
    if current.state is not SupervisorState.SUSPECT:
        return Transition(supervision=current)  # already being restarted
    since = current.suspect_since if current.suspect_since is not None else signal.at
    stale_for = signal.at - since
    if signal.busy and stale_for < policy.stale_grace_s:
        return Transition(supervision=current.model_copy(update={"reason": signal.detail}))
    reason = f"the agent stopped answering health checks for {stale_for:.0f} s ({signal.detail}); restarting it"
    return _crash(current, signal.at, reason, policy, stop_first=True)


def _crash(
    current: Supervision, at: float, reason: str, policy: SupervisionPolicy, *, stop_first: bool = False
) -> Transition:
    recent = (*(t for t in current.crash_times if at - t < policy.crash_window_s), at)
    stable = current.healthy_since is not None and at - current.healthy_since >= policy.stable_reset_s
    attempt = 1 if stable or current.restart_attempts == 0 else current.restart_attempts + 1
    prefix: tuple[Decision, ...] = (StopProcess(reason=reason),) if stop_first else ()
    if len(recent) >= policy.crash_budget:
        dead_reason = (
            f"{reason}. It crashed {len(recent)} times within {policy.crash_window_s:.0f} s, so hearth stopped "
            "restarting it"
        )
        dead = Supervision(state=SupervisorState.DEAD, crash_times=recent, restart_attempts=attempt, reason=dead_reason)
        decisions = (*prefix, FailInflight(reason=dead_reason), MarkSessionsCrashed(reason=dead_reason))
        return Transition(supervision=dead, decisions=(*decisions, GiveUp(reason=dead_reason)))
    restart_at = at + backoff_delay(attempt, policy)
    state = SupervisorState.RESTARTING if stop_first else SupervisorState.CRASHED
    after = Supervision(state=state, crash_times=recent, restart_attempts=attempt, restart_at=restart_at, reason=reason)
    decisions = (*prefix, FailInflight(reason=reason), MarkSessionsCrashed(reason=reason))
    return Transition(supervision=after, decisions=(*decisions, ScheduleRestart(at=restart_at, attempt=attempt)))


def _reset(current: Supervision, at: float) -> Transition:
    fresh = Supervision(state=SupervisorState.CRASHED, restart_at=at, reason="reset by an operator")
    return Transition(supervision=fresh, decisions=(ScheduleRestart(at=at, attempt=1),))


def restart_due(current: Supervision, now: float) -> bool:
    """Whether the shell may start the agent again now (a turn arriving earlier waits or fails fast)."""
    return current.state in _AWAITING_RESTART and current.restart_at is not None and now >= current.restart_at


def availability(current: Supervision, agent: str) -> Result[None, AgentUnavailable]:
    """A dead agent refuses turns with its reason; every other state accepts them (a crashed one respawns)."""
    if current.state is SupervisorState.DEAD:
        fix = f"fix the cause, then reset it: `hearth agents reset {agent}` (or POST /api/agents/{agent}/reset)"
        return Failure(AgentUnavailable(detail=f"{agent} is dead: {current.reason}; {fix}", field="agent"))
    return Success(None)
