"""Laws of the supervision state machine: busy-aware restarts, capped backoff, the crash budget, dead."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from core.lifecycle import (
    FailInflight,
    GiveUp,
    HealthFailed,
    HealthOk,
    MarkSessionsCrashed,
    OperatorReset,
    ProcessExited,
    RestartFailed,
    RestartSucceeded,
    ScheduleRestart,
    Signal,
    StopProcess,
    Supervision,
    SupervisionPolicy,
    SupervisorState,
    Transition,
    TurnStalled,
    availability,
    backoff_delay,
    restart_due,
    silence_reason,
    supervise,
)

# Machines are noisy: no per-example deadline (never assert wall-clock time).
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

POLICY = SupervisionPolicy()


@st.composite
def signal_runs(draw: st.DrawFn) -> list[Signal]:
    at = 0.0
    signals: list[Signal] = []
    for _ in range(draw(st.integers(min_value=1, max_value=40))):
        at += draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0, 15.0, 30.0, 61.0, 125.0, 600.0]))
        kind = draw(st.sampled_from(["ok", "failed", "exited", "restarted", "restart_failed", "reset", "stalled"]))
        match kind:
            case "ok":
                signals.append(HealthOk(at=at))
            case "failed":
                signals.append(HealthFailed(at=at, detail="timed out after 5 s", busy=draw(st.booleans())))
            case "exited":
                signals.append(ProcessExited(at=at, code=draw(st.none() | st.integers(0, 255)), stderr_tail=("boom",)))
            case "restarted":
                signals.append(RestartSucceeded(at=at))
            case "restart_failed":
                signals.append(RestartFailed(at=at, detail="port in use"))
            case "stalled":
                signals.append(TurnStalled(at=at, detail=silence_reason(at - 360.0, at)))
            case _:
                signals.append(OperatorReset(at=at))
    return signals


def run(signals: list[Signal], start: Supervision | None = None) -> list[tuple[Supervision, Signal, Transition]]:
    state = start or Supervision(healthy_since=0.0)
    steps = []
    for signal in signals:
        transition = supervise(state, signal, POLICY)
        steps.append((state, signal, transition))
        state = transition.supervision
    return steps


def crashed(transition: Transition) -> bool:
    return any(isinstance(d, FailInflight) for d in transition.decisions)


@RELAXED
@given(signal_runs())
def test_dead_stays_dead_and_silent_until_an_operator_resets_it(signals: list[Signal]) -> None:
    for before, signal, transition in run(signals):
        if before.state is SupervisorState.DEAD and not isinstance(signal, OperatorReset):
            assert transition.supervision == before
            assert transition.decisions == ()


@RELAXED
@given(signal_runs())
def test_the_agent_is_dead_exactly_when_the_crash_budget_is_spent(signals: list[Signal]) -> None:
    crash_times: list[float] = []
    for before, signal, transition in run(signals):
        if before.state is SupervisorState.DEAD and isinstance(signal, OperatorReset):
            crash_times = []
        if crashed(transition):
            crash_times.append(signal.at)
            in_window = [t for t in crash_times if signal.at - t < POLICY.crash_window_s]
            assert (transition.supervision.state is SupervisorState.DEAD) == (len(in_window) >= POLICY.crash_budget)


@RELAXED
@given(signal_runs())
def test_every_crash_fails_inflight_turns_marks_sessions_and_restarts_or_gives_up(signals: list[Signal]) -> None:
    for _, signal, transition in run(signals):
        kinds = [type(d) for d in transition.decisions]
        if crashed(transition):
            assert MarkSessionsCrashed in kinds
            assert (GiveUp in kinds) == (transition.supervision.state is SupervisorState.DEAD)
            assert (ScheduleRestart in kinds) != (GiveUp in kinds)
        for decision in transition.decisions:
            if isinstance(decision, ScheduleRestart):
                assert decision.at >= signal.at
                assert transition.supervision.restart_at == decision.at


@RELAXED
@given(signal_runs())
def test_restart_backoff_is_capped_and_grows_until_a_stable_period_or_reset(signals: list[Signal]) -> None:
    previous_attempt = 0
    for before, signal, transition in run(signals):
        for decision in transition.decisions:
            if not isinstance(decision, ScheduleRestart):
                continue
            delay = decision.at - signal.at
            if isinstance(signal, OperatorReset):
                assert delay == 0
            else:
                assert POLICY.backoff_initial_s <= delay <= POLICY.backoff_max_s
                assert delay == backoff_delay(decision.attempt, POLICY)
                assert decision.attempt in (1, previous_attempt + 1)
                stable = before.healthy_since is not None and signal.at - before.healthy_since >= POLICY.stable_reset_s
                if stable:
                    assert decision.attempt == 1
            previous_attempt = decision.attempt


@RELAXED
@given(signal_runs())
def test_a_busy_agent_is_not_restarted_for_failed_health_checks_within_the_stale_grace(signals: list[Signal]) -> None:
    for before, signal, transition in run(signals):
        if isinstance(signal, HealthFailed) and any(isinstance(d, StopProcess) for d in transition.decisions):
            assert before.state is SupervisorState.SUSPECT  # one failure alone never restarts
            assert before.suspect_since is not None
            if signal.busy:
                assert signal.at - before.suspect_since >= POLICY.stale_grace_s
        if isinstance(signal, HealthOk):
            assert transition.decisions == ()


@RELAXED
@given(signal_runs())
def test_only_a_dead_agent_refuses_turns(signals: list[Signal]) -> None:
    for _, _, transition in run(signals):
        state = transition.supervision
        result = availability(state, "opencode")
        assert isinstance(result, Failure) == (state.state is SupervisorState.DEAD)


@RELAXED
@given(st.integers(min_value=1, max_value=200))
def test_backoff_delay_doubles_from_one_second_and_never_exceeds_thirty(attempt: int) -> None:
    assert backoff_delay(1) == 1.0
    assert backoff_delay(attempt) <= backoff_delay(attempt + 1) <= 30.0
    if backoff_delay(attempt + 1) < 30.0:
        assert backoff_delay(attempt + 1) == 2 * backoff_delay(attempt)


def test_backoff_sequence() -> None:
    assert [backoff_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_an_exit_names_its_code_and_stderr_and_schedules_a_restart() -> None:
    exited = ProcessExited(at=10.0, code=1, stderr_tail=("Error: EADDRINUSE", "  at listen"))
    transition = supervise(Supervision(healthy_since=0.0), exited)
    assert transition.supervision.state is SupervisorState.CRASHED
    fail = next(d for d in transition.decisions if isinstance(d, FailInflight))
    assert "exited with code 1" in fail.reason
    assert "EADDRINUSE" in fail.reason
    assert transition.decisions[-1] == ScheduleRestart(at=11.0, attempt=1)
    assert not restart_due(transition.supervision, 10.5)
    assert restart_due(transition.supervision, 11.0)
    assert supervise(transition.supervision, RestartSucceeded(at=11.2)).supervision.state is SupervisorState.HEALTHY


def test_three_crashes_in_a_minute_make_the_agent_dead_until_reset() -> None:
    state = Supervision(healthy_since=0.0)
    for at in (1.0, 10.0, 20.0):
        state = supervise(state, ProcessExited(at=at, code=137)).supervision
        if state.state is SupervisorState.CRASHED:
            state = supervise(state, RestartSucceeded(at=at + 2)).supervision
    assert state.state is SupervisorState.DEAD
    result = availability(state, "qwen")
    assert isinstance(result, Failure)
    assert "qwen is dead" in result.failure().detail
    assert "3 times within 60 s" in result.failure().detail
    assert supervise(state, ProcessExited(at=30.0, code=1)).supervision == state
    reset = supervise(state, OperatorReset(at=500.0))
    assert reset.decisions == (ScheduleRestart(at=500.0, attempt=1),)
    assert restart_due(reset.supervision, 500.0)
    assert isinstance(availability(reset.supervision, "qwen"), Success)


def test_crashes_spread_beyond_the_window_never_kill_the_agent() -> None:
    state = Supervision(healthy_since=0.0)
    for at in (0.0, 61.0, 122.0, 183.0):
        state = supervise(state, ProcessExited(at=at, code=1)).supervision
        state = supervise(state, RestartSucceeded(at=at + 1)).supervision
    assert state.state is SupervisorState.HEALTHY


def test_a_slow_busy_agent_gets_the_stale_grace_an_idle_one_does_not() -> None:
    busy = supervise(Supervision(), HealthFailed(at=0.0, detail="timeout", busy=True)).supervision
    assert busy.state is SupervisorState.SUSPECT
    assert supervise(busy, HealthFailed(at=119.0, detail="timeout", busy=True)).decisions == ()
    late = supervise(busy, HealthFailed(at=121.0, detail="timeout", busy=True))
    assert late.supervision.state is SupervisorState.RESTARTING
    assert isinstance(late.decisions[0], StopProcess)
    assert "121 s" in late.decisions[0].reason
    idle = supervise(busy, HealthFailed(at=15.0, detail="timeout", busy=False))
    assert idle.supervision.state is SupervisorState.RESTARTING
    assert supervise(busy, HealthOk(at=20.0)).supervision.state is SupervisorState.HEALTHY


def test_the_backoff_resets_after_a_minute_of_stable_health() -> None:
    policy = SupervisionPolicy(crash_budget=100)
    state = Supervision(healthy_since=0.0)
    attempts = []
    for at in (1.0, 5.0, 10.0, 200.0):
        transition = supervise(state, ProcessExited(at=at, code=1), policy)
        attempts.append(next(d.attempt for d in transition.decisions if isinstance(d, ScheduleRestart)))
        state = supervise(transition.supervision, RestartSucceeded(at=at + 0.1), policy).supervision
    assert attempts == [1, 2, 3, 1]


def test_a_stalled_turn_restarts_the_agent_even_while_busy() -> None:
    stalled = supervise(Supervision(healthy_since=0.0), TurnStalled(at=400.0, detail=silence_reason(40.0, 400.0)))
    assert stalled.supervision.state is SupervisorState.RESTARTING
    assert [type(d) for d in stalled.decisions] == [StopProcess, FailInflight, MarkSessionsCrashed, ScheduleRestart]
    assert "sent nothing for 360 s" in (stalled.supervision.reason or "")
