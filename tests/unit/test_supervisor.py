"""The backends' shared hold on the supervision machine: starts, failed starts, the capped backoff, the reset."""

from __future__ import annotations

from adapters.supervisor import Supervisor
from core.lifecycle import SupervisionPolicy, SupervisorState

POLICY = SupervisionPolicy(backoff_initial_s=4.0, backoff_max_s=10.0, crash_budget=3, crash_window_s=60.0)


def test_a_first_start_begins_the_stable_period_and_a_restart_succeeds_after_a_crash() -> None:
    supervisor = Supervisor("qwen", POLICY)
    supervisor.started(now=1.0)
    assert supervisor.state.state is SupervisorState.HEALTHY
    assert supervisor.state.healthy_since == 1.0

    supervisor.exited(now=2.0, code=1, stderr_tail=["boom"])
    assert supervisor.awaiting_restart()
    assert supervisor.restart_wait_s(now=3.0) == 3.0  # restart at 2 + 4
    supervisor.started(now=6.0)
    assert supervisor.state.state is SupervisorState.HEALTHY
    assert supervisor.describe() == {"state": "healthy", "reason": None, "recent_crashes": 1}


def test_a_failed_start_is_a_crash_and_a_failed_restart_another() -> None:
    supervisor = Supervisor("qwen", POLICY)
    supervisor.start_failed(now=0.0, detail="no ready line", code=2, stderr_tail=["bad flag"])
    assert supervisor.state.state is SupervisorState.CRASHED
    assert "bad flag" in (supervisor.state.reason or "")
    supervisor.start_failed(now=5.0, detail="no ready line", code=2, stderr_tail=[])
    assert supervisor.state.reason == "the agent could not be restarted: no ready line"
    assert len(supervisor.state.crash_times) == 2


def test_the_wait_never_exceeds_the_backoff_cap() -> None:
    supervisor = Supervisor("qwen", POLICY)
    assert supervisor.restart_wait_s(now=0.0) == 0.0  # nothing crashed: start now
    supervisor.exited(now=0.0, code=1, stderr_tail=[])
    assert supervisor.restart_wait_s(now=-100.0) == POLICY.backoff_max_s  # a clock far behind the restart time
    assert supervisor.restart_wait_s(now=100.0) == 0.0


def test_only_a_dead_agent_is_reset_and_then_it_may_start_at_once() -> None:
    supervisor = Supervisor("qwen", POLICY)
    assert not supervisor.reset(now=0.0)
    for at in (0.0, 1.0, 2.0):
        supervisor.exited(now=at, code=1, stderr_tail=[])
        supervisor.started(now=at + 0.5)
    assert supervisor.state.state is SupervisorState.DEAD
    refusal = supervisor.refusal()
    assert refusal is not None
    assert refusal.detail.startswith("qwen is dead")

    assert supervisor.reset(now=10.0)
    assert supervisor.refusal() is None
    assert supervisor.restart_wait_s(now=10.0) == 0.0
