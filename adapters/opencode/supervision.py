"""The backend's hold on core.lifecycle's supervision machine: feed it signals, keep its state."""

from __future__ import annotations

from returns.result import Failure

from core.errors import AgentUnavailable
from core.lifecycle import (
    Decision,
    HealthFailed,
    HealthOk,
    OperatorReset,
    ProcessExited,
    RestartFailed,
    RestartSucceeded,
    Supervision,
    SupervisionPolicy,
    SupervisorState,
    TurnStalled,
    availability,
    supervise,
)
from core.lifecycle import (
    Signal as SupervisionSignal,
)

__all__ = [
    "HealthFailed",
    "HealthOk",
    "OperatorReset",
    "ProcessExited",
    "RestartFailed",
    "RestartSucceeded",
    "Supervisor",
    "TurnStalled",
]


class Supervisor:
    def __init__(self, agent: str, policy: SupervisionPolicy | None = None) -> None:
        self._agent = agent
        self._policy = policy or SupervisionPolicy()
        self.state = Supervision()

    def feed(self, signal: SupervisionSignal) -> tuple[Decision, ...]:
        transition = supervise(self.state, signal, self._policy)
        self.state = transition.supervision
        return transition.decisions

    def refusal(self) -> AgentUnavailable | None:
        """Why the agent may not start at all (dead: crash budget spent), else None."""
        verdict = availability(self.state, self._agent)
        return verdict.failure() if isinstance(verdict, Failure) else None

    def restart_wait_s(self, now: float) -> float:
        """How long the next start has to wait for the backoff (0 when it may start now)."""
        if self.state.state in (SupervisorState.CRASHED, SupervisorState.RESTARTING) and self.state.restart_at:
            return max(0.0, self.state.restart_at - now)
        return 0.0

    def awaiting_restart(self) -> bool:
        return self.state.state in (SupervisorState.CRASHED, SupervisorState.RESTARTING)

    def describe(self) -> dict[str, object]:
        return {
            "state": self.state.state.value,
            "reason": self.state.reason,
            "recent_crashes": len(self.state.crash_times),
        }
