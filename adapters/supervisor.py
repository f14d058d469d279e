"""A backend's hold on core.lifecycle's pure supervision machine: it feeds the machine what happened to its agent
process and keeps the resulting state. The OpenCode server backend and the warm ACP backend share it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from returns.result import Failure

from core.errors import AgentUnavailable
from core.lifecycle import (
    Decision,
    OperatorReset,
    ProcessExited,
    RestartFailed,
    RestartSucceeded,
    Signal,
    Supervision,
    SupervisionPolicy,
    SupervisorState,
    availability,
    supervise,
)

_AWAITING_RESTART = (SupervisorState.CRASHED, SupervisorState.RESTARTING)


class Supervisor:
    def __init__(self, agent: str, policy: SupervisionPolicy | None = None) -> None:
        self._agent = agent
        self._policy = policy or SupervisionPolicy()
        self.state = Supervision()

    def feed(self, signal: Signal) -> tuple[Decision, ...]:
        transition = supervise(self.state, signal, self._policy)
        self.state = transition.supervision
        return transition.decisions

    def refusal(self) -> AgentUnavailable | None:
        """Why the agent may not start at all (dead: crash budget spent), else None."""
        verdict = availability(self.state, self._agent)
        return verdict.failure() if isinstance(verdict, Failure) else None

    def awaiting_restart(self) -> bool:
        return self.state.state in _AWAITING_RESTART

    def restart_wait_s(self, now: float) -> float:
        """How long the next start has to wait for the crash backoff (0 when it may start now)."""
        restart_at = self.state.restart_at
        if not self.awaiting_restart() or restart_at is None:
            return 0.0
        return min(max(0.0, restart_at - now), self._policy.backoff_max_s)

    async def wait_for_restart(self, now: float) -> None:
        """Sleep out the backoff core.lifecycle decided after a crash (never longer than its cap)."""
        if (wait_s := self.restart_wait_s(now)) > 0:
            await asyncio.sleep(wait_s)

    def started(self, now: float) -> None:
        """A process came up: a restart succeeded, or a first start begins its stable period."""
        if self.awaiting_restart():
            self.feed(RestartSucceeded(at=now))
        elif self.state.healthy_since is None:
            self.state = self.state.model_copy(update={"healthy_since": now})

    def start_failed(self, now: float, detail: str, code: int | None, stderr_tail: Sequence[str]) -> None:
        """A start failed after the executable ran: a crash on the budget like any other."""
        if self.awaiting_restart():
            self.feed(RestartFailed(at=now, detail=detail))
        else:
            self.feed(ProcessExited(at=now, code=code, stderr_tail=tuple(stderr_tail)))

    def exited(self, now: float, code: int | None, stderr_tail: Sequence[str]) -> None:
        self.feed(ProcessExited(at=now, code=code, stderr_tail=tuple(stderr_tail)))

    def reset(self, now: float) -> bool:
        """Clear a spent crash budget (``dead``) once the operator fixed the cause; False when not dead."""
        if self.state.state is not SupervisorState.DEAD:
            return False
        self.feed(OperatorReset(at=now))
        return True

    def describe(self) -> dict[str, object]:
        return {
            "state": self.state.state.value,
            "reason": self.state.reason,
            "recent_crashes": len(self.state.crash_times),
        }
